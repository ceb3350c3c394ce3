"""Portfolio benchmarks: a tax report over 100,000 trades, a 100-coin holdings summary.

* ``tax_report`` (lot matching, rows, totals) over 100,000 seeded random trades
  (20 coins, about half sells, in time order), per method. Target: under 1 s.
  Reported against sorting the same trades by (time, id), measured in the same
  run: a floor for any computation that must see the trades in time order.
* ``holdings`` for 100 coins (10 trades each, prices from a dict, as from the
  price cache). Target: under 50 ms. Reported against a plain Python loop summing
  the same trades' quantities per coin.

Run: ``python benchmarks/tax.py`` (about 15 s).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.portfolio.holdings import holdings  # noqa: E402
from tools.portfolio.lots import TradeRecord  # noqa: E402
from tools.portfolio.tax import tax_report  # noqa: E402

N_TRADES = 100_000
TAX_TARGET_S = 1.0
HOLDINGS_TARGET_S = 0.050
START = datetime(2019, 1, 1, tzinfo=UTC)


def random_trades(n: int, symbols: list[str], seed: int = 7) -> list[TradeRecord]:
    """A seeded, never-oversold history: buys and partial sells, 8-decimal quantities."""
    rng = random.Random(seed)
    held = dict.fromkeys(symbols, 0)  # units of 1e-8
    trades = []
    at = START
    for i in range(n):
        symbol = rng.choice(symbols)
        at += timedelta(seconds=rng.randint(0, 1800))
        price = Decimal(rng.randint(100, 10_000_000)).scaleb(-2)
        if held[symbol] and rng.random() < 0.5:
            units = rng.randint(1, held[symbol])
            held[symbol] -= units
            side = "sell"
        else:
            units = rng.randint(1, 300_000_000)
            held[symbol] += units
            side = "buy"
        quantity = Decimal(units).scaleb(-8)
        fee = (quantity * price / 1000).quantize(Decimal("0.01"))
        trades.append(TradeRecord(i + 1, side, symbol, quantity, price, fee, at))
    return trades


def median_time(fn: Callable[[], object], runs: int = 7) -> float:
    """Median seconds of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def verdict(seconds: float, target: float) -> str:
    return "ok" if seconds < target else f"above {target * 1000:.0f} ms target"


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, time, ratio to the same-run reference and verdict)."""
    trades = random_trades(N_TRADES, [f"C{i}" for i in range(20)])
    order = attrgetter("executed_at", "id")
    reference = median_time(lambda: sorted(trades, key=order))
    out = [("sort 100k trades by time (reference)", f"{reference * 1e3:.1f} ms", "1.0x")]
    for method in ("FIFO", "LIFO", "HIFO"):
        seconds = median_time(lambda m=method: tax_report(trades, None, m))
        out.append(
            (
                f"tax_report {method}, 100k trades",
                f"{seconds * 1e3:.0f} ms",
                f"{seconds / reference:.1f}x sort, {verdict(seconds, TAX_TARGET_S)}",
            )
        )

    symbols = [f"C{i}" for i in range(100)]
    small = random_trades(1_000, symbols, seed=11)
    prices = {s: Decimal(random.Random(s).randint(1, 10**7)).scaleb(-2) for s in symbols}
    previous = {s: p * Decimal("0.97") for s, p in prices.items()}

    def plain_loop() -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for t in small:
            sign = t.quantity if t.side == "buy" else -t.quantity
            totals[t.symbol] = totals.get(t.symbol, Decimal(0)) + sign
        return totals

    base = median_time(plain_loop, runs=51)
    seconds = median_time(lambda: holdings(small, prices, prev_prices=previous), runs=51)
    out.append(("sum 1k trades' quantities, plain loop (ref.)", f"{base * 1e3:.2f} ms", "1.0x"))
    out.append(
        (
            "holdings, 100 coins (1k trades)",
            f"{seconds * 1e3:.2f} ms",
            f"{seconds / base:.1f}x loop, {verdict(seconds, HOLDINGS_TARGET_S)}",
        )
    )
    return out


if __name__ == "__main__":
    table = rows()
    width = max(len(r[0]) for r in table)
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>10}  {note}")
