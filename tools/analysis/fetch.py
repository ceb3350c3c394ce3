"""Loading bars for analyses: how much history to ask for, and where it came from.

Technical reports and formulas both need "enough bars for these indicators at this
interval", plus the provenance users must see: the source, whether the numbers are
simulated or replayed, and notes such as an ambiguous ticker or a provider's coarse data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from tools.analysis.bars import Bars
from tools.errors import MarketDataUnavailableError, UserInputError
from tools.market.service import PriceService, data_notice
from tools.market.types import INTERVALS, CoinRef, DataOrigin

__all__ = [
    "ANALYSIS_INTERVALS",
    "MAX_HISTORY_DAYS",
    "SETTLE_BARS",
    "LoadedBars",
    "bars_phrase",
    "check_interval",
    "days_for",
    "load_bars",
]

#: Bar lengths analyses run on.
ANALYSIS_INTERVALS: tuple[str, ...] = ("1h", "4h", "1d", "1w")
#: The most history any market source serves.
MAX_HISTORY_DAYS = 3650
#: Bars fetched beyond an indicator's warm-up so recursive indicators (EMA, RSI, ATR,
#: MACD), which TA-Lib seeds from their first bars, have settled by the bars shown.
SETTLE_BARS = 250

_ALIASES = {
    "hour": "1h", "hourly": "1h", "60m": "1h", "1hr": "1h",
    "4hr": "4h", "240m": "4h",
    "day": "1d", "daily": "1d", "24h": "1d",
    "week": "1w", "weekly": "1w", "7d": "1w",
}  # fmt: skip
_WORDS = {"1h": "hourly", "4h": "4-hour", "1d": "daily", "1w": "weekly"}


def check_interval(interval: str) -> str:
    """Normalise a bar length (``"1D"``, ``"daily"`` -> ``"1d"``).

    Raises:
        UserInputError: Not one of :data:`ANALYSIS_INTERVALS`.
    """
    key = str(interval).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in ANALYSIS_INTERVALS:
        shown = str(interval)[:12]
        raise UserInputError(
            f'Unsupported interval "{shown}". Use one of: {", ".join(ANALYSIS_INTERVALS)}.'
        )
    return key


def bars_phrase(count: int, interval: str) -> str:
    """``"200 daily bars"``, ``"1 hourly bar"``."""
    word = _WORDS.get(interval, interval)
    return f"{count:,} {word} bar" + ("" if count == 1 else "s")


def days_for(bars: int, interval: str) -> int:
    """Days of history that hold ``bars`` bars at ``interval`` (capped at the maximum)."""
    seconds = INTERVALS[interval] * max(bars, 1)
    return max(1, min(MAX_HISTORY_DAYS, math.ceil(seconds / 86400) + 1))


@dataclass(frozen=True, slots=True)
class LoadedBars:
    """Bars plus their provenance.

    Attributes:
        bars: The bars, oldest first (the last one may still be forming).
        coin: The coin the symbol resolved to.
        fetched_at: When the source produced the history.
        notice: Set when the data is simulated or replayed; must be shown.
        notes: Ambiguous ticker, provider caveats, replay file...
    """

    bars: Bars
    coin: CoinRef
    fetched_at: datetime
    notice: str | None = None
    notes: list[str] = field(default_factory=list)


async def load_bars(
    prices: PriceService, symbol: str, interval: str, bars_wanted: int, vs_currency: str = "usd"
) -> LoadedBars:
    """Fetch at least ``bars_wanted`` bars of ``symbol`` where the source has them.

    Raises:
        UserInputError: Bad interval or currency; unknown symbol.
        MarketDataUnavailableError: No source answered, or the history is empty.
    """
    resolution, history = await prices.get_history(
        symbol, days=days_for(bars_wanted, interval), interval=interval, vs_currency=vs_currency
    )
    coin = resolution.coin
    if not history.candles:
        raise MarketDataUnavailableError(
            f"No {_WORDS.get(interval, interval)} price history is available for {coin.name}."
        )
    notes = [resolution.note] if resolution.note else []
    if history.note and history.origin is not DataOrigin.SIMULATED:
        notes.append(f"{coin.symbol}: {history.note}.")
    return LoadedBars(
        bars=Bars.from_history(history),
        coin=coin,
        fetched_at=history.fetched_at,
        notice=origin_notice(prices, history.origin),
        notes=notes,
    )


def origin_notice(prices: PriceService, origin: DataOrigin) -> str | None:
    """The label users must see for simulated or replayed data (``None`` when live)."""
    return data_notice(prices.market, [origin])
