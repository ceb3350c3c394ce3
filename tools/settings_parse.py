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
    "abu dhabi": "Asia/Dubai", "aedt": "Australia/Sydney", "aest": "Australia/Sydney",
    "alaska": "America/Anchorage", "argentina": "America/Argentina/Buenos_Aires",
    "atlanta": "America/New_York", "austin": "America/Chicago", "australia": "Australia/Sydney",
    "austria": "Europe/Vienna", "bangalore": "Asia/Kolkata", "barcelona": "Europe/Madrid",
    "beijing": "Asia/Shanghai", "bengaluru": "Asia/Kolkata", "boston": "America/New_York",
    "brazil": "America/Sao_Paulo", "britain": "Europe/London", "bst": "Europe/London",
    "buenos aires": "America/Argentina/Buenos_Aires", "california": "America/Los_Angeles",
    "canada": "America/Toronto", "canberra": "Australia/Sydney",
    "cape town": "Africa/Johannesburg", "cdt": "America/Chicago", "central": "America/Chicago",
    "central european": "Europe/Berlin", "cest": "Europe/Berlin", "cet": "Europe/Berlin",
    "china": "Asia/Shanghai", "cologne": "Europe/Berlin", "cst": "America/Chicago",
    "dallas": "America/Chicago", "dc": "America/New_York", "delhi": "Asia/Kolkata",
    "dubai": "Asia/Dubai", "eastern": "America/New_York", "edinburgh": "Europe/London",
    "edt": "America/New_York", "eest": "Europe/Athens", "eet": "Europe/Athens",
    "egypt": "Africa/Cairo", "england": "Europe/London", "est": "America/New_York",
    "et": "America/New_York", "france": "Europe/Paris", "frankfurt": "Europe/Berlin",
    "geneva": "Europe/Zurich", "germany": "Europe/Berlin", "gmt": "UTC",
    "hamburg": "Europe/Berlin", "hanoi": "Asia/Bangkok", "hawaii": "Pacific/Honolulu",
    "hk": "Asia/Hong_Kong", "hkt": "Asia/Hong_Kong", "hong kong": "Asia/Hong_Kong",
    "houston": "America/Chicago", "india": "Asia/Kolkata", "indonesia": "Asia/Jakarta",
    "ireland": "Europe/Dublin", "israel": "Asia/Jerusalem", "ist": "Asia/Kolkata",
    "italy": "Europe/Rome", "japan": "Asia/Tokyo", "jst": "Asia/Tokyo", "kenya": "Africa/Nairobi",
    "kiev": "Europe/Kyiv", "korea": "Asia/Seoul", "kst": "Asia/Seoul", "la": "America/Los_Angeles",
    "los angeles": "America/Los_Angeles", "manchester": "Europe/London", "mdt": "America/Denver",
    "mexico": "America/Mexico_City", "miami": "America/New_York", "milan": "Europe/Rome",
    "montreal": "America/Toronto", "moscow": "Europe/Moscow", "mountain": "America/Denver",
    "mst": "America/Denver", "mumbai": "Asia/Kolkata", "munich": "Europe/Berlin",
    "netherlands": "Europe/Amsterdam", "new delhi": "Asia/Kolkata", "new york": "America/New_York",
    "new zealand": "Pacific/Auckland", "nigeria": "Africa/Lagos", "nyc": "America/New_York",
    "nz": "Pacific/Auckland", "osaka": "Asia/Tokyo", "ottawa": "America/Toronto",
    "pacific": "America/Los_Angeles", "pakistan": "Asia/Karachi", "pdt": "America/Los_Angeles",
    "philippines": "Asia/Manila", "poland": "Europe/Warsaw", "portugal": "Europe/Lisbon",
    "pst": "America/Los_Angeles", "pt": "America/Los_Angeles", "rio": "America/Sao_Paulo",
    "rio de janeiro": "America/Sao_Paulo", "russia": "Europe/Moscow",
    "san francisco": "America/Los_Angeles", "sao paulo": "America/Sao_Paulo",
    "seattle": "America/Los_Angeles", "sf": "America/Los_Angeles", "sgt": "Asia/Singapore",
    "shenzhen": "Asia/Shanghai", "silicon valley": "America/Los_Angeles",
    "south africa": "Africa/Johannesburg", "south korea": "Asia/Seoul", "spain": "Europe/Madrid",
    "switzerland": "Europe/Zurich", "sydney": "Australia/Sydney", "taiwan": "Asia/Taipei",
    "tel aviv": "Asia/Jerusalem", "thailand": "Asia/Bangkok", "turkey": "Europe/Istanbul",
    "uae": "Asia/Dubai", "uk": "Europe/London", "ukraine": "Europe/Kyiv", "universal": "UTC",
    "utc": "UTC", "vietnam": "Asia/Ho_Chi_Minh", "washington": "America/New_York",
    "wet": "Europe/Lisbon", "z": "UTC", "zulu": "UTC",
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
    name = (
        ZONE_ALIASES.get(key)
        or _zones_by_key().get(key)
        or _zones_by_key().get(key.replace(" ", "_"))
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
