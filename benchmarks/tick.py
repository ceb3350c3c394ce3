"""A full market tick with 100,000 active alert rules, on SQLite and on PostgreSQL.

A tick = prices from the offline market (46 coins), rule-book sync, the depeg monitor
over every tracked stablecoin, the vectorised evaluation, and every firing's event,
state and outbox row written in ONE transaction. The prices random-walk by up to 1 %
per tick, so each tick fires a few hundred rules (the realistic heavy case).

* "first tick" also loads the 100,000 rules into the rule book (a process start).
* "steady tick" is the median of the following ticks. Target: under 2 s.
* Reference, measured in the same run: the rule-book evaluation alone (what the
  tick adds on top is I/O: quotes, sync query, writes).

PostgreSQL runs when ``CRYPTOGUARD_BENCH_POSTGRES_URL`` (or the tests'
``CRYPTOGUARD_TEST_POSTGRES_URL``) names a server; a fresh database is created and dropped.

Run: ``python benchmarks/tick.py`` (about 40 s with PostgreSQL).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import Database, UserRepository, upgrade_database  # noqa: E402
from storage.models import Alert  # noqa: E402
from tools.alerts.metrics import MetricReader  # noqa: E402
from tools.alerts.watch import DepegPolicy, MarketWatch  # noqa: E402
from tools.clock import FakeClock  # noqa: E402
from tools.market.factory import MarketConfig, open_market  # noqa: E402
from tools.market.service import PriceService  # noqa: E402
from tools.market.symbols import SymbolResolver  # noqa: E402

N_RULES = 100_000
N_USERS = 2_000
TICKS = 6
TARGET_S = 2.0
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def seed(db: Database, prices: PriceService) -> None:
    """2,000 users with 50 price rules each, thresholds within +-3 % of the price."""
    coins = prices.resolver.coins()[:46]
    quotes = await prices.market.get_quotes(coins, "usd")
    rng = random.Random(7)
    async with db.transaction() as session:
        repo = UserRepository(session)
        owners = [
            (await repo.get_or_create("telegram", str(10_000 + i), chat_id=10_000 + i, now=NOW))[0]
            for i in range(N_USERS)
        ]
    rows = []
    for i in range(N_RULES):
        coin = coins[i % len(coins)]
        price = float(quotes[coin.id].price)
        above = rng.random() < 0.5
        level = price * (1 + rng.uniform(0.0005, 0.03) * (1 if above else -1))
        rows.append(
            {
                "owner_id": owners[i % N_USERS].id,
                "kind": "price_above" if above else "price_below",
                "symbol": coin.symbol,
                "coin_id": coin.id,
                "params": {"threshold": f"{level:.6f}", "base_currency": "USD"},
                "state": {},
                "status": "active",
                "recurring": i % 4 == 0,
                "cooldown_seconds": 3600 if i % 4 == 0 else 0,
                "created_at": NOW,
                "updated_at": NOW,
                "fire_count": 0,
            }
        )
    async with db.transaction() as session:
        for start in range(0, N_RULES, 5000):
            await session.execute(insert(Alert), rows[start : start + 5000])


async def run_ticks(url: str) -> tuple[float, float, float, int]:
    """(first tick s, median steady tick s, median evaluation-only s, firings)."""
    db = Database.from_url(url)
    await upgrade_database(db.engine)
    clock = FakeClock(NOW)
    market = open_market(MarketConfig(mode="offline"), clock=clock)
    try:
        resolver = SymbolResolver(market.market, clock=clock)
        prices = PriceService(market.market, resolver, clock=clock)
        await seed(db, prices)
        watch = MarketWatch(db, prices, MetricReader(prices), policy=DepegPolicy(), clock=clock)
        start = time.perf_counter()
        await watch.tick()
        first = time.perf_counter() - start
        steady, evaluation, fired = [], [], 0
        for _ in range(TICKS):
            clock.advance(3600)  # the simulation moves prices hour by hour
            start = time.perf_counter()
            report = await watch.tick()
            steady.append(time.perf_counter() - start)
            fired += report.firings
            t0 = time.perf_counter()  # the same values again: evaluation, no I/O
            watch.book.evaluate(watch.last_values, clock.now().timestamp())
            evaluation.append(time.perf_counter() - t0)
        return first, statistics.median(steady), statistics.median(evaluation), fired
    finally:
        await market.aclose()
        await db.dispose()


async def postgres_url() -> tuple[str, str, str] | None:
    """(database url, admin url, name) of a fresh database, or None without a server."""
    base = os.environ.get("CRYPTOGUARD_BENCH_POSTGRES_URL") or os.environ.get(
        "CRYPTOGUARD_TEST_POSTGRES_URL"
    )
    if not base:
        return None
    name = f"cryptoguard_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name, base, name


async def drop_database(admin_url: str, name: str) -> None:
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows for ``benchmarks/run.py``."""
    out: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'tick.db'}"
        out += _rows("SQLite", asyncio.run(run_ticks(url)))
    pg = asyncio.run(postgres_url())
    if pg is None:
        out.append(("market tick, PostgreSQL", "-", "not run: no PostgreSQL URL set"))
        return out
    url, admin, name = pg
    try:
        out += _rows("PostgreSQL", asyncio.run(run_ticks(url)))
    finally:
        asyncio.run(drop_database(admin, name))
    return out


def _rows(label: str, result: tuple[float, float, float, int]) -> list[tuple[str, str, str]]:
    first, steady, evaluation, fired = result
    verdict = "meets" if steady < TARGET_S else "MISSES"
    return [
        (
            f"market tick, {N_RULES:,} rules, {label}",
            f"{steady * 1e3:.0f} ms",
            f"{steady / evaluation:.0f}x evaluation alone ({evaluation * 1e3:.2f} ms); "
            f"{verdict} the {TARGET_S:.0f} s target; {fired / TICKS:.0f} firings/tick",
        ),
        (
            f"first tick incl. loading {N_RULES:,} rules, {label}",
            f"{first * 1e3:.0f} ms",
            f"{first / steady:.1f}x a steady tick",
        ),
    ]


if __name__ == "__main__":
    for name, value, note in rows():
        print(f"{name:55}  {value:>10}  {note}")
