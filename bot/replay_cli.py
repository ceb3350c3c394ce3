"""``cryptoguard replay``: feed a CSV of stablecoin prices through the depeg monitor.

Every row becomes one sample at the row's time; every message the monitor would send is
printed with its timestamp (UTC), then a one-line summary. Thresholds default to the
settings (``CRYPTOGUARD_DEPEG__WARN_PCT``...); flags override them. Nothing is stored
and nothing is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tools.alerts.depeg import DepegEvent, DepegMonitor
    from tools.market.series import PriceSeries
    from tools.market.stablecoins import PegThresholds


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay produced.

    Attributes:
        series: The prices read.
        events: Every message the monitor would have sent, in time order.
    """

    series: PriceSeries
    events: list[DepegEvent]

    @property
    def rows_read(self) -> int:
        """Data rows in the file (usable, skipped and duplicate)."""
        return len(self.series.points) + self.series.skipped + self.series.duplicates


def replay_series(
    series: PriceSeries,
    monitor: DepegMonitor,
    *,
    symbol: str,
    peg: Decimal = Decimal(1),
    currency: str = "USD",
) -> ReplayResult:
    """Feed every point of ``series`` (price / ``peg``) through ``monitor``, oldest first."""
    from tools.alerts.depeg import PegSample

    events: list[DepegEvent] = []
    for at, price in series.points:
        sample = PegSample(symbol=symbol, at=at, price_in_peg=price / peg, peg_currency=currency)
        events.extend(monitor.observe(sample))
    return ReplayResult(series=series, events=events)


def render_replay(result: ReplayResult, monitor: DepegMonitor) -> str:
    """One line per message (``YYYY-MM-DD HH:MM:SS UTC  kind  text``), then a summary."""
    lines = [
        f"{event.at.strftime('%Y-%m-%d %H:%M:%S')} UTC  {event.kind.value:<9}  {event.message}"
        for event in result.events
    ]
    series = result.series
    t = monitor.thresholds
    persistence = f"{monitor.persist_samples} sample{'s' if monitor.persist_samples != 1 else ''}"
    if monitor.persist_minutes:
        persistence += f" and {monitor.persist_minutes:g} min"
    count = len(result.events)
    lines.append(
        f"Replayed {series.path.name}: {result.rows_read} rows read "
        f"({series.skipped} skipped, {series.duplicates} duplicate times), "
        f"{series.start.strftime('%Y-%m-%d %H:%M')} to {series.end.strftime('%Y-%m-%d %H:%M')} "
        f"UTC, columns {series.time_column}/{series.price_column}; thresholds warning "
        f"{_num(t.warn_pct)}% / high {_num(t.high_pct)}% / critical {_num(t.critical_pct)}%, "
        f"persistence {persistence}; {count} message{'s' if count != 1 else ''}."
    )
    return "\n".join(lines)


def run_replay(
    file: Path,
    *,
    symbol: str,
    thresholds: PegThresholds,
    time_column: str | None = None,
    price_column: str | None = None,
    peg: Decimal = Decimal(1),
    currency: str = "USD",
    persist_samples: int = 2,
    persist_minutes: float = 0,
) -> str:
    """Load ``file``, replay it and return what to print.

    Raises:
        UserInputError: Unreadable file, missing columns, or settings out of range.
    """
    from tools.alerts.depeg import DepegMonitor
    from tools.errors import UserInputError
    from tools.market.series import load_price_series

    ticker = symbol.strip().upper()
    if not ticker or len(ticker) > 20 or not ticker.replace("-", "").isalnum():
        raise UserInputError(f"--symbol must be a ticker such as USDC, got {symbol!r}.")
    code = currency.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise UserInputError(f"--currency must be a 3-letter code such as USD, got {currency!r}.")
    t = thresholds
    if not t.warn_pct < t.high_pct < t.critical_pct:
        raise UserInputError(
            "Thresholds must satisfy warning < high < critical, got warning "
            f"{_num(t.warn_pct)}%, high {_num(t.high_pct)}%, critical {_num(t.critical_pct)}%."
        )
    if persist_samples < 1:
        raise UserInputError(f"--persist-samples must be 1 or more, got {persist_samples}.")
    if not 0 <= persist_minutes < float("inf"):
        raise UserInputError(f"--persist-minutes must be 0 or more, got {persist_minutes}.")
    try:
        monitor = DepegMonitor(
            thresholds, persist_samples=persist_samples, persist_minutes=persist_minutes
        )
    except ValueError as exc:  # anything the checks above missed
        raise UserInputError(f"Invalid replay settings: {exc}.") from None
    series = load_price_series(file, time_column=time_column, price_column=price_column)
    result = replay_series(series, monitor, symbol=ticker, peg=peg, currency=code)
    return render_replay(result, monitor)


def replay_command(
    file: Annotated[Path, typer.Argument(help="CSV with a time column and a price column")],
    symbol: Annotated[str, typer.Option("--symbol", help="Stablecoin ticker, e.g. USDC")],
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Time column (found by name if omitted)")
    ] = None,
    price_column: Annotated[
        str | None, typer.Option("--price-column", help="Price column (found by name if omitted)")
    ] = None,
    peg: Annotated[
        str, typer.Option("--peg", help="Value of the peg in the file's price units")
    ] = "1.0",
    currency: Annotated[str, typer.Option("--currency", help="Peg currency (USD, EUR...)")] = "USD",
    warn: Annotated[
        str | None, typer.Option("--warn", help="Warning threshold, percent (default: settings)")
    ] = None,
    high: Annotated[
        str | None, typer.Option("--high", help="High threshold, percent (default: settings)")
    ] = None,
    critical: Annotated[
        str | None,
        typer.Option("--critical", help="Critical threshold, percent (default: settings)"),
    ] = None,
    persist_samples: Annotated[
        int | None,
        typer.Option(
            "--persist-samples", help="Samples a new severity must hold for (default: settings)"
        ),
    ] = None,
    persist_minutes: Annotated[
        float | None,
        typer.Option(
            "--persist-minutes", help="Minutes it must hold for too, 0: off (default: settings)"
        ),
    ] = None,
) -> None:
    """Replay a stablecoin price CSV through the depeg monitor and print its messages."""
    from bot.cli import _settings
    from tools.errors import UserInputError
    from tools.market.stablecoins import PegThresholds

    settings = _settings()
    try:
        base = settings.depeg
        thresholds = PegThresholds(
            warn_pct=_decimal("--warn", warn) if warn is not None else base.warn_pct,
            high_pct=_decimal("--high", high) if high is not None else base.high_pct,
            critical_pct=(
                _decimal("--critical", critical) if critical is not None else base.critical_pct
            ),
        )
        text = run_replay(
            file,
            symbol=symbol,
            thresholds=thresholds,
            time_column=time_column,
            price_column=price_column,
            peg=_decimal("--peg", peg),
            currency=currency,
            persist_samples=persist_samples
            if persist_samples is not None
            else base.persist_samples,
            persist_minutes=persist_minutes
            if persist_minutes is not None
            else base.persist_minutes,
        )
    except UserInputError as exc:
        typer.echo(exc.user_message, err=True)
        raise typer.Exit(2) from None
    typer.echo(text)


def _decimal(flag: str, text: str) -> Decimal:
    """A positive finite number given on the command line."""
    from tools.errors import UserInputError

    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise UserInputError(f"{flag} must be a number, got {text!r}.") from None
    if not value.is_finite() or value <= 0:
        raise UserInputError(f"{flag} must be a positive number, got {text!r}.")
    return value


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")
