"""Defensive converters from provider JSON to project values.

Upstream JSON is untrusted: a price may be ``null``, a string, ``NaN`` (Python's ``json``
accepts it), negative or missing. These helpers return ``None`` for anything unusable and
leave it to the caller to skip and log; shape errors of a whole document raise
:class:`~tools.market.providers.http.MalformedResponseError`. Numbers arrive as ``Decimal``
(``request_json`` decodes fractions that way) or ``int``; a stray ``float`` goes through
``Decimal(str(x))``. No float arithmetic touches a price.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from tools.market.providers.http import MalformedResponseError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def json_number(value: object) -> Decimal | None:
    """Return a finite JSON number as ``Decimal``, else ``None``.

    Accepts ``int``, ``Decimal`` (how :func:`request_json` decodes fractions) and ``float``
    (via ``Decimal(str(x))``); rejects ``bool``, NaN and infinities. Strings are rejected on
    purpose: these providers send prices as numbers, so a string means the field is not
    what we think it is.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(str(value))
    return None


def positive_number(value: object) -> Decimal | None:
    """Like :func:`json_number` but also ``None`` for zero and negative values."""
    number = json_number(value)
    return number if number is not None and number > 0 else None


def numeric_text(value: object) -> Decimal | None:
    """Return a finite number given as text or as a JSON number (Binance sends strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return json_number(value)
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def from_unix_seconds(value: object) -> datetime | None:
    """Return an aware UTC datetime from Unix seconds, or ``None`` when unusable."""
    number = json_number(value)
    if number is None and isinstance(value, str) and value.strip().isdigit():
        number = Decimal(value.strip())
    if number is None:
        return None
    return _after_epoch(number * 1000)


def from_unix_ms(value: object) -> datetime | None:
    """Return an aware UTC datetime from Unix milliseconds, or ``None`` when unusable."""
    number = json_number(value)
    return None if number is None else _after_epoch(number)


def _after_epoch(milliseconds: Decimal) -> datetime | None:
    """Exact ``epoch + ms`` (to the microsecond); ``None`` if negative or out of range."""
    if milliseconds < 0:
        return None
    try:
        micros = int(milliseconds * 1000)
        return _EPOCH + timedelta(microseconds=micros)
    except (OverflowError, ValueError):
        return None


def from_iso(value: object) -> datetime | None:
    """Parse an ISO-8601 timestamp (``2024-04-07T16:49:31.736Z``) as aware UTC, or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def expect_dict(data: object, provider: str, what: str) -> dict[str, Any]:
    """Return ``data`` if it is a JSON object, else raise :class:`MalformedResponseError`."""
    if not isinstance(data, dict):
        raise MalformedResponseError(provider, f"{what}: expected an object, got {_kind(data)}")
    return data


def expect_list(data: object, provider: str, what: str) -> list[Any]:
    """Return ``data`` if it is a JSON array, else raise :class:`MalformedResponseError`."""
    if not isinstance(data, list):
        raise MalformedResponseError(provider, f"{what}: expected an array, got {_kind(data)}")
    return data


def _kind(data: object) -> str:
    return "null" if data is None else type(data).__name__
