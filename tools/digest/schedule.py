"""When a daily digest is due: local digest times, DST, and "no digest before signing up".

Pure functions over plain values; the sweep (:mod:`tools.digest.service`) applies them to
every candidate user and chat on each run. Due work is derived from the database (the
``digest_log`` row of the user's local date, the outbox key of a chat's date), never from
the time of the last run, so restarts neither lose nor repeat digests.

Rules:

* A user's digest for local date ``D`` is due from ``D`` at their digest time, in their
  timezone, until local midnight. A run that finds it due and not yet recorded sends it
  (a run after a long outage sends today's digest once; missed days are not caught up).
* Daylight-saving changes: a digest time that does not exist that day (02:30 when clocks
  jump from 02:00 to 03:00) is reached at the same UTC instant as the time just before
  the gap (the first instant after it, 03:30 local); a time that exists twice (02:30 when
  clocks go back) is reached at its first occurrence. Either way one digest per local date.
* An account created after today's digest time gets its first digest the next day (a
  user who signs up at 15:00 is not sent the 08:00 digest at 15:01).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_DIGEST_TIME",
    "ChatSchedule",
    "chat_schedule",
    "due_date",
    "local_date",
    "scheduled_at",
    "zone",
]

logger = logging.getLogger(__name__)

#: Digest time when none is set (the issue: "default 08:00 UTC").
DEFAULT_DIGEST_TIME = time(8, 0)
_UTC_ZONE = ZoneInfo("UTC")


@cache
def zone(name: str | None) -> ZoneInfo:
    """The zone called ``name``; UTC (logged once) when it is empty or unknown."""
    if not name:
        return _UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown timezone %r: using UTC", name)
        return _UTC_ZONE


def local_date(now: datetime, tz: ZoneInfo) -> date:
    """The calendar date at ``now`` in ``tz``."""
    return now.astimezone(tz).date()


def scheduled_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local time ``at`` on ``day`` in ``tz`` (``fold=0``, see module)."""
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz).astimezone(UTC)


def due_date(
    now: datetime, tz: ZoneInfo, at: time, *, created_at: datetime | None = None
) -> date | None:
    """The local date whose digest is due at ``now``, or ``None`` if none is due yet.

    Args:
        now: Current time (aware).
        tz: The recipient's timezone.
        at: Local digest time.
        created_at: When the account (or subscription) was created; a digest time
            before that instant is skipped.
    """
    day = local_date(now, tz)
    when = scheduled_at(day, at, tz)
    if now < when:
        return None
    if created_at is not None and created_at > when:
        return None
    return day


@dataclass(frozen=True, slots=True)
class ChatSchedule:
    """When a subscribed group chat gets its daily market digest."""

    at: time
    tz: ZoneInfo


def chat_schedule(params: Mapping[str, object] | None) -> ChatSchedule:
    """Read ``{"time": "HH:MM", "timezone": "Europe/Paris"}`` (both optional) from a
    subscription's params; anything missing or malformed means 08:00 UTC."""
    params = params or {}
    at = DEFAULT_DIGEST_TIME
    raw = params.get("time")
    if isinstance(raw, str):
        try:
            at = time.fromisoformat(raw.strip())
        except ValueError:
            logger.warning("chat digest time %r is not HH:MM: using 08:00", raw)
    tz_name = params.get("timezone") or params.get("tz")
    return ChatSchedule(at, zone(tz_name if isinstance(tz_name, str) else None))


def recent_dates(now: datetime) -> tuple[date, date, date]:
    """The UTC date of ``now`` and the dates either side: every local date somewhere on
    Earth at ``now`` is one of them."""
    today = now.astimezone(UTC).date()
    return today - timedelta(days=1), today, today + timedelta(days=1)
