"""Technical indicators, computed by TA-Lib (its C library ships inside the wheel).

Thin, typed wrappers: inputs are ``float64`` numpy arrays, outputs have the same length
with ``NaN`` during each indicator's warm-up. :func:`warmup` says how many bars an
indicator needs before its first value, straight from TA-Lib's lookback functions.
"""

from __future__ import annotations

import numpy as np
import talib

from tools.analysis.bars import FloatArray

#: Indicator names of the tool contract.
INDICATORS: tuple[str, ...] = ("RSI", "MACD", "BBANDS", "SMA", "EMA", "ATR", "STOCH")


def _f(values: FloatArray) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


def rsi(close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's relative strength index (0-100)."""
    return talib.RSI(_f(close), timeperiod=period)


def macd(
    close: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram."""
    line, sig, hist = talib.MACD(_f(close), fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return line, sig, hist


def bbands(
    close: FloatArray, period: int = 20, nbdev: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger Bands: upper, middle (SMA), lower."""
    upper, middle, lower = talib.BBANDS(
        _f(close), timeperiod=period, nbdevup=nbdev, nbdevdn=nbdev, matype=talib.MA_Type.SMA
    )
    return upper, middle, lower


def sma(values: FloatArray, period: int) -> FloatArray:
    """Simple moving average."""
    return talib.SMA(_f(values), timeperiod=period)


def ema(values: FloatArray, period: int) -> FloatArray:
    """Exponential moving average (TA-Lib seeds it with the SMA of the first period)."""
    return talib.EMA(_f(values), timeperiod=period)


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's average true range."""
    return talib.ATR(_f(high), _f(low), _f(close), timeperiod=period)


def stoch(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    k_period: int = 14,
    k_smooth: int = 3,
    d_period: int = 3,
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic oscillator: %K and %D (0-100)."""
    k, d = talib.STOCH(
        _f(high), _f(low), _f(close),
        fastk_period=k_period, slowk_period=k_smooth, slowk_matype=talib.MA_Type.SMA,
        slowd_period=d_period, slowd_matype=talib.MA_Type.SMA,
    )  # fmt: skip
    return k, d


def rolling_max(values: FloatArray, period: int) -> FloatArray:
    """Highest value over the last ``period`` bars."""
    return talib.MAX(_f(values), timeperiod=period)


def rolling_min(values: FloatArray, period: int) -> FloatArray:
    """Lowest value over the last ``period`` bars."""
    return talib.MIN(_f(values), timeperiod=period)


#: TA-Lib parameter names of each indicator's periods, in the order ``warmup`` takes them,
#: with the defaults the functions above use.
_PERIOD_PARAMS: dict[str, tuple[tuple[str, int], ...]] = {
    "RSI": (("timeperiod", 14),),
    "MACD": (("fastperiod", 12), ("slowperiod", 26), ("signalperiod", 9)),
    "BBANDS": (("timeperiod", 20),),
    "SMA": (("timeperiod", 20),),
    "EMA": (("timeperiod", 20),),
    "ATR": (("timeperiod", 14),),
    "STOCH": (("fastk_period", 14), ("slowk_period", 3), ("slowd_period", 3)),
    "MAX": (("timeperiod", 20),),
    "MIN": (("timeperiod", 20),),
}


def warmup(name: str, *periods: int) -> int:
    """Bars consumed before the first value of indicator ``name`` with these periods.

    ``warmup("RSI", 14) == 14``: the first value is at index 14. Periods left out take
    the defaults of the functions above.
    """
    from talib import abstract

    params = _PERIOD_PARAMS.get(name)
    if params is None:
        raise KeyError(f"unknown indicator {name!r}")
    values = {key: periods[i] if i < len(periods) else default
              for i, (key, default) in enumerate(params)}  # fmt: skip
    function = abstract.Function(name)  # type: ignore[attr-defined]
    function.set_parameters(values)
    return int(function.lookback)
