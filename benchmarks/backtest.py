"""Backtest benchmarks: a year of one-minute bars (525,600), ours against backtesting.py.

For ``rsi_mean_reversion`` (14, 30/70) and ``sma_crossover`` (20/50) on the same seeded
random walk, measured in the same run:

* our engine, ``run_backtest`` end to end (TA-Lib indicators, signals, fills, equity,
  metrics and the buy-and-hold benchmark): median of several runs, target < 0.1 s;
* backtesting.py (a test-only dependency) running the same strategy with the same
  conventions (next-open fills, 0.1 % commission, exclusive orders), one run; the
  ratio should be at least 20x. The two must agree on the number of trades.

Run: ``python benchmarks/backtest.py`` (about ten seconds, most of it backtesting.py).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import talib

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar, on stderr
from backtesting import Backtest, Strategy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.analysis.backtest import run_backtest  # noqa: E402
from tools.analysis.bars import Bars  # noqa: E402

MINUTES_PER_YEAR = 525_600
TARGET_S = 0.1
TARGET_RATIO = 20.0
Rule = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def minute_bars(n: int = MINUTES_PER_YEAR, seed: int = 42) -> Bars:
    """A seeded random walk of one-minute bars (about 60 % annual volatility)."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.0004, n))
    ts = 1_704_067_200 + 60 * np.arange(n, dtype=np.int64)  # 2024-01-01 UTC
    return Bars("BTC", "1m", ts, open_, np.maximum(open_, close) * (1 + spread),
                np.minimum(open_, close) * (1 - spread), close, rng.uniform(1, 5, n))  # fmt: skip


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(a.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def _rsi(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = talib.RSI(close, 14)
    with np.errstate(invalid="ignore"):
        return r < 30, r > 70


def _sma(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fast, slow = talib.SMA(close, 20), talib.SMA(close, 50)
    return _cross(fast, slow), _cross(slow, fast)


class _Signals(Strategy):
    rule: Rule

    def init(self) -> None:
        self.entries, self.exits = type(self).rule(np.asarray(self.data.Close, np.float64))

    def next(self) -> None:
        i = len(self.data) - 1
        if not self.position and self.entries[i] and not self.exits[i]:
            self.buy()
        elif self.position and self.exits[i]:
            self.position.close()


def ours(bars: Bars, strategy: str, runs: int = 7) -> tuple[float, int]:
    """Median seconds of ``run_backtest`` and the number of closed trades."""
    report = run_backtest(bars, strategy, fee_pct=0.1, slippage_pct=0.0)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run_backtest(bars, strategy, fee_pct=0.1, slippage_pct=0.0)
        times.append(time.perf_counter() - start)
    return statistics.median(times), report.metrics.n_trades


def theirs(bars: Bars, rule: Rule) -> tuple[float, int]:
    """Seconds of one backtesting.py run and its number of closed trades."""
    scale = 1e-8 / float(bars.high.max())  # whole units: make a full-equity order huge
    frame = pd.DataFrame(
        {"Open": bars.open * scale, "High": bars.high * scale, "Low": bars.low * scale,
         "Close": bars.close * scale, "Volume": bars.volume},
        index=pd.to_datetime(bars.ts, unit="s"),
    )  # fmt: skip
    klass = type("BtStrategy", (_Signals,), {"rule": staticmethod(rule)})
    bt = Backtest(frame, klass, cash=10_000, commission=0.001, trade_on_close=False,
                  exclusive_orders=True)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        stats = bt.run()
        elapsed = time.perf_counter() - start
    return elapsed, int(stats["# Trades"])


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, result, ratio / note)."""
    bars = minute_bars()
    out: list[tuple[str, str, str]] = []
    for strategy, rule in (("rsi_mean_reversion", _rsi), ("sma_crossover", _sma)):
        mine, n_mine = ours(bars, strategy)
        ref, n_ref = theirs(bars, rule)
        ratio = ref / mine
        verdict = "ok" if mine < TARGET_S and ratio >= TARGET_RATIO else "MISSES TARGET"
        agree = "same trades" if n_mine == n_ref else f"TRADES DIFFER ({n_mine} vs {n_ref})"
        out.append((
            f"backtest {strategy}, 525,600 1m bars", f"{mine * 1e3:.1f} ms",
            f"{ratio:.0f}x faster than backtesting.py ({ref:.2f} s); {n_mine} trades, "
            f"{agree}; target < {TARGET_S * 1e3:.0f} ms and >= {TARGET_RATIO:.0f}x: {verdict}",
        ))  # fmt: skip
    return out


if __name__ == "__main__":
    for name, value, note in rows():
        print(f"{name}  {value:>10}  {note}")
