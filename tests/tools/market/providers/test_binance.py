"""BinanceClient against recorded Binance spot API responses."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from tests.tools.market.providers.recorded import NOW, fixture_json, json_response
from tools.clock import FakeClock
from tools.market.providers import (
    BinanceClient,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    ProviderError,
    RetryPolicy,
    UnsupportedPairError,
)
from tools.market.types import CoinRef

KLINES = "https://api.binance.com/api/v3/klines"
BTC = CoinRef("bitcoin", "BTC", "Bitcoin", 1)
USDT = CoinRef("tether", "USDT", "Tether", 3)
UNI_CLONE = CoinRef("universe-token", "UNI", "Universe Token", 900)


def make(
    http: httpx.AsyncClient, clock: FakeClock, breaker: CircuitBreaker | None = None, **kw: object
) -> BinanceClient:
    return BinanceClient(
        http,
        clock=clock,
        sleep=clock.sleep,
        policy=RetryPolicy(max_attempts=2),
        breaker=breaker,
        **kw,  # type: ignore[arg-type]
    )


async def test_klines_parse_into_candles(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    rows = fixture_json("binance/klines_btcusdt_1h.json")
    route = router.get(KLINES).mock(return_value=json_response("binance/klines_btcusdt_1h.json"))
    history = await make(http, clock).klines(BTC, "usd", 2, "1h")

    params = route.calls[0].request.url.params
    assert params["symbol"] == "BTCUSDT"
    assert params["interval"] == "1h"
    assert params["limit"] == "1000"
    assert int(params["startTime"]) == int((NOW - timedelta(days=2)).timestamp() * 1000)

    assert history.source == "binance"
    assert history.note == "USDT pair used as USD"
    assert history.vs_currency == "usd" and history.interval == "1h"
    assert history.fetched_at == NOW
    assert len(history.candles) == 48
    first = history.candles[0]
    assert first.ts == datetime.fromtimestamp(rows[0][0] / 1000, UTC)
    assert (first.open, first.high, first.low, first.close, first.volume) == tuple(
        float(v) for v in rows[0][1:6]
    )
    assert history.candles[-1].ts == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # still forming


async def test_eur_uses_the_eur_pair_without_a_note(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(KLINES).mock(return_value=json_response("binance/klines_btcusdt_1h.json"))
    history = await make(http, clock).klines(BTC, "EUR", 2, "1h")
    assert route.calls[0].request.url.params["symbol"] == "BTCEUR"
    assert history.note is None and history.vs_currency == "eur"


async def test_long_ranges_paginate_with_start_time(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    template = fixture_json("binance/klines_btcusdt_1h.json")[0]
    now_ms = int(NOW.timestamp() * 1000)

    def page(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startTime"])
        limit = int(request.url.params["limit"])
        first = -(-start // 3_600_000) * 3_600_000  # first bar opening at or after start
        opens = [first + i * 3_600_000 for i in range(limit)]
        rows = [[t, *template[1:6], t + 3_599_999, *template[7:]] for t in opens if t <= now_ms]
        return httpx.Response(200, json=rows)

    route = router.get(KLINES).mock(side_effect=page)
    history = await make(http, clock).klines(BTC, "usd", 100, "1h")
    assert route.call_count == 3
    starts = [int(c.request.url.params["startTime"]) for c in route.calls]
    assert starts == sorted(starts)
    stamps = [c.ts for c in history.candles]
    assert len(stamps) == len(set(stamps)) == 2400
    assert all(b - a == timedelta(hours=1) for a, b in zip(stamps, stamps[1:], strict=False))


async def test_invalid_symbol_becomes_unsupported_pair(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("binance", failure_threshold=1, clock=clock)
    route = router.get(KLINES).mock(
        return_value=json_response("binance/error_invalid_symbol.json", 400)
    )
    with pytest.raises(UnsupportedPairError) as info:
        await make(http, clock, breaker).klines(BTC, "usd", 2, "1h")
    assert route.call_count == 1
    assert isinstance(info.value, ProviderError)
    assert info.value.status == 400
    assert "Invalid symbol" in (info.value.detail or "")
    assert info.value.user_message == "Binance has no market for BTC/USD."
    assert breaker.state is BreakerState.CLOSED  # a bad pair says nothing about Binance's health


@pytest.mark.parametrize(
    ("coin", "vs"),
    [
        (UNI_CLONE, "usd"),  # a low-ranked ticker clone: the UNIUSDT market is someone else's
        (CoinRef("mystery", "MYS", "Mystery"), "usd"),  # unranked
        (BTC, "gbp"),  # no quote asset we map
        (USDT, "usd"),  # USDTUSDT
        (CoinRef("weird", "US$", "Weird", 10), "usd"),
    ],
)
async def test_untrustworthy_pairs_are_refused_without_a_request(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock, coin: CoinRef, vs: str
) -> None:
    route = router.get(KLINES)
    with pytest.raises(UnsupportedPairError):
        await make(http, clock).klines(coin, vs, 2, "1h")
    assert route.call_count == 0


async def test_base_asset_overrides_skip_the_rank_check(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(KLINES).mock(return_value=json_response("binance/klines_btcusdt_1h.json"))
    coin = CoinRef("pepe", "PEPE", "Pepe", None)
    await make(http, clock, base_assets={"pepe": "PEPE"}).klines(coin, "usdt", 2, "1h")
    assert route.calls[0].request.url.params["symbol"] == "PEPEUSDT"


async def test_451_restricted_location_is_not_retried(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = router.get(KLINES).mock(return_value=json_response("binance/error_451.json", 451))
    with caplog.at_level(logging.WARNING, logger="tools.market.providers"):
        with pytest.raises(ProviderError) as info:
            await make(http, clock).klines(BTC, "usd", 2, "1h")
    assert not isinstance(info.value, UnsupportedPairError)
    assert route.call_count == 1 and info.value.status == 451
    assert any("451" in r.getMessage() for r in caplog.records)


async def test_429_then_418_ban_opens_the_circuit(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("binance", clock=clock)
    route = router.get(KLINES).mock(
        side_effect=[
            json_response("binance/error_429.json", 429, **{"Retry-After": "3"}),
            json_response("binance/error_418.json", 418, **{"Retry-After": "300"}),
        ]
    )
    client = make(http, clock, breaker)
    with pytest.raises(ProviderError) as info:
        await client.klines(BTC, "usd", 2, "1h")
    assert info.value.status == 418
    assert clock.slept == [3.0]
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        await client.klines(BTC, "usd", 2, "1h")
    assert route.call_count == 2


async def test_malformed_rows_are_skipped(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    rows = fixture_json("binance/klines_btcusdt_1h.json")[:3]
    rows.insert(1, [rows[0][0] + 1, "abc", "1", "1", "1", "1"])
    rows.insert(1, [rows[0][0] + 2, "0", "0", "0", "0", "0"])
    rows.insert(1, "not-a-row")
    router.get(KLINES).mock(return_value=httpx.Response(200, json=rows))
    history = await make(http, clock).klines(BTC, "usd", 2, "1h")
    assert len(history.candles) == 3


async def test_no_klines_is_an_error(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(KLINES).mock(return_value=httpx.Response(200, json=[]))
    with pytest.raises(ProviderError):
        await make(http, clock).klines(BTC, "usd", 2, "1h")
