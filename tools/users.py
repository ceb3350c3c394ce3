"""``UserService``: registering users on first contact and reading their profile.

Identity always comes from the front-end's platform object (``UserRef``); nothing
here accepts a user id from message text or model output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from decimal import Decimal

from storage import AuditLogRepository, Database, UserRepository
from storage.models import User
from tools.clock import Clock, SystemClock
from tools.errors import UserInputError
from tools.identity import ChatRef, UserRef
from tools.settings_parse import parse_depeg_threshold, parse_digest_time, parse_timezone


@dataclass(frozen=True, slots=True)
class UserProfile:
    """What the services need to know about a user (a snapshot, safe to pass around)."""

    id: int
    platform: str
    platform_user_id: str
    display_name: str | None
    timezone: str
    base_currency: str
    digest_time: time
    digest_enabled: bool
    depeg_alerts_enabled: bool
    depeg_threshold_pct: Decimal
    is_admin: bool
    favourite_coins: tuple[str, ...] = ()
    webhook_url: str | None = None
    created: bool = False


class UserService:
    """Users as the platforms identify them.

    Args:
        db: The database.
        admin_ids: ``platform:user-id`` strings granted admin rights by configuration.
        clock: Time source.
        webhooks: Whether this server signs and sends webhooks (a secret is configured).
        default_depeg_pct: The depeg threshold of users who never chose one.
    """

    def __init__(
        self,
        db: Database,
        *,
        admin_ids: list[str] | None = None,
        clock: Clock | None = None,
        webhooks: bool = False,
        default_depeg_pct: Decimal = Decimal("0.5"),
    ):
        self._db = db
        self._webhooks = webhooks
        self._default_depeg = default_depeg_pct
        self._admins = set(admin_ids or [])
        self._clock = clock or SystemClock()

    async def ensure(self, user: UserRef, chat: ChatRef | None = None) -> UserProfile:
        """Register ``user`` on first contact, record activity, and return the profile.

        A message in a private chat also makes an unreachable user (who had blocked the
        bot) reachable again.
        """
        now = self._clock.now()
        chat_id = chat.chat_id if chat is not None and chat.private else None
        async with self._db.transaction() as session:
            repo = UserRepository(session)
            row, created = await repo.get_or_create(
                user.platform,
                user.platform_user_id,
                display_name=user.display_name,
                chat_id=chat_id,
                now=now,
            )
            is_admin = f"{user.platform}:{user.platform_user_id}" in self._admins
            if row.is_admin != is_admin:
                await repo.update(row, is_admin=is_admin)
            if chat_id is not None and not row.reachable:
                # They wrote to the bot in private again (unblocked it): deliver again.
                await repo.mark_reachable(row)
            await repo.touch(row, now)
            return _profile(row, created, self._default_depeg)

    async def update_settings(
        self,
        user: UserRef,
        *,
        timezone: str | None = None,
        digest_time: str | None = None,
        digest_enabled: bool | None = None,
        depeg_threshold: object | None = None,
    ) -> tuple[UserProfile, list[str]]:
        """Validate and apply preference changes; nothing is stored if any value is invalid.

        Returns:
            The updated profile and one sentence per change.

        Raises:
            UserInputError: No change given, or an invalid value (with the reason).
        """
        fields: dict[str, object] = {}
        changes: list[str] = []
        if timezone is not None:
            fields["timezone"] = zone = parse_timezone(timezone)
            changes.append(f"Timezone set to {zone}.")
        if digest_time is not None:
            fields["digest_time"] = at = parse_digest_time(digest_time)
            changes.append(f"Daily digest time set to {at:%H:%M}.")
        if digest_enabled is not None:
            fields["digest_enabled"] = bool(digest_enabled)
            changes.append("Daily digest " + ("enabled." if digest_enabled else "disabled."))
        if depeg_threshold is not None:
            fields["depeg_threshold_pct"] = pct = parse_depeg_threshold(depeg_threshold)
            changes.append(f"Default depeg alert threshold set to {pct}%.")
        if not fields:
            raise UserInputError(
                "Nothing to change. You can set your timezone, digest time, digest on/off "
                "and default depeg threshold."
            )
        now = self._clock.now()
        async with self._db.transaction() as session:
            repo = UserRepository(session)
            row, created = await repo.get_or_create(
                user.platform, user.platform_user_id, display_name=user.display_name, now=now
            )
            await repo.update(row, **fields)
            await AuditLogRepository(session).record(
                "settings.update",
                user_id=row.id,
                details={k: str(v) for k, v in fields.items()},
                now=now,
            )
            return _profile(row, created, self._default_depeg), changes

    async def set_depeg_alerts(self, user: UserRef, enabled: bool) -> tuple[UserProfile, list[str]]:
        """Turn the user's default stablecoin depeg alerts on or off.

        Returns:
            The updated profile and one sentence saying what changed.
        """
        now = self._clock.now()
        async with self._db.transaction() as session:
            repo = UserRepository(session)
            row, created = await repo.get_or_create(
                user.platform, user.platform_user_id, display_name=user.display_name, now=now
            )
            await repo.update(row, depeg_alerts_enabled=bool(enabled))
            await AuditLogRepository(session).record(
                "settings.update",
                user_id=row.id,
                details={"depeg_alerts_enabled": str(bool(enabled))},
                now=now,
            )
            word = "enabled" if enabled else "disabled"
            return _profile(row, created, self._default_depeg), [f"Stablecoin depeg alerts {word}."]

    async def set_webhook(self, user: UserRef, url: str | None) -> tuple[UserProfile, list[str]]:
        """Also send the user's alerts to their own HTTPS endpoint, as JSON signed with
        HMAC-SHA256 (``None`` stops it). Kept in the user's long-term memory.

        Raises:
            UserInputError: Not an ``https://`` URL (plain http only to localhost).
        """
        from tools.webhook import validate_webhook_url

        if url is not None and not self._webhooks:
            raise UserInputError(
                "Webhook delivery is not enabled on this server: its operator has to set "
                "CRYPTOGUARD_DELIVERY__WEBHOOK_SECRET first."
            )
        checked = validate_webhook_url(url) if url is not None else None
        now = self._clock.now()
        async with self._db.transaction() as session:
            repo = UserRepository(session)
            found, created = await repo.get_or_create(
                user.platform, user.platform_user_id, display_name=user.display_name, now=now
            )
            row = await repo.lock(found.id) or found
            memory = dict(row.memory or {})
            if checked is None:
                memory.pop(WEBHOOK_KEY, None)
            else:
                memory[WEBHOOK_KEY] = checked
            await repo.update(row, memory=memory)
            await AuditLogRepository(session).record(
                "settings.webhook",
                user_id=row.id,
                details={"enabled": str(checked is not None)},
                now=now,
            )
            change = (
                f"Alerts will also be posted to {checked} (signed JSON)."
                if checked
                else "Webhook delivery turned off."
            )
            return _profile(row, created, self._default_depeg), [change]

    async def remember_coins(self, user: UserRef, symbols: list[str]) -> None:
        """Count coins the user asked about, so the assistant knows their favourites."""
        wanted = [s.upper() for s in symbols if s and len(s) <= 20]
        if not wanted:
            return
        async with self._db.transaction() as session:
            repo = UserRepository(session)
            found = await repo.get_by_platform_id(user.platform, user.platform_user_id)
            row = await repo.lock(found.id) if found is not None else None
            if row is None:
                return
            memory = dict(row.memory or {})
            counts = {str(k): int(v) for k, v in dict(memory.get("coins") or {}).items()}
            for symbol in wanted:
                counts[symbol] = counts.get(symbol, 0) + 1
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:MAX_REMEMBERED_COINS]
            memory["coins"] = dict(top)
            await repo.update(row, memory=memory)

    async def forget(self, user: UserRef) -> bool:
        """Delete a user and everything they stored (throwaway users of ``ask --batch``).

        Returns:
            Whether there was such a user.
        """
        async with self._db.transaction() as session:
            repo = UserRepository(session)
            row = await repo.get_by_platform_id(user.platform, user.platform_user_id)
            if row is None:
                return False
            await repo.delete(row)
            return True

    async def get_profile(self, user: UserRef) -> UserProfile | None:
        """The stored profile of ``user``, or ``None`` if they never used CryptoGuard."""
        async with self._db.transaction(readonly=True) as session:
            row = await UserRepository(session).get_by_platform_id(
                user.platform, user.platform_user_id
            )
            return None if row is None else _profile(row, False, self._default_depeg)


#: Where a user's webhook URL is kept in their long-term memory.
WEBHOOK_KEY = "webhook_url"


def webhook_of(user: User) -> str | None:
    """The user's webhook URL, if they set one."""
    url = (user.memory or {}).get(WEBHOOK_KEY)
    return url if isinstance(url, str) and url else None


