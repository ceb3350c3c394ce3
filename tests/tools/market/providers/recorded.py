"""Recorded provider responses (``tests/fixtures/providers``) and the moment they stand for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "providers"

#: The moment the fixtures were "recorded": 2025-03-01 12:03:17 UTC.
NOW = datetime(2025, 3, 1, 12, 3, 17, tzinfo=UTC)


def fixture_bytes(name: str) -> bytes:
    """Raw bytes of a recorded response under ``tests/fixtures/providers``."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """A recorded JSON response under ``tests/fixtures/providers``."""
    return json.loads(fixture_bytes(name))


def json_response(name: str, status: int = 200, **headers: str) -> httpx.Response:
    """An httpx response carrying a recorded JSON body, as the provider sends it."""
    return httpx.Response(
        status,
        content=fixture_bytes(name),
        headers={"content-type": "application/json; charset=utf-8", **headers},
    )


def html_response(name: str, status: int, **headers: str) -> httpx.Response:
    """An httpx response carrying a recorded HTML error page."""
    return httpx.Response(
        status, content=fixture_bytes(name), headers={"content-type": "text/html", **headers}
    )
