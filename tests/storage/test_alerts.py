"""AlertRepository: rules, ownership, status, state, firings, expiry."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storage import AlertRepository, ConstraintError, Database, NewAlert
from tests.storage.helpers import NOW, later, make_user


def price_above(owner_id: int, threshold: str = "4000", **kw: object) -> NewAlert:
    return NewAlert(
        owner_id=owner_id,
        kind="price_above",
        symbol="eth",
        coin_id="ethereum",
        params={"threshold": Decimal(threshold), "vs": "usd"},
        **kw,  # type: ignore[arg-type]
    )


async def test_add_and_read_back(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        alert = await AlertRepository(session).add(
            price_above(owner.id, recurring=True, cooldown_seconds=600, expires_at=later(3600)),
            now=NOW,
        )
    async with db.transaction() as session:
        stored = await AlertRepository(session).get_owned(alert.id, owner.id)
    assert stored is not None
    assert (stored.kind, stored.symbol, stored.status, stored.fire_count) == (
        "price_above",
        "ETH",
        "active",
        0,
    )
    assert stored.params == {"threshold": "4000", "vs": "usd"}  # Decimals stored as text
    assert Decimal(stored.params["threshold"]) == Decimal(4000)
    assert stored.recurring and stored.cooldown_seconds == 600
    assert stored.expires_at == later(3600) and stored.created_at == NOW
    assert stored.state == {} and stored.last_fired_at is None


async def test_ownership_listing_and_counts(db: Database) -> None:
    owner = await make_user(db)
    stranger = await make_user(db, "2")
    async with db.transaction() as session:
        repo = AlertRepository(session)
        a = await repo.add(price_above(owner.id), now=NOW)
        b = await repo.add(price_above(owner.id, "5000"), now=NOW)
        c = await repo.add(price_above(owner.id, "6000"), now=NOW)
        s = await repo.add(price_above(stranger.id), now=NOW)
        await repo.update_status(b, "paused")
        await repo.update_status(c, "deleted")
    async with db.transaction() as session:
        repo = AlertRepository(session)
        assert await repo.get_owned(a.id, stranger.id) is None  # not yours = not found
        assert await repo.get_owned(c.id, owner.id) is None  # deleted = not found
        assert [x.id for x in await repo.list_for_owner(owner.id)] == [a.id, b.id]
        assert [x.id for x in await repo.list_for_owner(owner.id, "paused")] == [b.id]
        assert [x.id for x in await repo.list_for_owner(owner.id, "deleted")] == [c.id]
        assert await repo.count_active(owner.id) == 1
        assert await repo.count_active(stranger.id) == 1
        active = await repo.list_active()
    assert [x.id for x in active] == [a.id, s.id]
    # Owners were loaded eagerly: usable after the session closed, no lazy load.
    assert [x.owner.platform_user_id for x in active] == ["1", "2"]


async def test_invalid_status_and_cooldown(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        repo = AlertRepository(session)
        alert = await repo.add(price_above(owner.id), now=NOW)
        with pytest.raises(ValueError):
            await repo.update_status(alert, "exploded")
        with pytest.raises(ValueError):
            await repo.list_for_owner(owner.id, "exploded")
        with pytest.raises(ConstraintError):
            await repo.add(price_above(owner.id, cooldown_seconds=-1), now=NOW)


async def test_state_and_events(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        alert = await AlertRepository(session).add(price_above(owner.id), now=NOW)
    async with db.transaction() as session:
        repo = AlertRepository(session)
        await repo.update_state(alert, {"armed": True, "last": "3990.5"})
        first = await repo.record_event(
            alert,
            fired_at=later(60),
            message="ETH above 4,000 USD",
            value=Decimal("4001.25"),
            payload={"price": Decimal("4001.25")},
            state={"armed": False, "last": "4001.25"},
        )
        await repo.record_event(alert, fired_at=later(120), message="again")
    assert alert.fire_count == 2 and alert.last_fired_at == later(120)
    async with db.transaction() as session:
        repo = AlertRepository(session)
        stored = await repo.get_owned(alert.id, owner.id)
        events = await repo.list_events(alert.id)
    assert stored is not None
    assert stored.fire_count == 2 and stored.last_fired_at == later(120)
    assert stored.state == {"armed": False, "last": "4001.25"}
    assert [e.message for e in events] == ["again", "ETH above 4,000 USD"]
    assert events[1].id == first.id
    assert events[1].value == Decimal("4001.25") and events[0].value is None
    assert events[1].payload == {"price": "4001.25"}


async def test_expire_due(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        repo = AlertRepository(session)
        soon = await repo.add(price_above(owner.id, expires_at=later(10)), now=NOW)
        late = await repo.add(price_above(owner.id, expires_at=later(1000)), now=NOW)
        never = await repo.add(price_above(owner.id), now=NOW)
    async with db.transaction() as session:
        assert await AlertRepository(session).expire_due(later(10)) == 1
    async with db.transaction() as session:
        repo = AlertRepository(session)
        statuses = {a.id: a.status for a in await repo.list_for_owner(owner.id)}
    assert statuses == {soon.id: "expired", late.id: "active", never.id: "active"}


async def test_updated_at_follows_every_change(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        repo = AlertRepository(session)
        alert = await repo.add(price_above(owner.id), now=NOW)
        other = await repo.add(price_above(owner.id, "5000"), now=NOW)
    assert alert.updated_at == NOW
    async with db.transaction() as session:
        repo = AlertRepository(session)
        assert {a.id for a in await repo.changed_since(None)} == {alert.id, other.id}
        assert await repo.changed_since(NOW) == []
        await repo.update_status(alert, "paused", now=later(10))
    async with db.transaction() as session:
        repo = AlertRepository(session)
        assert [a.id for a in await repo.changed_since(NOW)] == [alert.id]
        await repo.update_state(other, {"armed": False}, now=later(20))
        await repo.record_event(alert, fired_at=later(30), message="fired")
    async with db.transaction() as session:
        changed = await AlertRepository(session).changed_since(later(10))
    assert [(a.id, a.updated_at) for a in changed] == [(other.id, later(20)), (alert.id, later(30))]


async def test_expire_due_touches_updated_at(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        alert = await AlertRepository(session).add(
            price_above(owner.id, expires_at=later(60)), now=NOW
        )
    async with db.transaction() as session:
        assert await AlertRepository(session).expire_due(later(61)) == 1
    async with db.transaction() as session:
        (changed,) = await AlertRepository(session).changed_since(NOW)
    assert changed.id == alert.id and changed.status == "expired"
    assert changed.updated_at == later(61)


async def test_find_active_duplicate_compares_kind_symbol_params(db: Database) -> None:
    owner = await make_user(db)
    stranger = await make_user(db, "2")
    async with db.transaction() as session:
        repo = AlertRepository(session)
        alert = await repo.add(price_above(owner.id), now=NOW)
        dup = await repo.find_active_duplicate(
            owner.id, "price_above", "eth", {"threshold": "4000", "vs": "usd"}
        )
        assert dup is not None and dup.id == alert.id
        assert (
            await repo.find_active_duplicate(
                owner.id, "price_above", "ETH", {"threshold": "4001", "vs": "usd"}
            )
            is None
        )
        assert (
            await repo.find_active_duplicate(
                owner.id, "price_below", "ETH", {"threshold": "4000", "vs": "usd"}
            )
            is None
        )
        assert (
            await repo.find_active_duplicate(
                stranger.id, "price_above", "ETH", {"threshold": "4000", "vs": "usd"}
            )
            is None
        )
        await repo.update_status(alert, "triggered", now=later(1))
        assert (
            await repo.find_active_duplicate(
                owner.id, "price_above", "ETH", {"threshold": "4000", "vs": "usd"}
            )
            is None
        )


async def test_events_since_and_active_for_owners(db: Database) -> None:
    owner = await make_user(db)
    stranger = await make_user(db, "2")
    async with db.transaction() as session:
        repo = AlertRepository(session)
        mine = await repo.add(price_above(owner.id), now=NOW)
        theirs = await repo.add(price_above(stranger.id), now=NOW)
        await repo.add(price_above(owner.id, "9000"), now=NOW)
        await repo.record_event(mine, fired_at=later(-90_000), message="old")
        await repo.record_event(mine, fired_at=later(100), message="new")
        await repo.record_event(theirs, fired_at=later(200), message="theirs")
    async with db.transaction() as session:
        repo = AlertRepository(session)
        recent = await repo.events_since(NOW)
        assert [e.message for e, _ in recent] == ["theirs", "new"]
        only_mine = await repo.events_since(later(-100_000), [owner.id])
        assert [(e.message, a.id) for e, a in only_mine] == [("new", mine.id), ("old", mine.id)]
        active = await repo.active_for_owners([owner.id])
        assert [a.owner_id for a in active] == [owner.id, owner.id]
        assert await repo.active_for_owners([]) == []


async def test_get_many_and_changed_since_load_owners(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        alert = await AlertRepository(session).add(price_above(owner.id), now=NOW)
    async with db.transaction() as session:
        repo = AlertRepository(session)
        found = await repo.get_many([alert.id, 999_999])
        (changed,) = await repo.changed_since(None)
        assert await repo.get_many([]) == {}
    assert list(found) == [alert.id]
    # owners are loaded eagerly: usable after the session closed (no lazy load)
    assert found[alert.id].owner.platform_user_id == owner.platform_user_id
    assert changed.owner.id == owner.id


async def test_changed_since_after_id_catches_rules_with_skewed_clocks(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        repo = AlertRepository(session)
        first = await repo.add(price_above(owner.id), now=NOW)
        # another process whose clock lags by a minute
        second = await repo.add(price_above(owner.id, "5000"), now=later(-60))
    async with db.transaction() as session:
        repo = AlertRepository(session)
        assert await repo.changed_since(NOW) == []
        found = await repo.changed_since(NOW, after_id=first.id)
    assert [a.id for a in found] == [second.id]
