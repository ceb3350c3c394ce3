"""Concurrent across chats, in order within a chat.

python-telegram-bot handles one update at a time unless ``concurrent_updates`` is set,
and with it set, updates of one chat may overtake each other. This processor runs
updates of different chats concurrently (up to ``max_concurrent_updates``) while each
chat's updates run one after another in arrival order, so one slow agent turn never
blocks other users and a user's "buy" never overtakes the "sell" they sent first.

An update first waits for its chat's turn and only then takes one of the
``max_concurrent_updates`` slots: a chat with a long backlog (a user sending fifty
messages during one slow agent turn) holds one slot, not fifty, so it can never starve
the other chats. python-telegram-bot's ``BaseUpdateProcessor.process_update`` (final)
takes its own slot *before* ``do_process_update``, so the base class gets a limit that
is never reached (:data:`BACKLOG`) and the real limit is applied here, after the chat's
turn. (The application starts a task per update either way; the base limit would only
have bounded how many of them wait.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

#: The base class's own limit: updates waiting for their chat's turn or running.
BACKLOG = 1_000_000


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (``None`` for updates without one)."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Serialises updates per chat; different chats run concurrently.

    Args:
        max_concurrent_updates: Updates processed at once across all chats.
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be a positive integer")
        super().__init__(BACKLOG)
        #: Updates processed at once (the base class's ``max_concurrent_updates`` is
        #: :data:`BACKLOG`, see the module docstring).
        self.slots = max_concurrent_updates
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run ``coroutine`` after the earlier updates of the same chat, in a free slot.

        The chat's turn comes first and the slot second (see the module docstring).
        ``asyncio.Lock`` wakes its waiters in the order they came, and the application
        starts one task per update in arrival order, so a chat's updates run in order.
        """
        key = chat_key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock, self._slots:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # forget idle chats (bounded memory)
                del self._waiting[key]
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release (running updates finish on their own)."""
