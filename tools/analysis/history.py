"""Price history: a coin's performance over a range, and its price on a given day.

``HistoryService`` sits on :class:`tools.market.service.PriceService`: it validates the
request, fetches OHLCV bars once and reduces them with numpy. Reports carry their own
provenance (source, live/simulated/replayed notice, resolution and provider notes) so
every front-end and the agent show where the numbers came from.

* :meth:`HistoryService.summary`: first and last close, high and low (from bar highs and
  lows) with their times, return and annualised volatility (log returns, 365-day year).
* :meth:`HistoryService.price_on`: the close of the bar covering a moment; daily bars for
  dates and older moments, hourly bars for moments within the last 30 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np

from tools.analysis.bars import Bars
from tools.analysis.fetch import origin_notice
from tools.clock import Clock, SystemClock
from tools.errors import LimitError, MarketDataUnavailableError, UserInputError
from tools.market.service import PriceService
from tools.market.symbols import Resolution
from tools.market.types import INTERVALS, CoinRef, DataOrigin, PriceHistory

__all__ = [
    "HOURLY_LOOKUP_DAYS",
    "MAX_BARS",
    "MAX_DAYS",
    "HistoryReport",
    "HistoryService",
    "PointReport",
    "check_range",
    "history_bars",
    "origin_notice",
]

MAX_DAYS = 3650
#: Bars per request: 365 days of hourly bars fit, ten years of 4-hour bars do not.
MAX_BARS = 10_000
#: Free CoinGecko history covers this many days; ``price_on`` looks back no further.
FREE_HISTORY_DAYS = 365
#: ``price_on`` uses hourly bars for moments at most this many days old.
HOURLY_LOOKUP_DAYS = 30
DAYS_PER_YEAR = 365
_SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400
_PCT_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class HistoryReport:
    """How a coin did over a range of bars.

    Attributes:
        coin: The coin (resolved).
        vs_currency: Quote currency.
        interval: Bar length (``1h``, ``4h``, ``1d``, ``1w``).
        days: Days asked for.
        bars: Number of bars used.
        first_time: Open time of the first bar (UTC).
        first_close: Close of the first bar.
        last_time: Open time of the last bar (UTC); the last bar may be in progress.
        last_close: Close of the last bar (the latest price when it is in progress).
        high: Highest bar high in the range.
        high_time: Open time of the bar that made the high.
        low: Lowest bar low in the range.
        low_time: Open time of the bar that made the low.
        return_pct: ``last_close / first_close - 1`` in percent.
        volatility_pct: Annualised volatility of log close-to-close returns in percent
            (sample standard deviation, 365-day year); ``None`` with fewer than 3 bars.
        source: Where the bars came from.
        origin: Live, simulated or replayed.
        notes: Provenance notes (ambiguous ticker, provider limits, shorter history).
        notice: Set when the data is simulated or replayed.
    """

    coin: CoinRef
    vs_currency: str
    interval: str
    days: int
    bars: int
    first_time: datetime
    first_close: Decimal
    last_time: datetime
    last_close: Decimal
    high: Decimal
    high_time: datetime
    low: Decimal
    low_time: datetime
    return_pct: Decimal
    volatility_pct: Decimal | None
    source: str
    origin: DataOrigin
    notes: list[str] = field(default_factory=list)
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class PointReport:
    """A coin's price at one moment: the bar covering it.

    Attributes:
        coin: The coin (resolved).
        vs_currency: Quote currency.
        requested: The date or moment asked about (moments normalised to UTC).
        interval: Length of the bar used (``1d`` or ``1h``).
        bar_start: Open time of that bar (UTC).
        bar_end: End of that bar (UTC).
        open, high, low, close: The bar's prices.
        in_progress: The bar has not closed yet; ``close`` is the latest price.
        source: Where the bar came from.
        origin: Live, simulated or replayed.
        notes: Provenance notes.
        notice: Set when the data is simulated or replayed.
    """

    coin: CoinRef
    vs_currency: str
    requested: date | datetime
    interval: str
    bar_start: datetime
    bar_end: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    in_progress: bool
    source: str
    origin: DataOrigin
    notes: list[str] = field(default_factory=list)
    notice: str | None = None


class HistoryService:
    """History summaries and point-in-time prices over :class:`PriceService`.

    Args:
        prices: The market capability (symbol resolution, history, provenance).
        clock: Time source; defaults to the wall clock.
        max_lookback_days: How far back :meth:`price_on` may look (free CoinGecko
            history covers 365 days).
    """

    def __init__(
        self,
        prices: PriceService,
        *,
        clock: Clock | None = None,
        max_lookback_days: int = FREE_HISTORY_DAYS,
    ) -> None:
        self.prices = prices
        self.max_lookback_days = max_lookback_days
        self._clock = clock or SystemClock()

    async def summary(
        self, symbol: str, days: int = 30, interval: str = "1d", vs_currency: str = "usd"
    ) -> HistoryReport:
        """Summarise a coin's price over the last ``days`` days of ``interval`` bars.

        Raises:
            UserInputError: ``days`` outside 1..3650, an unknown interval, an unknown
                coin or currency.
            LimitError: The range holds more than :data:`MAX_BARS` bars.
            MarketDataUnavailableError: No source returned any bars.
        """
        check_range(days, interval)
        resolution, history = await self.prices.get_history(
            symbol, days=days, interval=interval, vs_currency=vs_currency
        )
        bars = history_bars(history)
        notes = _notes(resolution, history)
        asked_from = self._clock.now() - timedelta(days=days)
        bar_s = INTERVALS[interval]
        if bars.ts[0] - asked_from.timestamp() > bar_s + 86400:
            notes.append(
                f"History starts {_when(bars.time(0), interval)}, later than the "
                f"{days} days asked for."
            )
        high_i = int(np.argmax(bars.high))
        low_i = int(np.argmin(bars.low))
        first, last = float(bars.close[0]), float(bars.close[-1])
        return HistoryReport(
            coin=history.coin,
            vs_currency=history.vs_currency,
            interval=interval,
            days=days,
            bars=len(bars),
            first_time=bars.time(0),
            first_close=_decimal(first),
            last_time=bars.time(len(bars) - 1),
            last_close=_decimal(last),
            high=_decimal(float(bars.high[high_i])),
            high_time=bars.time(high_i),
            low=_decimal(float(bars.low[low_i])),
            low_time=bars.time(low_i),
            return_pct=_pct((last / first - 1.0) * 100.0),
            volatility_pct=_volatility(bars.close, bar_s),
            source=history.source,
            origin=history.origin,
            notes=notes,
            notice=origin_notice(self.prices, history.origin),
        )

    async def price_on(
        self, symbol: str, when: date | datetime, vs_currency: str = "usd"
    ) -> PointReport:
        """The close of the bar covering ``when``.

        A ``date`` gives that UTC day's daily bar. A ``datetime`` (naive means UTC) gives
        the hourly bar covering it when it is at most 30 days old, else the daily bar.
        The current bar is in progress: its close is the latest price.

        Raises:
            UserInputError: ``when`` is in the future or older than the available history
                (the message says which range is available), or the coin is unknown.
            MarketDataUnavailableError: No source returned any bars.
        """
        now = self._clock.now()
        today = now.date()
        earliest = now - timedelta(days=self.max_lookback_days)
        available = (
            f"Prices are available from {earliest:%Y-%m-%d} to {today:%Y-%m-%d} (UTC); "
            f"free CoinGecko history covers {FREE_HISTORY_DAYS} days."
        )
        if isinstance(when, datetime):
            moment = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
            requested: date | datetime = moment
            shown = f"{moment:%Y-%m-%d %H:%M} UTC"
            future, too_old = moment > now, moment < earliest
            hourly = now - moment <= timedelta(days=HOURLY_LOOKUP_DAYS)
        elif isinstance(when, date):
            moment = datetime.combine(when, time(0), UTC)
            requested = when
            shown = f"{when:%Y-%m-%d}"
            future, too_old = when > today, when < earliest.date()
            hourly = False
        else:
            raise UserInputError("Give a date (2025-03-01) or a date and time.")
        if future:
            raise UserInputError(f"{shown} is in the future. {available}")
        if too_old:
            raise UserInputError(f"{shown} is before the available history. {available}")

        interval = "1h" if hourly else "1d"
        age_days = max(0.0, (now - moment).total_seconds() / 86400)
        days = min(MAX_DAYS, math.ceil(age_days) + 1)
        resolution, history = await self.prices.get_history(
            symbol, days=days, interval=interval, vs_currency=vs_currency
        )
        bars = history_bars(history)
        bar_s = INTERVALS[interval]
        index = int(np.searchsorted(bars.ts, int(moment.timestamp()), side="right")) - 1
        if index < 0 or moment.timestamp() >= bars.ts[index] + bar_s:
            first = _when(bars.time(0), interval)
            last = _when(bars.time(len(bars) - 1), interval)
            raise UserInputError(
                f"No {history.coin.symbol} price for {shown}: {history.source} has "
                f"{interval} bars from {first} to {last}."
            )
        start = bars.time(index)
        end = start + timedelta(seconds=bar_s)
        notes = _notes(resolution, history)
        if isinstance(when, datetime) and not hourly:
            notes.append(
                f"Hourly prices cover the last {HOURLY_LOOKUP_DAYS} days; this is the daily bar."
            )
        return PointReport(
            coin=history.coin,
            vs_currency=history.vs_currency,
            requested=requested,
            interval=interval,
            bar_start=start,
            bar_end=end,
            open=_decimal(float(bars.open[index])),
            high=_decimal(float(bars.high[index])),
            low=_decimal(float(bars.low[index])),
            close=_decimal(float(bars.close[index])),
            in_progress=end > now,
            source=history.source,
            origin=history.origin,
            notes=notes,
            notice=origin_notice(self.prices, history.origin),
        )


def check_range(days: int, interval: str) -> None:
    """Validate a history request: ``days`` in 1..3650, a known interval, not too many bars.

    Raises:
        UserInputError: Bad ``days`` or ``interval``.
        LimitError: More than :data:`MAX_BARS` bars.
    """
    if interval not in INTERVALS:
        raise UserInputError(
            f"Interval must be one of {', '.join(INTERVALS)}; got {_shown(interval)}."
        )
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise UserInputError(f"History covers 1 to {MAX_DAYS} days; you asked for {_shown(days)}.")
    bars = days * 86400 // INTERVALS[interval]
    if bars > MAX_BARS:
        raise LimitError(
            f"{days} days of {interval} bars is {bars:,} bars; at most {MAX_BARS:,} per "
            "request. Use a longer interval or fewer days."
        )


def annualised_volatility(close: np.ndarray, bar_seconds: int) -> float | None:
    """Annualised volatility (fraction) of log close-to-close returns; ``None`` under 3 bars.

    Uses the sample standard deviation and a 365-day year: ``std * sqrt(bars per year)``.
    """
    if close.shape[0] < 3:
        return None
    returns = np.diff(np.log(close))
    return float(np.std(returns, ddof=1) * math.sqrt(_SECONDS_PER_YEAR / bar_seconds))


def history_bars(history: PriceHistory) -> Bars:
    """The bars of a history.

    Raises:
        MarketDataUnavailableError: The source returned no bars at all.
    """
    if not history.candles:
        raise MarketDataUnavailableError(
            f"No price history is available for {history.coin.name} right now."
        )
    return Bars.from_history(history)


# -- helpers -------------------------------------------------------------------------------


def _notes(resolution: Resolution, history: PriceHistory) -> list[str]:
    notes = [resolution.note] if resolution.note else []
    note = (history.note or "").strip().rstrip(".")
    if note and not (history.origin is DataOrigin.SIMULATED and note == "simulated"):
        notes.append(note[:1].upper() + note[1:] + ".")
    return notes


def _volatility(close: np.ndarray, bar_seconds: int) -> Decimal | None:
    vol = annualised_volatility(close, bar_seconds)
    return None if vol is None else _pct(vol * 100.0)


def _decimal(value: float) -> Decimal:
    """A float price as a ``Decimal`` with 10 significant digits."""
    return Decimal(f"{value:.10g}")


def _pct(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_PCT_QUANTUM)


def _when(moment: datetime, interval: str) -> str:
    if interval in ("1h", "4h"):
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    return f"{moment:%Y-%m-%d}"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."
