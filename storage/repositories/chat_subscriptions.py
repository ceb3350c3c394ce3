"""Group chats and channels subscribed to depeg alerts or digests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from storage.models import ChatSubscription
from storage.repositories._base import Repository, dialect_insert, translating

__all__ = ["ChatSubscriptionRepository"]


class ChatSubscriptionRepository(Repository):
    """Subscribe and unsubscribe chats; list them per kind."""

    async def get(self, platform: str, chat_id: int, kind: str) -> ChatSubscription | None:
        """Return the subscription of a chat to ``kind``, or ``None``."""
        stmt = select(ChatSubscription).where(
            ChatSubscription.platform == platform,
            ChatSubscription.chat_id == chat_id,
            ChatSubscription.kind == kind,
        )
        with translating("loading a chat subscription"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def subscribe(
        self,
        platform: str,
        chat_id: int,
        kind: str,
        *,
        created_by_user_id: int | None = None,
        params: Mapping[str, Any] | None = None,
        now: datetime,
    ) -> tuple[ChatSubscription, bool]:
        """Subscribe a chat to ``kind`` (``"depeg"``, ``"digest"``); idempotent.

        Returns:
            ``(subscription, created)``; an existing subscription is returned unchanged.
        """
        stmt = (
            dialect_insert(self.session, ChatSubscription)
            .values(
                platform=platform,
                chat_id=chat_id,
                kind=kind,
                created_by_user_id=created_by_user_id,
                params=dict(params or {}),
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["platform", "chat_id", "kind"])
            .returning(ChatSubscription.id)
        )
        with translating("subscribing a chat"):
            new_id = (await self.session.execute(stmt)).scalar_one_or_none()
        row = await self.get(platform, chat_id, kind)
        if row is None:  # pragma: no cover - the row exists after the upsert
            raise RuntimeError("subscription row missing after insert")
        return row, new_id is not None

    async def unsubscribe(self, platform: str, chat_id: int, kind: str) -> bool:
        """Remove a subscription; ``True`` if there was one."""
        stmt = (
            delete(ChatSubscription)
            .where(
                ChatSubscription.platform == platform,
                ChatSubscription.chat_id == chat_id,
                ChatSubscription.kind == kind,
            )
            .returning(ChatSubscription.id)
        )
        with translating("unsubscribing a chat"):
            return (await self.session.execute(stmt)).first() is not None

    async def list_by_kind(
        self, kind: str, platform: str | None = None
    ) -> Sequence[ChatSubscription]:
        """All chats subscribed to ``kind`` (optionally on one platform), by id."""
        stmt = select(ChatSubscription).where(ChatSubscription.kind == kind)
        if platform is not None:
            stmt = stmt.where(ChatSubscription.platform == platform)
        with translating("listing chat subscriptions"):
            return (await self.session.scalars(stmt.order_by(ChatSubscription.id))).all()

    async def migrate_chat(self, platform: str, old_chat_id: int, new_chat_id: int) -> int:
        """Move subscriptions to a new chat id (a Telegram group became a supergroup).

        Kinds the new chat already has are dropped from the old chat instead.

        Returns:
            The number of subscriptions moved.
        """
        existing = select(ChatSubscription.kind).where(
            ChatSubscription.platform == platform, ChatSubscription.chat_id == new_chat_id
        )
        old = (ChatSubscription.platform == platform, ChatSubscription.chat_id == old_chat_id)
        with translating("moving chat subscriptions"):
            await self.session.execute(
                delete(ChatSubscription).where(*old, ChatSubscription.kind.in_(existing))
            )
            moved = await self.session.execute(
                update(ChatSubscription)
                .where(*old)
                .values(chat_id=new_chat_id)
                .returning(ChatSubscription.id)
            )
            return len(moved.all())
