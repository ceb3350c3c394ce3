"""Symbol resolution: ids, tickers, names, aliases, ambiguity, unknowns."""

from __future__ import annotations

import pytest

from tools.clock import FakeClock
from tools.errors import InvalidSymbolError, UnknownSymbolError
from tools.market.symbols import SymbolResolver

from .fakes import BTC, ETH, NOW, UNI, UNI_CLONE, FakeMarket


def resolver(market: FakeMarket | None = None) -> SymbolResolver:
    return SymbolResolver(market or FakeMarket(), clock=FakeClock(NOW))


@pytest.mark.parametrize(
    ("text", "coin_id"),
    [
        ("btc", "bitcoin"),
        ("BTC", "bitcoin"),
        ("  $btc ", "bitcoin"),
        ("Bitcoin", "bitcoin"),
        ("bitcoin", "bitcoin"),
        ("ether", "ethereum"),
        ("eth", "ethereum"),
        ("Ethereum", "ethereum"),
        ("avalanche-2", "avalanche-2"),
        ("usdc", "usd-coin"),
        ("xbt", "bitcoin"),
    ],
)
async def test_resolves_tickers_names_ids_and_aliases(text: str, coin_id: str) -> None:
    resolution = await resolver().resolve(text)
    assert resolution.coin.id == coin_id
    assert resolution.note is None


async def test_ambiguous_ticker_takes_largest_and_says_so() -> None:
    r = resolver()
    r.add([UNI_CLONE])
    resolution = await r.resolve("uni")
    assert resolution.coin == UNI
    assert resolution.alternatives == (UNI_CLONE,)
    assert resolution.note is not None
    assert "Uniswap" in resolution.note and "universe-token" in resolution.note


async def test_unknown_symbol_names_input_and_suggests() -> None:
    market = FakeMarket()
    with pytest.raises(UnknownSymbolError) as info:
        await resolver(market).resolve("btcc")
    assert info.value.symbol == "btcc"
    assert "BTC" in info.value.suggestions
    assert '"btcc"' in info.value.user_message
    assert market.calls == ["search"]


async def test_misses_are_cached_so_typos_do_not_hit_search_twice() -> None:
    market = FakeMarket()
    r = resolver(market)
    for _ in range(3):
        with pytest.raises(UnknownSymbolError):
            await r.resolve("notacoin")
    assert market.calls == ["search"]


async def test_search_finds_coins_outside_the_index() -> None:
    from tools.market.types import CoinRef

    kas = CoinRef("kaspa", "KAS", "Kaspa", 40)
    r = resolver(FakeMarket(searchable=[kas]))
    assert (await r.resolve("kas")).coin == kas
    # now indexed: no second search
    assert r.lookup("Kaspa") is not None


async def test_search_outage_still_gives_unknown_symbol() -> None:
    market = FakeMarket()
    market.fail = True
    with pytest.raises(UnknownSymbolError):
        await resolver(market).resolve("zzzz")


@pytest.mark.parametrize("text", ["", "   ", "bt c!", "<script>", "a" * 41, "💎"])
async def test_invalid_text_is_rejected_without_search(text: str) -> None:
    market = FakeMarket()
    with pytest.raises(InvalidSymbolError):
        await resolver(market).resolve(text)
    assert market.calls == []


async def test_resolve_many_keeps_order_and_drops_repeats() -> None:
    out = await resolver().resolve_many(["eth", "BTC", "bitcoin", "ether"])
    assert [r.coin for r in out] == [ETH, BTC]


async def test_live_ranks_override_embedded_ranks() -> None:
    from tools.market.types import CoinRef

    r = resolver()
    r.add([CoinRef("uniswap", "UNI", "Uniswap", 950), CoinRef("universe-token", "UNI", "U", 5)])
    assert (await r.resolve("uni")).coin.id == "universe-token"
