"""DefiLlamaClient against recorded stablecoins.llama.fi responses."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import respx

from tests.tools.market.providers.recorded import NOW, json_response
from tools.clock import FakeClock
from tools.market.providers import (
    DefiLlamaClient,
    MalformedResponseError,
    ProviderError,
    RetryPolicy,
)
from tools.market.types import DataOrigin

API = "https://stablecoins.llama.fi"


def make(http: httpx.AsyncClient, clock: FakeClock) -> DefiLlamaClient:
    return DefiLlamaClient(http, clock=clock, sleep=clock.sleep, policy=RetryPolicy(max_attempts=2))


async def test_stablecoins_parse_pegs_prices_and_supply(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/stablecoins").mock(
        return_value=json_response("defillama/stablecoins.json")
    )
    coins = await make(http, clock).stablecoins()
    assert route.calls[0].request.url.params["includePrices"] == "true"
    by_symbol = {c.symbol: c for c in coins}
    assert list(by_symbol) == [
        "USDT", "USDC", "USDE", "DAI", "EURC", "EURS", "RAI", "USTC", "TINY", "ODD", "GBPT",
    ]  # fmt: skip

    usdt = by_symbol["USDT"]
    assert usdt.name == "Tether" and usdt.coin_id == "tether"
    assert usdt.peg_type == "peggedUSD" and usdt.peg_currency == "USD"
    assert usdt.peg_mechanism == "fiat-backed"
    assert usdt.price_usd == Decimal("1.0003")
    assert usdt.price_sources == {"defillama": Decimal("1.0003")}
    assert usdt.circulating == Decimal("142228150437.2")
    assert usdt.circulating_prev_day == Decimal("142146695186.4")
    assert usdt.circulating_prev_week == Decimal("141712530112.9")
    assert usdt.source == "defillama" and usdt.origin is DataOrigin.LIVE
    assert usdt.fetched_at == NOW


async def test_supply_is_read_under_the_coins_own_peg(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(f"{API}/stablecoins").mock(return_value=json_response("defillama/stablecoins.json"))
    by_symbol = {c.symbol: c for c in await make(http, clock).stablecoins()}
    eurc = by_symbol["EURC"]
    assert eurc.peg_type == "peggedEUR" and eurc.peg_currency == "EUR"
    assert eurc.circulating == Decimal("107771242.45")  # EUR units, from "peggedEUR"
    assert eurc.price_usd == Decimal("1.0391")  # a healthy EUR coin is not $1
    assert by_symbol["GBPT"].peg_currency == "GBP"
    assert by_symbol["GBPT"].circulating == Decimal("4101112.5")
    rai = by_symbol["RAI"]
    assert rai.peg_type == "peggedVAR" and rai.peg_currency is None


async def test_null_and_garbage_prices_keep_the_coin_without_a_price(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router.get(f"{API}/stablecoins").mock(return_value=json_response("defillama/stablecoins.json"))
    with caplog.at_level(logging.INFO, logger="tools.market.providers"):
        by_symbol = {c.symbol: c for c in await make(http, clock).stablecoins()}
    tiny = by_symbol["TINY"]
    assert tiny.price_usd is None and tiny.price_sources == {}
    assert tiny.coin_id is None
    odd = by_symbol["ODD"]  # price sent as the string "1.00"
    assert odd.price_usd is None and odd.price_sources == {}
    messages = [r.getMessage() for r in caplog.records]
    assert any("ODD" in m and "unusable" in m for m in messages)
    assert any("2 of 11 stablecoins have no price" in m for m in messages)


async def test_entries_without_symbol_or_peg_type_are_skipped_and_logged(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router.get(f"{API}/stablecoins").mock(return_value=json_response("defillama/stablecoins.json"))
    with caplog.at_level(logging.INFO, logger="tools.market.providers"):
        coins = await make(http, clock).stablecoins()
    assert "NOPEG" not in {c.symbol for c in coins}
    assert len(coins) == 11
    skipped = [
        r.getMessage() for r in caplog.records if "missing symbol or pegType" in r.getMessage()
    ]
    assert len(skipped) == 2
    assert any("id=257" in m for m in skipped) and any("id=258" in m for m in skipped)


async def test_wrong_document_shape_is_a_malformed_response(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(f"{API}/stablecoins").mock(return_value=httpx.Response(200, json={"chains": []}))
    with pytest.raises(MalformedResponseError):
        await make(http, clock).stablecoins()


async def test_server_errors_surface_as_provider_errors(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/stablecoins").mock(return_value=httpx.Response(504, text="timeout"))
    with pytest.raises(ProviderError) as info:
        await make(http, clock).stablecoins()
    assert route.call_count == 2
    assert info.value.user_message == "Market data from DefiLlama is unavailable right now."


async def test_stablecoin_prices_history(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(f"{API}/stablecoinprices").mock(
        return_value=json_response("defillama/stablecoinprices.json")
    )
    history = await make(http, clock).stablecoin_prices()
    assert [day for day, _ in history] == [
        datetime(2025, 2, 25, tzinfo=UTC),
        datetime(2025, 2, 26, tzinfo=UTC),
        datetime(2025, 2, 27, tzinfo=UTC),
        datetime(2025, 2, 28, tzinfo=UTC),
        datetime(2025, 3, 1, tzinfo=UTC),
    ]
    first = history[0][1]
    assert first["tether"] == Decimal("1.0002")
    assert first["euro-coin"] == Decimal("1.0472")
    assert "terrausd" not in history[2][1]  # null price left out
    assert history[-1][1]["usd-coin"] == Decimal("0.999912")


async def test_stablecoin_prices_skip_malformed_rows(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    body = [
        {"date": "1740787200", "prices": {"tether": 1.0003, "dai": "1.0"}},
        {"date": None, "prices": {"tether": 1.0}},
        {"prices": {"tether": 1.0}},
        "garbage",
        {"date": 1740700800, "prices": None},
    ]
    router.get(f"{API}/stablecoinprices").mock(return_value=httpx.Response(200, json=body))
    history = await make(http, clock).stablecoin_prices()
    assert history == [(datetime(2025, 3, 1, tzinfo=UTC), {"tether": Decimal("1.0003")})]
