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

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tools.analysis.backtesting_reference import (  # noqa: E402
    Rule,
    rsi_rule,
    run_reference,
    sma_rule,
)

from tools.analysis.backtest import run_backtest  # noqa: E402
from tools.analysis.bars import Bars  # noqa: E402

MINUTES_PER_YEAR = 525_600
TARGET_S = 0.1
TARGET_RATIO = 20.0


def minute_bars(n: int = MINUTES_PER_YEAR, seed: int = 42) -> Bars:
    """A seeded random walk of one-minute bars (about 60 % annual volatility)."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.0004, n))
    ts = 1_704_067_200 + 60 * np.arange(n, dtype=np.int64)  # 2024-01-01 UTC
    return Bars("BTC", "1m", ts, open_, np.maximum(open_, close) * (1 + spread),
                np.minimum(open_, close) * (1 - spread), close, rng.uniform(1, 5, n))  # fmt: skip


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
    start = time.perf_counter()
    stats, _ = run_reference(bars, rule, fee_pct=0.1)
    return time.perf_counter() - start, int(stats["# Trades"])


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, result, ratio / note)."""
    bars = minute_bars()
    out: list[tuple[str, str, str]] = []
    for strategy, rule in (("rsi_mean_reversion", rsi_rule), ("sma_crossover", sma_rule(20, 50))):
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
