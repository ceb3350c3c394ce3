"""Indicator readings: latest values, a plain-language reading and votes for a stance.

Each ``read_*`` function takes the bars and one :class:`IndicatorRequest` and returns an
:class:`IndicatorReading`. Nothing is invented: when the history is too short for a
value, the reading says how many bars are needed and how many there are; when it is too
short only for part of a reading (a recent crossover, a squeeze), that part is left out.

:func:`overall_stance` turns the readings' votes into bullish / bearish / neutral with
the reasons that drove it. Votes: trend (price against its moving averages), a recent
moving-average cross, MACD against its signal line, and RSI momentum (above or below
50; an overbought RSI still votes bullish, since in a strong trend RSI stays overbought
for a long time, but its reason says the move is stretched). Band breaks, squeezes and
stochastic extremes are cautions, not votes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from tools.analysis import indicators as ind
from tools.analysis.bars import Bars, FloatArray
from tools.analysis.fetch import bars_phrase

__all__ = [
    "ATR_WINDOW",
    "MACD_CROSS_BARS",
    "MA_CROSS_BARS",
    "SQUEEZE_WINDOW",
    "STOCH_CROSS_BARS",
    "IndicatorReading",
    "IndicatorRequest",
    "Signal",
    "Stance",
    "bars_needed",
    "overall_stance",
    "read_indicator",
]

#: "In the last few bars" for a MACD crossover.
MACD_CROSS_BARS = 5
#: "Recently" for a golden or death cross.
MA_CROSS_BARS = 20
#: %K/%D crossover window.
STOCH_CROSS_BARS = 3
#: Bars of band width a squeeze is judged against (bottom decile = squeeze).
SQUEEZE_WINDOW = 120
SQUEEZE_QUANTILE = 10.0
#: Bars of ATR% the current volatility is compared with.
ATR_WINDOW = 120
RSI_OVERBOUGHT, RSI_OVERSOLD = 70.0, 30.0
STOCH_OVERBOUGHT, STOCH_OVERSOLD = 80.0, 20.0


class Stance(StrEnum):
    """Overall direction suggested by the indicators."""

    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class IndicatorRequest:
    """One indicator to compute.

    Attributes:
        name: Canonical name: RSI, MACD, BBANDS, SMA, EMA, ATR or STOCH.
        periods: RSI/ATR ``(n,)``; MACD ``(fast, slow, signal)``; BBANDS ``(n,)``;
            STOCH ``(k, k_smooth, d)``; SMA/EMA one or more periods, ascending.
        width: Bollinger Band width in standard deviations.
    """

    name: str
    periods: tuple[int, ...]
    width: float = 2.0

    @property
    def label(self) -> str:
        """``"RSI 14"``, ``"MACD 12/26/9"``, ``"BBANDS 20/2"``, ``"SMA 20/50/200"``."""
        periods = "/".join(str(p) for p in self.periods)
        if self.name == "BBANDS":
            periods += f"/{self.width:g}"
        return f"{self.name} {periods}"


@dataclass(frozen=True, slots=True)
class Signal:
    """A vote (``direction`` +1 bullish, -1 bearish) or a caution (``direction`` 0)."""

    direction: int
    text: str


@dataclass(frozen=True, slots=True)
class IndicatorReading:
    """The latest values of one indicator and what they say.

    Attributes:
        name: Canonical indicator name.
        label: Name with periods (``"SMA 20/50/200"``).
        values: Latest values by label, in display order (only values that exist).
        reading: Plain-language reading; ``None`` when nothing could be computed.
        signals: Votes and cautions feeding the overall stance.
        unavailable: Why some values are missing (``"SMA 200 needs 200 daily bars; only
            120 are available."``).
    """

    name: str
    label: str
    values: dict[str, float] = field(default_factory=dict)
    reading: str | None = None
    signals: list[Signal] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        """At least one value was computed."""
        return bool(self.values)


# -- bars needed ------------------------------------------------------------------------------


def _warmups(request: IndicatorRequest) -> list[tuple[str, int]]:
    """(label, warm-up) of each value the request produces."""
    p = request.periods
    if request.name in ("SMA", "EMA"):
        return [(f"{request.name} {n}", ind.warmup(request.name, n)) for n in p]
    if request.name in ("RSI", "ATR", "BBANDS"):
        return [(request.label, ind.warmup(request.name, p[0]))]
    return [(request.label, ind.warmup(request.name, *p))]


def bars_needed(request: IndicatorRequest) -> int:
    """Bars for the complete reading (values plus crossovers, squeeze, volatility context)."""
    base = max(w for _, w in _warmups(request)) + 1
    extra = {
        "MACD": MACD_CROSS_BARS,
        "BBANDS": SQUEEZE_WINDOW,
        "ATR": ATR_WINDOW,
        "STOCH": STOCH_CROSS_BARS,
        "SMA": MA_CROSS_BARS,
        "EMA": 0,
        "RSI": 0,
    }[request.name]
    return base + extra


# -- helpers ----------------------------------------------------------------------------------


def _last(values: FloatArray) -> float | None:
    value = float(values[-1]) if values.shape[0] else math.nan
    return value if math.isfinite(value) else None


def _shortage(label: str, warmup: int, bars: Bars) -> str | None:
    if len(bars) > warmup:
        return None
    need = bars_phrase(warmup + 1, bars.interval)
    return f"{label} needs {need}; only {len(bars):,} are available."


def _recent_cross(fast: FloatArray, slow: FloatArray, within: int) -> tuple[int, int] | None:
    """The latest cross of ``fast`` over ``slow`` in the last ``within`` bars.

    Returns:
        ``(+1, bars_ago)`` for an upward cross, ``(-1, bars_ago)`` downward, else ``None``.
    """
    n = fast.shape[0]
    for i in range(n - 1, max(0, n - within) - 1, -1):
        if i < 1:
            break
        before, now = fast[i - 1] - slow[i - 1], fast[i] - slow[i]
        if not (math.isfinite(before) and math.isfinite(now)):
            break
        if before <= 0 < now:
            return 1, n - 1 - i
        if before >= 0 > now:
            return -1, n - 1 - i
    return None


def _ago(bars_ago: int) -> str:
    if bars_ago == 0:
        return "on the last bar"
    return f"{bars_ago} bar{'s' if bars_ago != 1 else ''} ago"


def _and(items: list[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _pct(value: float) -> str:
    return f"{value:.2f}%" if abs(value) < 10 else f"{value:.1f}%"


# -- readings ---------------------------------------------------------------------------------


def read_rsi(bars: Bars, request: IndicatorRequest) -> IndicatorReading:
    """RSI: overbought above 70, oversold below 30; momentum vote above/below 50."""
    n = request.periods[0]
    label = request.label
    short = _shortage(label, ind.warmup("RSI", n), bars)
    value = None if short else _last(ind.rsi(bars.close, n))
    if value is None:
        return IndicatorReading("RSI", label, unavailable=[short or f"{label} is undefined."])
    signals: list[Signal] = []
    if value > RSI_OVERBOUGHT:
        reading = "Overbought (above 70): strong momentum, but the move is stretched."
        text = f"RSI {n} is overbought ({value:.1f}): strong momentum, but stretched."
        signals.append(Signal(1, text))
    elif value < RSI_OVERSOLD:
        reading = "Oversold (below 30): heavy selling, a bounce is possible."
        text = f"RSI {n} is oversold ({value:.1f}): heavy selling, but stretched."
        signals.append(Signal(-1, text))
    else:
        side = "above" if value >= 50 else "below"
        reading = f"Neutral (between 30 and 70), {side} 50."
        if value != 50:
            direction = 1 if value > 50 else -1
            mood = "positive" if direction > 0 else "negative"
            signals.append(Signal(direction, f"RSI {n} at {value:.1f} shows {mood} momentum."))
    return IndicatorReading("RSI", label, {label: value}, reading, signals)


def read_macd(bars: Bars, request: IndicatorRequest) -> IndicatorReading:
    """MACD line against its signal: recent crossover, position, histogram direction."""
    fast, slow, sig = request.periods
    label = request.label
    warm = ind.warmup("MACD", fast, slow, sig)
    short = _shortage(label, warm, bars)
    if short:
        return IndicatorReading("MACD", label, unavailable=[short])
    line, signal, hist = ind.macd(bars.close, fast, slow, sig)
    now_line, now_signal, now_hist = _last(line), _last(signal), _last(hist)
    if now_line is None or now_signal is None or now_hist is None:
        return IndicatorReading("MACD", label, unavailable=[f"{label} is undefined."])
    values = {"MACD": now_line, "Signal": now_signal, "Histogram": now_hist}
    parts: list[str] = []
    cross = _recent_cross(line, signal, MACD_CROSS_BARS)
    if cross is not None:
        kind = "Bullish" if cross[0] > 0 else "Bearish"
        side = "above" if cross[0] > 0 else "below"
        parts.append(f"{kind} crossover {_ago(cross[1])} (MACD crossed {side} its signal)")
    elif now_line != now_signal:
        parts.append(f"MACD is {'above' if now_line > now_signal else 'below'} its signal")
    if len(bars) > warm + 1 and math.isfinite(hist[-2]) and hist[-1] != hist[-2]:
        parts.append(f"histogram {'rising' if hist[-1] > hist[-2] else 'falling'}")
    parts.append(f"line {'above' if now_line >= 0 else 'below'} zero")
    reading = "; ".join(parts) + "."
    reading = reading[0].upper() + reading[1:]
    signals: list[Signal] = []
    if now_line != now_signal:
        direction = 1 if now_line > now_signal else -1
        text = f"MACD is {'above' if direction > 0 else 'below'} its signal line"
        if cross is not None and cross[0] == direction:
            text += f" ({'bullish' if direction > 0 else 'bearish'} crossover {_ago(cross[1])})"
        signals.append(Signal(direction, text + "."))
    return IndicatorReading("MACD", label, values, reading, signals)


def read_bbands(bars: Bars, request: IndicatorRequest) -> IndicatorReading:
    """Price against the bands, %B, and a squeeze (width in the bottom decile)."""
    n, k = request.periods[0], request.width
    label = request.label
    warm = ind.warmup("BBANDS", n)
    short = _shortage(label, warm, bars)
    if short:
        return IndicatorReading("BBANDS", label, unavailable=[short])
    upper, middle, lower = ind.bbands(bars.close, n, k)
    up, mid, low, close = _last(upper), _last(middle), _last(lower), _last(bars.close)
    if up is None or mid is None or low is None or close is None:
        return IndicatorReading("BBANDS", label, unavailable=[f"{label} is undefined."])
    values = {"Upper": up, "Middle": mid, "Lower": low}
    signals: list[Signal] = []
    if up > low:
        values["%B"] = (close - low) / (up - low)
    if mid:
        values["Width %"] = (up - low) / mid * 100.0
    if close > up:
        reading = "Price is above the upper band"
        signals.append(Signal(0, "Price is above the upper Bollinger Band: stretched."))
    elif close < low:
        reading = "Price is below the lower band"
        signals.append(Signal(0, "Price is below the lower Bollinger Band: stretched."))
    else:
        half = "upper" if close >= mid else "lower"
        reading = f"Price is inside the bands ({half} half)"
    unavailable: list[str] = []
    if len(bars) >= warm + SQUEEZE_WINDOW:
        with np.errstate(all="ignore"):
            width = (upper[-SQUEEZE_WINDOW:] - lower[-SQUEEZE_WINDOW:]) / middle[-SQUEEZE_WINDOW:]
        if np.isfinite(width).all():
            if width[-1] <= np.percentile(width, SQUEEZE_QUANTILE):
                reading += f"; squeeze: band width is in the lowest 10% of {SQUEEZE_WINDOW} bars"
                signals.append(
                    Signal(
                        0,
                        "Bollinger squeeze: volatility is unusually low; a big move often follows.",
                    )
                )
            else:
                reading += "; no squeeze"
    else:
        need = bars_phrase(warm + SQUEEZE_WINDOW, bars.interval)
        unavailable.append(f"The squeeze check needs {need}; only {len(bars):,} are available.")
    return IndicatorReading("BBANDS", label, values, reading + ".", signals, unavailable)


def read_moving_averages(bars: Bars, request: IndicatorRequest) -> IndicatorReading:
    """SMA or EMA: price against each average, trend vote, recent cross of the two longest."""
    name = request.name
    fn: Callable[[FloatArray, int], FloatArray] = ind.sma if name == "SMA" else ind.ema
    close = _last(bars.close)
    series: dict[int, FloatArray] = {}
    values: dict[str, float] = {}
    unavailable: list[str] = []
    for n in request.periods:
        short = _shortage(f"{name} {n}", ind.warmup(name, n), bars)
        if short:
            unavailable.append(short)
            continue
        line = fn(bars.close, n)
        value = _last(line)
        if value is not None:
            series[n], values[f"{name} {n}"] = line, value
    if not values or close is None:
        return IndicatorReading(name, request.label, unavailable=unavailable)
    above = [n for n in series if close > values[f"{name} {n}"]]
    below = [n for n in series if close < values[f"{name} {n}"]]
    parts = []
    if above:
        parts.append("above " + _and([f"{name} {n}" for n in above]))
    if below:
        parts.append("below " + _and([f"{name} {n}" for n in below]))
    reading = "Price is " + (", ".join(parts) if parts else "at its averages")
    signals: list[Signal] = []
    # Trend vote: the long averages (50 bars and more) if any, else all of them.
    judged = [n for n in series if n >= 50] or list(series)
    names = _and([f"{name} {n}" for n in judged])
    if all(n in above for n in judged):
        reading += " (uptrend)"
        signals.append(Signal(1, f"Price is above its {names} (uptrend)."))
    elif all(n in below for n in judged):
        reading += " (downtrend)"
        signals.append(Signal(-1, f"Price is below its {names} (downtrend)."))
    if len(series) >= 2:
        short_n, long_n = sorted(series)[-2:]
        cross = _recent_cross(series[short_n], series[long_n], MA_CROSS_BARS)
        if cross is not None:
            if (short_n, long_n) == (50, 200):
                what = "Golden cross" if cross[0] > 0 else "Death cross"
            else:
                side = "above" if cross[0] > 0 else "below"
                what = f"{name} {short_n} crossed {side} {name} {long_n},"
            text = f"{what} {_ago(cross[1])}"
            reading += "; " + (text if text.startswith(name) else text[0].lower() + text[1:])
            signals.append(Signal(cross[0], f"{text}."))
    return IndicatorReading(name, request.label, values, reading + ".", signals, unavailable)


def read_atr(bars: Bars, request: IndicatorRequest) -> IndicatorReading:
    """ATR and ATR as % of price, compared with its median over the last 120 bars."""
    n = request.periods[0]
    label = request.label
    warm = ind.warmup("ATR", n)
    short = _shortage(label, warm, bars)
    if short:
        return IndicatorReading("ATR", label, unavailable=[short])
    atr = ind.atr(bars.high, bars.low, bars.close, n)
    value, close = _last(atr), _last(bars.close)
    if value is None or close is None or close <= 0:
        return IndicatorReading("ATR", label, unavailable=[f"{label} is undefined."])
    pct = value / close * 100.0
    values = {label: value, "ATR %": pct}
    reading = f"An average bar spans {_pct(pct)} of price."
    window = min(ATR_WINDOW, len(bars) - warm)
    if window >= 20:
        with np.errstate(all="ignore"):
            history = atr[-window:] / bars.close[-window:] * 100.0
        typical = float(np.nanmedian(history))
        if typical > 0:
            ratio = pct / typical
            level = "Elevated" if ratio > 1.5 else "Low" if ratio < 0.67 else "Normal"
            reading = (
                f"{level} volatility: {_pct(pct)} of price against a median of "
                f"{_pct(typical)} over the last {window} bars."
            )
    return IndicatorReading("ATR", label, values, reading)


def read_stoch(bars: Bars, request: IndicatorRequest) -> IndicatorReading:
    """Slow stochastic: overbought above 80, oversold below 20, recent %K/%D cross."""
    k_period, k_smooth, d_period = request.periods
    label = request.label
    short = _shortage(label, ind.warmup("STOCH", *request.periods), bars)
    if short:
        return IndicatorReading("STOCH", label, unavailable=[short])
    k, d = ind.stoch(bars.high, bars.low, bars.close, k_period, k_smooth, d_period)
    now_k, now_d = _last(k), _last(d)
    if now_k is None or now_d is None:
        return IndicatorReading("STOCH", label, unavailable=[f"{label} is undefined."])
    signals: list[Signal] = []
    if now_k > STOCH_OVERBOUGHT:
        reading = "Overbought (%K above 80)"
        signals.append(Signal(0, f"Stochastic %K is overbought ({now_k:.1f})."))
    elif now_k < STOCH_OVERSOLD:
        reading = "Oversold (%K below 20)"
        signals.append(Signal(0, f"Stochastic %K is oversold ({now_k:.1f})."))
    else:
        reading = "Neutral (%K between 20 and 80)"
    cross = _recent_cross(k, d, STOCH_CROSS_BARS)
    if cross is not None:
        reading += f"; %K crossed {'above' if cross[0] > 0 else 'below'} %D {_ago(cross[1])}"
    elif now_k != now_d:
        reading += f"; %K is {'above' if now_k > now_d else 'below'} %D"
    return IndicatorReading("STOCH", label, {"%K": now_k, "%D": now_d}, reading + ".", signals)


_READERS: dict[str, Callable[[Bars, IndicatorRequest], IndicatorReading]] = {
    "RSI": read_rsi,
    "MACD": read_macd,
    "BBANDS": read_bbands,
    "SMA": read_moving_averages,
    "EMA": read_moving_averages,
    "ATR": read_atr,
    "STOCH": read_stoch,
}


def read_indicator(bars: Bars, request: IndicatorRequest) -> IndicatorReading:
    """Compute one indicator's latest values and reading."""
    with np.errstate(all="ignore"):
        return _READERS[request.name](bars, request)


def overall_stance(readings: list[IndicatorReading]) -> tuple[Stance, list[str]]:
    """Combine the readings' votes into a stance and the reasons behind it.

    A stance needs at least two net votes (or the only vote cast) in its direction;
    cautions are listed after the votes.

    Returns:
        The stance and its reasons, most important first.
    """
    signals = [s for r in readings for s in r.signals]
    votes = [s for s in signals if s.direction != 0]
    cautions = [s.text for s in signals if s.direction == 0]
    score = sum(s.direction for s in votes)
    needed = min(2, len(votes))
    if votes and score >= needed:
        return Stance.BULLISH, [s.text for s in votes if s.direction > 0] + cautions
    if votes and -score >= needed:
        return Stance.BEARISH, [s.text for s in votes if s.direction < 0] + cautions
    if not votes:
        return Stance.NEUTRAL, ["No indicator points in a clear direction.", *cautions]
    return Stance.NEUTRAL, ["Signals are mixed.", *(s.text for s in votes), *cautions]