def channel_of(user: User) -> str:
    """The outbox channel that reaches ``user``: their platform, except on the console,
    where each local account has its own channel (served only by a console process of
    that account, so a message is never shown to, or lost on, another user's terminal)."""
    if user.platform == "console":
        return f"console:{user.platform_user_id}"
    return user.platform


def recipient_of(user: User) -> str:
    """Where pushed messages for ``user`` go on their platform (the outbox recipient).

    Their private chat with the bot when known, else their platform id. Console users
    all share chat 0, so they are told apart by their platform id; Discord messages a
    user by their user id (the DM channel is opened on demand).
    """
    if user.platform in ("console", "discord") or user.chat_id is None:
        return user.platform_user_id
    return str(user.chat_id)


def chat_recipient(platform: str, chat_id: int) -> str:
    """The outbox recipient of a subscribed group chat or channel (Discord channels are
    marked, since a bare Discord id would be taken for a user)."""
    return f"channel:{chat_id}" if platform == "discord" else str(chat_id)


def _profile(row: User, created: bool, default_depeg: Decimal) -> UserProfile:
    return UserProfile(
        id=row.id,
        platform=row.platform,
        platform_user_id=row.platform_user_id,
        display_name=row.display_name,
        timezone=row.timezone,
        base_currency=row.base_currency,
        digest_time=row.digest_time,
        digest_enabled=row.digest_enabled,
        depeg_alerts_enabled=row.depeg_alerts_enabled,
        depeg_threshold_pct=(
            row.depeg_threshold_pct if row.depeg_threshold_pct is not None else default_depeg
        ),
        is_admin=row.is_admin,
        favourite_coins=favourites(row.memory),
        webhook_url=webhook_of(row),
        created=created,
    )


#: How many coin mentions the long-term memory keeps (the most frequent win).
MAX_REMEMBERED_COINS = 20


def favourites(memory: dict[str, object] | None, limit: int = 5) -> tuple[str, ...]:
    """The user's most asked-about coins, from their long-term memory."""
    counts = (memory or {}).get("coins")
    if not isinstance(counts, dict):
        return ()
    ranked = sorted(counts.items(), key=lambda kv: (-int(kv[1]), kv[0]))
    return tuple(str(symbol) for symbol, _ in ranked[:limit])
