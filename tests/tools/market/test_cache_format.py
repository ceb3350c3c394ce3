"""The TTL cache (fresh/stale/single-flight) and number formatting."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tools.clock import FakeClock
from tools.market.cache import TTLCache
from tools.market.format import format_age, format_compact, format_money, format_pct, format_price

from .fakes import NOW


def test_entries_expire_but_stay_available_for_fallback() -> None:
    clock = FakeClock(NOW)
    cache: TTLCache[str, int] = TTLCache(60, clock=clock)
    cache.put("a", 1)
    assert cache.get_fresh("a") == 1
    clock.advance(61)
    assert cache.get_fresh("a") is None
    hit = cache.get("a")
    assert hit is not None and hit.value == 1 and not hit.fresh and hit.age_seconds == 61


def test_lru_bound() -> None:
    cache: TTLCache[int, int] = TTLCache(60, max_entries=3, clock=FakeClock(NOW))
    for i in range(5):
        cache.put(i, i)
    assert len(cache) == 3 and cache.get(0) is None and cache.get(4) is not None


async def test_concurrent_loads_share_one_call() -> None:
    cache: TTLCache[str, int] = TTLCache(60, clock=FakeClock(NOW))
    calls = 0
    gate = asyncio.Event()

    async def load() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    tasks = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks) == [42] * 10
    assert calls == 1


async def test_failed_load_caches_nothing_and_propagates() -> None:
    cache: TTLCache[str, int] = TTLCache(60, clock=FakeClock(NOW))

    async def boom() -> int:
        raise RuntimeError("upstream")

    with pytest.raises(RuntimeError):
        await cache.get_or_load("k", boom)
    assert cache.get("k") is None


@pytest.mark.parametrize(
    ("value", "stable", "text"),
    [
        ("95123.456", False, "95,123.46"),
        ("3400.1", False, "3,400.10"),
        ("2.30126", False, "2.3013"),
        ("0.70123", False, "0.7012"),
        ("0.0000123456", False, "0.00001235"),
        ("1.00021", True, "1.0002"),
        ("0.88012", True, "0.8801"),
        ("0", False, "0.00"),
    ],
)
def test_price_precision(value: str, stable: bool, text: str) -> None:
    assert format_price(Decimal(value), stable=stable) == text


def test_money_pct_compact_age() -> None:
    assert format_money(Decimal("-5.5"), "usd") == "-$5.5000"
    assert format_money(Decimal("0.0123"), "btc") == "0.01230 BTC"
    assert format_pct(Decimal("1.234")) == "+1.23%"
    assert format_pct(Decimal("-0.001")) == "+0.00%"
    assert format_pct(None) == "n/a"
    assert format_compact(Decimal("1234567890123")) == "1.23T"
    assert format_compact(Decimal("456789000")) == "456.8M"
    assert format_compact(Decimal("999")) == "999"
    assert format_age(30) == "30 s" and format_age(600) == "10 min" and format_age(7200) == "2 h"
