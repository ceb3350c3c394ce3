"""Formula benchmarks: evaluating custom formulas on 1,000,000 bars.

Each formula is timed end to end (``evaluate_formula`` on a parsed formula: TA-Lib
calls, numpy arithmetic, NaN handling) against the same computation written directly
with TA-Lib and numpy, measured in the same run. Target: within 1.5x of the direct
computation for plain arithmetic over indicators (the direct versions of signals skip
the float/NaN conversion the formula does, so their ratio is a little higher).

Run: ``python benchmarks/formula.py`` (a few seconds).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import talib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.analysis.bars import Bars  # noqa: E402
from tools.analysis.formula import evaluate_formula, parse_formula  # noqa: E402

N = 1_000_000
TARGET_RATIO = 1.5


def hourly_bars(n: int = N, seed: int = 7) -> Bars:
    """A seeded random walk of hourly bars."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.002, n))
    ts = 1_704_067_200 + 3600 * np.arange(n, dtype=np.int64)
    return Bars("BTC", "1h", ts, open_, np.maximum(open_, close) * (1 + spread),
                np.minimum(open_, close) * (1 - spread), close, rng.uniform(1, 5, n))  # fmt: skip


def median_time(fn: Callable[[], object], runs: int = 15) -> float:
    """Median seconds of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, formula time, ratio to the direct computation)."""
    bars = hourly_bars()
    c, h, lo = bars.close, bars.high, bars.low
    cases: dict[str, Callable[[], object]] = {
        "RSI(14) - RSI(28)": lambda: talib.RSI(c, 14) - talib.RSI(c, 28),
        "EMA(12)/EMA(26) - 1": lambda: talib.EMA(c, 12) / talib.EMA(c, 26) - 1,
        "(CLOSE - SMA(20)) / ATR(14)": lambda: (c - talib.SMA(c, 20)) / talib.ATR(h, lo, c, 14),
        "MAX(HIGH, 20)": lambda: talib.MAX(h, 20),
        "RSI(14) > 70": lambda: talib.RSI(c, 14) > 70,
    }
    out = []
    for text, direct in cases.items():
        formula = parse_formula(text)
        ours = median_time(lambda f=formula: evaluate_formula(f, bars))
        base = median_time(direct)
        ratio = ours / base
        verdict = "ok" if ratio <= TARGET_RATIO else f"above {TARGET_RATIO}x"
        out.append(
            (
                f"formula {text} (1M bars)",
                f"{ours * 1000:.1f} ms",
                f"{ratio:.2f}x direct, {verdict}",
            )
        )
    return out


def main() -> None:
    table = rows()
    width = max(len(r[0]) for r in table)
    for name, value, note in table:
        print(f"{name.ljust(width)}  {value:>10}  {note}")


if __name__ == "__main__":
    main()
