"""SavedFormulaRepository: CRUD per owner, unique names, owner isolation, cascade."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text

from storage import (
    ConstraintError,
    Database,
    DuplicateError,
    SavedFormulaRepository,
    create_engine,
    current_revision,
    downgrade_database,
    upgrade_database,
)
from storage.models import SavedFormula, User
from tests.storage.helpers import NOW, later, make_user


async def test_create_get_list_delete(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        repo = SavedFormulaRepository(session)
        row = await repo.create(owner.id, "momentum", "RSI(14) - RSI(28)", now=NOW)
        await repo.create(owner.id, "band-pos", "(CLOSE - SMA(20)) / ATR(14)", now=later(1))
    assert row.id is not None and row.created_at == NOW
    async with db.transaction(readonly=True) as session:
        repo = SavedFormulaRepository(session)
        got = await repo.get(owner.id, "momentum")
        assert got is not None and got.formula == "RSI(14) - RSI(28)"
        assert [r.name for r in await repo.list_for_owner(owner.id)] == ["band-pos", "momentum"]
        assert await repo.count_for_owner(owner.id) == 2
        assert await repo.get(owner.id, "nope") is None
    async with db.transaction() as session:
        repo = SavedFormulaRepository(session)
        assert await repo.delete(owner.id, "momentum") is True
        assert await repo.delete(owner.id, "momentum") is False
        assert await repo.count_for_owner(owner.id, lock=True) == 1


async def test_duplicate_name_per_owner_only(db: Database) -> None:
    alice = await make_user(db, "1")
    bob = await make_user(db, "2")
    async with db.transaction() as session:
        repo = SavedFormulaRepository(session)
        await repo.create(alice.id, "x", "CLOSE", now=NOW)
        await repo.create(bob.id, "x", "OPEN", now=NOW)  # same name, other owner: fine
        with pytest.raises(DuplicateError):
            await repo.create(alice.id, "x", "HIGH", now=NOW)
        # The savepoint kept the transaction usable.
        assert await repo.count_for_owner(alice.id) == 1


async def test_owners_are_isolated(db: Database) -> None:
    alice = await make_user(db, "1")
    bob = await make_user(db, "2")
    async with db.transaction() as session:
        await SavedFormulaRepository(session).create(alice.id, "secret", "RSI(14)", now=NOW)
    async with db.transaction() as session:
        repo = SavedFormulaRepository(session)
        assert await repo.get(bob.id, "secret") is None
        assert await repo.list_for_owner(bob.id) == []
        assert await repo.delete(bob.id, "secret") is False
        assert await repo.get(alice.id, "secret") is not None


async def test_unknown_owner_is_constraint_error(db: Database) -> None:
    with pytest.raises(ConstraintError):
        async with db.transaction() as session:
            await SavedFormulaRepository(session).create(987654, "x", "CLOSE", now=NOW)


async def test_deleting_user_cascades(db: Database) -> None:
    owner = await make_user(db)
    async with db.transaction() as session:
        await SavedFormulaRepository(session).create(owner.id, "x", "CLOSE", now=NOW)
    async with db.transaction() as session:
        await session.delete(await session.get(User, owner.id))
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(SavedFormula)) == 0


async def test_migration_0002_upgrades_and_downgrades(empty_database_url: str) -> None:
    await upgrade_database(empty_database_url, "0001")
    db = Database(create_engine(empty_database_url))
    try:
        owner = await make_legacy_user(db)  # data written before the upgrade survives it
        await upgrade_database(db.engine, "0002")
        assert await current_revision(db.engine) == "0002"
        async with db.transaction() as session:
            await SavedFormulaRepository(session).create(owner, "x", "CLOSE", now=NOW)
        await downgrade_database(db.engine, "0001")
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "saved_formulas" not in tables and "users" in tables
        async with db.engine.connect() as conn:
            found = await conn.execute(text("SELECT id FROM users WHERE id = :id"), {"id": owner})
            assert found.scalar_one() == owner
    finally:
        await db.dispose()


async def make_legacy_user(db: Database) -> int:
    """A user row written with the 0001 schema (every NOT NULL column of that time)."""
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (platform, platform_user_id, timezone, digest_time, "
                "digest_enabled, base_currency, depeg_alerts_enabled, depeg_threshold_pct, "
                "is_admin, reachable, created_at, memory) VALUES ('telegram', '1', 'UTC', "
                "'09:00:00', false, 'USD', true, 0.5, false, true, :now, '{}')"
            ),
            {"now": NOW},
        )
        row = await conn.execute(text("SELECT id FROM users WHERE platform_user_id = '1'"))
        return int(row.scalar_one())
