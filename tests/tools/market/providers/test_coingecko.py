"""CoinGeckoClient against recorded CoinGecko API v3 responses."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import respx

from tests.tools.market.providers.recorded import NOW, fixture_json, json_response
from tools.clock import FakeClock
from tools.errors import ConfigurationError, UserInputError
from tools.market.providers import (
    CircuitBreaker,
    CoinGeckoClient,
    ProviderError,
    RetryPolicy,
)
from tools.market.providers.coingecko import MAX_URL_CHARS
from tools.market.types import CoinRef, DataOrigin

API = "https://api.coingecko.com/api/v3"
PRO = "https://pro-api.coingecko.com/api/v3"
BTC = CoinRef("bitcoin", "BTC", "Bitcoin", 1)
ETH = CoinRef("ethereum", "ETH", "Ethereum", 2)
USDT = CoinRef("tether", "USDT", "Tether", 3)
EURC = CoinRef("euro-coin", "EURC", "EURC", 200)
UST = CoinRef("terrausd", "USTC", "TerraClassicUSD", 400)


def make(http: httpx.AsyncClient, clock: FakeClock, **kw: object) -> CoinGeckoClient:
    kw.setdefault("policy", RetryPolicy(max_attempts=2))
    return CoinGeckoClient(http, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


# -- /simple/price -------------------------------------------------------------------------


async def test_simple_price_parses_quotes_in_one_request(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/simple/price").mock(
        return_value=json_response("coingecko/simple_price.json")
    )
    quotes = await make(http, clock).simple_price([BTC, ETH, USDT, EURC, UST, BTC], "USD")

    assert route.call_count == 1
    params = route.calls[0].request.url.params
    assert params["ids"] == "bitcoin,ethereum,tether,euro-coin,terrausd"
    assert params["vs_currencies"] == "usd"
    for flag in (
        "include_market_cap",
        "include_24hr_vol",
        "include_24hr_change",
        "include_last_updated_at",
    ):
        assert params[flag] == "true"
    assert params["precision"] == "full"

    assert set(quotes) == {"bitcoin", "ethereum", "tether", "euro-coin", "terrausd"}
    btc = quotes["bitcoin"]
    assert btc.coin is BTC
    assert btc.vs_currency == "usd"
    assert btc.price == Decimal("84213.5143291126")
    assert btc.change_24h_pct == Decimal("-1.6832214472071533")
    assert btc.market_cap == Decimal("1669874581327.7437")
    assert btc.volume_24h == Decimal("31245117932.11847")
    assert btc.last_updated == datetime(2025, 3, 1, 12, 3, 0, tzinfo=UTC)
    assert btc.source == "coingecko"
    assert btc.origin is DataOrigin.LIVE
    assert btc.fetched_at == NOW
    assert quotes["tether"].price == Decimal("1.0001352179")


async def test_stale_price_keeps_its_old_timestamp_and_null_change(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(f"{API}/simple/price").mock(
        return_value=json_response("coingecko/simple_price.json")
    )
    quote = (await make(http, clock).simple_price([UST], "usd"))["terrausd"]
    assert quote.last_updated == datetime(2025, 2, 25, 9, 55, 1, tzinfo=UTC)
    assert NOW - quote.last_updated > timedelta(days=4)  # old stays old
    assert quote.change_24h_pct is None
    assert quote.market_cap is None  # CoinGecko's 0 means unknown
    assert quote.fetched_at == NOW


async def test_unusable_prices_are_omitted_and_logged(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router.get(f"{API}/simple/price").mock(
        return_value=json_response("coingecko/simple_price_bad_values.json")
    )
    bad = [
        "null-price-coin",
        "zero-price-coin",
        "negative-price-coin",
        "string-price-coin",
        "missing-price-coin",
        "empty-coin",
        "unknown-coin",
    ]
    coins = [BTC] + [CoinRef(c, "X", c) for c in bad]
    with caplog.at_level(logging.INFO, logger="tools.market.providers"):
        quotes = await make(http, clock).simple_price(coins, "usd")
    assert list(quotes) == ["bitcoin"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for coin_id in bad:
        assert coin_id in logged


async def test_nan_price_is_omitted(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    body = '{"bitcoin": {"usd": NaN, "last_updated_at": 1740830580}, "ethereum": {"usd": 2217.8}}'
    router.get(f"{API}/simple/price").mock(
        return_value=httpx.Response(200, text=body, headers={"content-type": "application/json"})
    )
    quotes = await make(http, clock).simple_price([BTC, ETH], "usd")
    assert list(quotes) == ["ethereum"]
    assert quotes["ethereum"].last_updated is None
    assert quotes["ethereum"].change_24h_pct is None


def _typical_ids(n: int) -> list[str]:
    names = [
        "bitcoin",
        "ethereum",
        "tether",
        "usd-coin",
        "avalanche-2",
        "the-open-network",
        "hedera-hashgraph",
        "internet-computer",
        "injective-protocol",
        "wrapped-bitcoin",
    ]
    return [f"{names[i % len(names)]}-{i}" for i in range(n)]


async def test_250_ids_go_out_in_exactly_one_request(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    ids = _typical_ids(250)
    route = router.get(f"{API}/simple/price").mock(
        return_value=httpx.Response(200, json={i: {"usd": 1.5} for i in ids})
    )
    quotes = await make(http, clock).simple_price([CoinRef(i, "X", i) for i in ids], "usd")
    assert route.call_count == 1
    assert len(str(route.calls[0].request.url)) <= MAX_URL_CHARS
    assert len(quotes) == 250


async def test_very_long_id_lists_are_split_under_the_url_limit(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    ids = _typical_ids(900)

    def answer(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["ids"].split(",")
        return httpx.Response(200, json={i: {"usd": 2.0} for i in asked})

    route = router.get(f"{API}/simple/price").mock(side_effect=answer)
    quotes = await make(http, clock).simple_price([CoinRef(i, "X", i) for i in ids], "usd")
    assert route.call_count > 1
    sent: list[str] = []
    for call_ in route.calls:
        assert len(str(call_.request.url)) <= MAX_URL_CHARS
        sent += call_.request.url.params["ids"].split(",")
    assert sent == ids
    assert len(quotes) == 900


async def test_empty_coin_list_makes_no_request(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/simple/price")
    assert await make(http, clock).simple_price([], "usd") == {}
    assert route.call_count == 0


# -- plans and API keys --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "base", "header"),
    [("demo", API, "x-cg-demo-api-key"), ("pro", PRO, "x-cg-pro-api-key")],
)
async def test_api_key_header_is_sent_and_never_logged(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    plan: str,
    base: str,
    header: str,
) -> None:
    key = "CG-k3yThatMustStayPrivate42"
    router.get(f"{base}/ping").mock(return_value=json_response("coingecko/ping.json"))
    router.get(f"{base}/simple/price").mock(
        side_effect=[
            httpx.Response(503, text="busy"),
            json_response("coingecko/error_429.json", 401),
        ]
    )
    client = make(http, clock, api_key=key, plan=plan)
    with caplog.at_level(logging.DEBUG):
        assert await client.ping() == "(V3) To the Moon!"
        with pytest.raises(ProviderError) as info:
            await client.simple_price([BTC], "usd")
    for call_ in router.calls:
        assert call_.request.headers[header] == key
        assert key not in str(call_.request.url)
    assert caplog.records
    assert all(key not in r.getMessage() for r in caplog.records)
    assert key not in str(info.value) and key not in repr(client)


async def test_public_plan_sends_no_key(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/ping").mock(return_value=json_response("coingecko/ping.json"))
    await make(http, clock).ping()
    sent = route.calls[0].request.headers
    assert "x-cg-demo-api-key" not in sent and "x-cg-pro-api-key" not in sent


def test_paid_plans_need_a_key(http: httpx.AsyncClient, clock: FakeClock) -> None:
    with pytest.raises(ConfigurationError):
        make(http, clock, plan="pro")
    with pytest.raises(ConfigurationError):
        make(http, clock, plan="enterprise", api_key="k")


# -- /coins/markets ------------------------------------------------------------------------


async def test_coins_markets_parses_rows_and_skips_unpriced(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/coins/markets").mock(
        return_value=json_response("coingecko/coins_markets_page1.json")
    )
    quotes = await make(http, clock).coins_markets("usd", 5)
    params = route.calls[0].request.url.params
    assert params["vs_currency"] == "usd"
    assert params["order"] == "market_cap_desc"
    assert params["per_page"] == "5" and params["page"] == "1"
    assert params["price_change_percentage"] == "24h"
    assert [q.coin.symbol for q in quotes] == ["BTC", "ETH", "USDT", "XRP"]
    btc = quotes[0]
    assert btc.coin == CoinRef("bitcoin", "BTC", "Bitcoin", 1)
    assert btc.price == Decimal("84213.51")
    assert btc.change_24h_pct == Decimal("-1.6832214472071533")
    assert btc.last_updated == datetime(2025, 3, 1, 12, 3, 0, 473000, tzinfo=UTC)
    assert btc.volume_24h == Decimal("31245117932")


async def test_coins_markets_paginates_beyond_250(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    template = fixture_json("coingecko/coins_markets_page1.json")[0]

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        size = int(request.url.params["per_page"])
        rows = []
        for i in range(size):
            rank = (number - 1) * size + i + 1
            rows.append(
                {
                    **template,
                    "id": f"coin-{rank}",
                    "symbol": f"c{rank}",
                    "name": f"Coin {rank}",
                    "market_cap_rank": rank,
                }
            )
        return httpx.Response(200, json=rows)

    route = router.get(f"{API}/coins/markets").mock(side_effect=page)
    quotes = await make(http, clock).coins_markets("eur", 300, ids=None)
    assert route.call_count == 2
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]
    assert all(c.request.url.params["per_page"] == "250" for c in route.calls)
    assert len(quotes) == 300
    assert quotes[-1].coin.market_cap_rank == 300
    assert quotes[0].vs_currency == "eur"


async def test_coins_markets_with_ids(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/coins/markets").mock(return_value=httpx.Response(200, json=[]))
    assert await make(http, clock).coins_markets("usd", 10, ids=["bitcoin", "ethereum"]) == []
    assert route.calls[0].request.url.params["ids"] == "bitcoin,ethereum"


# -- /coins/{id}/market_chart --------------------------------------------------------------


async def test_market_chart_resamples_5_minute_points_into_hourly_bars(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    raw = fixture_json("coingecko/market_chart_bitcoin_1d.json")
    route = router.get(f"{API}/coins/bitcoin/market_chart").mock(
        return_value=json_response("coingecko/market_chart_bitcoin_1d.json")
    )
    history = await make(http, clock).market_chart(BTC, "usd", 1, "1h")
    params = route.calls[0].request.url.params
    assert params["vs_currency"] == "usd" and params["days"] == "1"

    assert history.source == "coingecko" and history.interval == "1h"
    assert history.fetched_at == NOW
    assert "5-minute" in (history.note or "")
    candles = history.candles
    assert 24 <= len(candles) <= 26
    assert all(c.ts.minute == 0 and c.ts.second == 0 and c.ts.tzinfo is not None for c in candles)
    assert [c.ts for c in candles] == sorted(c.ts for c in candles)

    # Check one full bar against the raw points by hand.
    bar = candles[5]
    start_ms = int(bar.ts.timestamp() * 1000)
    inside = [p for t, p in raw["prices"] if start_ms <= t < start_ms + 3_600_000]
    vols = [v for t, v in raw["total_volumes"] if start_ms <= t < start_ms + 3_600_000]
    assert (bar.open, bar.high, bar.low, bar.close) == (
        inside[0],
        max(inside),
        min(inside),
        inside[-1],
    )
    assert bar.volume == pytest.approx(vols[-1] / 24 / inside[-1])
    assert candles[-1].close == raw["prices"][-1][1]


async def test_market_chart_daily_bars_from_hourly_points(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    raw = fixture_json("coingecko/market_chart_ethereum_7d.json")
    router.get(f"{API}/coins/ethereum/market_chart").mock(
        return_value=json_response("coingecko/market_chart_ethereum_7d.json")
    )
    history = await make(http, clock).market_chart(ETH, "usd", 7, "1d")
    assert "hourly" in (history.note or "")
    assert all(c.ts.hour == 0 for c in history.candles)
    assert len(history.candles) == 8  # 7 days of hourly points touch 8 UTC days
    last = history.candles[-1]
    day_start_ms = int(last.ts.timestamp() * 1000)
    vols = [v for t, v in raw["total_volumes"] if t >= day_start_ms]
    assert last.volume == pytest.approx(vols[-1] / last.close)


async def test_market_chart_clamps_free_history_to_365_days(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/coins/bitcoin/market_chart").mock(
        return_value=json_response("coingecko/market_chart_ethereum_7d.json")
    )
    history = await make(http, clock).market_chart(BTC, "usd", 1000, "1w")
    assert route.calls[0].request.url.params["days"] == "365"
    assert "365 days" in (history.note or "") and "1000" in (history.note or "")


async def test_pro_plan_is_not_clamped(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{PRO}/coins/bitcoin/market_chart").mock(
        return_value=json_response("coingecko/market_chart_ethereum_7d.json")
    )
    history = await make(http, clock, plan="pro", api_key="pro-key-123").market_chart(
        BTC, "usd", 1000, "1w"
    )
    assert route.calls[0].request.url.params["days"] == "1000"
    assert "365" not in (history.note or "")


async def test_market_chart_unknown_coin_is_a_non_retried_404(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    coin = CoinRef("no-such-coin", "NSC", "Nope")
    route = router.get(f"{API}/coins/no-such-coin/market_chart").mock(
        return_value=httpx.Response(404, json={"error": "coin not found"})
    )
    with pytest.raises(ProviderError) as info:
        await make(http, clock).market_chart(coin, "usd", 7, "1d")
    assert route.call_count == 1
    assert info.value.status == 404 and "coin not found" in (info.value.detail or "")


async def test_market_chart_without_points_is_an_error(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(f"{API}/coins/bitcoin/market_chart").mock(
        return_value=httpx.Response(
            200, json={"prices": [[1740830597000, None]], "market_caps": [], "total_volumes": []}
        )
    )
    with pytest.raises(ProviderError):
        await make(http, clock).market_chart(BTC, "usd", 1, "1h")


async def test_market_chart_rejects_unknown_interval(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    with pytest.raises(UserInputError):
        await make(http, clock).market_chart(BTC, "usd", 1, "15m")


# -- /search, /exchange_rates --------------------------------------------------------------


async def test_search_orders_by_market_cap_rank_unranked_last(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/search").mock(
        return_value=json_response("coingecko/search_uni.json")
    )
    refs = await make(http, clock).search("  uni ")
    assert route.calls[0].request.url.params["query"] == "uni"
    assert [r.id for r in refs] == ["uniswap", "unicorn-fart-dust", "unibot", "uni-meme"]
    assert refs[0] == CoinRef("uniswap", "UNI", "Uniswap", 27)
    assert refs[-1].market_cap_rank is None


async def test_blank_search_makes_no_request(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(f"{API}/search")
    assert await make(http, clock).search("   ") == []
    assert route.call_count == 0


async def test_exchange_rates_are_usd_per_unit_of_each_fiat(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(f"{API}/exchange_rates").mock(
        return_value=json_response("coingecko/exchange_rates.json")
    )
    rates = await make(http, clock).exchange_rates()
    assert set(rates) == {"USD", "EUR", "GBP", "JPY", "CHF"}
    assert rates["USD"] == Decimal(1)
    assert rates["EUR"] == Decimal("84213.514") / Decimal("81071.212")
    assert Decimal("1.03") < rates["EUR"] < Decimal("1.04")
    assert Decimal("0.0066") < rates["JPY"] < Decimal("0.0067")


async def test_exchange_rates_without_usd_is_an_error(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(f"{API}/exchange_rates").mock(
        return_value=httpx.Response(200, json={"rates": {"eur": {"value": 1, "type": "fiat"}}})
    )
    with pytest.raises(ProviderError):
        await make(http, clock).exchange_rates()


async def test_client_uses_its_breaker(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("coingecko", failure_threshold=1, clock=clock)
    route = router.get(f"{API}/ping").mock(return_value=httpx.Response(502, text="bad gateway"))
    client = make(http, clock, breaker=breaker, policy=RetryPolicy(max_attempts=1))
    with pytest.raises(ProviderError):
        await client.ping()
    with pytest.raises(ProviderError):
        await client.ping()
    assert route.call_count == 1
