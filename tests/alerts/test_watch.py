"""The market tick: rules and the depeg monitor end to end through the database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from storage import (
    AlertRepository,
    ChatSubscriptionRepository,
    Database,
    NewAlert,
    UserRepository,
)
from storage.models import Alert, Outbox, User
from tests.tools.market.fakes import BTC, ETH, NOW, FakeMarket, quote, stable
from tools.alerts.metrics import MetricReader
from tools.alerts.watch import DepegPolicy, MarketWatch
from tools.clock import FakeClock
from tools.identity import UserRef
from tools.market.service import PriceService
from tools.market.symbols import SymbolResolver
from tools.users import UserService

USDC = "usdc"


def setup(db: Database, market: FakeMarket, clock: FakeClock, **policy: Any) -> MarketWatch:
    resolver = SymbolResolver(market, clock=clock)  # type: ignore[arg-type]
    resolver.add([BTC, ETH])
    prices = PriceService(market, resolver, clock=clock)  # type: ignore[arg-type]
    return MarketWatch(db, prices, MetricReader(prices), policy=DepegPolicy(**policy), clock=clock)


async def user(db: Database, uid: str, platform: str = "telegram", **fields: Any) -> User:
    async with db.transaction() as session:
        repo = UserRepository(session)
        row, _ = await repo.get_or_create(platform, uid, chat_id=int(uid), now=NOW)
        if fields:
            await repo.update(row, **fields)
        return row


async def alert(db: Database, owner: User, kind: str, threshold: str, **kw: Any) -> Alert:
    params = {"threshold": threshold, "base_currency": "USD"}
    params.update(kw.pop("params", {}))
    async with db.transaction() as session:
        return await AlertRepository(session).add(
            NewAlert(owner.id, kind, params, symbol="BTC", coin_id="bitcoin", **kw), now=NOW
        )


async def outbox_rows(db: Database) -> list[Outbox]:
    from sqlalchemy import select

    async with db.transaction() as session:
        return list((await session.scalars(select(Outbox).order_by(Outbox.id))).all())


async def tick_at(watch: MarketWatch, clock: FakeClock, market: FakeMarket, btc: str) -> int:
    clock.advance(60)
    market.quotes[BTC.id] = quote(BTC, btc, last_updated=clock.now(), fetched_at=clock.now())
    return (await watch.tick()).firings


async def test_price_alert_fires_once_on_crossing_and_is_queued(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000"), quote(ETH, "3000")])
    watch = setup(db, market, clock)
    owner = await user(db, "1")
    rule = await alert(db, owner, "price_above", "100000")
    assert await tick_at(watch, clock, market, "95000") == 0  # first value only seeds
    assert await tick_at(watch, clock, market, "101000") == 1
    assert await tick_at(watch, clock, market, "102000") == 0  # beyond, not crossing
    assert await tick_at(watch, clock, market, "99000") == 0
    assert await tick_at(watch, clock, market, "101000") == 0  # one-shot: triggered
    async with db.transaction() as session:
        repo = AlertRepository(session)
        stored = await repo.get_owned(rule.id, owner.id)
        events = await repo.list_events(rule.id)
    assert stored is not None and stored.status == "triggered" and stored.fire_count == 1
    assert len(events) == 1 and events[0].value == Decimal("101000.0")
    (row,) = await outbox_rows(db)
    assert (row.channel, row.recipient, row.user_id) == ("telegram", "1", owner.id)
    assert row.payload["kind"] == "alert"
    assert "rose above $100,000.00" in row.payload["text"]
    assert row.idempotency_key.startswith(f"alert:{rule.id}:")


async def test_recurring_alert_rearms_after_band_and_cooldown(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock)
    owner = await user(db, "1")
    await alert(
        db,
        owner,
        "price_above",
        "100000",
        recurring=True,
        cooldown_seconds=600,
        params={"rearm": "99000"},
    )
    fired = [
        await tick_at(watch, clock, market, p)
        for p in ("99500", "100100", "99800", "100200", "99900", "100300")
    ]
    assert fired == [0, 1, 0, 0, 0, 0]  # oscillating inside the band: one notification
    assert await tick_at(watch, clock, market, "98000") == 0  # left the band...
    assert await tick_at(watch, clock, market, "100500") == 0  # ...but cooldown runs
    clock.advance(600)
    assert await tick_at(watch, clock, market, "98500") == 0  # re-armed now
    assert await tick_at(watch, clock, market, "100100") == 1
    assert len(await outbox_rows(db)) == 2


async def test_a_crossing_across_a_restart_is_not_lost(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    owner = await user(db, "1")
    await alert(db, owner, "price_below", "90000")
    first = setup(db, market, clock)
    assert await tick_at(first, clock, market, "95000") == 0
    restarted = setup(db, market, clock)  # a new process: state comes from the database
    assert await tick_at(restarted, clock, market, "89000") == 1


async def test_changes_from_other_processes_are_picked_up(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock)
    owner = await user(db, "1")
    assert await tick_at(watch, clock, market, "95000") == 0
    added = await alert(db, owner, "price_above", "96000")
    paused = await alert(db, owner, "price_above", "96500")
    async with db.transaction() as session:
        await AlertRepository(session).update_status(paused, "paused", now=clock.now())
    assert await tick_at(watch, clock, market, "95500") == 0
    assert await tick_at(watch, clock, market, "97000") == 1
    events = await outbox_rows(db)
    assert [r.payload["data"]["alert_id"] for r in events] == [added.id]


async def test_unreachable_owner_gets_the_event_but_no_message(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock)
    owner = await user(db, "1")
    rule = await alert(db, owner, "price_above", "96000")
    async with db.transaction() as session:
        await UserRepository(session).mark_unreachable(owner, "blocked", NOW)
    await tick_at(watch, clock, market, "95000")
    assert await tick_at(watch, clock, market, "97000") == 1
    async with db.transaction() as session:
        assert len(await AlertRepository(session).list_events(rule.id)) == 1
    assert await outbox_rows(db) == []


async def test_bad_prices_are_skipped_without_crashing(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock)
    owner = await user(db, "1")
    await alert(db, owner, "price_above", "96000")
    await tick_at(watch, clock, market, "95000")
    for bad in ("0", "-5", "NaN"):
        assert await tick_at(watch, clock, market, bad) == 0
    market.fail = True
    assert (await watch.tick()).firings == 0  # provider outage: nothing fires on a guess
    market.fail = False
    assert await tick_at(watch, clock, market, "97000") == 1


async def depeg_tick(watch: MarketWatch, clock: FakeClock, market: FakeMarket, usdc: str) -> None:
    clock.advance(60)
    market.stablecoins = [stable("USDC", usdc, fetched_at=clock.now())]
    await watch.tick()


async def test_depeg_messages_persist_escalate_recover_and_fan_out(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock, persist_samples=2)
    default = await user(db, "1")
    discord = await user(db, "2", "discord")
    sensitive = await user(db, "3", depeg_threshold_pct=Decimal("2.5"))
    await user(db, "4", depeg_alerts_enabled=False)
    async with db.transaction() as session:
        await ChatSubscriptionRepository(session).subscribe("telegram", -100, "depeg", now=NOW)

    await depeg_tick(watch, clock, market, "1.0")
    await depeg_tick(watch, clock, market, "0.99")  # one stray sample: nothing yet
    await depeg_tick(watch, clock, market, "1.0")
    assert await outbox_rows(db) == []
    await depeg_tick(watch, clock, market, "0.99")
    await depeg_tick(watch, clock, market, "0.99")  # held for 2 samples: warning
    rows = await outbox_rows(db)
    assert sorted((r.recipient, r.payload["severity"]) for r in rows) == [
        ("-100", "warning"),
        ("1", "warning"),
        ("2", "warning"),
    ]
    restarted = setup(db, market, clock, persist_samples=2)  # no repeat after a restart
    await depeg_tick(restarted, clock, market, "0.99")
    await depeg_tick(restarted, clock, market, "0.97")
    await depeg_tick(restarted, clock, market, "0.97")  # 3%: high for everyone
    rows = await outbox_rows(db)
    assert len(rows) == 7
    by_user = {(r.recipient, r.payload["severity"]) for r in rows[3:]}
    assert by_user == {("-100", "high"), ("1", "high"), ("2", "high"), ("3", "warning")}
    await depeg_tick(restarted, clock, market, "1.0")
    await depeg_tick(restarted, clock, market, "1.0")
    rows = await outbox_rows(db)
    recovered = {(r.recipient, r.payload["severity"]) for r in rows[7:]}
    assert recovered == {("-100", "recovered"), ("1", "recovered"), ("2", "recovered")} | {
        ("3", "recovered")
    }
    assert discord.platform == "discord" and default.id != sensitive.id
    assert all("USDC" in r.payload["text"] for r in rows)


async def test_stale_or_minor_stablecoins_do_not_message_users(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock, persist_samples=1)
    await user(db, "1")
    for _ in range(3):
        clock.advance(60)
        old = clock.now() - timedelta(hours=2)
        market.stablecoins = [
            stable("USDC", "0.90", fetched_at=old),
            stable("TINY", "0.90", circulating=Decimal(5_000_000), fetched_at=clock.now()),
        ]
        await watch.tick()
    assert await outbox_rows(db) == []


async def test_a_users_own_depeg_rule_uses_the_confirmed_deviation(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock, persist_samples=2)
    owner = await user(db, "1", depeg_alerts_enabled=False)
    async with db.transaction() as session:
        rule = await AlertRepository(session).add(
            NewAlert(owner.id, "depeg", {"threshold": "1"}, symbol="USDC", coin_id="usdc"),
            now=NOW,
        )
    for price in ("1.0", "0.985", "1.0", "0.985", "0.985"):
        await depeg_tick(watch, clock, market, price)
    rows = await outbox_rows(db)
    assert [r.payload["data"]["alert_id"] for r in rows] == [rule.id]  # after persistence


async def test_a_users_webhook_gets_a_copy_of_each_alert(db: Database) -> None:
    clock = FakeClock(NOW)
    market = FakeMarket([quote(BTC, "95000")])
    watch = setup(db, market, clock)
    owner = await user(db, "1")
    await UserService(db, webhooks=True).set_webhook(
        UserRef(owner.platform, owner.platform_user_id), "https://hooks.example.com/cryptoguard"
    )
    rule = await alert(db, owner, "price_above", "96000")
    await tick_at(watch, clock, market, "95000")
    assert await tick_at(watch, clock, market, "97000") == 1
    rows = await outbox_rows(db)
    assert [(r.channel, r.recipient) for r in rows] == [
        ("telegram", "1"),
        ("webhook", "https://hooks.example.com/cryptoguard"),
    ]
    assert rows[1].idempotency_key == rows[0].idempotency_key + ":webhook"
    assert rows[1].payload == rows[0].payload and rows[1].user_id == owner.id
    assert rows[0].payload["data"]["alert_id"] == rule.id
