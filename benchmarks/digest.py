"""Daily digest benchmark: one sweep queuing digests for 10,000 users.

A seeded SQLite database in a temporary directory holds 10,000 digest users in six
timezones (digest times 06:00-10:00); most have a portfolio of 1-6 trades (3% of them in
EUR, which the shared USD quotes do not cover: quoted on demand, once per sweep), about a
third have active price alerts (some within 3% of their threshold) and a tenth an alert
fired in the last 24 hours. The market is the offline one. One ``DigestService.sweep()``
at a time when every user is due is timed end to end: finding who is due, the shared
sections (market, stablecoins, the chart rendered once), portfolios valued in bulk,
texts, and the ``digest_log`` rows and outbox messages written in one transaction per
200 users. Target: under 30 s.

References measured in the same run: building the shared sections once (what every user
shares, computed once), and a bare loop formatting 10,000 templated summary strings (the
floor of any per-user text). A second sweep right after (nothing due) shows the cost of
the every-minute run.

Run: ``python benchmarks/digest.py`` (about 10 s; seeding takes a few of them).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import prompts  # noqa: E402
from storage import Database, OutboxRepository, upgrade_database  # noqa: E402
from storage.models import Alert, AlertEvent, Portfolio, Trade, User  # noqa: E402
from tools.clock import FakeClock  # noqa: E402
from tools.digest import DigestService, build_shared  # noqa: E402
from tools.market.offline import OfflineMarket  # noqa: E402
from tools.market.service import PriceService  # noqa: E402
from tools.market.symbols import SymbolResolver  # noqa: E402

N_USERS = 10_000
CENT = Decimal("0.01")
TARGET_S = 30.0
#: 20:00 UTC: every user in these zones is past a 06:00-10:00 local digest time.
NOW = datetime(2025, 11, 20, 20, 0, tzinfo=UTC)
ZONES = (
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
)


async def seed(db: Database, prices: PriceService, n: int, rng: random.Random) -> None:
    """Users, portfolios, trades, alerts and recent firings, written with bulk inserts."""
    top = await prices.get_top(100)
    common = [(q.coin.symbol, q.coin.id, q.price) for q in top.quotes[:30]]
    created = NOW - timedelta(days=30)
    async with db.transaction() as session:

        async def insert_ids(model: Any, rows: list[dict[str, Any]]) -> list[int]:
            result = await session.scalars(insert(model).returning(model.id), rows)
            return list(result.all())

        user_ids = await insert_ids(
            User,
            [
                {
                    "platform": "telegram",
                    "platform_user_id": str(100_000 + i),
                    "chat_id": 100_000 + i,
                    "timezone": rng.choice(ZONES),
                    "digest_time": clock_time(rng.randint(6, 9), rng.choice((0, 15, 30, 45))),
                    "created_at": created,
                }
                for i in range(n)
            ],
        )
        owners = [u for u in user_ids if rng.random() < 0.7]
        portfolio_ids = await insert_ids(
            Portfolio,
            [
                {
                    "owner_id": u,
                    "name": "default",
                    "base_currency": "EUR" if rng.random() < 0.03 else "USD",
                    "created_at": created,
                }
                for u in owners
            ],
        )
        trades = []
        for p in portfolio_ids:
            for _ in range(rng.randint(1, 6)):
                symbol, coin_id, price = rng.choice(common)
                trades.append(
                    {
                        "portfolio_id": p,
                        "side": "buy",
                        "symbol": symbol,
                        "coin_id": coin_id,
                        "quantity": Decimal(rng.randint(1, 10_000)).scaleb(-3),
                        "price": (price * Decimal(rng.uniform(0.7, 1.3))).quantize(CENT),
                        "fee": Decimal(0),
                        "executed_at": NOW - timedelta(days=rng.randint(2, 300)),
                        "created_at": created,
                    }
                )
        await session.execute(insert(Trade), trades)
        alerts = []
        for u in user_ids:
            if rng.random() >= 0.33:
                continue
            for _ in range(rng.randint(1, 3)):
                symbol, coin_id, price = rng.choice(common)
                above = rng.random() < 0.5
                factor = Decimal(rng.uniform(1.01, 1.2) if above else rng.uniform(0.8, 0.99))
                alerts.append(
                    {
                        "owner_id": u,
                        "kind": "price_above" if above else "price_below",
                        "symbol": symbol,
                        "coin_id": coin_id,
                        "params": {"threshold": str((price * factor).quantize(CENT))},
                        "state": {},
                        "created_at": created,
                        "updated_at": created,
                    }
                )
        alert_ids = await insert_ids(Alert, alerts)
        fired = rng.sample(alert_ids, k=min(len(alert_ids), n // 10))
        await session.execute(
            insert(AlertEvent),
            [
                {
                    "alert_id": a,
                    "fired_at": NOW - timedelta(minutes=rng.randint(1, 1400)),
                    "message": f"Alert #{a} crossed its threshold.",
                    "payload": {},
                }
                for a in fired
            ],
        )


def median_time(fn: Callable[[], object], runs: int = 5) -> float:
    """Median seconds per call over ``runs`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def measure(folder: Path) -> list[tuple[str, str, str]]:
    url = f"sqlite+aiosqlite:///{folder / 'digest.db'}"
    await upgrade_database(url)
    db = Database.from_url(url)
    clock = FakeClock(NOW)
    market = OfflineMarket(seed=7, clock=clock)
    prices = PriceService(market, SymbolResolver(market), clock=clock)
    try:
        started = time.perf_counter()
        await seed(db, prices, N_USERS, random.Random(11))
        seeded = time.perf_counter() - started

        await build_shared(prices, NOW)  # warm-up (imports matplotlib, fills caches)
        shared_runs = []
        for _ in range(3):
            start = time.perf_counter()
            await build_shared(prices, NOW)
            shared_runs.append(time.perf_counter() - start)
        shared_s = statistics.median(shared_runs)

        template = prompts.load("digest_summary")
        floor = median_time(
            lambda: [
                template.format(
                    btc=f"rose {i}%", eth="fell 1%", portfolio=f" {i}.", alerts="", stablecoins=""
                )  # fmt: skip
                for i in range(N_USERS)
            ]
        )

        service = DigestService(db, prices, clock=clock, chart_dir=folder / "charts")
        start = time.perf_counter()
        stats = await service.sweep()
        sweep_s = time.perf_counter() - start
        async with db.transaction(readonly=True) as session:
            queued = (await OutboxRepository(session).count_by_status()).get("pending", 0)
        assert stats.queued == N_USERS == queued, (stats, queued)

        start = time.perf_counter()
        idle = await service.sweep()
        idle_s = time.perf_counter() - start
        assert idle.queued == 0
    finally:
        await db.dispose()
    per_user_ms = sweep_s / N_USERS * 1000
    verdict = "ok" if sweep_s < TARGET_S else f"above {TARGET_S:.0f} s target"
    return [
        (f"seed {N_USERS:,} users (setup, not timed)", f"{seeded:.1f} s", ""),
        ("build the shared sections once (reference)", f"{shared_s * 1e3:.0f} ms", "1.0x"),
        (f"format {N_USERS:,} summary templates (ref.)", f"{floor * 1e3:.1f} ms", ""),
        (
            f"sweep: {N_USERS:,} digests built and queued",
            f"{sweep_s:.2f} s",
            f"{sweep_s / shared_s:.1f}x shared, {per_user_ms:.2f} ms/user, "
            f"{sweep_s / floor:.0f}x template loop, {verdict}",
        ),
        ("next sweep, nothing due", f"{idle_s * 1e3:.0f} ms", f"{idle_s / shared_s:.2f}x shared"),
    ]


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, result, ratio to the same-run references and verdict)."""
    with tempfile.TemporaryDirectory(prefix="cryptoguard-digest-") as folder:
        return asyncio.run(measure(Path(folder)))


if __name__ == "__main__":
    table = rows()
    width = max(len(r[0]) for r in table)
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>10}  {note}")
