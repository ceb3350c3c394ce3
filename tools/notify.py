"""Outgoing notifications: the message type, the ``Notifier`` protocol, the console notifier.

Alerts, depeg warnings and digests reach people through the transactional outbox: the
change that causes a message writes an outbox row (channel, recipient, JSON payload,
idempotency key) in the same transaction, and the dispatcher (:mod:`tools.delivery`)
turns due rows into :class:`OutgoingMessage` objects and hands them to the
:class:`Notifier` of the row's channel. One notifier exists per channel: the console
(here), the signed webhook (:mod:`tools.webhook`), and Telegram and Discord (in
``bot/``, which implement the same protocol).

Outbox payload (JSON)::

    {"kind": "alert" | "depeg" | "digest" | "notice",
     "text": "plain text, no markup (front-ends format it)",
     "title": "..." | null,
     "severity": "info" | "warning" | "high" | "critical" | "recovered" | null,
     "attachments": [{"path": "...", "filename": "...", "content_type": "...",
                      "caption": "..."}],
     "data": {...structured, optional...}}

A notifier never raises for a delivery problem: it classifies the outcome as a
:class:`DeliveryStatus` and the dispatcher settles the row from that (sent, retried with
backoff, deferred, dead-lettered, or left ``unknown`` and never resent). An exception
escaping a notifier is treated as :attr:`DeliveryStatus.TRANSIENT`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from tools.attachments import Attachment

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "MAX_DETAILED_ITEMS",
    "MAX_MERGED_ATTACHMENTS",
    "SEVERITIES",
    "ConsoleNotifier",
    "DeliveryResult",
    "DeliveryStatus",
    "Notifier",
    "OutgoingMessage",
    "merge_messages",
    "message_from_payload",
    "render_plain",
    "severity_rank",
]

#: Known severities, lowest first (``recovered`` is good news, ranked just above ``info``).
SEVERITIES: tuple[str, ...] = ("info", "recovered", "warning", "high", "critical")
#: Attachments kept in a merged message (Telegram media groups hold at most 10).
MAX_MERGED_ATTACHMENTS = 10
#: Items of a merged message shown in full; the rest get one line each.
MAX_DETAILED_ITEMS = 20
#: Attachment files larger than this are not loaded (platforms refuse them anyway).
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

_KIND_PLURALS = {
    "alert": ("alert", "alerts"),
    "depeg": ("depeg alert", "depeg alerts"),
    "digest": ("digest", "digests"),
    "notice": ("notice", "notices"),
}


class DeliveryStatus(StrEnum):
    """How a delivery attempt ended, as far as the notifier knows.

    * ``SENT``: the platform accepted the message.
    * ``RETRY_AFTER``: throttled; try again after ``retry_after_s`` (not a failed attempt).
    * ``TRANSIENT``: failed, may work later (5xx, network); retried with backoff.
    * ``PERMANENT``: the platform refused this message (400); retried a few times with
      backoff, then dead-lettered.
    * ``UNREACHABLE``: the recipient cannot be reached at all (blocked the bot, DMs
      closed, webhook gone); dead-lettered at once and the user marked unreachable.
    * ``UNKNOWN``: it may or may not have arrived (timed out after sending); never resent
      automatically, since a resend could duplicate it.
    """

    SENT = "sent"
    RETRY_AFTER = "retry_after"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of :meth:`Notifier.send`.

    Attributes:
        status: What happened.
        detail: Operator-facing reason (no message text, no secrets).
        retry_after_s: Seconds to wait, for ``RETRY_AFTER``.
        new_recipient: The recipient's new address when the platform says it moved (a
            Telegram group that became a supergroup); the dispatcher records it.
    """

    status: DeliveryStatus
    detail: str = ""
    retry_after_s: float | None = None
    new_recipient: str | None = None


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to one recipient, independent of the platform.

    Attributes:
        kind: ``"alert"``, ``"depeg"``, ``"digest"``, ``"notice"`` (``"mixed"`` for a
            merged message of several kinds).
        text: Plain text, no markup; each front-end escapes and formats it.
        title: Short headline, if any.
        severity: One of :data:`SEVERITIES`, or ``None``.
        attachments: Files to send along (charts).
        data: Structured details for machine consumers (the webhook); a merged message
            has ``data["items"]``, one entry per original message.
        key: The idempotency key: the outbox row's key, or for a merged message a key
            derived from all of its rows' keys. Channels that support it pass it on
            (the webhook's ``Idempotency-Key``) so the receiver can drop a resend.
        attachment_paths: Where the attachments came from on disk, aligned with
            ``attachments`` (``""`` when unknown), or empty; the console shows them.
    """

    kind: str
    text: str
    title: str | None = None
    severity: str | None = None
    attachments: tuple[Attachment, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None
    attachment_paths: tuple[str, ...] = ()


class Notifier(Protocol):
    """Delivers messages on one channel (``"console"``, ``"telegram"``, ``"webhook"``...).

    ``send`` classifies every delivery problem as a :class:`DeliveryResult` instead of
    raising; it must bound its own time (HTTP timeouts well below the dispatcher's lease).
    """

    channel: str

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        """Deliver ``message`` to ``recipient`` (chat id, user id or URL, as text)."""
        ...


def severity_rank(severity: str | None) -> int:
    """Rank of a severity in :data:`SEVERITIES` (``-1`` for ``None`` or an unknown word)."""
    if severity is None:
        return -1
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return -1


def _text_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def message_from_payload(
    payload: Mapping[str, Any],
    *,
    key: str | None = None,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
) -> OutgoingMessage:
    """Build the message an outbox payload describes, loading attachments from disk.

    Lenient by design (a malformed row must not stop the queue): missing or odd fields
    get defaults, and an attachment whose file is missing, unreadable or too large is
    left out with a note appended to the text.

    Args:
        payload: The outbox row's payload (see the module docstring).
        key: The row's idempotency key.
        max_attachment_bytes: Larger files are left out.

    Returns:
        The message.
    """
    kind = _text_or_none(payload.get("kind")) or "notice"
    text = payload.get("text")
    text = "" if text is None else str(text)
    severity = _text_or_none(payload.get("severity"))
    severity = severity.lower() if severity is not None else None
    data = payload.get("data")
    attachments: list[Attachment] = []
    paths: list[str] = []
    notes: list[str] = []
    raw_attachments = payload.get("attachments") or []
    if not isinstance(raw_attachments, Sequence) or isinstance(raw_attachments, str):
        raw_attachments = []
    for spec in raw_attachments:
        if not isinstance(spec, Mapping):
            continue
        path_text = _text_or_none(spec.get("path"))
        filename = _text_or_none(spec.get("filename"))
        if filename is None:
            filename = Path(path_text).name if path_text else "attachment"
        if path_text is None:
            notes.append(f"(Attachment {filename} is not available.)")
            continue
        path = Path(path_text)
        try:
            size = path.stat().st_size
            if size > max_attachment_bytes:
                notes.append(f"(Attachment {filename} is too large to send.)")
                continue
            content = path.read_bytes()
        except OSError as exc:
            logger.warning("attachment %s not loaded: %s", filename, type(exc).__name__)
            notes.append(f"(Attachment {filename} is no longer available.)")
            continue
        attachments.append(
            Attachment(
                filename=filename,
                content_type=_text_or_none(spec.get("content_type")) or "application/octet-stream",
                data=content,
                caption=str(spec.get("caption") or ""),
            )
        )
        paths.append(str(path))
    if notes:
        text = "\n".join([text, *notes]) if text else "\n".join(notes)
    return OutgoingMessage(
        kind=kind,
        text=text,
        title=_text_or_none(payload.get("title")),
        severity=severity,
        attachments=tuple(attachments),
        data=dict(data) if isinstance(data, Mapping) else {},
        key=key,
        attachment_paths=tuple(paths),
    )


def _merged_key(keys: Sequence[str | None]) -> str | None:
    """A stable key for a merged message: the same rows give the same key."""
    if any(k is None for k in keys):
        return None
    digest = hashlib.sha256("\n".join(sorted(k for k in keys if k)).encode()).hexdigest()
    return f"batch:{digest[:40]}"


def _headline(message: OutgoingMessage) -> str:
    """The one-line summary of a message: its title, or its first line of text."""
    if message.title:
        return message.title
    first = message.text.strip().splitlines()
    return first[0] if first else message.kind


def merge_messages(
    messages: Sequence[OutgoingMessage],
    *,
    max_attachments: int = MAX_MERGED_ATTACHMENTS,
    max_detailed: int = MAX_DETAILED_ITEMS,
) -> OutgoingMessage:
    """Combine several messages for one recipient into one ("3 alerts:" then each).

    The severity is the highest of the parts; attachments are concatenated up to
    ``max_attachments`` (a note says how many were left out); the first
    ``max_detailed`` parts are shown in full, the rest as one line each, so that a burst
    of 200 alerts stays one readable message. ``data["items"]`` lists every part
    (``key``, ``kind``, ``title``, ``text``, ``severity``, ``data``) for machine
    consumers, and ``key`` is derived from the parts' keys.

    Args:
        messages: The parts, in order (at least one).
        max_attachments: Cap on attachments.
        max_detailed: Parts shown in full.

    Returns:
        The merged message (the only part itself when there is one).

    Raises:
        ValueError: No messages.
    """
    if not messages:
        raise ValueError("merge_messages needs at least one message")
    if len(messages) == 1:
        return messages[0]
    kinds = {m.kind for m in messages}
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    singular, plural = _KIND_PLURALS.get(kind, ("message", "messages"))
    count = len(messages)
    title = f"{count} {plural if count != 1 else singular}"
    severity = max((m.severity for m in messages), key=severity_rank)
    blocks: list[str] = [f"{title}:"]
    for index, part in enumerate(messages):
        tag = f"[{part.severity.upper()}] " if part.severity else ""
        if index < max_detailed:
            body = part.text.strip()
            if part.title:
                head = f"{index + 1}. {tag}{part.title}"
                blocks.append(f"{head}\n{body}" if body else head)
            else:
                blocks.append(f"{index + 1}. {tag}{body}")
        else:
            blocks.append(f"{index + 1}. {tag}{_headline(part)}")
    attachments: list[Attachment] = []
    paths: list[str] = []
    any_paths = any(m.attachment_paths for m in messages)
    total_attachments = sum(len(m.attachments) for m in messages)
    for part in messages:
        part_paths = part.attachment_paths or ("",) * len(part.attachments)
        for attachment, path in zip(part.attachments, part_paths, strict=False):
            if len(attachments) < max_attachments:
                attachments.append(attachment)
                paths.append(path)
    if total_attachments > len(attachments):
        blocks.append(f"({total_attachments - len(attachments)} more attachments not included.)")
    items = [
        {
            "key": m.key,
            "kind": m.kind,
            "title": m.title,
            "text": m.text,
            "severity": m.severity,
            "data": dict(m.data),
        }
        for m in messages
    ]
    return OutgoingMessage(
        kind=kind,
        text="\n\n".join(blocks),
        title=title,
        severity=severity,
        attachments=tuple(attachments),
        data={"items": items},
        key=_merged_key([m.key for m in messages]),
        attachment_paths=tuple(paths) if any_paths else (),
    )


def render_plain(message: OutgoingMessage) -> str:
    """Render a message as plain text: ``[SEVERITY] title``, the text, the attachments.

    Args:
        message: The message.

    Returns:
        Text without markup, lines separated by ``\\n``.
    """
    tag = f"[{message.severity.upper()}] " if message.severity else ""
    lines: list[str] = []
    if message.title:
        lines.append(f"{tag}{message.title}")
        if message.text:
            lines.append(message.text)
    else:
        lines.append(f"{tag}{message.text}")
    if message.attachments:
        lines.append("Attachments:")
        paths = message.attachment_paths or ("",) * len(message.attachments)
        for attachment, path in zip(message.attachments, paths, strict=False):
            entry = f"  - {attachment.filename}"
            if path:
                entry += f": {path}"
            if attachment.caption:
                entry += f" ({attachment.caption})"
            lines.append(entry)
    return "\n".join(lines)


class ConsoleNotifier:
    """Prints messages for the console front-end (one local user; the recipient is ignored).

    Args:
        write: Called with the rendered text; the console passes a writer that prints
            above the prompt.
        channel: The channel name this notifier serves.
    """

    def __init__(self, write: Callable[[str], None], channel: str = "console") -> None:
        self._write = write
        self.channel = channel

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        """Write the rendered message; a failing writer (closed terminal) is transient."""
        try:
            self._write(render_plain(message))
        except OSError as exc:
            return DeliveryResult(
                DeliveryStatus.TRANSIENT, f"console write failed: {type(exc).__name__}"
            )
        return DeliveryResult(DeliveryStatus.SENT)
