"""Alert engine benchmarks: 1,000,000 active price rules over 500 symbols, per tick.

* ``RuleBook.evaluate`` (``tools/alerts/engine.py``) per tick: median over 50 ticks
  of a random walk (per-symbol volatility log-uniform between 0.1 % and 1 % a tick,
  one tick a minute). Target: under 5 ms. Rules: UP thresholds above the starting
  price, DOWN below, at a distance log-uniform between 2 % and 60 %, rounded to 4
  significant digits (ties, as with round numbers); 30 % recurring (1 h cooldown,
  1 % band), the rest one-shot (removed when they fire). The firings per tick are
  reported with it. Reported against three references measured in the same run on
  the same ticks, which only *detect* crossings (no state, no firing objects): a
  plain Python loop over the rules (median of 7 ticks), numpy boolean masks over
  all rules, and one ``numpy.searchsorted`` pair per (symbol, direction) group of
  sorted thresholds in a Python loop.
* A crash tick (every symbol -15 % at once, thousands of firings), for the cost of
  a firing.
* Applying a mutation: one rule added to one group, and one whole group
  (~1,000 rules) replaced, each followed by the rebuild on the next ``evaluate``.
* Memory per 1M rules: ``RuleBook.nbytes()`` (the arrays) and what tracemalloc
  sees the book retain after it is built (arrays, index, dicts), with the build's
  peak.

Run: ``python benchmarks/alerts.py`` (about 15 s).
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.alerts.engine import Direction, RuleBook, RuleSpec  # noqa: E402

N_RULES = 1_000_000
N_SYMBOLS = 500
TICKS = 50
TARGET_S = 0.005
T0 = 1_790_000_000.0  # epoch seconds; one tick a minute


def round_sig(x: np.ndarray, digits: int) -> np.ndarray:
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(x)))
    return np.round(x * scale) / scale


class Scenario:
    """Seeded rules and price path (numpy arrays), shared by every measurement."""

    def __init__(self, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.start = round_sig(10 ** rng.uniform(-2, 5, N_SYMBOLS), 6)
        self.sym = rng.integers(0, N_SYMBOLS, N_RULES)
        self.up = rng.random(N_RULES) < 0.5
        distance = np.exp(rng.uniform(np.log(0.02), np.log(0.6), N_RULES))
        side = np.where(self.up, 1.0, -1.0)
        self.thr = round_sig(self.start[self.sym] * np.exp(side * distance), 4)
        self.recurring = rng.random(N_RULES) < 0.3
        self.rearm = self.thr * np.where(self.up, 0.99, 1.01)
        vol = np.exp(rng.uniform(np.log(0.001), np.log(0.01), N_SYMBOLS))
        steps = rng.normal(0.0, 1.0, (TICKS, N_SYMBOLS)) * vol
        walk = np.vstack([np.zeros(N_SYMBOLS), np.cumsum(steps, axis=0)])
        self.prices = self.start * np.exp(walk)  # (TICKS + 1, N_SYMBOLS)
        self.metrics = [f"price:coin{i}" for i in range(N_SYMBOLS)]

    def specs(self) -> list[RuleSpec]:
        up, down = Direction.UP, Direction.DOWN
        return [
            RuleSpec(i, self.metrics[s], up if u else down, t, recurring=r,
                     cooldown_s=3600.0 if r else 0.0, rearm_level=lv if r else None)
            for i, (s, u, t, r, lv) in enumerate(zip(
                self.sym.tolist(), self.up.tolist(), self.thr.tolist(),
                self.recurring.tolist(), self.rearm.tolist(), strict=True))
        ]  # fmt: skip

    def tick_values(self, k: int) -> dict[str, float]:
        return dict(zip(self.metrics, self.prices[k].tolist(), strict=True))


def median_per_tick(fn: Callable[[int], object], ticks: range) -> float:
    fn(ticks[0])  # warm-up
    times = []
    for k in ticks:
        start = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference_rows(sc: Scenario) -> tuple[dict[str, float], list[tuple[str, str, str]]]:
    """Crossing detection only, three ways; returns seconds per tick by name."""
    sym_l, thr_l, up_l = sc.sym.tolist(), sc.thr.tolist(), sc.up.tolist()
    price_rows = [row.tolist() for row in sc.prices]

    def plain_loop(k: int) -> list[int]:
        prev, cur = price_rows[k], price_rows[k + 1]
        out = []
        for i, (s, t, u) in enumerate(zip(sym_l, thr_l, up_l, strict=True)):
            p, v = prev[s], cur[s]
            if (p < t <= v) if u else (p > t >= v):
                out.append(i)
        return out

    armed = np.ones(N_RULES, bool)

    def masks(k: int) -> np.ndarray:
        p, v = sc.prices[k][sc.sym], sc.prices[k + 1][sc.sym]
        thr = sc.thr
        fire = np.where(sc.up, (p < thr) & (thr <= v), (p > thr) & (thr >= v)) & armed
        return np.flatnonzero(fire)

    groups = []  # (symbol, up, sorted thresholds, rule indices)
    for s in range(N_SYMBOLS):
        for u in (True, False):
            idx = np.flatnonzero((sc.sym == s) & (sc.up == u))
            order = np.argsort(sc.thr[idx], kind="stable")
            groups.append((s, u, sc.thr[idx][order], idx[order]))

    def per_group_search(k: int) -> list[np.ndarray]:
        prev, cur = price_rows[k], price_rows[k + 1]
        out = []
        for s, u, t, idx in groups:
            p, v = prev[s], cur[s]
            if u:
                lo, hi = np.searchsorted(t, p, "right"), np.searchsorted(t, v, "right")
            else:
                lo, hi = np.searchsorted(t, v, "left"), np.searchsorted(t, p, "left")
            if hi > lo:
                out.append(idx[lo:hi])
        return out

    assert sorted(plain_loop(3)) == masks(3).tolist()
    assert sorted(np.concatenate([*per_group_search(3), []]).tolist()) == masks(3).tolist()
    seconds = {
        "loop": median_per_tick(plain_loop, range(7)),
        "masks": median_per_tick(masks, range(TICKS)),
        "search": median_per_tick(per_group_search, range(TICKS)),
    }
    rows = [
        ("crossings, plain Python loop, 1M rules (ref.)", f"{seconds['loop'] * 1e3:.1f} ms",
         "1.0x"),
        ("crossings, numpy masks, 1M rules (ref.)", f"{seconds['masks'] * 1e3:.2f} ms",
         f"{seconds['loop'] / seconds['masks']:.0f}x faster than the loop"),
        ("crossings, searchsorted per group (ref.)", f"{seconds['search'] * 1e3:.2f} ms",
         f"{seconds['loop'] / seconds['search']:.0f}x faster than the loop, 1000 groups"),
    ]  # fmt: skip
    return seconds, rows


def build_book(specs: list[RuleSpec]) -> tuple[RuleBook, float, int, int]:
    """The book, its build time, and tracemalloc's retained and peak bytes."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    book = RuleBook()
    book.upsert(specs)
    assert len(book) == N_RULES  # applies the upserts
    seconds = time.perf_counter() - start
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return book, seconds, current - base, peak - base


