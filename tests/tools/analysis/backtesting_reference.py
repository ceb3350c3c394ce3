"""backtesting.py as a reference for our backtests (test-only), shared by the agreement
tests and the backtest benchmark so both run exactly the same reference strategy.

See ``test_backtest_vs_backtesting`` for the aligned conventions (next-open fills,
exclusive orders, commission equal to our fee, prices scaled so whole-unit rounding is
negligible, TA-Lib indicators as plain arrays in ``init()``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import talib

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar, on stderr
from backtesting import Backtest, Strategy  # noqa: E402

from tools.analysis.bars import Bars  # noqa: E402

Rule = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def bt_frame(bars: Bars) -> tuple[pd.DataFrame, float]:
    """OHLC with a naive DatetimeIndex, prices scaled for >= 1e12 units per 10,000 of cash."""
    scale = 1e-8 / float(np.max(bars.high))
    frame = pd.DataFrame(
        {"Open": bars.open * scale, "High": bars.high * scale, "Low": bars.low * scale,
         "Close": bars.close * scale, "Volume": bars.volume},
        index=pd.to_datetime(bars.ts, unit="s"),  # naive UTC
    )  # fmt: skip
    return frame, scale


class Signals(Strategy):
    """Long-only, all-in: buy on an entry signal when flat, close on an exit when long."""

    rule: Rule

    def init(self) -> None:
        close = np.asarray(self.data.Close, dtype=np.float64)
        self.entries, self.exits = type(self).rule(close)

    def next(self) -> None:
        i = len(self.data) - 1
        if not self.position and self.entries[i] and not self.exits[i]:
            self.buy()
        elif self.position and self.exits[i]:
            self.position.close()


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(a.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def rsi_rule(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = talib.RSI(close, 14)
    with np.errstate(invalid="ignore"):
        return r < 30, r > 70


def macd_rule(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    line, signal, _ = talib.MACD(close, 12, 26, 9)
    return cross(line, signal), cross(signal, line)


def sma_rule(fast_period: int, slow_period: int) -> Rule:
    """Golden cross in, death cross out, with these SMA periods."""

    def rule(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fast, slow = talib.SMA(close, fast_period), talib.SMA(close, slow_period)
        return cross(fast, slow), cross(slow, fast)

    return rule


def bollinger_rule(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    with np.errstate(invalid="ignore"):
        return close < lower, close > middle


def run_reference(
    bars: Bars, rule: Rule, *, fee_pct: float, finalize_trades: bool = False
) -> tuple[pd.Series, float]:
    """Run ``rule`` in backtesting.py on ``bars``; its stats and the price scale used."""
    frame, scale = bt_frame(bars)
    klass = type("Reference", (Signals,), {"rule": staticmethod(rule)})
    bt = Backtest(frame, klass, cash=10_000, commission=fee_pct / 100, trade_on_close=False,
                  exclusive_orders=True, finalize_trades=finalize_trades)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "trades remain open", tqdm
        return bt.run(), scale
