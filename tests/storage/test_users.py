"""UserRepository: identity, settings, reachability, digest candidates, races."""

from __future__ import annotations

import asyncio
from datetime import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from storage import Database, DuplicateError, NotFoundError, UserRepository
from storage.models import User
from tests.storage.helpers import NOW, later, make_user


async def test_get_or_create_creates_once_with_defaults(db: Database) -> None:
    async with db.transaction() as session:
        repo = UserRepository(session)
        user, created = await repo.get_or_create(
            "telegram", "42", display_name="Ann", chat_id=42, now=NOW
        )
        again, created_again = await repo.get_or_create("telegram", "42", now=later(5))
    assert created and not created_again
    assert again.id == user.id
    assert (user.timezone, user.base_currency, user.digest_time) == ("UTC", "USD", time(8, 0))
    assert user.digest_enabled is True and user.depeg_alerts_enabled is True
    assert user.depeg_threshold_pct is None  # follows the server's default
    assert user.reachable is True and user.is_admin is False
    assert user.created_at == NOW and user.last_seen_at == NOW


async def test_get_or_create_refreshes_name_and_chat(db: Database) -> None:
    await make_user(db, "42")
    async with db.transaction() as session:
        user, created = await UserRepository(session).get_or_create(
            "telegram", "42", display_name="New name", chat_id=2**35, now=NOW
        )
    assert not created
    async with db.transaction() as session:
        stored = await UserRepository(session).get(user.id)
    assert stored is not None
    assert (stored.display_name, stored.chat_id) == ("New name", 2**35)


async def test_same_id_on_two_platforms_is_two_users(db: Database) -> None:
    a = await make_user(db, "42", "telegram")
    b = await make_user(db, "42", "discord")
    assert a.id != b.id


async def test_duplicate_user_per_platform_is_duplicate_error(db: Database) -> None:
    await make_user(db, "42")
    with pytest.raises(DuplicateError):
        async with db.transaction() as session:
            session.add(User(platform="telegram", platform_user_id="42", created_at=NOW))
            await session.flush()


async def test_lookup(db: Database) -> None:
    user = await make_user(db, "42")
    async with db.transaction() as session:
        repo = UserRepository(session)
        assert (await repo.get(user.id)) is not None
        assert (await repo.get(user.id + 1000)) is None
        found = await repo.get_by_platform_id("telegram", "42")
        assert found is not None and found.id == user.id
        assert await repo.get_by_platform_id("discord", "42") is None


async def test_update_touch_and_reachability(db: Database) -> None:
    user = await make_user(db)
    async with db.transaction() as session:
        repo = UserRepository(session)
        await repo.update(
            user,
            timezone="Europe/Paris",
            digest_time=time(7, 30),
            digest_enabled=True,
            depeg_threshold_pct=Decimal("1.25"),
        )
        await repo.touch(user, later(60))
        await repo.mark_unreachable(user, "Forbidden: bot was blocked by the user", later(70))
        await repo.mark_unreachable(user, "again", later(80))  # keeps the first time
    assert user.timezone == "Europe/Paris"  # the caller's object reflects the change
    async with db.transaction() as session:
        stored = await UserRepository(session).get(user.id)
    assert stored is not None
    assert (stored.timezone, stored.digest_time, stored.digest_enabled) == (
        "Europe/Paris",
        time(7, 30),
        True,
    )
    assert stored.depeg_threshold_pct == Decimal("1.25")
    assert stored.last_seen_at == later(60)
    assert stored.reachable is False and stored.unreachable_since == later(70)
    assert stored.unreachable_reason == "again"
    async with db.transaction() as session:
        await UserRepository(session).mark_reachable(stored)
    async with db.transaction() as session:
        stored = await UserRepository(session).get(user.id)
    assert stored is not None and stored.reachable and stored.unreachable_since is None


async def test_update_rejects_unknown_or_fixed_fields(db: Database) -> None:
    user = await make_user(db)
    async with db.transaction() as session:
        with pytest.raises(ValueError, match="platform_user_id"):
            await UserRepository(session).update(user, platform_user_id="x")
        with pytest.raises(ValueError):
            await UserRepository(session).update(user, nonsense=1)


async def test_update_of_deleted_user_is_not_found(db: Database) -> None:
    user = await make_user(db)
    async with db.transaction() as session:
        await session.delete(await session.get(User, user.id))
    with pytest.raises(NotFoundError):
        async with db.transaction() as session:
            await UserRepository(session).touch(user, NOW)


async def test_list_digest_candidates(db: Database) -> None:
    on = await make_user(db, "1")
    off = await make_user(db, "2")
    blocked = await make_user(db, "3")
    discord = await make_user(db, "4", "discord")
    async with db.transaction() as session:
        repo = UserRepository(session)
        for user in (on, blocked, discord):
            await repo.update(user, digest_enabled=True)
        await repo.update(off, digest_enabled=False)
        await repo.mark_unreachable(blocked, "blocked", NOW)
    async with db.transaction() as session:
        repo = UserRepository(session)
        assert [u.id for u in await repo.list_digest_candidates()] == [on.id, discord.id]
        assert [u.id for u in await repo.list_digest_candidates("telegram")] == [on.id]
    assert off.id not in {on.id, discord.id}


async def test_concurrent_get_or_create_same_user(db: Database) -> None:
    async def one(i: int) -> bool:
        async with db.transaction() as session:
            _, created = await UserRepository(session).get_or_create(
                "discord", "racer", display_name="Racer", now=later(i)
            )
        return created

    results = await asyncio.gather(*(one(i) for i in range(20)))
    assert results.count(True) == 1
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.platform_user_id == "racer")
        )
    assert count == 1
