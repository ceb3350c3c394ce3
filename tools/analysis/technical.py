"""``TechnicalService``: latest indicator values, plain-language readings and a stance.

``analyse("BTC", ["rsi", "bollinger", "EMA 50"], interval="4h")`` fetches enough history
for the requested indicators (plus settling room for recursive ones such as EMA and
RSI), computes them with TA-Lib, reads each one (overbought, crossovers, squeeze, trend,
volatility...) and combines the readings into a bullish / bearish / neutral stance with
the reasons behind it (see :mod:`tools.analysis.technical_readings`).

Indicator names are case-insensitive and accept aliases and optional periods:
``bollinger``/``bb`` -> BBANDS, ``stochastic`` -> STOCH, ``ma``/``moving average`` ->
SMA, ``RSI(7)``, ``EMA 50``, ``SMA 20/50``, ``MACD(8, 21, 5)``, ``BB(20, 2.5)``.

Values are never invented: an indicator the history is too short for is reported with
how many bars it needs and how many there are, while the others are still computed.
Reports carry their provenance (source, simulated/replayed notice, notes) and the time
of the last bar.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tools.analysis.fetch import SETTLE_BARS, check_interval, load_bars
from tools.analysis.formula_ast import MAX_PERIOD
from tools.analysis.indicators import INDICATORS
from tools.analysis.technical_readings import (
    IndicatorReading,
    IndicatorRequest,
    Stance,
    bars_needed,
    overall_stance,
    read_indicator,
)
from tools.errors import UserInputError
from tools.market.service import PriceService
from tools.market.types import INTERVALS, DataOrigin

__all__ = [
    "DEFAULT_PERIODS",
    "MAX_REQUESTS",
    "IndicatorReading",
    "IndicatorRequest",
    "Stance",
    "TechnicalReport",
    "TechnicalService",
    "parse_indicators",
]

#: Periods used when a request names an indicator without periods.
DEFAULT_PERIODS: dict[str, tuple[int, ...]] = {
    "RSI": (14,),
    "MACD": (12, 26, 9),
    "BBANDS": (20,),
    "SMA": (20, 50, 200),
    "EMA": (12, 26, 50),
    "ATR": (14,),
    "STOCH": (14, 3, 3),
}
#: Most indicator entries in one request.
MAX_REQUESTS = 12
_MAX_ENTRY = 40

_ALIASES: dict[str, str] = {
    "rsi": "RSI", "relativestrength": "RSI", "relativestrengthindex": "RSI",
    "macd": "MACD",
    "bbands": "BBANDS", "bb": "BBANDS", "bbs": "BBANDS", "bollinger": "BBANDS",
    "bollingerband": "BBANDS", "bollingerbands": "BBANDS", "bands": "BBANDS",
    "sma": "SMA", "ma": "SMA", "mas": "SMA", "movingaverage": "SMA", "movingaverages": "SMA",
    "simplemovingaverage": "SMA",
    "ema": "EMA", "exponentialmovingaverage": "EMA",
    "atr": "ATR", "averagetruerange": "ATR",
    "stoch": "STOCH", "stochastic": "STOCH", "stochastics": "STOCH",
    "stochasticoscillator": "STOCH",
}  # fmt: skip
_DISPLAY = "RSI, MACD, BBANDS (Bollinger), SMA, EMA, ATR, STOCH (stochastic)"
_ENTRY = re.compile(
    r"^(?P<name>[a-z][a-z _-]*?)\s*(?:\((?P<paren>[^()]*)\)|(?P<bare>[0-9][0-9.,/\s]*))?$"
)
_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
#: (most periods, smallest period) per indicator; BBANDS' second number is the width.
_ARITY: dict[str, tuple[int, tuple[int, ...]]] = {
    "RSI": (1, (2,)),
    "ATR": (1, (1,)),
    "MACD": (3, (2, 2, 1)),
    "BBANDS": (1, (2,)),
    "SMA": (5, (2, 2, 2, 2, 2)),
    "EMA": (5, (2, 2, 2, 2, 2)),
    "STOCH": (3, (1, 1, 1)),
}


@dataclass(frozen=True, slots=True)
class TechnicalReport:
    """Indicators for one coin at one interval.

    Attributes:
        symbol: Upper-case ticker.
        coin_name: Display name.
        vs_currency: Quote currency.
        interval: Bar length (``1h``, ``4h``, ``1d``, ``1w``).
        bars_available: Bars the source returned.
        last_bar_time: Open time of the last bar (UTC).
        last_bar_partial: The last bar is still forming.
        last_close: Close of the last bar.
        indicators: One reading per requested indicator, in request order.
        stance: Overall direction.
        reasons: What drove the stance (votes first, then cautions).
        source: Data source name.
        origin: Live, simulated or replayed.
        notice: Simulated/replayed label to show, if any.
        notes: Other caveats (ambiguous ticker, provider limits...).
    """

    symbol: str
    coin_name: str
    vs_currency: str
    interval: str
    bars_available: int
    last_bar_time: datetime
    last_bar_partial: bool
    last_close: float
    indicators: list[IndicatorReading]
    stance: Stance
    reasons: list[str]
    source: str
    origin: DataOrigin
    notice: str | None = None
    notes: list[str] = field(default_factory=list)


class TechnicalService:
    """Technical analysis over the market capability.

    Args:
        prices: Where history comes from.
    """

    def __init__(self, prices: PriceService) -> None:
        self.prices = prices

    async def analyse(
        self,
        symbol: str,
        indicators: Sequence[str] | None = None,
        interval: str = "1d",
        *,
        vs_currency: str = "usd",
    ) -> TechnicalReport:
        """Compute and read indicators for one coin.

        Args:
            symbol: Coin ticker or name.
            indicators: Indicator names with optional periods (``["rsi", "EMA 50"]``);
                ``None`` or empty for all of :data:`tools.analysis.indicators.INDICATORS`.
            interval: Bar length: ``1h``, ``4h``, ``1d`` or ``1w``.
            vs_currency: Quote currency.

        Raises:
            UserInputError: Unknown indicator (the message lists the valid ones), bad
                period, interval, currency or symbol.
            MarketDataUnavailableError: No history could be loaded.
        """
        interval = check_interval(interval)
        requests = parse_indicators(indicators)
        wanted = max(bars_needed(r) for r in requests) + SETTLE_BARS
        loaded = await load_bars(self.prices, symbol, interval, wanted, vs_currency)
        bars = loaded.bars
        readings = [read_indicator(bars, r) for r in requests]
        stance, reasons = overall_stance(readings)
        last_open = bars.time(len(bars) - 1)
        partial = (loaded.fetched_at - last_open).total_seconds() < INTERVALS[interval]
        return TechnicalReport(
            symbol=loaded.coin.symbol,
            coin_name=loaded.coin.name,
            vs_currency=bars.vs_currency,
            interval=interval,
            bars_available=len(bars),
            last_bar_time=last_open,
            last_bar_partial=partial,
            last_close=float(bars.close[-1]),
            indicators=readings,
            stance=stance,
            reasons=reasons,
            source=bars.source,
            origin=bars.origin,
            notice=loaded.notice,
            notes=list(loaded.notes),
        )


def parse_indicators(entries: Sequence[str] | None) -> list[IndicatorRequest]:
    """Turn user indicator names into requests (aliases, optional periods, defaults).

    SMA and EMA entries merge into one request each (``"SMA 50", "SMA 200"`` ->
    ``SMA 50/200``); other duplicates are dropped.

    Raises:
        UserInputError: Unknown name (listing the valid ones), bad periods, or too many.
    """
    if isinstance(entries, str):
        entries = [entries]
    wanted = [str(e).strip() for e in entries or () if str(e).strip()]
    if not wanted:
        return [IndicatorRequest(name, DEFAULT_PERIODS[name]) for name in INDICATORS]
    if len(wanted) > MAX_REQUESTS:
        raise UserInputError(
            f"Ask for at most {MAX_REQUESTS} indicators at once; you asked for {len(wanted)}."
        )
    requests: list[IndicatorRequest] = []
    averages: dict[str, list[int]] = {}
    for entry in wanted:
        request = _parse_entry(entry)
        if request.name in ("SMA", "EMA"):
            if request.name not in averages:
                averages[request.name] = []
                requests.append(request)  # placeholder keeps the first position
            averages[request.name] += request.periods
        elif request not in requests:
            requests.append(request)
    return [
        IndicatorRequest(r.name, tuple(sorted(set(averages[r.name])))) if r.name in averages else r
        for r in requests
    ]


def _parse_entry(entry: str) -> IndicatorRequest:
    shown = entry if len(entry) <= _MAX_ENTRY else entry[: _MAX_ENTRY - 3] + "..."
    match = _ENTRY.match(entry.lower()) if len(entry) <= _MAX_ENTRY else None
    key = re.sub(r"[\s_-]+", "", match.group("name")) if match else ""
    name = _ALIASES.get(key)
    if match is None or name is None:
        raise _unknown(shown, key or entry.lower())
    args = match.group("paren") if match.group("paren") is not None else match.group("bare")
    numbers = [t for t in re.split(r"[\s,/]+", args or "") if t]
    if not numbers:
        return IndicatorRequest(name, DEFAULT_PERIODS[name])
    most, minimums = _ARITY[name]
    width = 2.0
    if name == "BBANDS" and len(numbers) == 2:
        width = _width(numbers.pop(), shown)
    if len(numbers) > most:
        example = {"RSI": "RSI 14", "ATR": "ATR 14", "BBANDS": "BB 20 2"}.get(name)
        raise UserInputError(
            f'Too many numbers in "{shown}". '
            + (f"For example: {example}." if example else f"{name} takes up to {most}.")
        )
    periods = [_period(t, minimums[i], shown) for i, t in enumerate(numbers)]
    if name in ("MACD", "STOCH"):
        periods += DEFAULT_PERIODS[name][len(periods) :]
        if name == "MACD" and periods[0] >= periods[1]:
            raise UserInputError(
                f'In "{shown}" the fast period must be shorter than the slow one '
                f"(got {periods[0]} and {periods[1]})."
            )
    return IndicatorRequest(name, tuple(periods), width)


def _period(text: str, minimum: int, shown: str) -> int:
    if not _NUMBER.match(text) or "." in text or not minimum <= int(text) <= MAX_PERIOD:
        raise UserInputError(
            f'Periods are whole numbers from {minimum} to {MAX_PERIOD}; got "{text[:12]}" '
            f'in "{shown}".'
        )
    return int(text)


def _width(text: str, shown: str) -> float:
    if not _NUMBER.match(text) or not 0 < float(text) <= 10:
        raise UserInputError(
            f'The Bollinger width is a number above 0 and at most 10; got "{text[:12]}" '
            f'in "{shown}".'
        )
    return float(text)


def _unknown(shown: str, key: str) -> UserInputError:
    close = difflib.get_close_matches(key, list(_ALIASES), n=1, cutoff=0.6)
    hint = f" Did you mean {_ALIASES[close[0]]}?" if close else ""
    return UserInputError(f'Unknown indicator "{shown}".{hint} Choose from: {_DISPLAY}.')
