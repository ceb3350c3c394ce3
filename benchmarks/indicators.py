"""Indicators over 1,000,000 bars: CryptoGuard's wrappers against TA-Lib itself (the
reference, same run), with the pure-pandas ``ta`` library for comparison (pandas-ta has
no release for Python 3.11)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import ta
import talib

from tools.analysis import indicators

N = 1_000_000


def best_of(fn: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def rows() -> list[tuple[str, str, str]]:
    """One row per indicator: our time, ratio to TA-Lib, and the ``ta`` library's time."""
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    high = close * (1 + rng.uniform(0, 0.01, N))
    low = close * (1 - rng.uniform(0, 0.01, N))
    c, h, lo = pd.Series(close), pd.Series(high), pd.Series(low)
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[], Any]]] = [
        ("RSI 14", lambda: indicators.rsi(close, 14), lambda: talib.RSI(close, 14),
         lambda: ta.momentum.RSIIndicator(c, 14).rsi()),
        ("MACD 12/26/9", lambda: indicators.macd(close), lambda: talib.MACD(close, 12, 26, 9),
         lambda: ta.trend.MACD(c).macd_diff()),
        ("Bollinger 20/2", lambda: indicators.bbands(close), lambda: talib.BBANDS(close, 20, 2, 2),
         lambda: ta.volatility.BollingerBands(c, 20, 2).bollinger_hband()),
        ("EMA 20", lambda: indicators.ema(close, 20), lambda: talib.EMA(close, 20),
         lambda: ta.trend.EMAIndicator(c, 20).ema_indicator()),
        ("ATR 14", lambda: indicators.atr(high, low, close, 14),
         lambda: talib.ATR(high, low, close, 14),
         lambda: ta.volatility.AverageTrueRange(h, lo, c, 14).average_true_range()),
    ]  # fmt: skip
    out = []
    for name, ours, ref, other in cases:
        t_ours, t_ref, t_ta = best_of(ours), best_of(ref), best_of(other, runs=1)
        ratio = t_ours / t_ref
        verdict = "ok" if ratio <= 1.5 else "OVER 1.5x TARGET"
        note = f"{ratio:.2f}x TA-Lib ({t_ref * 1e3:.1f} ms), {verdict}; "
        note += f"ta library {t_ta * 1e3:.0f} ms"
        out.append((f"{name}, 1M bars", f"{t_ours * 1e3:.1f} ms", note))
    return out


if __name__ == "__main__":
    for row in rows():
        print(f"{row[0]:28} {row[1]:>10}  {row[2]}")
