"""Symbol resolution: tickers and names ("btc", "Bitcoin", "ether") to coin ids.

The index starts from the embedded catalogue and grows with every coin list the
market returns (``add``). Lookup order: coin id, alias, ticker, name, then the market's
search. A ticker shared by several coins resolves to the largest by market cap and the
result says which coin was used and which others exist. Unknown input raises
:class:`UnknownSymbolError` with near matches (``difflib``). Misses are cached briefly
so a typo does not cost an upstream search every time.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tools.clock import Clock, SystemClock
from tools.errors import InvalidSymbolError, MarketDataUnavailableError, UnknownSymbolError
from tools.market.base import MarketData
from tools.market.cache import TTLCache
from tools.market.catalog import ALIASES, COINS, STABLECOIN_RANKS, STABLECOINS
from tools.market.types import CoinRef

logger = logging.getLogger(__name__)

_VALID = re.compile(r"^[a-z0-9][a-z0-9 .\-_]{0,39}$")
_UNRANKED = 10**9


@dataclass(frozen=True, slots=True)
class Resolution:
    """The coin a piece of user text resolved to.

    Attributes:
        query: The text as given.
        coin: The coin used.
        alternatives: Other coins sharing the ticker (largest first), when ambiguous.
    """

    query: str
    coin: CoinRef
    alternatives: tuple[CoinRef, ...] = field(default=())

    @property
    def note(self) -> str | None:
        """A sentence saying which coin an ambiguous ticker was taken as, else ``None``."""
        if not self.alternatives:
            return None
        others = ", ".join(f"{c.name} ({c.id})" for c in self.alternatives[:3])
        return (
            f"{self.coin.symbol} is ambiguous: used {self.coin.name}, the largest by market cap."
            f" Others: {others}; ask by name or id for those."
        )


def normalise(text: str) -> str:
    """Lower-case, trim and drop a leading ``$`` (``" $BTC "`` -> ``"btc"``)."""
    return text.strip().lstrip("$").strip().lower()


def embedded_coins() -> list[CoinRef]:
    """The coins of the embedded catalogue, as ``CoinRef``."""
    coins = [CoinRef(c.id, c.symbol, c.name, c.rank) for c in COINS]
    coins += [CoinRef(s.id, s.symbol, s.name, STABLECOIN_RANKS.get(s.id)) for s in STABLECOINS]
    return coins


class SymbolResolver:
    """Resolves user text to coins.

    Args:
        market: Used for ``search`` when the index has no match.
        seed: Coins to index from the start (defaults to the embedded catalogue).
        clock: Time source for the miss cache.
    """

    def __init__(
        self,
        market: MarketData,
        *,
        seed: Iterable[CoinRef] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._market = market
        self._by_id: dict[str, CoinRef] = {}
        self._by_symbol: dict[str, list[CoinRef]] = {}
        self._by_name: dict[str, list[CoinRef]] = {}
        self._misses: TTLCache[str, list[str]] = TTLCache(
            600.0, max_entries=2000, clock=clock or SystemClock()
        )
        self.add(embedded_coins() if seed is None else seed)

    def add(self, coins: Iterable[CoinRef]) -> None:
        """Index coins (a newer entry for the same id replaces the older one)."""
        for coin in coins:
            old = self._by_id.get(coin.id)
            if old is not None:
                if coin.market_cap_rank is None and old.market_cap_rank is not None:
                    coin = CoinRef(coin.id, coin.symbol, coin.name, old.market_cap_rank)
                self._unindex(old)
            self._by_id[coin.id] = coin
            self._by_symbol.setdefault(coin.symbol.lower(), []).append(coin)
            self._by_name.setdefault(coin.name.lower(), []).append(coin)
        for bucket in (*self._by_symbol.values(), *self._by_name.values()):
            bucket.sort(key=_rank)

    def _unindex(self, coin: CoinRef) -> None:
        for index, key in (
            (self._by_symbol, coin.symbol.lower()),
            (self._by_name, coin.name.lower()),
        ):
            bucket = index.get(key, [])
            if coin in bucket:
                bucket.remove(coin)

    def lookup(self, text: str) -> Resolution | None:
        """Resolve from the index only (no I/O); ``None`` when unknown."""
        key = normalise(text)
        coin = self._by_id.get(key)
        if coin is not None:
            return Resolution(text, coin)
        alias = ALIASES.get(key)
        if alias is not None and alias in self._by_id:
            return Resolution(text, self._by_id[alias])
        for index in (self._by_symbol, self._by_name):
            bucket = index.get(key)
            if bucket:
                return Resolution(text, bucket[0], tuple(bucket[1:]))
        return None

    async def resolve(self, text: str) -> Resolution:
        """Resolve one symbol or name.

        Raises:
            InvalidSymbolError: The text cannot be a symbol.
            UnknownSymbolError: No coin matches; carries near matches.
        """
        key = normalise(text)
        if not _VALID.match(key):
            raise InvalidSymbolError(
                f'"{_clip(text)}" is not a coin symbol. Use a ticker or name, like BTC or ethereum.'
            )
        found = self.lookup(key)
        if found is not None:
            return Resolution(text.strip(), found.coin, found.alternatives)
        cached_miss = self._misses.get_fresh(key)
        if cached_miss is not None:
            raise UnknownSymbolError(text.strip(), cached_miss)
        try:
            results = await self._market.search(key)
        except MarketDataUnavailableError as exc:
            logger.info("coin search for %r unavailable: %s", key, exc)
            results = []
        exact = [c for c in results if key in (c.id, c.symbol.lower(), c.name.lower())]
        if exact:
            self.add(exact)
            found = self.lookup(key)
            if found is not None:
                return Resolution(text.strip(), found.coin, found.alternatives)
        suggestions = self.suggest(key, results)
        self._misses.put(key, suggestions)
        raise UnknownSymbolError(text.strip(), suggestions)

    async def resolve_many(self, texts: Sequence[str]) -> list[Resolution]:
        """Resolve several inputs, keeping order and dropping repeats of the same coin."""
        seen: set[str] = set()
        out: list[Resolution] = []
        for text in texts:
            resolution = await self.resolve(text)
            if resolution.coin.id not in seen:
                seen.add(resolution.coin.id)
                out.append(resolution)
        return out

    def suggest(self, key: str, extra: Sequence[CoinRef] = ()) -> list[str]:
        """Near matches for ``key`` among known tickers and names, as tickers."""
        names = {c.symbol.lower(): c.symbol for c in self._by_id.values()}
        names.update({c.name.lower(): c.symbol for c in self._by_id.values()})
        close = difflib.get_close_matches(key, list(names), n=5, cutoff=0.6)
        out: list[str] = []
        for match in [*close, *(c.symbol.lower() for c in extra[:3])]:
            symbol = names.get(match, match.upper())
            if symbol not in out:
                out.append(symbol)
        return out[:5]

    @property
    def known(self) -> int:
        """How many coins are indexed."""
        return len(self._by_id)

    def coins(self) -> list[CoinRef]:
        """Every indexed coin."""
        return list(self._by_id.values())


def _rank(coin: CoinRef) -> int:
    return coin.market_cap_rank if coin.market_cap_rank is not None else _UNRANKED


def _clip(text: str, limit: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
