"""Alembic migrations: up from empty, down to base, and schema == models on both dialects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text
from sqlalchemy.engine import Connection

from storage import (
    MigrationError,
    create_engine,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from storage.models import Base

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = {t.name for t in Base.metadata.sorted_tables}


def _diff(connection: Connection, metadata: MetaData) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_from_empty_matches_models(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade_database(engine)
        assert await current_revision(engine) == head_revision() == "0003"
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
            assert await conn.run_sync(_diff, Base.metadata) == []
            # The comparison does notice differences (guards against a vacuous pass).
            extra = MetaData(naming_convention=Base.metadata.naming_convention)
            for table in Base.metadata.sorted_tables:
                table.to_metadata(extra)
            extra.tables["users"].append_column(Column("not_migrated", Integer()))
            diffs = await conn.run_sync(_diff, extra)
            assert [d[0] for d in diffs] == ["add_column"]  # type: ignore[index]
        # Upgrading again is a no-op.
        await upgrade_database(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_up_again(empty_database_url: str) -> None:
    await upgrade_database(empty_database_url)  # by URL: engine created and disposed
    engine = create_engine(empty_database_url)
    try:
        await downgrade_database(engine, "base")
        assert await current_revision(engine) is None
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade_database(engine, "head")
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_unknown_revision_is_migration_error(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(MigrationError):
            await upgrade_database(engine, "no-such-revision")
    finally:
        await engine.dispose()


def test_alembic_command_line_uses_env_url(tmp_path: Path) -> None:
    """Developers can run ``alembic`` from the repository root with the env var."""
    db_path = tmp_path / "cli" / "cg.db"
    env = {**os.environ, "CRYPTOGUARD_DATABASE_URL": f"sqlite:///{db_path}"}
    alembic = [sys.executable, "-m", "alembic", "-c", str(REPO_ROOT / "alembic.ini")]
    for args in (["upgrade", "head"], ["check"], ["current"]):
        result = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter
            [*alembic, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
    assert "0003 (head)" in result.stdout
    assert db_path.exists()


async def test_0003_default_depeg_thresholds_follow_the_server(empty_database_url: str) -> None:
    await upgrade_database(empty_database_url, "0002")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            for uid, pct in (("1", 0.5), ("2", 1.5)):
                await conn.execute(
                    text(
                        "INSERT INTO users (platform, platform_user_id, timezone, digest_time, "
                        "digest_enabled, base_currency, depeg_alerts_enabled, "
                        "depeg_threshold_pct, is_admin, reachable, created_at, memory) VALUES "
                        "('telegram', :uid, 'UTC', '09:00:00', false, 'USD', true, "
                        ":pct, false, true, CURRENT_TIMESTAMP, '{}')"
                    ),
                    {"uid": uid, "pct": pct},
                )
        await upgrade_database(engine, "0003")
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT platform_user_id, depeg_threshold_pct FROM users ORDER BY 1")
            )
            found = {uid: pct for uid, pct in rows.all()}
        assert found["1"] is None and float(found["2"]) == 1.5
        await downgrade_database(engine, "0002")
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT depeg_threshold_pct FROM users ORDER BY 1"))
            assert sorted(float(v) for (v,) in rows.all()) == [0.5, 1.5]
    finally:
        await engine.dispose()
