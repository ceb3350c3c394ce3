"""Fixtures of the agent tests: the application with the offline model, and a speaker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import App, open_app
from bot.settings import Settings
from tools.clock import FakeClock
from tools.identity import ChatRef, UserRef

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


@pytest.fixture
async def app(tmp_path: object, database_url: str) -> AsyncIterator[App]:
    """The application with the offline model, on SQLite and on PostgreSQL."""
    settings = Settings(_env_file=None, market="offline", llm="offline", database_url=database_url)
    async with open_app(settings, clock=FakeClock(NOW), with_agent=True) as application:
        yield application


@pytest.fixture
def me() -> tuple[UserRef, ChatRef]:
    """A new user in their own private chat, per test."""
    ident = str(uuid.uuid4().int % 10**9)
    return UserRef("telegram", ident, "Me"), ChatRef("telegram", int(ident))
