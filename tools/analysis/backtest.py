"""Backtests: run a strategy over price history and report how it would have done.

``BacktestService.run`` fetches history through :class:`~tools.market.service.PriceService`
(so simulated or replayed prices are labelled as such in the report), and
``BacktestService.run_on_bars`` / :func:`run_backtest` run on bars from anywhere, for
instance a CSV file read by :func:`bars_from_csv`.

The engine's conventions (signals on the close, fills at the next open, all-in/all-out,
fees and adverse slippage on every fill) are in :mod:`tools.analysis.backtest_engine`;
the strategies and their parameters in :mod:`tools.analysis.backtest_strategies`; the
metric definitions (365-day annualisation) in :mod:`tools.analysis.backtest_metrics`; the
report and its trades in :mod:`tools.analysis.backtest_report`; periods and CSV input in
:mod:`tools.analysis.backtest_input`. This module re-exports their public names.

When the service fetches history it also fetches enough bars before the period for the
indicators to warm up, so a strategy can trade from the first bar of the period.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from tools.analysis.backtest_engine import (
    Costs,
    Simulation,
    period_starts,
    simulate_buys,
    simulate_signals,
)
from tools.analysis.backtest_input import (
    MAX_DAYS,
    bar_seconds,
    bars_from_csv,
    interval_label,
    parse_period,
)
from tools.analysis.backtest_metrics import Metrics, compute_metrics, drawdown
from tools.analysis.backtest_report import BacktestReport, Trade, Trades, trades_csv
from tools.analysis.backtest_strategies import (
    STRATEGIES,
    Kind,
    Params,
    StrategySpec,
    get_strategy,
    validate_params,
)
from tools.analysis.bars import Bars, IntArray
from tools.errors import UserInputError
from tools.market.service import PriceService
from tools.market.types import DataOrigin

__all__ = [
    "RUN_INTERVALS",
    "STRATEGIES",
    "BacktestReport",
    "BacktestService",
    "Metrics",
    "Trade",
    "Trades",
    "bar_seconds",
    "bars_from_csv",
    "interval_label",
    "parse_period",
    "run_backtest",
    "trades_csv",
]

logger = logging.getLogger(__name__)

#: Bar intervals ``BacktestService.run`` fetches (CSV bars may have any length).
RUN_INTERVALS: dict[str, int] = {"1h": 3600, "4h": 4 * 3600, "1d": 86400}
MAX_CAPITAL = 1e12
MAX_COST_PCT = 10.0


class BacktestService:
    """Backtests over market history.

    Args:
        prices: Where history comes from.
    """

    def __init__(self, prices: PriceService) -> None:
        self.prices = prices

    async def run(
        self,
        symbol: str,
        strategy: str,
        period: str | int = "1y",
        params: Mapping[str, object] | None = None,
        initial_capital: float = 10_000,
        interval: str = "1d",
        fee_pct: float = 0.1,
        slippage_pct: float = 0.05,
        *,
        risk_free_pct: float = 0.0,
        vs_currency: str = "usd",
    ) -> BacktestReport:
        """Backtest ``strategy`` on ``symbol`` over the last ``period``.

        Args:
            symbol: Coin ticker or name.
            strategy: Strategy name (see :data:`STRATEGIES`).
            period: ``"90d"``, ``"6m"``, ``"1y"``, ``"30 days"``... (at most 10 years),
                or a number of days.
            params: Strategy parameters; defaults fill the rest.
            initial_capital: Cash at the start, in ``vs_currency``.
            interval: Bar length: ``1h``, ``4h`` or ``1d``.
            fee_pct: Fee per side in percent (0.1 is 0.1 %).
            slippage_pct: Adverse slippage per fill in percent.
            risk_free_pct: Annual risk-free rate for Sharpe and Sortino, in percent.
            vs_currency: Quote currency.

        Raises:
            UserInputError: Bad strategy, parameter, period, interval or costs, unknown
                coin, or too little history.
            MarketDataUnavailableError: No source could provide the history.
        """
        days = parse_period(period)
        key = str(interval).strip().lower()
        if key not in RUN_INTERVALS:
            raise UserInputError(
                f'Interval must be one of {", ".join(RUN_INTERVALS)}; got "{str(interval)[:20]}".'
            )
        spec = get_strategy(strategy)
        checked = validate_params(spec, params)
        _check_settings(initial_capital, fee_pct, slippage_pct, risk_free_pct)  # before fetching
        bar_s = RUN_INTERVALS[key]
        warm_days = math.ceil((spec.warmup(checked) + 2) * bar_s / 86400) + 1
        fetch = min(days + warm_days, MAX_DAYS)
        resolution, history = await self.prices.get_history(
            symbol, days=fetch, interval=key, vs_currency=vs_currency
        )
        bars = Bars.from_history(history)
        if len(bars) == 0:
            raise UserInputError(f"No {key} price history is available for {bars.symbol}.")
        period_start = int(bars.ts[-1]) + bar_s - days * 86400
        notes = [resolution.note] if resolution.note else []
        if history.note and history.origin is DataOrigin.REPLAYED:
            notes.append(f"{bars.symbol}: {history.note}.")
        if int(bars.ts[0]) > period_start + bar_s:
            notes.append(
                f"History is available from {_day(int(bars.ts[0]))} only; "
                f"you asked for {days} days."
            )
        return run_backtest(
            bars, spec.name, checked, initial_capital=initial_capital, fee_pct=fee_pct,
            slippage_pct=slippage_pct, risk_free_pct=risk_free_pct,
            start=datetime.fromtimestamp(period_start, UTC), notes=notes,
        )  # fmt: skip

    def run_on_bars(
        self,
        bars: Bars,
        strategy: str,
        params: Mapping[str, object] | None = None,
        *,
        initial_capital: float = 10_000,
        fee_pct: float = 0.1,
        slippage_pct: float = 0.05,
        risk_free_pct: float = 0.0,
        start: datetime | None = None,
    ) -> BacktestReport:
        """Backtest on bars given directly (e.g. from :func:`bars_from_csv`).

        The arguments are those of :func:`run_backtest`.
        """
        return run_backtest(
            bars, strategy, params, initial_capital=initial_capital, fee_pct=fee_pct,
            slippage_pct=slippage_pct, risk_free_pct=risk_free_pct, start=start,
        )  # fmt: skip


def run_backtest(
    bars: Bars,
    strategy: str,
    params: Mapping[str, object] | None = None,
    *,
    initial_capital: float = 10_000,
    fee_pct: float = 0.1,
    slippage_pct: float = 0.05,
    risk_free_pct: float = 0.0,
    start: datetime | None = None,
    notes: list[str] | None = None,
) -> BacktestReport:
    """Backtest ``strategy`` on ``bars``.

    Args:
        bars: OHLCV bars, oldest first.
        strategy: Strategy name or alias.
        params: Strategy parameters; defaults fill the rest.
        initial_capital: Cash at the start.
        fee_pct: Fee per side in percent.
        slippage_pct: Adverse slippage per fill in percent.
        risk_free_pct: Annual risk-free rate in percent (Sharpe, Sortino).
        start: First bar time of the tested period; earlier bars only warm up the
            indicators. ``None`` tests every bar.
        notes: Notes to carry into the report.

    Raises:
        UserInputError: Bad strategy, parameters or costs, or too few bars.
    """
    spec = get_strategy(strategy)
    checked = validate_params(spec, params)
    initial_capital, fee_pct, slippage_pct, risk_free_pct = _check_settings(
        initial_capital, fee_pct, slippage_pct, risk_free_pct
    )
    notes = list(notes or [])
    n = len(bars)
    first = 0 if start is None else int(np.searchsorted(bars.ts, int(start.timestamp())))
    if n - first < 2:
        raise UserInputError(
            f"Too little history to backtest {bars.symbol}: {n - first} bar(s) in the period; "
            "at least 2 are needed. Use a longer period or a shorter interval."
        )
    for name, values in (("open", bars.open), ("close", bars.close)):
        if not (float(values.min()) > 0 and math.isfinite(float(values.max()))):
            raise UserInputError(
                f"Every {name} price of {bars.symbol} must be a positive number to backtest."
            )
    bar_s = bar_seconds(bars)
    costs = Costs(fee=fee_pct / 100, slippage=slippage_pct / 100)
    ts, open_, close = bars.ts[first:], bars.open[first:], bars.close[first:]
    sim = _simulate(spec, checked, bars, first, initial_capital, costs, notes)
    bench = simulate_buys(open_, close, np.zeros(1, np.int64), initial_capital, initial_capital,
                          costs)  # fmt: skip
    rf = risk_free_pct / 100
    dd = drawdown(sim.equity)
    report = BacktestReport(
        symbol=bars.symbol,
        strategy=spec.name,
        title=spec.title,
        params=checked,
        interval=bars.interval,
        bar_seconds=bar_s,
        start=_time(ts, 0),
        end=_time(ts, -1),
        n_bars=int(ts.shape[0]),
        initial_capital=float(initial_capital),
        fee_pct=float(fee_pct),
        slippage_pct=float(slippage_pct),
        risk_free_pct=float(risk_free_pct),
        metrics=compute_metrics(sim, ts, initial_capital, bar_s, rf, dd),
        benchmark=compute_metrics(bench, ts, initial_capital, bar_s, rf),
        trades=Trades(sim.trades, ts),
        ts=ts,
        equity=sim.equity,
        drawdown=dd,
        benchmark_equity=bench.equity,
        source=bars.source,
        origin=bars.origin,
        vs_currency=bars.vs_currency,
        notice=_notice(bars),
        notes=notes,
    )
    logger.debug("backtest %s %s on %d bars: %s", spec.name, bars.symbol, n, report.metrics)
    return report


def _simulate(
    spec: StrategySpec,
    params: Params,
    bars: Bars,
    first: int,
    capital: float,
    costs: Costs,
    notes: list[str],
) -> Simulation:
    """Run the strategy on bars ``first:`` (signals see the earlier bars too)."""
    ts, open_, close = bars.ts[first:], bars.open[first:], bars.close[first:]
    if spec.kind is Kind.HOLD:
        return simulate_buys(open_, close, np.zeros(1, np.int64), capital, capital, costs)
    if spec.kind is Kind.DCA:
        buys = period_starts(ts, str(params["frequency"]))
        amount = params.get("amount")
        if amount is None:
            amount = capital / buys.shape[0]
            params["amount"] = amount
        elif float(amount) > capital:
            raise UserInputError(
                f"dca: amount must be at most the initial capital ({capital:,.2f}); "
                f"got {float(amount):,.2f}."
            )
        sim = simulate_buys(open_, close, buys, float(amount), capital, costs)
        if sim.skipped_buys:
            notes.append(
                f"The cash ran out after {len(sim.trades)} buys; "
                f"{sim.skipped_buys} scheduled buys were skipped."
            )
        return sim
    if spec.signals is None:
        raise TypeError(f"signal strategy {spec.name} has no signal function")
    warm = spec.warmup(params)
    if len(bars) < warm + 2:
        raise UserInputError(
            f"Too little history for {spec.name} with {_shown(params)}: it needs at least "
            f"{warm + 2} bars, the data has {len(bars)} ({bars.interval} bars). "
            "Use a longer period, a shorter interval or shorter indicator periods."
        )
    if warm > first:
        notes.append(
            f"The indicators need {warm} bars to warm up: no signal before "
            f"{_day(int(bars.ts[warm]))}."
        )
    entries, exits = spec.signals(bars, params)
    return simulate_signals(open_, close, entries[first:], exits[first:], capital, costs)


# -- helpers -------------------------------------------------------------------------------


def _check_settings(
    capital: float, fee_pct: float, slippage_pct: float, rf_pct: float
) -> tuple[float, float, float, float]:
    """Validate the run settings and return them as floats."""
    checks = (
        ("initial_capital", capital, 0.0, MAX_CAPITAL, False),
        ("fee_pct", fee_pct, 0.0, MAX_COST_PCT, True),
        ("slippage_pct", slippage_pct, 0.0, MAX_COST_PCT, True),
        ("risk_free_pct", rf_pct, -10.0, 100.0, True),
    )
    out: list[float] = []
    for name, value, low, high, low_ok in checks:
        number = (
            float(value)
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool)
            else math.nan
        )
        if not (
            math.isfinite(number) and (number >= low if low_ok else number > low) and number <= high
        ):
            bound = f"from {low:g}" if low_ok else f"above {low:g}"
            top = f"{high:,.0f}" if high >= 1e6 else f"{high:g}"
            raise UserInputError(f"{name} must be a number {bound} to {top}; got {value}.")
        out.append(number)
    return out[0], out[1], out[2], out[3]


def _notice(bars: Bars) -> str | None:
    if bars.origin is DataOrigin.SIMULATED:
        return "Backtest on SIMULATED prices (offline market), not real market history."
    if bars.origin is DataOrigin.REPLAYED:
        return f"Backtest on prices replayed from {bars.source}, not live market data."
    return None


def _shown(params: Params) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _day(epoch: int) -> str:
    fmt = "%Y-%m-%d" if epoch % 86400 == 0 else "%Y-%m-%d %H:%M UTC"
    return datetime.fromtimestamp(epoch, UTC).strftime(fmt)


def _time(ts: IntArray, index: int) -> datetime:
    return datetime.fromtimestamp(int(ts[index]), UTC)
