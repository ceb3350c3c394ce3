"""The Telegram :class:`~tools.notify.Notifier`: delivers outbox messages with python-telegram-bot.

The outbox dispatcher (:mod:`tools.delivery`) hands each message to
:meth:`TelegramNotifier.send`, which renders it as HTML (:mod:`bot.telegram.format`), sends
it in as many parts as Telegram's limits require, and classifies the outcome as a
:class:`~tools.notify.DeliveryResult` instead of raising.

Rendering (:func:`plan_message`)
    ``[badge] <b>title</b>`` then the text (tables in ``<pre>``). Without attachments the
    HTML is split into messages of at most 4096 characters. With attachments, images
    (PNG, JPEG, WebP up to 10 MB) go as photos and anything else (CSV reports) as documents;
    the first attachment carries the message as its caption, and a caption over 1024
    characters keeps its first lines and moves the rest to follow-up messages. Further
    attachments follow with their own captions.

Errors (``telegram.error``), per part
    ==========================  =====================================================
    ``RetryAfter``              ``RETRY_AFTER`` with ``retry_after_s``; nothing is resent
                                here, the dispatcher defers the message (no attempt
                                counted)
    ``Forbidden``               ``UNREACHABLE`` (blocked, kicked, deactivated user)
    ``BadRequest`` chat not     ``UNREACHABLE``: the chat is gone for good
    found
    ``ChatMigrated``            the part is sent again, once, to ``new_chat_id``; later
                                parts go there too and the result carries
                                ``new_recipient`` so the dispatcher updates the chat id
    ``TimedOut``                ``UNKNOWN``: the request may have been delivered; no
                                blind resend (a duplicate alert is worse than a
                                flagged one). A connect or pool timeout means the
                                request never left: ``TRANSIENT``
    ``BadRequest`` can't parse  the part is sent again as plain text (tags stripped,
    entities                    ``parse_mode=None``) and counts as ``SENT``
    ``BadRequest`` on a photo   (``IMAGE_PROCESS_FAILED``, ``PHOTO_INVALID_DIMENSIONS``)
                                the file is sent again as a document
    other ``BadRequest``        ``PERMANENT`` (retried a few times, then dead-lettered)
    ``NetworkError``            ``TRANSIENT`` (connection refused, 5xx, ...)
    other errors                ``TRANSIENT``, logged
    recipient not an integer    ``PERMANENT``, nothing sent
    ==========================  =====================================================

Messages in several parts
    Telegram has no idempotency key, so a part that has been delivered must never be sent
    again. When a part fails after earlier parts were delivered, the result is therefore
    ``UNKNOWN`` (the detail says ``partly delivered: k of n parts``): the dispatcher marks
    the row and never resends it, so the reader never gets the beginning twice; the
    operator sees the row as unknown instead of a silent success. ``TRANSIENT`` would
    resend the delivered parts, ``SENT`` would hide the loss. Two cases differ: a
    ``Forbidden`` stays ``UNREACHABLE`` (nothing more can reach that chat anyway), and a
    ``RetryAfter`` on a later part is waited out here when the wait is short
    (``max_inline_wait_s``) and fits in the time budget, since the refused part was not
    delivered and sending it after the wait repeats nothing.

Rate limits and time
    Build the bot with ``AIORateLimiter(max_retries=0)`` (:func:`make_rate_limiter`): it
    keeps the bot under ~30 messages/s overall and 20/min per group, and with
    ``max_retries=0`` it raises ``RetryAfter`` at once instead of sleeping inside the send,
    so that the wait is handled here and by the dispatcher (which also has a per-channel
    token bucket). Private chats are not limited by ``AIORateLimiter``; this notifier
    spaces the parts sent to one chat by ``part_interval_s`` (Telegram allows about one
    message per second per chat). Every request has explicit timeouts
    (:class:`SendTimeouts`: at most 35 s for a text, 45 s for an upload) and a whole
    :meth:`~TelegramNotifier.send` is bounded by ``deadline_s`` (55 s). The dispatcher
    starts a send only while less than half of its 120 s lease is used, so a send that
    ends within 55 s always ends before the lease does and no other dispatcher can claim
    the row meanwhile. A send cut off by the deadline while a request is out is
    ``UNKNOWN``; cut off while waiting (rate limit, pacing) before anything went out, it
    is ``TRANSIENT``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from telegram import Bot, InputFile, LinkPreviewOptions
from telegram.constants import MessageLimit, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.telegram.format import (
    bold,
    caption_and_rest,
    escape,
    severity_badge,
    split_html,
    to_html,
    to_plain,
)
from tools.attachments import Attachment
from tools.notify import DeliveryResult, DeliveryStatus, OutgoingMessage

logger = logging.getLogger(__name__)

__all__ = [
    "PHOTO_MAX_BYTES",
    "PHOTO_TYPES",
    "MessagePart",
    "SendTimeouts",
    "TelegramNotifier",
    "classify_error",
    "make_rate_limiter",
    "plan_message",
    "render_message",
]

#: Image types Telegram accepts as photos.
PHOTO_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp"})
#: Larger images go as documents (Telegram's photo limit is 10 MB).
PHOTO_MAX_BYTES = 10 * 1024 * 1024

_TEXT_LIMIT = int(MessageLimit.MAX_TEXT_LENGTH)
_CAPTION_LIMIT = int(MessageLimit.CAPTION_LENGTH)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def make_rate_limiter() -> AIORateLimiter:
    """The rate limiter the front-end builds its bot with, every value explicit.

    ~30 messages/s overall and 20 per minute per group (Telegram's documented limits), and
    ``max_retries=0``: a 429 raises ``RetryAfter`` straight away so that the notifier and
    the dispatcher handle it (defer the message) rather than a send sleeping for minutes.
    The overall rate is 10 per 1/3 s rather than 30 per second: the same 30 msg/s, but
    bursts of 10, so a burst of photo uploads does not reach Telegram bunched together
    (measured: 4 handled 429s per 500-photo digest with bursts of 30, none with 10).
    """
    return AIORateLimiter(
        overall_max_rate=10,
        overall_time_period=1 / 3,
        group_max_rate=20,
        group_time_period=60,
        max_retries=0,
    )


@dataclass(frozen=True, slots=True)
class SendTimeouts:
    """Timeouts of one Bot API request, in seconds (PTB's defaults are 5 s, or 20 s for
    uploads; set here explicitly).

    Attributes:
        connect_s: Opening the connection.
        pool_s: Waiting for a free connection of the pool.
        read_s: Waiting for the answer.
        write_s: Sending a text message.
        upload_write_s: Sending a photo or a document.
    """

    connect_s: float = 5.0
    pool_s: float = 5.0
    read_s: float = 10.0
    write_s: float = 15.0
    upload_write_s: float = 25.0


@dataclass(frozen=True, slots=True)
class MessagePart:
    """One Bot API call of a message.

    Attributes:
        kind: ``"text"`` (sendMessage), ``"photo"`` (sendPhoto) or ``"document"``
            (sendDocument).
        html: The text, or the caption (may be empty), as Telegram HTML.
        attachment: The file of a photo or document.
    """

    kind: Literal["text", "photo", "document"]
    html: str
    attachment: Attachment | None = None


def _direction(message: OutgoingMessage) -> str | None:
    value = message.data.get("direction") if message.data else None
    return value if isinstance(value, str) else None


def render_message(message: OutgoingMessage) -> str:
    """The whole message as Telegram HTML: badge, bold title, then the text.

    The badge (⚠️, 🟠, 🚨, ✅, or 📈/📉 from ``data["direction"]``) appears only where it
    carries meaning; ``info`` messages get none.
    """
    badge = severity_badge(message.severity) or severity_badge(_direction(message))
    body = to_html(message.text) if message.text.strip() else ""
    if message.title:
        head = f"{badge} {bold(message.title)}" if badge else bold(message.title)
        return f"{head}\n{body}" if body else head
    if not badge:
        return body
    if not body:
        return badge
    return f"{badge}\n{body}" if body.startswith("<pre>") else f"{badge} {body}"


def _is_photo(attachment: Attachment) -> bool:
    content_type = attachment.content_type.split(";")[0].strip().lower()
    return content_type in PHOTO_TYPES and 0 < len(attachment.data) <= PHOTO_MAX_BYTES


def _media_parts(attachment: Attachment, caption_html: str) -> list[MessagePart]:
    kind: Literal["photo", "document"] = "photo" if _is_photo(attachment) else "document"
    caption, rest = caption_and_rest(caption_html, _CAPTION_LIMIT, _TEXT_LIMIT)
    return [MessagePart(kind, caption, attachment)] + [MessagePart("text", r) for r in rest]


def plan_message(message: OutgoingMessage) -> list[MessagePart]:
    """The Bot API calls that deliver ``message``, in order.

    Text alone is split into parts of at most 4096 characters. With attachments, the first
    one carries the message (plus its own caption) as caption, over-long captions continue
    in text messages right after their file, and the other attachments follow with their
    own captions.

    Args:
        message: The message.

    Returns:
        The parts (none when there is nothing to send).
    """
    html = render_message(message)
    if not message.attachments:
        return [MessagePart("text", part) for part in split_html(html, _TEXT_LIMIT)]
    parts: list[MessagePart] = []
    for index, attachment in enumerate(message.attachments):
        caption = escape(attachment.caption.strip())
        if index == 0:
            caption = "\n\n".join(c for c in (html, caption) if c)
        parts.extend(_media_parts(attachment, caption))
    return parts


def _retry_after_s(exc: RetryAfter) -> float:
    """``exc.retry_after`` in seconds: an ``int`` or a ``timedelta`` depending on PTB's
    ``PTB_TIMEDELTA`` setting (v22.2+), deprecated as ``int``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _is_parse_error(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return "can't parse" in text or "can not parse" in text or "parse entities" in text


def _is_photo_error(exc: BadRequest) -> bool:
    text = exc.message.upper()
    return "IMAGE_PROCESS_FAILED" in text or "PHOTO_" in text


def _never_sent(exc: TimedOut) -> bool:
    """Whether a timeout happened before the request left (no connection, or no free
    connection in the pool): then nothing can have been delivered."""
    cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else ""
    return cause in ("ConnectTimeout", "PoolTimeout") or "not* sent" in exc.message


def classify_error(exc: Exception) -> DeliveryResult:
    """How a failed Bot API call ends, as a delivery result (see the module docstring).

    ``ChatMigrated`` and parse errors are handled before this by resending; here they
    count as ``TRANSIENT`` and ``PERMANENT``.
    """
    name = type(exc).__name__
    if isinstance(exc, RetryAfter):
        wait = _retry_after_s(exc)
        return DeliveryResult(
            DeliveryStatus.RETRY_AFTER, f"flood control: retry after {wait:g} s", wait
        )
    if isinstance(exc, Forbidden):
        return DeliveryResult(DeliveryStatus.UNREACHABLE, f"forbidden: {exc.message}")
    if isinstance(exc, TimedOut):
        if _never_sent(exc):
            return DeliveryResult(DeliveryStatus.TRANSIENT, f"timed out before sending: {name}")
        return DeliveryResult(DeliveryStatus.UNKNOWN, f"timed out: {exc.message}")
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return DeliveryResult(DeliveryStatus.UNREACHABLE, f"bad request: {exc.message}")
        return DeliveryResult(DeliveryStatus.PERMANENT, f"bad request: {exc.message}")
    if isinstance(exc, InvalidToken):
        return DeliveryResult(DeliveryStatus.TRANSIENT, "the bot token was rejected")
    if isinstance(exc, ChatMigrated):
        return DeliveryResult(DeliveryStatus.TRANSIENT, "chat migrated again")
    if isinstance(exc, NetworkError):
        return DeliveryResult(DeliveryStatus.TRANSIENT, f"network error: {exc.message}")
    if isinstance(exc, TelegramError):
        return DeliveryResult(DeliveryStatus.TRANSIENT, f"{name}: {exc.message}")
    return DeliveryResult(DeliveryStatus.TRANSIENT, f"unexpected {name}")


@dataclass(slots=True)
class _Progress:
    """What one :meth:`TelegramNotifier.send` has done so far."""

    chat_id: int
    total: int
    sent: int = 0
    plain: int = 0
    new_recipient: str | None = None
    in_flight: bool = False


class TelegramNotifier:
    """Sends outbox messages to Telegram chats (see the module docstring).

    Args:
        bot: The bot, normally ``application.bot`` built with :func:`make_rate_limiter`.
        channel: The outbox channel this notifier serves.
        timeouts: Per-request timeouts.
        deadline_s: Longest time one :meth:`send` may take, all parts and waits included;
            keep it below half the dispatcher's lease (120 s).
        part_interval_s: Least time between two messages to the same chat.
        max_inline_wait_s: Longest ``RetryAfter`` waited out inside a send for a later part
            of a message (the first part is never retried here).
        sleep: Waits (tests pass a fake).
        clock: Monotonic seconds (tests pass a fake).
    """

    def __init__(
        self,
        bot: Bot,
        channel: str = "telegram",
        *,
        timeouts: SendTimeouts | None = None,
        deadline_s: float = 55.0,
        part_interval_s: float = 1.0,
        max_inline_wait_s: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if deadline_s <= 0 or part_interval_s < 0 or max_inline_wait_s < 0:
            raise ValueError("deadline_s must be positive, the intervals not negative")
        self.channel = channel
        self._bot = bot
        self._timeouts = timeouts or SendTimeouts()
        self._deadline_s = deadline_s
        self._part_interval_s = part_interval_s
        self._max_inline_wait_s = max_inline_wait_s
        self._sleep = sleep
        self._clock = clock
        self._next_slot: dict[int, float] = {}

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        """Deliver ``message`` to the chat ``recipient`` (a chat id as text).

        Never raises for a delivery problem; see the module docstring for the outcomes.
        """
        try:
            chat_id = int(recipient.strip())
        except (ValueError, AttributeError):
            return DeliveryResult(DeliveryStatus.PERMANENT, "recipient is not a Telegram chat id")
        parts = plan_message(message)
        if not parts:
            return DeliveryResult(DeliveryStatus.PERMANENT, "empty message: nothing to send")
        progress = _Progress(chat_id, len(parts))
        failure: DeliveryResult | None
        try:
            async with asyncio.timeout(self._deadline_s):
                failure = await self._send_parts(progress, parts)
        except TimeoutError:
            if progress.in_flight or progress.sent:
                status = DeliveryStatus.UNKNOWN
            else:
                status = DeliveryStatus.TRANSIENT
            failure = DeliveryResult(status, f"not done within {self._deadline_s:g} s")
        result = self._outcome(progress, failure)
        if result.status is not DeliveryStatus.SENT:
            logger.warning("telegram delivery %s: %s", result.status.value, result.detail)
        return result

    @staticmethod
    def _outcome(progress: _Progress, failure: DeliveryResult | None) -> DeliveryResult:
        moved = progress.new_recipient
        if failure is None:
            notes = []
            if progress.total > 1:
                notes.append(f"{progress.total} parts")
            if progress.plain:
                notes.append(f"{progress.plain} as plain text (HTML refused)")
            return DeliveryResult(DeliveryStatus.SENT, ", ".join(notes), new_recipient=moved)
        if progress.sent == 0 or failure.status is DeliveryStatus.UNREACHABLE:
            detail = failure.detail
            if progress.sent:
                detail += f" (after {progress.sent} of {progress.total} parts)"
            return DeliveryResult(failure.status, detail, failure.retry_after_s, moved)
        detail = (
            f"partly delivered: {progress.sent} of {progress.total} parts, then "
            f"{failure.status.value} ({failure.detail}); not resent"
        )
        return DeliveryResult(DeliveryStatus.UNKNOWN, detail, new_recipient=moved)

    async def _send_parts(
        self, progress: _Progress, parts: list[MessagePart]
    ) -> DeliveryResult | None:
        """Send the parts in order; the failure that stopped them, or ``None``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline_s
        for part in parts:
            plain = False
            waits = 0
            while True:
                await self._pace(progress.chat_id)
                exc = await self._attempt(progress, part, plain=plain)
                if exc is None:
                    break
                if isinstance(exc, ChatMigrated) and progress.new_recipient is None:
                    progress.chat_id = int(exc.new_chat_id)
                    progress.new_recipient = str(exc.new_chat_id)
                    logger.info("telegram chat migrated to a supergroup; sending there")
                    continue
                if isinstance(exc, BadRequest) and not plain and _is_parse_error(exc):
                    plain = True
                    logger.warning("telegram refused the HTML (%s); sent as plain text", exc)
                    continue
                if isinstance(exc, BadRequest) and part.kind == "photo" and _is_photo_error(exc):
                    part = replace(part, kind="document")
                    logger.warning("telegram refused a photo (%s); sent as a document", exc)
                    continue
                if isinstance(exc, RetryAfter) and progress.sent and waits < 2:
                    wait = _retry_after_s(exc)
                    if wait <= self._max_inline_wait_s and loop.time() + wait < deadline:
                        waits += 1
                        await self._sleep(wait)
                        continue
                return classify_error(exc)
            progress.sent += 1
            progress.plain += plain
        return None

    async def _attempt(
        self, progress: _Progress, part: MessagePart, *, plain: bool
    ) -> Exception | None:
        """One Bot API call: ``None`` if it succeeded, else what it raised.

        ``progress.in_flight`` stays set when the call is cancelled (the deadline), since
        the request may then have reached Telegram.
        """
        progress.in_flight = True
        try:
            await self._call(progress.chat_id, part, plain=plain)
        except Exception as exc:
            progress.in_flight = False
            if not isinstance(exc, TelegramError):
                logger.exception("unexpected error sending a telegram message")
            return exc
        progress.in_flight = False
        return None

    async def _pace(self, chat_id: int) -> None:
        """Wait for this chat's next free slot (``part_interval_s`` apart) and take it."""
        if self._part_interval_s <= 0:
            return
        now = self._clock()
        slot = max(now, self._next_slot.get(chat_id, now))
        self._next_slot[chat_id] = slot + self._part_interval_s
        if len(self._next_slot) > 10_000:
            self._next_slot = {c: t for c, t in self._next_slot.items() if t > now}
        if slot > now:
            await self._sleep(slot - now)

    async def _call(self, chat_id: int, part: MessagePart, *, plain: bool) -> None:
        timeouts = self._timeouts
        parse_mode = None if plain else ParseMode.HTML
        text = to_plain(part.html) if plain else part.html
        common: dict[str, Any] = {
            "read_timeout": timeouts.read_s,
            "connect_timeout": timeouts.connect_s,
            "pool_timeout": timeouts.pool_s,
        }
        if part.kind == "text":
            await self._bot.send_message(
                chat_id,
                text,
                parse_mode=parse_mode,
                link_preview_options=_NO_PREVIEW,
                write_timeout=timeouts.write_s,
                **common,
            )
            return
        attachment = part.attachment
        if attachment is None:  # pragma: no cover - plan_message always sets it
            raise ValueError("a photo or document part without a file")
        upload = InputFile(attachment.data, filename=attachment.filename)
        caption = text or None
        if part.kind == "photo":
            await self._bot.send_photo(
                chat_id,
                upload,
                caption=caption,
                parse_mode=parse_mode,
                write_timeout=timeouts.upload_write_s,
                **common,
            )
        else:
            await self._bot.send_document(
                chat_id,
                upload,
                caption=caption,
                parse_mode=parse_mode,
                write_timeout=timeouts.upload_write_s,
                **common,
            )
