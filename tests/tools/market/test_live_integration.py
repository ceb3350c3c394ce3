"""The live market end to end: real provider clients over recorded responses.

Every request the real clients make is answered by an ``httpx.MockTransport`` from
``tests/fixtures/providers`` (the providers' documented formats), so the whole path
(client -> LiveMarket -> PriceService) runs as it would against the real APIs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest

from tools.clock import FakeClock
from tools.market.live import LiveMarket
from tools.market.providers import BinanceClient, CoinGeckoClient, DefiLlamaClient
from tools.market.service import PriceService
from tools.market.stablecoins import PegSeverity
from tools.market.symbols import SymbolResolver

from .providers.recorded import NOW, html_response, json_response

ROUTES = {
    ("api.coingecko.com", "/api/v3/simple/price"): "coingecko/simple_price.json",
    ("api.coingecko.com", "/api/v3/coins/markets"): "coingecko/coins_markets_page1.json",
    ("api.coingecko.com", "/api/v3/exchange_rates"): "coingecko/exchange_rates.json",
    ("api.coingecko.com", "/api/v3/search"): "coingecko/search_uni.json",
    ("stablecoins.llama.fi", "/stablecoins"): "defillama/stablecoins.json",
    ("api.binance.com", "/api/v3/klines"): "binance/klines_btcusdt_1h.json",
}


@dataclass
class Upstream:
    """Recorded upstreams; ``down`` hosts answer with a Cloudflare 502 page."""

    down: set[str] = field(default_factory=set)
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host in self.down:
            return html_response("coingecko/cloudflare_502.html", 502)
        name = ROUTES.get((request.url.host, request.url.path))
        if name is None:
            return httpx.Response(404, json={"error": "not recorded"})
        return json_response(name)


@pytest.fixture
async def setup() -> AsyncIterator[tuple[PriceService, Upstream, FakeClock]]:
    upstream = Upstream()
    clock = FakeClock(NOW)
    client = httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle))
    kwargs = {"clock": clock, "sleep": clock.sleep}
    live = LiveMarket(
        CoinGeckoClient(client, **kwargs),  # type: ignore[arg-type]
        DefiLlamaClient(client, **kwargs),  # type: ignore[arg-type]
        BinanceClient(client, **kwargs),  # type: ignore[arg-type]
        clock=clock,
    )
    yield PriceService(live, SymbolResolver(live, clock=clock), clock=clock), upstream, clock
    await client.aclose()


async def test_prices_from_recorded_coingecko(
    setup: tuple[PriceService, Upstream, FakeClock],
) -> None:
    service, upstream, _ = setup
    report = await service.get_quotes(["btc", "ether"])
    btc, eth = report.quotes
    assert btc.price == Decimal("84213.5143291126")
    assert btc.change_24h_pct == Decimal("-1.6832214472071533")  # exact digits of the JSON text
    assert eth.coin.id == "ethereum" and report.notice is None and report.notes == []
    assert len(upstream.requests) == 1
    # a second ask within the TTL is served from memory
    await service.get_quotes(["btc"])
    assert len(upstream.requests) == 1


async def test_stale_provider_timestamp_is_flagged(
    setup: tuple[PriceService, Upstream, FakeClock],
) -> None:
    service, _, _ = setup
    from tools.market.types import CoinRef

    service.resolver.add([CoinRef("terrausd", "USTC", "TerraClassicUSD", 200)])
    report = await service.get_quotes(["ustc"])
    assert report.notes == ["USTC: price is stale, last updated 4 d ago."]


async def test_outage_serves_last_price_with_its_age(
    setup: tuple[PriceService, Upstream, FakeClock],
) -> None:
    service, upstream, clock = setup
    await service.get_quotes(["btc"])
    upstream.down = {"api.coingecko.com", "api.binance.com"}
    clock.advance(600)
    report = await service.get_quotes(["btc"])
    assert report.quotes[0].price == Decimal("84213.5143291126")
    assert report.notes == ["BTC: providers unavailable, showing the price from 10 min ago."]


async def test_stablecoins_against_their_own_peg(
    setup: tuple[PriceService, Upstream, FakeClock],
) -> None:
    service, upstream, _ = setup
    report = await service.get_stablecoin_status(["usdt", "eurc", "ustc", "rai", "gbpt"])
    rows = {r.coin.symbol: r for r in report.rows}
    # USDT: DefiLlama 1.0003 and CoinGecko 1.0001352179 -> median of the two
    assert rows["USDT"].coin.price_sources.keys() == {"defillama", "coingecko"}
    assert rows["USDT"].severity is PegSeverity.OK
    # EURC is measured against EUR (from CoinGecko exchange rates), not against USD
    eurc = rows["EURC"]
    assert eurc.peg_usd is not None and Decimal("1.0") < eurc.peg_usd < Decimal("1.1")
    assert eurc.severity is PegSeverity.OK
    assert eurc.deviation_pct is not None and abs(eurc.deviation_pct) < Decimal("0.5")
    assert rows["USTC"].severity is PegSeverity.CRITICAL
    assert rows["RAI"].severity is PegSeverity.UNKNOWN
    assert rows["GBPT"].coin.peg_currency == "GBP"
    hosts = [r.url.host for r in upstream.requests]
    assert hosts.count("stablecoins.llama.fi") == 1


async def test_top_list_feeds_symbol_resolution(
    setup: tuple[PriceService, Upstream, FakeClock],
) -> None:
    service, _, _ = setup
    report = await service.get_top(5)
    assert [q.coin.market_cap_rank for q in report.quotes] == sorted(
        q.coin.market_cap_rank or 0 for q in report.quotes
    )
    assert service.resolver.known >= 46
