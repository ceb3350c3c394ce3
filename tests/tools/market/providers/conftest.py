"""Shared fixtures for the provider-client tests: a fake clock, respx, an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx

from tests.tools.market.providers.recorded import NOW
from tools.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at the fixtures' recording time; its ``sleep`` only records delays."""
    return FakeClock(NOW)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """A respx router; unmatched requests fail the test (nothing reaches the network)."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A plain client, as the composition root would hand to a provider client."""
    async with httpx.AsyncClient() as client:
        yield client
