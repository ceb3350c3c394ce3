"""Group chats and channels subscribed to depeg alerts and the daily market digest.

Only the front-end knows whether the person asking may change a group's settings (a
Telegram group admin, a Discord member with Manage Server); it checks that with the
platform before calling here. The person is recorded with the subscription.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage import AuditLogRepository, ChatSubscriptionRepository, Database, UserRepository
from tools.clock import Clock, SystemClock
from tools.errors import UserInputError
from tools.identity import ChatRef, UserRef

#: What a chat can subscribe to, with the words users read.
KINDS: dict[str, str] = {
    "depeg": "stablecoin depeg alerts",
    "digest": "the daily market digest",
}


@dataclass(frozen=True, slots=True)
class ChatSubscriptions:
    """What a chat is subscribed to."""

    chat: ChatRef
    kinds: tuple[str, ...]


def parse_kind(text: str) -> str:
    """``"depeg"`` or ``"digest"`` (a few synonyms accepted).

    Raises:
        UserInputError: Anything else.
    """
    word = text.strip().lower()
    aliases = {"depegs": "depeg", "stablecoins": "depeg", "digests": "digest", "daily": "digest"}
    kind = aliases.get(word, word)
    if kind not in KINDS:
        raise UserInputError(
            f'"{text.strip()[:20]}" is not something a chat can subscribe to; '
            "choose depeg or digest."
        )
    return kind


class SubscriptionService:
    """Subscribe group chats and channels to depeg alerts and digests.

    Args:
        db: The database.
        clock: Time source.
    """

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    async def subscribe(self, chat: ChatRef, kind: str, by: UserRef) -> str:
        """Subscribe ``chat`` (the caller checked ``by`` may do so); idempotent."""
        chosen = parse_kind(kind)
        now = self._clock.now()
        async with self._db.transaction() as session:
            user, _ = await UserRepository(session).get_or_create(
                by.platform, by.platform_user_id, display_name=by.display_name, now=now
            )
            _, created = await ChatSubscriptionRepository(session).subscribe(
                chat.platform, chat.chat_id, chosen, created_by_user_id=user.id, now=now
            )
            if created:
                await AuditLogRepository(session).record(
                    "chat.subscribe",
                    user_id=user.id,
                    details={"chat": str(chat.chat_id), "kind": chosen},
                    now=now,
                )
        if not created:
            return f"This chat already gets {KINDS[chosen]}."
        return f"This chat now gets {KINDS[chosen]}."

    async def unsubscribe(self, chat: ChatRef, kind: str, by: UserRef) -> str:
        """Remove a subscription of ``chat`` (the caller checked ``by`` may do so)."""
        chosen = parse_kind(kind)
        now = self._clock.now()
        async with self._db.transaction() as session:
            removed = await ChatSubscriptionRepository(session).unsubscribe(
                chat.platform, chat.chat_id, chosen
            )
            if removed:
                user, _ = await UserRepository(session).get_or_create(
                    by.platform, by.platform_user_id, display_name=by.display_name, now=now
                )
                await AuditLogRepository(session).record(
                    "chat.unsubscribe",
                    user_id=user.id,
                    details={"chat": str(chat.chat_id), "kind": chosen},
                    now=now,
                )
        if not removed:
            return f"This chat was not subscribed to {KINDS[chosen]}."
        return f"This chat no longer gets {KINDS[chosen]}."

    async def list(self, chat: ChatRef) -> ChatSubscriptions:
        """What ``chat`` is subscribed to."""
        async with self._db.transaction(readonly=True) as session:
            repo = ChatSubscriptionRepository(session)
            kinds = [
                kind
                for kind in KINDS
                if await repo.get(chat.platform, chat.chat_id, kind) is not None
            ]
        return ChatSubscriptions(chat, tuple(kinds))