def warm_up() -> None:
    """Run every code path once on a tiny book (numpy imports some helpers lazily)."""
    book = RuleBook()
    book.upsert([RuleSpec(1, "m", Direction.UP, 1.0), RuleSpec(2, "m", Direction.UP, 1.5,
                                                               recurring=True)])  # fmt: skip
    book.seed({"m": 0.0})
    book.evaluate({"m": 2.0}, T0)
    book.evaluate({"m": 0.0}, T0 + 1)


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, value, ratio to the same-run references and verdict)."""
    warm_up()
    sc = Scenario()
    ref, out = reference_rows(sc)
    specs = sc.specs()
    book, build_s, retained, peak = build_book(specs)
    del specs
    array_bytes = book.nbytes()
    book.seed(sc.tick_values(0))
    ticks = [sc.tick_values(k) for k in range(1, TICKS + 1)]
    fired: list[int] = []
    times = []
    for k, values in enumerate(ticks):
        start = time.perf_counter()
        firings = book.evaluate(values, T0 + 60.0 * k)
        times.append(time.perf_counter() - start)
        fired.append(len(firings))
    per_tick = statistics.median(times)
    verdict = "ok" if per_tick < TARGET_S else f"ABOVE {TARGET_S * 1e3:.0f} ms TARGET"
    out.append(
        (
            "RuleBook.evaluate, 1M rules, 500 symbols",
            f"{per_tick * 1e3:.2f} ms",
            f"{ref['loop'] / per_tick:.0f}x faster than the loop, "
            f"{ref['masks'] / per_tick:.1f}x than masks, "
            f"{ref['search'] / per_tick:.1f}x than searchsorted per group; {verdict}; "
            f"firings/tick mean {statistics.mean(fired):.0f}, max {max(fired)}; "
            f"max tick {max(times) * 1e3:.2f} ms",
        )
    )
    now = T0 + 60.0 * TICKS
    same = ticks[-1]
    no_move = median_per_tick(lambda _k: book.evaluate(same, now), range(21))
    out.append(("RuleBook.evaluate, no price moved", f"{no_move * 1e3:.3f} ms", "skip path"))

    # Mutations: one rule into one group; a whole group replaced.
    metric = sc.metrics[0]
    group_ids = np.flatnonzero((sc.sym == 0) & sc.up)
    one_times = []
    for i in range(21):
        spec = RuleSpec(N_RULES + i, metric, Direction.UP, float(sc.start[0] * (1.1 + i / 100)))
        start = time.perf_counter()
        book.upsert([spec])
        book.evaluate({}, now)
        one_times.append(time.perf_counter() - start)
    replacement = [
        RuleSpec(int(i), metric, Direction.UP, float(sc.start[0] * 1.2)) for i in group_ids
    ]
    start = time.perf_counter()
    book.upsert(replacement)
    book.evaluate({}, now)
    group_s = time.perf_counter() - start
    out.append(
        (
            "upsert 1 rule + rebuild of its group",
            f"{statistics.median(one_times) * 1e3:.3f} ms",
            f"median of 21, max {max(one_times) * 1e3:.2f} ms",
        )
    )
    out.append(
        (
            f"upsert {len(group_ids)} rules (one group) + rebuild",
            f"{group_s * 1e3:.2f} ms",
            f"build from 1M specs: {build_s:.2f} s",
        )
    )

    crash = {m: v * 0.85 for m, v in ticks[-1].items()}
    start = time.perf_counter()
    crash_fired = len(book.evaluate(crash, now + 60.0))
    crash_s = time.perf_counter() - start
    out.append(
        (
            "crash tick (-15 % on every symbol)",
            f"{crash_s * 1e3:.1f} ms",
            f"{crash_fired} firings, {crash_s / max(crash_fired, 1) * 1e6:.2f} µs per firing",
        )
    )

    out.append(
        (
            "memory per 1M rules, RuleBook.nbytes()",
            f"{array_bytes / N_RULES * 1e6 / 2**20:.1f} MiB",
            "after the build: numpy columns with group slack, id index",
        )
    )
    out.append(
        (
            "memory per 1M rules, tracemalloc",
            f"{retained / N_RULES * 1e6 / 2**20:.1f} MiB",
            f"retained after the build; build peak {peak / N_RULES * 1e6 / 2**20:.0f} MiB",
        )
    )
    return out


if __name__ == "__main__":
    table = rows()
    width = max(len(r[0]) for r in table)
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>10}  {note}")
