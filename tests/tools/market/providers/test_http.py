"""The shared request path: retries, Retry-After, non-retried refusals, bad bodies, breaker."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from tests.tools.market.providers.recorded import NOW, html_response, json_response
from tools.clock import FakeClock
from tools.errors import MarketDataUnavailableError
from tools.market.providers import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    MalformedResponseError,
    ProviderError,
    RetryPolicy,
    build_client,
    close_client,
    parse_retry_after,
    request_json,
)

URL = "https://api.coingecko.com/api/v3/simple/price"
OK = {"bitcoin": {"usd": 84213}}


async def call(
    http: httpx.AsyncClient,
    clock: FakeClock,
    *,
    policy: RetryPolicy | None = None,
    breaker: CircuitBreaker | None = None,
    provider: str = "coingecko",
    headers: dict[str, str] | None = None,
) -> object:
    return await request_json(
        http,
        URL,
        params={"ids": "bitcoin", "vs_currencies": "usd"},
        headers=headers,
        provider=provider,
        policy=policy or RetryPolicy(),
        breaker=breaker,
        sleep=clock.sleep,
        clock=clock,
    )


# -- Retry-After and backoff ---------------------------------------------------------------


async def test_429_with_retry_after_waits_exactly_that_long(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(URL).mock(
        side_effect=[
            json_response("coingecko/error_429.json", 429, **{"Retry-After": "7"}),
            httpx.Response(200, json=OK),
        ]
    )
    assert await call(http, clock) == OK
    assert route.call_count == 2
    assert clock.slept == [7.0]


async def test_retry_after_as_http_date_is_relative_to_the_clock(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    when = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    router.get(URL).mock(
        side_effect=[
            httpx.Response(503, text="busy", headers={"Retry-After": when}),
            httpx.Response(200, json=OK),
        ]
    )
    assert await call(http, clock) == OK
    assert clock.slept == [12.0]


async def test_429_without_retry_after_backs_off_exponentially_with_bounded_jitter(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(URL).mock(
        side_effect=[json_response("coingecko/error_429.json", 429)] * 3
        + [httpx.Response(200, json=OK)]
    )
    assert await call(http, clock, policy=RetryPolicy(base_delay=0.5)) == OK
    assert route.call_count == 4
    assert len(clock.slept) == 3
    for delay, ceiling in zip(clock.slept, [0.5, 1.0, 2.0], strict=True):
        assert 0.0 <= delay <= ceiling


async def test_backoff_without_jitter_doubles_up_to_max_delay(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(URL).mock(return_value=httpx.Response(500, text="oops"))
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0, jitter=False)
    with pytest.raises(ProviderError):
        await call(http, clock, policy=policy)
    assert clock.slept == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jittered_backoff_stays_within_its_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert all(0.0 <= policy.backoff(attempt) <= ceiling for _ in range(50))


async def test_retry_after_above_the_cap_gives_up_at_once_and_opens_the_circuit(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("coingecko", clock=clock)
    route = router.get(URL).mock(
        return_value=json_response("coingecko/error_429.json", 429, **{"Retry-After": "600"})
    )
    with pytest.raises(ProviderError) as info:
        await call(http, clock, policy=RetryPolicy(max_retry_after=60), breaker=breaker)
    assert route.call_count == 1
    assert clock.slept == []
    assert info.value.retryable is True
    assert info.value.retry_after == 600.0
    assert info.value.status == 429
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(600.0)


async def test_retry_after_on_a_plain_500_is_ignored_in_favour_of_backoff(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(URL).mock(
        side_effect=[
            httpx.Response(500, text="x", headers={"Retry-After": "45"}),
            httpx.Response(200, json=OK),
        ]
    )
    await call(http, clock, policy=RetryPolicy(base_delay=0.5, jitter=False))
    assert clock.slept == [0.5]


async def test_500_then_success(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(URL).mock(
        side_effect=[
            httpx.Response(500, text="Internal Server Error"),
            httpx.Response(200, json=OK),
        ]
    )
    assert await call(http, clock) == OK
    assert route.call_count == 2
    assert len(clock.slept) == 1


async def test_persistent_500_raises_after_max_attempts(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(URL).mock(return_value=httpx.Response(500, text="Internal Server Error"))
    with pytest.raises(ProviderError) as info:
        await call(http, clock, policy=RetryPolicy(max_attempts=4))
    assert route.call_count == 4
    assert len(clock.slept) == 3
    error = info.value
    assert isinstance(error, MarketDataUnavailableError)
    assert error.status == 500 and error.retryable is True
    assert error.user_message == "Market data from CoinGecko is unavailable right now."
    assert "500" in (error.detail or "")


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("read timed out"), httpx.ConnectError("connection refused")]
)
async def test_timeouts_and_connection_errors_are_retried_a_bounded_number_of_times(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock, exc: Exception
) -> None:
    route = router.get(URL).mock(side_effect=exc)
    with pytest.raises(ProviderError) as info:
        await call(http, clock, policy=RetryPolicy(max_attempts=3))
    assert route.call_count == 3
    assert len(clock.slept) == 2
    assert info.value.status is None and info.value.retryable is True
    assert isinstance(info.value.__cause__, type(exc))


async def test_timeout_then_success(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(URL).mock(side_effect=[httpx.ConnectTimeout("slow"), httpx.Response(200, json=OK)])
    assert await call(http, clock) == OK


# -- refusals that are never retried -------------------------------------------------------


async def test_cloudflare_403_is_not_retried_and_is_logged_for_the_operator(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = router.get(URL).mock(
        return_value=html_response("coingecko/cloudflare_1020.html", 403, **{"cf-ray": "91a2b"})
    )
    with caplog.at_level(logging.WARNING, logger="tools.market.providers"):
        with pytest.raises(ProviderError) as info:
            await call(http, clock)
    assert route.call_count == 1
    assert clock.slept == []
    error = info.value
    assert error.status == 403 and error.retryable is False
    assert "Cloudflare" in (error.detail or "")
    assert error.user_message == "Market data from CoinGecko is unavailable right now."
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("CoinGecko answered 403" in r.getMessage() for r in warnings)


async def test_binance_451_restricted_location_is_not_retried(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = router.get(URL).mock(return_value=json_response("binance/error_451.json", 451))
    with caplog.at_level(logging.WARNING, logger="tools.market.providers"):
        with pytest.raises(ProviderError) as info:
            await call(http, clock, provider="binance")
    assert route.call_count == 1
    assert info.value.status == 451
    assert "restricted location" in (info.value.detail or "")
    assert any("Binance answered 451" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_other_4xx_are_not_retried(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock, status: int
) -> None:
    route = router.get(URL).mock(
        return_value=httpx.Response(status, json={"error": "coin not found"})
    )
    with pytest.raises(ProviderError) as info:
        await call(http, clock)
    assert route.call_count == 1
    assert info.value.status == status and info.value.retryable is False


async def test_provider_error_code_is_kept(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(URL).mock(return_value=json_response("coingecko/error_10012.json", 401))
    with pytest.raises(ProviderError) as info:
        await call(http, clock)
    assert info.value.error_code == 10012
    assert "365 days" in (info.value.detail or "")


async def test_binance_418_opens_the_circuit_for_retry_after(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("binance", clock=clock)
    route = router.get(URL).mock(
        return_value=json_response("binance/error_418.json", 418, **{"Retry-After": "600"})
    )
    with pytest.raises(ProviderError) as info:
        await call(http, clock, provider="binance", breaker=breaker)
    assert route.call_count == 1
    assert info.value.status == 418 and info.value.retryable is False
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(600.0)

    with pytest.raises(CircuitOpenError):
        await call(http, clock, provider="binance", breaker=breaker)
    assert route.call_count == 1  # failed fast, no request

    clock.advance(601)
    route.mock(return_value=httpx.Response(200, json=[]))
    assert await call(http, clock, provider="binance", breaker=breaker) == []
    assert breaker.state is BreakerState.CLOSED


# -- bodies that are not JSON --------------------------------------------------------------


async def test_html_502_page_is_retried_then_succeeds(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(URL).mock(
        side_effect=[
            html_response("coingecko/cloudflare_502.html", 502),
            httpx.Response(200, json=OK),
        ]
    )
    assert await call(http, clock) == OK
    assert route.call_count == 2


async def test_persistent_html_error_page_becomes_a_clean_provider_error(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(URL).mock(return_value=html_response("coingecko/cloudflare_502.html", 502))
    with pytest.raises(ProviderError) as info:
        await call(http, clock, policy=RetryPolicy(max_attempts=2))
    assert "HTML error page" in (info.value.detail or "")
    assert "502 Bad Gateway" in (info.value.detail or "")
    assert "<" not in info.value.user_message


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html><body>maintenance</body></html>"),
        httpx.Response(200, text="  <!DOCTYPE html><p>hi</p>", headers={"content-type": "a/b"}),
        httpx.Response(
            200, text='{"bitcoin": {"usd": 84213.5', headers={"content-type": "application/json"}
        ),
        httpx.Response(200, text="", headers={"content-type": "application/json"}),
    ],
    ids=["html", "html-by-body", "truncated-json", "empty"],
)
async def test_bad_200_bodies_are_retried_at_most_once(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock, response: httpx.Response
) -> None:
    route = router.get(URL).mock(return_value=response)
    with pytest.raises(MalformedResponseError) as info:
        await call(http, clock, policy=RetryPolicy(max_attempts=4))
    assert route.call_count == 2
    assert info.value.status == 200


async def test_malformed_json_then_good_json(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(URL).mock(
        side_effect=[httpx.Response(200, text="{not json"), httpx.Response(200, json=OK)]
    )
    assert await call(http, clock) == OK


# -- circuit breaker through request_json --------------------------------------------------


async def test_circuit_opens_after_n_failures_and_fails_fast(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("coingecko", failure_threshold=3, reset_after=60, clock=clock)
    route = router.get(URL).mock(return_value=httpx.Response(503, text="down"))
    policy = RetryPolicy(max_attempts=1)
    for _ in range(3):
        with pytest.raises(ProviderError):
            await call(http, clock, policy=policy, breaker=breaker)
    assert route.call_count == 3
    assert breaker.state is BreakerState.OPEN

    with pytest.raises(CircuitOpenError) as info:
        await call(http, clock, policy=policy, breaker=breaker)
    assert route.call_count == 3
    assert info.value.retryable is False
    assert info.value.user_message == "Market data from CoinGecko is unavailable right now."


async def test_half_open_lets_one_probe_through_after_reset_after(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("coingecko", failure_threshold=1, reset_after=60, clock=clock)
    route = router.get(URL).mock(return_value=httpx.Response(500, text="down"))
    policy = RetryPolicy(max_attempts=1)
    with pytest.raises(ProviderError):
        await call(http, clock, policy=policy, breaker=breaker)
    clock.advance(59)
    with pytest.raises(CircuitOpenError):
        await call(http, clock, policy=policy, breaker=breaker)
    assert route.call_count == 1

    clock.advance(2)
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(ProviderError) as info:  # the probe fails: open again
        await call(http, clock, policy=policy, breaker=breaker)
    assert not isinstance(info.value, CircuitOpenError)
    assert route.call_count == 2
    assert breaker.state is BreakerState.OPEN

    clock.advance(61)
    route.mock(return_value=httpx.Response(200, json=OK))
    assert await call(http, clock, policy=policy, breaker=breaker) == OK
    assert route.call_count == 3
    assert breaker.state is BreakerState.CLOSED


async def test_client_errors_do_not_trip_the_breaker(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    breaker = CircuitBreaker("binance", failure_threshold=2, clock=clock)
    router.get(URL).mock(return_value=json_response("binance/error_invalid_symbol.json", 400))
    for _ in range(5):
        with pytest.raises(ProviderError):
            await call(http, clock, provider="binance", breaker=breaker)
    assert breaker.state is BreakerState.CLOSED


# -- secrets -------------------------------------------------------------------------------


async def test_api_key_never_appears_in_logs_or_errors(
    router: respx.MockRouter,
    http: httpx.AsyncClient,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "CG-s3cretDemoKey0123456789"
    echoing = {"status": {"error_code": 10002, "error_message": f"Invalid API key {key}"}}
    route = router.get(URL).mock(
        side_effect=[
            httpx.Response(500, text=f"upstream failed for {key}"),
            httpx.Response(401, json=echoing),
        ]
    )
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ProviderError) as info:
            await call(http, clock, headers={"x-cg-demo-api-key": key})
    assert route.calls[0].request.headers["x-cg-demo-api-key"] == key
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "500" in logged and "401" in logged  # the failures were logged...
    assert key not in logged  # ...without the key
    assert key not in str(info.value)
    assert key not in (info.value.detail or "")
    assert key not in repr(info.value.args)


# -- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("Sat, 01 Mar 2025 12:04:17 GMT", 60.0),
        ("Sat, 01 Mar 2025 12:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


async def test_build_client_sets_explicit_timeouts_limits_and_user_agent() -> None:
    client = build_client("https://api.coingecko.com/api/v3", timeout_s=12.0)
    try:
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 12.0
        assert client.headers["User-Agent"].startswith("CryptoGuard")
        assert str(client.base_url).startswith("https://api.coingecko.com/api/v3")
    finally:
        await close_client(client)
    assert client.is_closed
