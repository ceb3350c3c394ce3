"""Chat subscriptions, audit log, quote cache and price history repositories."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from storage import (
    AuditLogRepository,
    CandleRow,
    ChatSubscriptionRepository,
    Database,
    MonitorStateRepository,
    OutboxRepository,
    PriceHistoryRepository,
    QuoteCacheRepository,
    QuoteRow,
    UserRepository,
)
from storage.models import User
from tests.storage.helpers import NOW, later, make_user

GROUP = -1001234567890  # beyond 32 bits


async def test_chat_subscriptions(db: Database) -> None:
    admin = await make_user(db)
    async with db.transaction() as session:
        repo = ChatSubscriptionRepository(session)
        sub, created = await repo.subscribe(
            "telegram", GROUP, "depeg", created_by_user_id=admin.id, params={"min": "1"}, now=NOW
        )
        again, created_again = await repo.subscribe("telegram", GROUP, "depeg", now=later(1))
        await repo.subscribe("telegram", GROUP, "digest", now=NOW)
        await repo.subscribe("discord", 77, "depeg", now=NOW)
    assert created and not created_again and again.id == sub.id
    assert sub.params == {"min": "1"} and sub.created_by_user_id == admin.id
    async with db.transaction() as session:
        repo = ChatSubscriptionRepository(session)
        depeg = await repo.list_by_kind("depeg")
        assert [(s.platform, s.chat_id) for s in depeg] == [("telegram", GROUP), ("discord", 77)]
        assert [s.chat_id for s in await repo.list_by_kind("depeg", "discord")] == [77]
        assert await repo.unsubscribe("telegram", GROUP, "digest") is True
        assert await repo.unsubscribe("telegram", GROUP, "digest") is False
        assert await repo.get("telegram", GROUP, "digest") is None


async def test_chat_migration_moves_subscriptions(db: Database) -> None:
    new_id = GROUP - 1
    async with db.transaction() as session:
        repo = ChatSubscriptionRepository(session)
        await repo.subscribe("telegram", GROUP, "depeg", now=NOW)
        await repo.subscribe("telegram", GROUP, "digest", now=NOW)
        await repo.subscribe("telegram", new_id, "digest", now=NOW)  # already there
    async with db.transaction() as session:
        assert (
            await ChatSubscriptionRepository(session).migrate_chat("telegram", GROUP, new_id) == 1
        )
    async with db.transaction() as session:
        repo = ChatSubscriptionRepository(session)
        assert await repo.get("telegram", GROUP, "depeg") is None
        assert await repo.get("telegram", new_id, "depeg") is not None
        assert len(await repo.list_by_kind("digest")) == 1


async def test_subscription_survives_creator_deletion(db: Database) -> None:
    admin = await make_user(db)
    async with db.transaction() as session:
        await ChatSubscriptionRepository(session).subscribe(
            "telegram", GROUP, "depeg", created_by_user_id=admin.id, now=NOW
        )
    async with db.transaction() as session:
        await session.delete(await session.get(User, admin.id))
    async with db.transaction() as session:
        sub = await ChatSubscriptionRepository(session).get("telegram", GROUP, "depeg")
    assert sub is not None and sub.created_by_user_id is None


async def test_audit_log(db: Database) -> None:
    user = await make_user(db)
    async with db.transaction() as session:
        repo = AuditLogRepository(session)
        await repo.record("alerts.delete_all", user_id=user.id, details={"count": 3}, now=NOW)
        await repo.record("system.start", now=later(1))
    async with db.transaction() as session:
        repo = AuditLogRepository(session)
        entries = await repo.list_recent()
        mine = await repo.list_recent(user_id=user.id)
    assert [e.action for e in entries] == ["system.start", "alerts.delete_all"]
    assert [e.details for e in mine] == [{"count": 3}]
    assert entries[0].user_id is None and entries[1].created_at == NOW


def quote(coin_id: str, price: str, fetched_at_s: float = 0) -> QuoteRow:
    return QuoteRow(
        coin_id=coin_id,
        vs_currency="usd",
        symbol=coin_id[:3].upper(),
        name=coin_id.title(),
        price=Decimal(price),
        change_24h_pct=Decimal("-3.2"),
        market_cap=Decimal("1234567890123456789"),
        volume_24h=None,
        last_updated=NOW,
        source="coingecko",
        origin="live",
        fetched_at=later(fetched_at_s),
    )


async def test_quote_cache_upsert_and_read(db: Database) -> None:
    async with db.transaction() as session:
        repo = QuoteCacheRepository(session)
        written = await repo.upsert_many(
            [quote("bitcoin", "60000.5"), quote("ethereum", "3000"), quote("bitcoin", "60001")]
        )
        assert written == 2  # the duplicate bitcoin row: last one wins
        assert await repo.upsert_many([]) == 0
    async with db.transaction() as session:
        repo = QuoteCacheRepository(session)
        await repo.upsert_many([quote("ethereum", "3100", 60)])
        got = await repo.get_many(["bitcoin", "ethereum", "unknown"], "usd")
        assert await repo.get_many(["bitcoin"], "eur") == {}
        assert await repo.get_many([], "usd") == {}
    assert set(got) == {"bitcoin", "ethereum"}
    btc, eth = got["bitcoin"], got["ethereum"]
    assert btc.price == Decimal("60001") and btc.market_cap == Decimal("1234567890123456789")
    assert btc.change_24h_pct == Decimal("-3.2") and btc.volume_24h is None
    assert eth.price == Decimal("3100") and eth.fetched_at == later(60)
    assert (eth.symbol, eth.name, eth.source, eth.origin) == (
        "ETH",
        "Ethereum",
        "coingecko",
        "live",
    )


def candle(hour: int, close: str) -> CandleRow:
    return CandleRow(
        ts=NOW + timedelta(hours=hour),
        open=Decimal("1.0001"),
        high=Decimal("1.002"),
        low=Decimal("0.998"),
        close=Decimal(close),
        volume=Decimal("123456.789"),
    )


async def test_price_history(db: Database) -> None:
    async with db.transaction() as session:
        repo = PriceHistoryRepository(session)
        assert await repo.latest_ts("usd-coin", "usd", "1h") is None
        n = await repo.upsert_candles(
            "usd-coin", "usd", "1h", [candle(h, "1.0") for h in range(5)], source="binance"
        )
        assert n == 5
        await repo.upsert_candles("usd-coin", "usd", "1d", [candle(0, "0.99")], source="binance")
    async with db.transaction() as session:
        repo = PriceHistoryRepository(session)
        await repo.upsert_candles(
            "usd-coin", "usd", "1h", [candle(4, "0.87"), candle(5, "0.9")], source="coingecko"
        )
        everything = await repo.get_range("usd-coin", "usd", "1h")
        window = await repo.get_range(
            "usd-coin", "usd", "1h", start=NOW + timedelta(hours=1), end=NOW + timedelta(hours=3)
        )
        latest = await repo.latest_ts("usd-coin", "usd", "1h")
    assert [c.ts for c in everything] == [NOW + timedelta(hours=h) for h in range(6)]
    assert everything[4].close == Decimal("0.87") and everything[4].source == "coingecko"
    assert everything[0].open == Decimal("1.0001") and everything[0].volume == Decimal("123456.789")
    assert [c.ts.hour for c in window] == [13, 14, 15]
    assert latest == NOW + timedelta(hours=5) and latest.tzinfo is not None


async def test_monitor_state_put_get_replace(db: Database) -> None:
    async with db.transaction() as session:
        repo = MonitorStateRepository(session)
        assert await repo.get("depeg:0.5") is None
        await repo.put("depeg:0.5", {"USDC": {"severity": "warning"}}, now=NOW)
        await repo.put("depeg:1", {"USDT": {}}, now=NOW)
        await repo.put("depeg_x", {"other": 1}, now=NOW)
    async with db.transaction() as session:
        repo = MonitorStateRepository(session)
        assert await repo.get("depeg:0.5") == {"USDC": {"severity": "warning"}}
        await repo.put("depeg:0.5", {"USDC": {"severity": "ok"}}, now=later(5))
    async with db.transaction() as session:
        repo = MonitorStateRepository(session)
        assert await repo.get("depeg:0.5") == {"USDC": {"severity": "ok"}}
        # "_" in a prefix is literal, not a LIKE wildcard
        assert set(await repo.get_many("depeg:")) == {"depeg:0.5", "depeg:1"}
        assert set(await repo.get_many("depeg_")) == {"depeg_x"}


async def test_user_lock_get_many_and_depeg_recipients(db: Database) -> None:
    a = await make_user(db, "1")
    b = await make_user(db, "2")
    async with db.transaction() as session:
        repo = UserRepository(session)
        locked = await repo.lock(a.id)
        assert locked is not None and locked.id == a.id
        assert await repo.lock(10_000) is None
        assert set(await repo.get_many([a.id, b.id, 10_000])) == {a.id, b.id}
        await repo.update(locked, depeg_alerts_enabled=False)
    async with db.transaction() as session:
        assert [u.id for u in await UserRepository(session).list_depeg_recipients()] == [b.id]


async def test_outbox_reroute_and_dead_letter_user(db: Database) -> None:
    user = await make_user(db)
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        for i in range(3):
            await repo.enqueue(
                "telegram", "-100", {"text": str(i)}, f"k{i}", user_id=user.id, now=NOW
            )
        await repo.enqueue("telegram", "-200", {"text": "x"}, "other", now=NOW)
        assert await repo.reroute("telegram", "-100", "-1001") == 3
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        row = await repo.get_by_key("k0")
        assert row is not None and row.recipient == "-1001"
        assert await repo.dead_letter_user(user.id, "blocked the bot") == 3
        counts = await repo.count_by_status()
    assert counts == {"dead": 3, "pending": 1}


async def test_depeg_thresholds_are_distinct_and_skip_opted_out(db: Database) -> None:
    users = [await make_user(db, str(i)) for i in range(4)]
    async with db.transaction() as session:
        repo = UserRepository(session)
        await repo.update(users[1], depeg_threshold_pct=Decimal("1.5"))
        await repo.update(users[2], depeg_threshold_pct=Decimal("3"), depeg_alerts_enabled=False)
        await repo.mark_unreachable(users[3], "blocked", NOW)
        await repo.update(users[3], depeg_threshold_pct=Decimal("7"))
    async with db.transaction() as session:
        assert await UserRepository(session).depeg_thresholds() == [None, Decimal("1.5")]
