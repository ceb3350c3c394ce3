"""Users: one row per (platform, platform user id)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from storage.models import User
from storage.repositories._base import Repository, dialect_insert, translating

__all__ = ["UserRepository"]

#: Columns ``update()`` may change (identity and creation time are fixed).
UPDATABLE_USER_FIELDS = frozenset(
    {
        "chat_id",
        "display_name",
        "timezone",
        "digest_time",
        "digest_enabled",
        "base_currency",
        "depeg_alerts_enabled",
        "depeg_threshold_pct",
        "is_admin",
        "memory",
        "reachable",
        "unreachable_reason",
        "unreachable_since",
        "last_seen_at",
    }
)


class UserRepository(Repository):
    """Create, find and update users."""

    async def get(self, user_id: int) -> User | None:
        """Return the user with this id, or ``None``."""
        with translating("loading a user"):
            return await self.session.get(User, user_id)

    async def get_by_platform_id(self, platform: str, platform_user_id: str) -> User | None:
        """Return the user known by this platform id, or ``None``."""
        stmt = select(User).where(
            User.platform == platform, User.platform_user_id == platform_user_id
        )
        with translating("loading a user"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_or_create(
        self,
        platform: str,
        platform_user_id: str,
        *,
        display_name: str | None = None,
        chat_id: int | None = None,
        now: datetime,
    ) -> tuple[User, bool]:
        """Return the user for a platform identity, creating it on first contact.

        Safe under concurrent calls for the same identity: the insert is
        ``ON CONFLICT DO NOTHING`` and the row is then read back, so exactly one caller
        gets ``created=True`` and nobody sees a duplicate-key error. For an existing
        user, a changed ``display_name`` or ``chat_id`` (when given) is stored.

        Args:
            platform: ``"telegram"``, ``"discord"``, ``"console"``...
            platform_user_id: The platform's user id as text.
            display_name: Name to show, if known (cut to 255 characters).
            chat_id: Private chat id for delivery, if known.
            now: Current time (creation and last-seen time of a new user).

        Returns:
            ``(user, created)``.
        """
        if display_name is not None:
            display_name = display_name[:255]
        user = await self.get_by_platform_id(platform, platform_user_id)
        if user is None:
            stmt = (
                dialect_insert(self.session, User)
                .values(
                    platform=platform,
                    platform_user_id=platform_user_id,
                    display_name=display_name,
                    chat_id=chat_id,
                    created_at=now,
                    last_seen_at=now,
                )
                .on_conflict_do_nothing(index_elements=["platform", "platform_user_id"])
                .returning(User.id)
            )
            with translating("creating a user"):
                new_id = (await self.session.execute(stmt)).scalar_one_or_none()
            user = await self.get_by_platform_id(platform, platform_user_id)
            if user is None:  # pragma: no cover - the row exists after the upsert
                raise RuntimeError("user row missing after insert")
            if new_id is not None:
                return user, True
        changes: dict[str, Any] = {}
        if display_name is not None and display_name != user.display_name:
            changes["display_name"] = display_name
        if chat_id is not None and chat_id != user.chat_id:
            changes["chat_id"] = chat_id
        await self._update(user, changes, "updating a user")
        return user, False

    async def update(self, user: User, **fields: Any) -> None:
        """Change settings of ``user`` (see :data:`UPDATABLE_USER_FIELDS`).

        Raises:
            ValueError: A field that does not exist or may not be changed.
            NotFoundError: The user was deleted.
        """
        unknown = set(fields) - UPDATABLE_USER_FIELDS
        if unknown:
            raise ValueError(f"cannot update user fields: {', '.join(sorted(unknown))}")
        await self._update(user, fields, "updating a user")

    async def lock(self, user_id: int) -> User | None:
        """Load the user and lock its row until the transaction ends.

        Serialises per-user read-check-write sequences (e.g. the cap on active alerts)
        across processes: ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
        transaction's ``BEGIN IMMEDIATE`` already serialises writers.
        """
        stmt = select(User).where(User.id == user_id).with_for_update()
        with translating("locking a user"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_many(self, user_ids: Sequence[int]) -> dict[int, User]:
        """Users by id (missing ids are left out)."""
        if not user_ids:
            return {}
        stmt = select(User).where(User.id.in_(list(user_ids)))
        with translating("loading users"):
            return {u.id: u for u in (await self.session.scalars(stmt)).all()}

    async def list_depeg_recipients(self) -> Sequence[User]:
        """Reachable users with depeg alerts on, by id (for the depeg monitor's fan-out)."""
        stmt = select(User).where(User.depeg_alerts_enabled.is_(True), User.reachable.is_(True))
        with translating("listing depeg alert users"):
            return (await self.session.scalars(stmt.order_by(User.id))).all()

    async def depeg_thresholds(self) -> list[Decimal | None]:
        """The distinct depeg thresholds of reachable users with depeg alerts on
        (``None`` for users following the server's default)."""
        stmt = (
            select(User.depeg_threshold_pct)
            .where(User.depeg_alerts_enabled.is_(True), User.reachable.is_(True))
            .distinct()
        )
        with translating("listing depeg thresholds"):
            found = {
                None if v is None else Decimal(str(v))
                for v in (await self.session.scalars(stmt)).all()
            }
        return sorted(found, key=lambda v: (v is not None, v or 0))

    async def delete(self, user: User) -> None:
        """Delete the user and everything they own (portfolios, trades, alerts...)."""
        stmt = delete(User).where(User.id == user.id)
        with translating("deleting a user"):
            await self.session.execute(stmt)

    async def touch(self, user: User, now: datetime) -> None:
        """Record that the user was active at ``now``."""
        await self._update(user, {"last_seen_at": now}, "updating a user")

    async def mark_unreachable(self, user: User, reason: str, now: datetime) -> None:
        """Stop delivering to ``user`` (blocked the bot, DMs closed...).

        The first time of unreachability is kept when it is marked again.
        """
        since = user.unreachable_since if not user.reachable else None
        await self._update(
            user,
            {
                "reachable": False,
                "unreachable_reason": reason[:255],
                "unreachable_since": since or now,
            },
            "updating a user",
        )

    async def mark_reachable(self, user: User) -> None:
        """Resume delivering to ``user`` (they wrote to the bot again)."""
        if user.reachable:
            return
        await self._update(
            user,
            {"reachable": True, "unreachable_reason": None, "unreachable_since": None},
            "updating a user",
        )

    async def list_digest_candidates(self, platform: str | None = None) -> Sequence[User]:
        """Users with the daily digest on who can be reached, by id.

        Args:
            platform: Only users of this platform, if given.
        """
        stmt = select(User).where(User.digest_enabled.is_(True), User.reachable.is_(True))
        if platform is not None:
            stmt = stmt.where(User.platform == platform)
        with translating("listing digest users"):
            return (await self.session.scalars(stmt.order_by(User.id))).all()
