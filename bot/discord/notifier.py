"""The Discord :class:`~tools.notify.Notifier`: delivers outbox messages with discord.py.

The outbox dispatcher (:mod:`tools.delivery`) hands each message to
:meth:`DiscordNotifier.send`, which renders it as embeds (:mod:`bot.discord.format`:
badge and title, the text as markdown with tables in code blocks, coloured by severity or
direction, paginated at Discord's limits, the first image shown inside the embed), sends
the messages in order through the bot's logged-in :class:`discord.Client`, and classifies
the outcome as a :class:`~tools.notify.DeliveryResult` instead of raising.

Recipients (the outbox row's ``recipient``)
    ==================  ========================================================
    ``"<id>"``          a Discord user: a DM (``POST /users/@me/channels`` once, then
                        the DM channel). This is what :func:`tools.users.recipient_of`
                        gives for a Discord user (their ``platform_user_id``, or their
                        ``chat_id`` when the front-end recorded one). When Discord says
                        the id is no user (404 ``10013``, 400 ``50033``/``50035`` on
                        ``recipient_id``), it is taken for a channel id (a DM channel
                        recorded as ``chat_id``, or a subscribed channel) and
                        remembered as one.
    ``"user:<id>"``     a Discord user, never a channel.
    ``"channel:<id>"``  a channel: a subscribed server channel, a thread, or a DM
                        channel. Use it for chat subscriptions (:func:`channel_recipient`)
                        so that no probe is needed.
    ==================  ========================================================

Every message is sent with ``AllowedMentions.none()``: an alert label or coin name
containing ``@everyone``, ``<@id>`` or ``<@&role>`` pings nobody. Every part carries a
``nonce`` derived from the message's idempotency key with ``enforce_nonce`` (discord.py
sets it with the nonce), so a resend of the same part within Discord's nonce window (a
few minutes), including discord.py's own retries after a 5xx, returns the message
already created instead of posting it twice.

Errors
    ===================================  =============================================
    ``RateLimited`` (a bucket or global  ``RETRY_AFTER`` with its ``retry_after``; the
    limit longer than                    dispatcher defers the message (no attempt
    ``max_ratelimit_timeout``)           counted). Shorter waits are slept by discord.py's
                                         own rate limiter inside the send
    429 without ``Via`` (Cloudflare ban  ``RETRY_AFTER`` (``Retry-After`` or 30 minutes)
    after too many invalid requests)
    ``Forbidden`` ``50007`` (DMs         ``UNREACHABLE``: the user is marked unreachable,
    closed, no shared server, blocked)   no retries
    other ``Forbidden`` to a channel     ``UNREACHABLE``: the bot lost access (50001) or
    (``50001``, ``50013``...)            permission (50013); retrying only adds invalid
                                         requests. Only that row is dead-lettered (a
                                         channel is nobody's personal address)
    other ``Forbidden`` to a user        ``PERMANENT`` (a few attempts, then dead)
    ``NotFound`` ``10003``/``10013``     ``UNREACHABLE`` (channel or user deleted)
    other ``NotFound``                   ``PERMANENT``
    400 ``50035`` on an embed message    sent again once as plain content (nothing was
                                         posted) when it is the first part; else
                                         ``PERMANENT``
    other 4xx                            ``PERMANENT``; 401 (token revoked) ``TRANSIENT``
    ``DiscordServerError`` (5xx after    ``TRANSIENT``
    discord.py's retries)
    timeout while a message was being    ``UNKNOWN`` (it may have arrived; never resent
    posted                               automatically)
    connection refused, timeout before   ``TRANSIENT``
    any message was posted
    client not logged in / closed        ``TRANSIENT``
    recipient not an id                  ``PERMANENT``, nothing sent
    ===================================  =============================================

    A message of several parts that fails after some parts were delivered is ``UNKNOWN``
    ("partly delivered"), as on Telegram: a resend would repeat the delivered parts.
    ``UNREACHABLE`` stays ``UNREACHABLE``.

Invalid requests
    Discord bans an IP for a while after 10,000 invalid requests (401, 403, 429) in 10
    minutes. Recipients found unreachable are remembered for ``unreachable_ttl_s`` (an
    hour; :meth:`DiscordNotifier.forget` clears one, for a user who shows up again) and
    answered ``UNREACHABLE`` without a request; the dispatcher also skips users marked
    unreachable. Long rate limits are never retried blindly: they come back as
    ``RETRY_AFTER``.

Rate limits and time
    discord.py handles the per-route buckets and global limits itself (it reads the
    ``X-RateLimit-*`` headers and sleeps). Its ``max_ratelimit_timeout`` makes it raise
    ``RateLimited`` instead of sleeping longer than that; the front-end builds its client
    with ``max_ratelimit_timeout=MAX_RATELIMIT_TIMEOUT_S`` (30 s, the smallest value
    discord.py accepts), and this notifier sets it on a client that has none (rate-limit
    buckets created before keep their own setting: construct the notifier before
    logging in). A whole :meth:`~DiscordNotifier.send` is bounded by ``deadline_s`` (55 s,
    below half the dispatcher's 120 s lease).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import aiohttp
import discord

from bot.discord.format import DiscordMessage, render_messages
from tools.attachments import Attachment
from tools.notify import DeliveryResult, DeliveryStatus, OutgoingMessage, render_plain

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_RATELIMIT_TIMEOUT_S",
    "DiscordAddress",
    "DiscordNotifier",
    "channel_recipient",
    "classify_error",
    "parse_recipient",
    "plain_plan",
    "plan_message",
    "user_recipient",
]

#: Longest rate-limit wait discord.py may sleep inside a send (its minimum is 30 s).
MAX_RATELIMIT_TIMEOUT_S = 30.0
#: When a Cloudflare ban (429 without ``Via``) names no wait.
_BAN_WAIT_S = 1800.0
_NO_MENTIONS = discord.AllowedMentions.none()
_NOT_A_USER = frozenset({10013, 50033, 50035})
_GONE = frozenset({10003, 10013})
_MAX_SNOWFLAKE = 2**64

Target = Literal["user", "channel"]


@dataclass(frozen=True, slots=True)
class DiscordAddress:
    """A parsed recipient: ``kind`` is ``user``, ``channel`` or ``auto`` (a bare id: a user
    first, a channel if Discord says it is no user)."""

    kind: Literal["user", "channel", "auto"]
    id: int


def parse_recipient(recipient: str) -> DiscordAddress | None:
    """``"<id>"``, ``"user:<id>"`` or ``"channel:<id>"`` as an address; ``None`` if invalid."""
    text = recipient.strip() if isinstance(recipient, str) else ""
    kind: Literal["user", "channel", "auto"] = "auto"
    prefix, sep, rest = text.partition(":")
    if sep:
        if prefix.lower() == "user":
            kind = "user"
        elif prefix.lower() == "channel":
            kind = "channel"
        else:
            return None
        text = rest.strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    if not 0 < value < _MAX_SNOWFLAKE:
        return None
    return DiscordAddress(kind, value)


def user_recipient(user_id: int | str) -> str:
    """The outbox recipient for a DM to a user."""
    return str(int(user_id))


def channel_recipient(channel_id: int | str) -> str:
    """The outbox recipient for a post to a channel (a subscribed server channel)."""
    return f"channel:{int(channel_id)}"


def _direction(message: OutgoingMessage) -> str | None:
    value = message.data.get("direction") if message.data else None
    return value if isinstance(value, str) else None


def _with_captions(message: OutgoingMessage) -> str:
    captions = [a.caption.strip() for a in message.attachments if a.caption.strip()]
    if not captions:
        return message.text
    return "\n\n".join(part for part in (message.text.strip(), "\n".join(captions)) if part)


def plan_message(message: OutgoingMessage) -> list[DiscordMessage]:
    """The Discord messages that deliver ``message``, in order (embed layout).

    Badge and title, the text (tables in code blocks) and the attachments' captions as the
    description, coloured by severity or ``data["direction"]``; paginated at the embed
    limits; the files (at most 10 per message) with the last message, the first image
    shown inside its last embed.
    """
    return render_messages(
        _with_captions(message),
        message.attachments,
        title=message.title,
        severity=message.severity,
        direction=_direction(message),
        embed=True,
    )


def plain_plan(message: OutgoingMessage) -> list[DiscordMessage]:
    """The fallback without embeds: ``[SEVERITY] title`` and the text as content."""
    text = render_plain(replace(message, attachments=(), attachment_paths=()))
    captions = [a.caption.strip() for a in message.attachments if a.caption.strip()]
    if captions:
        text = "\n\n".join([text, "\n".join(captions)])
    return render_messages(text, message.attachments, embed=False)


def _retry_after_header(exc: discord.HTTPException) -> float | None:
    headers = getattr(exc.response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def classify_error(exc: BaseException, *, target: Target, in_flight: bool) -> DeliveryResult:
    """How a failed request ends, as a delivery result (see the module docstring).

    Args:
        exc: What the request raised.
        target: Whether it went to a user's DM or to a channel.
        in_flight: A message was being posted (it may have arrived).
    """
    name = type(exc).__name__
    if isinstance(exc, discord.RateLimited):
        wait = float(exc.retry_after)
        return DeliveryResult(DeliveryStatus.RETRY_AFTER, f"rate limited for {wait:g} s", wait)
    if isinstance(exc, discord.Forbidden):
        detail = f"forbidden ({exc.code}): {exc.text}"
        if exc.code == 50007 or target == "channel":
            return DeliveryResult(DeliveryStatus.UNREACHABLE, detail)
        return DeliveryResult(DeliveryStatus.PERMANENT, detail)
    if isinstance(exc, discord.NotFound):
        status = DeliveryStatus.UNREACHABLE if exc.code in _GONE else DeliveryStatus.PERMANENT
        return DeliveryResult(status, f"not found ({exc.code}): {exc.text}")
    if isinstance(exc, discord.DiscordServerError):
        return DeliveryResult(DeliveryStatus.TRANSIENT, f"server error {exc.status}")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429:
            wait = _retry_after_header(exc) or _BAN_WAIT_S
            return DeliveryResult(
                DeliveryStatus.RETRY_AFTER,
                f"blocked by Cloudflare (429): retry after {wait:g} s",
                wait,
            )
        if exc.status == 401:
            return DeliveryResult(DeliveryStatus.TRANSIENT, "the bot token was rejected (401)")
        if exc.status >= 500:
            return DeliveryResult(DeliveryStatus.TRANSIENT, f"server error {exc.status}")
        return DeliveryResult(
            DeliveryStatus.PERMANENT, f"refused ({exc.status}, {exc.code}): {exc.text}"[:500]
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        return DeliveryResult(DeliveryStatus.TRANSIENT, f"cannot connect: {name}")
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError):
        if in_flight:
            return DeliveryResult(DeliveryStatus.UNKNOWN, f"no answer to a message post: {name}")
        return DeliveryResult(DeliveryStatus.TRANSIENT, f"network error: {name}")
    return DeliveryResult(DeliveryStatus.TRANSIENT, f"unexpected {name}")


def _nonce(key: str | None, index: int, layout: str) -> str:
    """A nonce for one part (at most 25 characters): the same for the same row and part,
    so that Discord drops a resend within its nonce window."""
    if key is None:
        return secrets.token_hex(12)
    return hashlib.sha256(f"{key}|{layout}|{index}".encode()).hexdigest()[:25]


def _files(attachments: tuple[Attachment, ...]) -> list[discord.File]:
    return [
        discord.File(
            io.BytesIO(a.data), filename=a.filename, description=a.caption.strip()[:1024] or None
        )
        for a in attachments
    ]


@dataclass(slots=True)
class _Progress:
    """What one :meth:`DiscordNotifier.send` has done so far."""

    total: int
    sent: int = 0
    plain: bool = False
    in_flight: bool = False


class DiscordNotifier:
    """Sends outbox messages as Discord DMs and channel posts (see the module docstring).

    Args:
        client: The front-end's client; it must be logged in (``client.login``) before the
            first send. The gateway connection is not needed.
        channel: The outbox channel this notifier serves.
        deadline_s: Longest time one :meth:`send` may take; below half the dispatcher's
            lease (120 s).
        max_ratelimit_timeout_s: Set on the client's HTTP client when it has no
            ``max_ratelimit_timeout`` or a longer one (discord.py's minimum is 30 s).
        unreachable_ttl_s: How long a recipient found unreachable is answered from memory,
            without a request.
        clock: Monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        client: discord.Client,
        channel: str = "discord",
        *,
        deadline_s: float = 55.0,
        max_ratelimit_timeout_s: float = MAX_RATELIMIT_TIMEOUT_S,
        unreachable_ttl_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if deadline_s <= 0 or unreachable_ttl_s < 0:
            raise ValueError("deadline_s must be positive and unreachable_ttl_s not negative")
        self.channel = channel
        self._client = client
        self._deadline_s = deadline_s
        self._unreachable_ttl_s = unreachable_ttl_s
        self._clock = clock
        self._unreachable: dict[str, tuple[float, str]] = {}
        self._channel_ids: set[int] = set()
        limit = max(30.0, max_ratelimit_timeout_s)
        current = client.http.max_ratelimit_timeout
        if current is None or current > limit:
            client.http.max_ratelimit_timeout = limit
            logger.info(
                "discord: rate limits longer than %g s now raise RateLimited (were %s)",
                limit,
                "slept out" if current is None else f"slept up to {current:g} s",
            )

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        """Deliver ``message`` to ``recipient`` (see the module docstring for the scheme).

        Never raises for a delivery problem.
        """
        address = parse_recipient(recipient)
        if address is None:
            return DeliveryResult(
                DeliveryStatus.PERMANENT, "recipient is not a Discord user or channel id"
            )
        remembered = self._remembered(recipient)
        if remembered is not None:
            return remembered
        if self._client.is_closed() or self._client.user is None:
            return DeliveryResult(DeliveryStatus.TRANSIENT, "the Discord client is not logged in")
        parts = plan_message(message)
        if not parts:
            return DeliveryResult(DeliveryStatus.PERMANENT, "empty message: nothing to send")
        progress = _Progress(len(parts))
        failure: DeliveryResult | None
        try:
            async with asyncio.timeout(self._deadline_s):
                failure = await self._deliver(address, message, parts, progress)
        except TimeoutError:
            if progress.in_flight or progress.sent:
                status = DeliveryStatus.UNKNOWN
            else:
                status = DeliveryStatus.TRANSIENT
            failure = DeliveryResult(status, f"not done within {self._deadline_s:g} s")
        result = self._outcome(progress, failure)
        if result.status is DeliveryStatus.UNREACHABLE:
            self._remember(recipient, result.detail)
        if result.status is not DeliveryStatus.SENT:
            logger.warning("discord delivery %s: %s", result.status.value, result.detail)
        return result

    def forget(self, recipient: str) -> None:
        """Drop what is remembered about ``recipient`` being unreachable (the user talked
        to the bot again, so their DMs may be open)."""
        self._unreachable.pop(recipient, None)

    # ------------------------------------------------------------------ internals

    def _remembered(self, recipient: str) -> DeliveryResult | None:
        entry = self._unreachable.get(recipient)
        if entry is None:
            return None
        until, detail = entry
        if self._clock() >= until:
            del self._unreachable[recipient]
            return None
        return DeliveryResult(DeliveryStatus.UNREACHABLE, f"{detail} (remembered, not retried)")

    def _remember(self, recipient: str, detail: str) -> None:
        if self._unreachable_ttl_s <= 0:
            return
        now = self._clock()
        if len(self._unreachable) >= 10_000:
            self._unreachable = {r: e for r, e in self._unreachable.items() if e[0] > now}
        self._unreachable[recipient] = (now + self._unreachable_ttl_s, detail)

    @staticmethod
    def _outcome(progress: _Progress, failure: DeliveryResult | None) -> DeliveryResult:
        if failure is None:
            notes = []
            if progress.total > 1:
                notes.append(f"{progress.total} parts")
            if progress.plain:
                notes.append("as plain text (embeds refused)")
            return DeliveryResult(DeliveryStatus.SENT, ", ".join(notes))
        if progress.sent == 0 or failure.status is DeliveryStatus.UNREACHABLE:
            detail = failure.detail
            if progress.sent:
                detail += f" (after {progress.sent} of {progress.total} parts)"
            return DeliveryResult(failure.status, detail, failure.retry_after_s)
        detail = (
            f"partly delivered: {progress.sent} of {progress.total} parts, then "
            f"{failure.status.value} ({failure.detail}); not resent"
        )
        return DeliveryResult(DeliveryStatus.UNKNOWN, detail)

    async def _target(
        self, address: DiscordAddress
    ) -> tuple[discord.abc.Messageable, Target] | DeliveryResult:
        """Where to post: a DM channel (created once) or a channel; or why not."""
        client = self._client
        if address.kind == "channel" or (
            address.kind == "auto"
            and (address.id in self._channel_ids or client.get_channel(address.id) is not None)
        ):
            return client.get_partial_messageable(address.id), "channel"
        try:
            dm = await client.create_dm(discord.Object(id=address.id))
        except discord.HTTPException as exc:
            if address.kind == "auto" and exc.status < 500 and exc.code in _NOT_A_USER:
                if len(self._channel_ids) >= 100_000:
                    self._channel_ids.clear()
                self._channel_ids.add(address.id)
                logger.info(
                    "discord: recipient %s is no user; posting to it as a channel", address.id
                )
                return client.get_partial_messageable(address.id), "channel"
            return classify_error(exc, target="user", in_flight=False)
        except Exception as exc:
            if not isinstance(exc, discord.DiscordException | aiohttp.ClientError | OSError):
                logger.exception("unexpected error opening a discord DM channel")
            return classify_error(exc, target="user", in_flight=False)
        return dm, "user"

    async def _deliver(
        self,
        address: DiscordAddress,
        message: OutgoingMessage,
        parts: list[DiscordMessage],
        progress: _Progress,
    ) -> DeliveryResult | None:
        """Send the parts in order; the failure that stopped them, or ``None``."""
        found = await self._target(address)
        if isinstance(found, DeliveryResult):
            return found
        target, kind = found
        index = 0
        while index < len(parts):
            layout = "plain" if progress.plain else "embed"
            exc = await self._attempt(
                progress, target, parts[index], _nonce(message.key, index, layout)
            )
            if exc is None:
                progress.sent += 1
                index += 1
                continue
            if (
                progress.sent == 0
                and not progress.plain
                and isinstance(exc, discord.HTTPException)
                and exc.status == 400
                and exc.code == 50035
            ):
                fallback = plain_plan(message)
                if fallback:
                    logger.warning("discord refused the embeds (%s); sending plain text", exc.text)
                    progress.plain = True
                    parts = fallback
                    progress.total = len(parts)
                    continue
            if isinstance(exc, _InFlightError):
                return classify_error(exc.cause, target=kind, in_flight=True)
            return classify_error(exc, target=kind, in_flight=False)
        return None

    async def _attempt(
        self,
        progress: _Progress,
        target: discord.abc.Messageable,
        part: DiscordMessage,
        nonce: str,
    ) -> BaseException | None:
        """One message post: ``None`` if it succeeded, else what it raised (a timeout or a
        connection dropped mid-request is classified here, while it is known to be in
        flight). ``progress.in_flight`` stays set when the post is cancelled (the
        deadline), since the request may then have reached Discord."""
        kwargs: dict[str, Any] = {
            "content": part.content,
            "allowed_mentions": _NO_MENTIONS,
            "nonce": nonce,
        }
        if part.embeds:
            kwargs["embeds"] = list(part.embeds)
        if part.files:
            kwargs["files"] = _files(part.files)
        progress.in_flight = True
        try:
            await target.send(**kwargs)
        except Exception as exc:
            progress.in_flight = False
            if isinstance(exc, discord.HTTPException | discord.RateLimited):
                return exc
            if not isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
                logger.exception("unexpected error sending a discord message")
            return _InFlightError(exc)
        progress.in_flight = False
        return None


class _InFlightError(Exception):
    """A network failure while a message post was out (it may have arrived)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause
