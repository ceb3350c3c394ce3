"""Parsing and validating user preferences: timezones, digest times, depeg thresholds.

Each parser accepts what people type ("Tokyo", "cet", "7am", "19:30", "0.5%") and
raises :class:`UserInputError` with a precise message otherwise.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal, InvalidOperation
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from tools.errors import UserInputError

#: Common names and abbreviations people use for zones, mapped to IANA names.
ZONE_ALIASES: dict[str, str] = {
    "utc": "UTC", "gmt": "Etc/GMT", "z": "UTC", "cet": "Europe/Paris", "cest": "Europe/Paris",
    "bst": "Europe/London", "est": "America/New_York", "edt": "America/New_York",
    "cst": "America/Chicago", "cdt": "America/Chicago", "mst": "America/Denver",
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul", "ist": "Asia/Kolkata", "aest": "Australia/Sydney",
    "new york": "America/New_York", "nyc": "America/New_York",
    "los angeles": "America/Los_Angeles", "san francisco": "America/Los_Angeles",
    "sf": "America/Los_Angeles", "la": "America/Los_Angeles",
    "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata", "india": "Asia/Kolkata",
    "beijing": "Asia/Shanghai", "hong kong": "Asia/Hong_Kong", "sydney": "Australia/Sydney",
    "moscow": "Europe/Moscow", "dubai": "Asia/Dubai", "sao paulo": "America/Sao_Paulo",
}  # fmt: skip
MIN_DEPEG_PCT = Decimal("0.05")
MAX_DEPEG_PCT = Decimal("50")
_TIME = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")


@cache
def _zones_by_key() -> dict[str, str]:
    """Lower-case lookup keys (full name and city part) to IANA names."""
    out: dict[str, str] = {}
    for name in available_timezones():
        out.setdefault(name.lower(), name)
        city = name.rsplit("/", 1)[-1].replace("_", " ").lower()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/")):
            out.setdefault(city, name)
    return out


def parse_timezone(text: str) -> str:
    """Return the IANA name for ``text`` ("Asia/Tokyo", "tokyo", "CET", "new york")."""
    key = " ".join(str(text).strip().replace("_", " ").split()).lower()
    name = ZONE_ALIASES.get(key) or _zones_by_key().get(key) or _zones_by_key().get(
        key.replace(" ", "_")
    )
    if name is None:
        shown = str(text).strip()[:40]
        raise UserInputError(
            f'Unknown timezone "{shown}". Use a region/city name like Europe/Berlin or Asia/Tokyo.'
        )
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError as exc:  # listed but not loadable on this system
        raise UserInputError(f'Timezone "{name}" is not available on this server.') from exc
    return name


def parse_digest_time(text: str) -> time:
    """Return the time of day for "07:00", "7am", "7:30 pm", "19.30"."""
    raw = str(text).strip().lower()
    match = _TIME.match(raw)
    if match is None:
        raise UserInputError(f'"{raw[:20]}" is not a time of day. Use HH:MM, like 07:00 or 19:30.')
    hour, minute, meridiem = int(match[1]), int(match[2] or 0), match[3]
    if meridiem:
        if not 1 <= hour <= 12:
            raise UserInputError(f'"{raw[:20]}" is not a valid 12-hour time.')
        hour = hour % 12 + (12 if meridiem.startswith("p") else 0)
    if hour > 23 or minute > 59:
        raise UserInputError(f'"{raw[:20]}" is not a valid time; hours go 0-23, minutes 0-59.')
    return time(hour, minute)


def parse_depeg_threshold(value: object) -> Decimal:
    """Return a depeg threshold in percent (0.05 to 50) from 0.5, "0.5", "0.5%"."""
    text = str(value).strip().rstrip("%").strip()
    try:
        pct = Decimal(text)
    except InvalidOperation:
        raise UserInputError(
            f'"{str(value)[:20]}" is not a number. Give the threshold in percent, like 0.5.'
        ) from None
    if not pct.is_finite() or not MIN_DEPEG_PCT <= pct <= MAX_DEPEG_PCT:
        raise UserInputError(
            f"The depeg threshold must be between {MIN_DEPEG_PCT}% and {MAX_DEPEG_PCT}%."
        )
    return pct.normalize()
