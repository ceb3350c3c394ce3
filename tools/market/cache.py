"""An in-memory TTL cache that remembers expired values for outage fallback.

``cachetools.TTLCache`` drops entries when they expire; CryptoGuard needs the opposite
during a provider outage: serve the last value it had, labelled with its age. Entries
are therefore kept past their TTL (bounded by ``max_entries``, least recently used
evicted first) and reads say whether the value is fresh and how old it is. Concurrent
loads of one key share a single upstream call.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from tools.clock import Clock, SystemClock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheHit(Generic[V]):
    """A cached value with its age in seconds and whether it is still within its TTL."""

    value: V
    stored_at: datetime
    age_seconds: float
    fresh: bool


class TTLCache(Generic[K, V]):
    """A bounded TTL cache that keeps stale entries for fallback.

    Args:
        ttl_seconds: How long a stored value counts as fresh.
        max_entries: Upper bound on stored keys (LRU eviction).
        clock: Time source.
    """

    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 10_000, clock: Clock | None = None
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock or SystemClock()
        self._data: OrderedDict[K, tuple[V, datetime]] = OrderedDict()
        self._inflight: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._data)

    def put(self, key: K, value: V, *, stored_at: datetime | None = None) -> None:
        """Store ``value`` under ``key`` (optionally with an older timestamp, e.g. from disk)."""
        self._data[key] = (value, stored_at or self._clock.now())
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def get(self, key: K) -> CacheHit[V] | None:
        """Return the entry for ``key``, fresh or not, or ``None`` if never stored."""
        entry = self._data.get(key)
        if entry is None:
            return None
        value, stored_at = entry
        age = (self._clock.now() - stored_at).total_seconds()
        return CacheHit(value, stored_at, age, age <= self.ttl_seconds)

    def get_fresh(self, key: K) -> V | None:
        """Return the value for ``key`` only if it is within its TTL."""
        hit = self.get(key)
        return hit.value if hit is not None and hit.fresh else None

    async def get_or_load(self, key: K, loader: Callable[[], Awaitable[V]]) -> V:
        """Return a fresh value, loading it once even when many callers ask at the same time.

        Errors from ``loader`` propagate to every waiting caller; nothing is cached then.
        """
        fresh = self.get_fresh(key)
        if fresh is not None:
            return fresh
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await loader()
        except BaseException as exc:
            future.set_exception(exc)
            # Mark the exception retrieved so asyncio does not warn when nobody else waited.
            future.exception()
            raise
        else:
            self.put(key, value)
            future.set_result(value)
            return value
        finally:
            del self._inflight[key]
