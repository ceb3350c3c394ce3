"""Helpers for driving :class:`bot.telegram.bot.TelegramFrontEnd` against the fake Bot API.

The real python-telegram-bot runs inside the test's event loop and talks HTTP to
:mod:`tests.telegram.fake_bot_api`; the application is the offline one (simulated market,
offline agent, a temporary database). Nothing here sleeps: every wait is on the fake
server's record of calls (``wait_for``) or on an event the test controls.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from agents.service import AgentReply
from bot.app import App, open_app
from bot.settings import Settings
from bot.telegram.bot import TelegramFrontEnd, WebhookOptions
from storage.models import User
from tests.telegram.fake_bot_api import MESSAGE_METHODS, FakeBotApi, SentMessage, tg_len
from tools.clock import FakeClock
from tools.identity import ChatRef, UserRef

#: The application's (simulated) time at the start of every test.
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
#: Telegram's longest message.
TEXT_LIMIT = 4096


def sqlite_copy(template: Path, target: Path) -> str:
    """A fresh copy of the migrated SQLite template; its URL."""
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{template}{suffix}")
        if source.exists():
            shutil.copyfile(source, Path(f"{target}{suffix}"))
    return f"sqlite+aiosqlite:///{target}"


@contextlib.asynccontextmanager
async def offline_app(
    database_url: str, data_dir: Path, *, clock: FakeClock | None = None, agent: bool = True
) -> AsyncIterator[App]:
    """The application on the offline market (and offline agent), at :data:`NOW`."""
    settings = Settings(
        _env_file=None,
        market="offline",
        llm="offline",
        database_url=database_url,
        data_dir=data_dir,
    )
    async with open_app(settings, clock=clock or FakeClock(NOW), with_agent=agent) as app:
        yield app


@contextlib.asynccontextmanager
async def running_frontend(
    app: App,
    server: FakeBotApi,
    *,
    token: str | None = None,
    webhook: WebhookOptions | None = None,
    part_interval_s: float = 0.0,
    poll_timeout_s: float = 2.0,
    wait_polling: bool = True,
) -> AsyncIterator[TelegramFrontEnd]:
    """A started front-end pointed at ``server``; stopped on exit.

    ``part_interval_s=0``: no per-chat pacing (the tests send little to each chat, and
    the fake still answers 429 if a test overdoes it).
    """
    frontend = TelegramFrontEnd(
        app,
        token or server.token,
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        webhook=webhook,
        part_interval_s=part_interval_s,
        poll_timeout_s=poll_timeout_s,
    )
    try:
        await frontend.start()
        if webhook is None and wait_polling:
            await server.wait_until_polling()
        yield frontend
    finally:
        await frontend.stop()


def sent_messages(server: FakeBotApi, chat_id: int) -> list[SentMessage]:
    """New messages (sendMessage, sendPhoto, sendDocument) the bot sent to ``chat_id``."""
    return server.messages_to(chat_id, methods=MESSAGE_METHODS)


async def exchange(
    server: FakeBotApi,
    chat_id: int,
    inject: Callable[[], object],
    *,
    count: int = 1,
    within: float = 10.0,
) -> list[SentMessage]:
    """Inject an update (``inject()``) and return the ``count`` (or more) new messages to
    ``chat_id`` that follow it."""
    before = len(sent_messages(server, chat_id))
    inject()
    await server.wait_for(
        lambda: len(sent_messages(server, chat_id)) >= before + count,
        within=within,
        what=f"{count} new message(s) to chat {chat_id}",
    )
    return sent_messages(server, chat_id)[before:]


def assert_valid_telegram_html(messages: Sequence[SentMessage]) -> None:
    """Every message went as HTML and within Telegram's limits (the fake server parsed the
    HTML as Telegram does: a message it accepted is valid)."""
    for message in messages:
        assert message.parse_mode == "HTML", message
        body = message.text if message.method == "sendMessage" else message.caption
        limit = TEXT_LIMIT if message.method == "sendMessage" else 1024
        assert body is not None and 0 < tg_len(message.rendered or "") <= limit
        assert tg_len(body) <= limit


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed_users(app: App, first_id: int, count: int, **fields: Any) -> list[int]:
    """``count`` Telegram users in their private chats (ids ``first_id`` on), created two
    days before :data:`NOW`, written in one statement; their chat ids."""
    created = NOW - timedelta(days=2)
    ids = list(range(first_id, first_id + count))
    rows = [
        {
            "platform": "telegram",
            "platform_user_id": str(i),
            "chat_id": i,
            "created_at": created,
            "last_seen_at": created,
            **fields,
        }
        for i in ids
    ]
    async with app.db.transaction() as session:
        await session.execute(insert(User), rows)
    return ids


@dataclass
class StubAgent:
    """Stands in for ``AgentService``: answers ``reply(text)`` after ``gate`` (if any)
    opens, and records each turn's start, so tests decide how long a turn takes."""

    answer: Callable[[str], str] = lambda text: f"You said: {text}"
    gates: dict[int, asyncio.Event] = field(default_factory=dict)
    started: list[tuple[int, str]] = field(default_factory=list)
    turn_started: asyncio.Event = field(default_factory=asyncio.Event)

    async def reply(self, user: UserRef, chat: ChatRef, text: str) -> AgentReply:
        self.started.append((chat.chat_id, text))
        self.turn_started.set()
        gate = self.gates.get(chat.chat_id)
        if gate is not None:
            await gate.wait()
        return AgentReply(self.answer(text))

    async def reset(self, user: UserRef, chat: ChatRef) -> None:
        return None
