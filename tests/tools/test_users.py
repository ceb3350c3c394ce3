"""UserService: registration, admin flag, preference updates with validation."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest

from storage import AuditLogRepository, Database
from tools.clock import FakeClock
from tools.errors import UserInputError
from tools.identity import ChatRef, UserRef
from tools.settings_parse import parse_digest_time, parse_timezone
from tools.users import UserService

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
ALICE = UserRef("telegram", "1001", "Alice")


def users(db: Database) -> UserService:
    return UserService(db, admin_ids=["telegram:1001"], clock=FakeClock(NOW))


async def test_ensure_registers_once_and_sets_admin_from_config(db: Database) -> None:
    service = users(db)
    first = await service.ensure(ALICE, ChatRef("telegram", 1001, private=True))
    again = await service.ensure(ALICE)
    assert first.created and not again.created and first.id == again.id
    assert first.is_admin
    bob = await service.ensure(UserRef("telegram", "1002"))
    assert not bob.is_admin and bob.timezone == "UTC"


async def test_update_settings_applies_all_and_audits(db: Database) -> None:
    service = users(db)
    profile, changes = await service.update_settings(
        ALICE, timezone="tokyo", digest_time="7:30 pm", digest_enabled=True, depeg_threshold="1%"
    )
    assert profile.timezone == "Asia/Tokyo"
    assert profile.digest_time == time(19, 30)
    assert profile.digest_enabled and profile.depeg_threshold_pct == Decimal("1")
    assert len(changes) == 4
    stored = await service.get_profile(ALICE)
    assert stored is not None and stored.timezone == "Asia/Tokyo"
    async with db.transaction() as session:
        audit = await AuditLogRepository(session).list_recent(user_id=profile.id)
    assert [a.action for a in audit] == ["settings.update"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, 'Unknown timezone "Mars/Olympus"'),
        ({"digest_time": "25:00"}, "hours go 0-23"),
        ({"digest_time": "soon"}, "is not a time of day"),
        ({"digest_time": "13pm"}, "not a valid 12-hour time"),
        ({"depeg_threshold": "abc"}, "is not a number"),
        ({"depeg_threshold": "-5"}, "between 0.05% and 50%"),
        ({"depeg_threshold": "1e309"}, "between 0.05% and 50%"),
        ({"depeg_threshold": "NaN"}, "between 0.05% and 50%"),
    ],
)
async def test_invalid_settings_change_nothing(
    db: Database, kwargs: dict[str, object], message: str
) -> None:
    service = users(db)
    await service.update_settings(ALICE, timezone="Europe/Berlin")
    with pytest.raises(UserInputError, match=message):
        await service.update_settings(ALICE, digest_enabled=False, **kwargs)  # type: ignore[arg-type]
    stored = await service.get_profile(ALICE)
    assert stored is not None and stored.timezone == "Europe/Berlin" and stored.digest_enabled


async def test_no_change_is_an_error(db: Database) -> None:
    with pytest.raises(UserInputError, match="Nothing to change"):
        await users(db).update_settings(ALICE)


@pytest.mark.parametrize(
    ("text", "zone"),
    [("Asia/Tokyo", "Asia/Tokyo"), ("new york", "America/New_York"), ("CET", "Europe/Berlin"),
     ("london", "Europe/London"), ("utc", "UTC"), ("america/sao_paulo", "America/Sao_Paulo")],
)  # fmt: skip
def test_timezone_names(text: str, zone: str) -> None:
    assert parse_timezone(text) == zone


@pytest.mark.parametrize(
    ("text", "at"),
    [("07:00", time(7)), ("7am", time(7)), ("12am", time(0)), ("12pm", time(12)),
     ("7:30 PM", time(19, 30)), ("19.30", time(19, 30)), ("0:05", time(0, 5))],
)  # fmt: skip
def test_digest_times(text: str, at: time) -> None:
    assert parse_digest_time(text) == at


async def test_long_term_memory_keeps_favourite_coins(db: Database) -> None:
    service = users(db)
    await service.ensure(ALICE)
    await service.remember_coins(ALICE, ["eth", "BTC"])
    await service.remember_coins(ALICE, ["ETH", "SOL"])
    await service.remember_coins(UserRef("telegram", "nobody"), ["DOGE"])  # unknown user: no-op
    profile = await service.get_profile(ALICE)
    assert profile is not None and profile.favourite_coins == ("ETH", "BTC", "SOL")


def test_outbox_addresses_per_platform() -> None:
    from storage.models import User
    from tools.users import channel_of, chat_recipient, recipient_of

    telegram = User(platform="telegram", platform_user_id="7", chat_id=7)
    discord = User(platform="discord", platform_user_id="1234", chat_id=98765)
    console = User(platform="console", platform_user_id="alice", chat_id=0)
    assert [recipient_of(u) for u in (telegram, discord, console)] == ["7", "1234", "alice"]
    assert [channel_of(u) for u in (telegram, discord, console)] == [
        "telegram",
        "discord",
        "console:alice",
    ]
    assert chat_recipient("discord", 55) == "channel:55"
    assert chat_recipient("telegram", -100123) == "-100123"
