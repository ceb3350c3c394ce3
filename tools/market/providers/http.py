"""The shared request path of the market-data provider clients.

Every provider client (CoinGecko, DefiLlama, Binance, Alternative.me) calls
:func:`request_json`, which turns one GET into parsed JSON or a :class:`ProviderError`; the
news feed reader calls :func:`request_body`, the same request path with its own decoder for
the 2xx body (RSS/Atom XML instead of JSON):

* 429, 5xx (including 408), timeouts and connection errors are retried with exponential
  backoff and full jitter (``uniform(0, min(max_delay, base_delay * 2**n))``).
* A ``Retry-After`` header (seconds or an HTTP date) on 429/503 is honoured exactly instead
  of the backoff. When the server asks for longer than ``RetryPolicy.max_retry_after`` the
  call gives up at once (``retryable=True``, ``retry_after`` set) and the circuit breaker is
  opened for the requested time, so later calls fail fast instead of hammering.
* Other 4xx (400, 401, 403, 404, 451...) are never retried; 401/403/451 are logged at
  WARNING for the operator (API key, plan, region or firewall refusals).
* Binance's 418 (IP ban after ignored 429s) opens the circuit for ``Retry-After`` seconds.
* JSON numbers with a fraction or exponent are parsed straight into ``Decimal`` (no float
  round trip, so ``-1.6832214472071533`` stays exactly that); integers stay ``int``.
* HTML error pages (``text/html`` or a body starting with ``<``) and malformed JSON become
  :class:`ProviderError`; on a 5xx they are retried like any 5xx, on a 2xx
  (:class:`MalformedResponseError`) they are retried at most once.

The retry loop is tenacity's ``AsyncRetrying`` with a custom wait (``Retry-After`` or
backoff), a custom stop (attempt budget, ``Retry-After`` over the cap, malformed 2xx twice,
circuit opened meanwhile) and an injectable ``sleep`` so tests run without waiting.

Request headers are never logged or put into errors (they carry API keys); header values
are also scrubbed from any text taken from a response body.

Error hierarchy (all below :class:`tools.errors.MarketDataUnavailableError`)::

    ProviderError                  an upstream answered badly or not at all
    ├── MalformedResponseError     2xx with HTML or JSON that does not parse/fit
    ├── CircuitOpenError           the breaker is open; no request was made
    └── UnsupportedPairError       the venue does not list the pair (caller falls back)
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from tools.clock import Clock, Sleeper, SystemClock
from tools.errors import MarketDataUnavailableError
from tools.market.providers.breaker import CircuitBreaker

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How providers are named to users and operators.
DISPLAY_NAMES: dict[str, str] = {
    "coingecko": "CoinGecko",
    "defillama": "DefiLlama",
    "binance": "Binance",
    "alternative_me": "Alternative.me",
    "coindesk": "CoinDesk",
    "cointelegraph": "Cointelegraph",
    "decrypt": "Decrypt",
    "theblock": "The Block",
    "bitcoinmagazine": "Bitcoin Magazine",
}

#: Ban length assumed when a 418 carries no ``Retry-After`` (Binance bans start at 2 min).
DEFAULT_BAN_SECONDS = 120.0

DEFAULT_USER_AGENT = "CryptoGuard/1.0 (market-data client)"

_REASON_MAX = 200
_WARN_STATUSES = {
    401: "unauthorised: API key missing, invalid or not valid for this plan/base URL",
    403: "forbidden: plan, region or firewall refusal (e.g. Cloudflare 1020)",
    451: "unavailable for legal reasons: service restricted in this location",
}


def display_name(provider: str) -> str:
    """Return the human name of a provider id (``"coingecko"`` -> ``"CoinGecko"``)."""
    return DISPLAY_NAMES.get(provider, provider.title())


class ProviderError(MarketDataUnavailableError):
    """A provider call failed.

    ``user_message`` stays generic and safe; ``detail`` carries the operator information
    (status and a short reason) and never request headers or API keys.

    Args:
        provider: Provider id (``"coingecko"``).
        reason: Short operator-facing reason.
        status: HTTP status, ``None`` when no response arrived.
        retryable: Whether trying again later may succeed.
        retry_after: Seconds the server asked us to wait, if it said.
        error_code: Provider-specific error code from the body (Binance ``-1121``).
        user_message: Override of the generic user message.

    Attributes:
        provider: Provider id.
        status: HTTP status or ``None``.
        retryable: Whether trying again later may succeed.
        retry_after: Seconds the server asked us to wait, or ``None``.
        error_code: Provider-specific error code, or ``None``.
        reason: Short operator-facing reason.
    """

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        error_code: int | None = None,
        user_message: str | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.error_code = error_code
        self.reason = reason
        name = display_name(provider)
        head = f"{name} HTTP {status}" if status is not None else name
        super().__init__(
            user_message or f"Market data from {name} is unavailable right now.",
            detail=f"{head}: {reason}",
        )


class MalformedResponseError(ProviderError):
    """A successful status with a body that is not the JSON we expect (HTML, garbage)."""


class CircuitOpenError(ProviderError):
    """The provider's circuit breaker is open: failing fast without a request."""


class UnsupportedPairError(ProviderError):
    """The venue does not list the requested pair; the caller should try another source."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard :func:`request_json` tries.

    Attributes:
        max_attempts: Total attempts including the first (``1`` disables retries).
        base_delay: First backoff ceiling in seconds; doubles on each retry.
        max_delay: Upper bound of one backoff delay.
        max_retry_after: Longest ``Retry-After`` we wait for; longer means give up now.
        jitter: Full jitter (a uniform delay in ``[0, ceiling]``); ``False`` waits the ceiling.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 60.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, failed_attempts: int) -> float:
        """Return the delay after ``failed_attempts`` failures (1 after the first failure)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(failed_attempts - 1, 0))
        if not self.jitter:
            return ceiling
        # Jitter spreads clients out; it is not a security feature.
        return random.uniform(0.0, ceiling)  # noqa: S311


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date; ``None`` if absent/bad.

    Args:
        value: The header value.
        now: The current time (to turn an HTTP date into seconds).

    Returns:
        Seconds to wait (never negative), or ``None``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            logger.debug("Ignoring unparseable Retry-After header %r", text[:64])
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def build_client(
    base_url: str,
    *,
    timeout_s: float = 10.0,
    user_agent: str = DEFAULT_USER_AGENT,
) -> httpx.AsyncClient:
    """Open one HTTP client for one upstream (the composition root calls this).

    Args:
        base_url: The upstream's base URL.
        timeout_s: Read/write/pool timeout in seconds; connecting gets at most 5 s.
        user_agent: ``User-Agent`` header.

    Returns:
        A client with explicit timeouts and connection limits; close it with
        :func:`close_client`.
    """
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=30),
        headers={"User-Agent": user_agent, "Accept": "application/json"},
        follow_redirects=False,
    )


async def close_client(client: httpx.AsyncClient) -> None:
    """Close a client made by :func:`build_client`."""
    await client.aclose()


async def request_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
    provider: str,
    policy: RetryPolicy | None = None,
    breaker: CircuitBreaker | None = None,
    sleep: Sleeper = asyncio.sleep,
    clock: Clock | None = None,
) -> Any:
    """GET ``url`` and return its parsed JSON, with retries and a circuit breaker.

    Args:
        client: The upstream's HTTP client.
        url: Absolute URL (or a path relative to the client's base URL).
        params: Query parameters.
        headers: Extra request headers (API keys); never logged.
        provider: Provider id for errors and logs.
        policy: Retry policy (default :class:`RetryPolicy`).
        breaker: The provider's circuit breaker, if any.
        sleep: Sleeper used between attempts (inject ``FakeClock.sleep`` in tests).
        clock: Time source for HTTP-date ``Retry-After`` values.

    Returns:
        The decoded JSON document; non-integer numbers are ``Decimal``.

    Raises:
        ProviderError: The call failed (see the subclasses for the special cases).
    """
    return await _request(
        client,
        url,
        params=params,
        headers=headers,
        provider=provider,
        policy=policy,
        breaker=breaker,
        sleep=sleep,
        clock=clock,
        decode=lambda response: _decode_json(response, provider),
        follow_redirects=False,
    )


async def request_body(
    client: httpx.AsyncClient,
    url: str,
    *,
    decode: Callable[[bytes, str], T],
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
    provider: str,
    policy: RetryPolicy | None = None,
    breaker: CircuitBreaker | None = None,
    sleep: Sleeper = asyncio.sleep,
    clock: Clock | None = None,
    follow_redirects: bool = False,
) -> T:
    """GET ``url`` and decode the raw body of the 2xx answer (RSS/Atom, text), with retries.

    Status handling, retries, ``Retry-After`` and the circuit breaker are exactly those of
    :func:`request_json`; only the 2xx body is handed to ``decode`` instead of the JSON
    parser. ``decode`` raises :class:`MalformedResponseError` for a body it cannot use (an
    HTML page, XML that does not parse); that is retried once, like malformed JSON.

    Args:
        client: The upstream's HTTP client.
        url: Absolute URL (or a path relative to the client's base URL).
        decode: ``decode(body, content_type)`` turns the body into the result.
        params: Query parameters.
        headers: Extra request headers; never logged.
        provider: Provider id for errors and logs.
        policy: Retry policy (default :class:`RetryPolicy`).
        breaker: The provider's circuit breaker, if any.
        sleep: Sleeper used between attempts.
        clock: Time source for HTTP-date ``Retry-After`` values.
        follow_redirects: Follow 3xx answers (news sites move their feeds around).

    Returns:
        Whatever ``decode`` returned.

    Raises:
        ProviderError: The call failed (see the subclasses for the special cases).
    """
    return await _request(
        client,
        url,
        params=params,
        headers=headers,
        provider=provider,
        policy=policy,
        breaker=breaker,
        sleep=sleep,
        clock=clock,
        decode=lambda response: decode(response.content, response.headers.get("content-type", "")),
        follow_redirects=follow_redirects,
    )


async def _request(
    client: httpx.AsyncClient,
    url: str,
    *,
    params: Mapping[str, str | int] | None,
    headers: Mapping[str, str] | None,
    provider: str,
    policy: RetryPolicy | None,
    breaker: CircuitBreaker | None,
    sleep: Sleeper,
    clock: Clock | None,
    decode: Callable[[httpx.Response], T],
    follow_redirects: bool,
) -> T:
    """The retry loop shared by :func:`request_json` and :func:`request_body`."""
    policy = policy or RetryPolicy()
    clock = clock or SystemClock()
    secrets = [v for v in (headers or {}).values() if len(v) >= 4]
    path = urlsplit(url).path or url
    name = display_name(provider)

    if breaker is not None and not breaker.allow():
        remaining = breaker.retry_in()
        raise CircuitOpenError(
            provider,
            f"circuit open, next try in {remaining:.0f} s",
            retryable=False,
            retry_after=remaining,
        )

    async def attempt() -> T:
        if breaker is not None and breaker.is_open:
            raise CircuitOpenError(provider, "circuit opened during retries", retryable=False)
        try:
            response = await client.get(
                url, params=params, headers=headers, follow_redirects=follow_redirects
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(
                provider, f"timeout ({type(exc).__name__})", retryable=True
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            reason = _scrub(f"network error ({type(exc).__name__}: {exc})", secrets)
            raise ProviderError(provider, reason, retryable=True) from exc
        except httpx.HTTPError as exc:
            reason = _scrub(f"request failed ({type(exc).__name__}: {exc})", secrets)
            raise ProviderError(provider, reason, retryable=False) from exc
        return _interpret(response, provider, path, policy, breaker, clock, secrets, decode)

    def stop(state: RetryCallState) -> bool:
        exc = _outcome_error(state)
        if state.attempt_number >= policy.max_attempts:
            return True
        if exc is None:
            return True
        if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
            return True
        if isinstance(exc, MalformedResponseError) and state.attempt_number >= 2:
            return True
        return breaker is not None and breaker.is_open

    def wait_for(state: RetryCallState) -> float:
        exc = _outcome_error(state)
        if exc is not None and exc.retry_after is not None:
            return exc.retry_after
        return policy.backoff(state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        exc = _outcome_error(state)
        logger.debug(
            "%s GET %s failed (%s); retry %d/%d in %.2f s",
            name,
            path,
            exc.detail if exc is not None else "unknown",
            state.attempt_number + 1,
            policy.max_attempts,
            state.next_action.sleep if state.next_action is not None else 0.0,
        )

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=stop,
        wait=wait_for,
        retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        result: T = await retrying(attempt)
    except CircuitOpenError:
        if breaker is not None:
            breaker.release()
        raise
    except ProviderError as exc:
        if breaker is not None:
            if _is_upstream_fault(exc):
                breaker.record_failure()
            else:
                breaker.record_success()
        raise
    except BaseException:
        if breaker is not None:
            breaker.release()
        raise
    if breaker is not None:
        breaker.record_success()
    return result


def _outcome_error(state: RetryCallState) -> ProviderError | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    exc = state.outcome.exception()
    return exc if isinstance(exc, ProviderError) else None


def _is_upstream_fault(exc: ProviderError) -> bool:
    """Whether a failure says something about the upstream's health (counts for the breaker).

    400/404-style answers (bad pair, unknown id) come from a healthy server and do not.
    """
    if isinstance(exc, MalformedResponseError) or exc.status is None:
        return True
    return exc.status >= 500 or exc.status in (401, 403, 408, 418, 429, 451)


def _interpret(
    response: httpx.Response,
    provider: str,
    path: str,
    policy: RetryPolicy,
    breaker: CircuitBreaker | None,
    clock: Clock,
    secrets: list[str],
    decode: Callable[[httpx.Response], T],
) -> T:
    """Decode a 2xx response or raise the matching :class:`ProviderError`."""
    status = response.status_code
    name = display_name(provider)
    if 200 <= status < 300:
        return decode(response)
    html = _looks_like_html(response)

    reason, code = _error_reason(response, html, secrets)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), clock.now())

    if status == 418:
        ban = retry_after if retry_after is not None else DEFAULT_BAN_SECONDS
        logger.warning("%s answered 418 for %s: IP banned for %.0f s (%s)", name, path, ban, reason)
        if breaker is not None:
            breaker.open_for(ban)
        raise ProviderError(
            provider, f"IP banned: {reason}", status=status, retry_after=ban, error_code=code
        )

    if status == 429 or status == 408 or status >= 500:
        honoured = retry_after if status in (429, 503) else None
        if honoured is not None and honoured > policy.max_retry_after:
            logger.warning(
                "%s answered %d for %s asking to wait %.0f s (over the %.0f s cap); giving up",
                name,
                status,
                path,
                honoured,
                policy.max_retry_after,
            )
            if breaker is not None:
                breaker.open_for(honoured)
        raise ProviderError(
            provider,
            reason,
            status=status,
            retryable=True,
            retry_after=honoured,
            error_code=code,
        )

    hint = _WARN_STATUSES.get(status)
    if hint is not None:
        logger.warning(
            "%s answered %d for %s: %s; not retried (%s)", name, status, path, hint, reason
        )
        reason = f"{hint} ({reason})"
    else:
        logger.debug("%s answered %d for %s: %s", name, status, path, reason)
    raise ProviderError(provider, reason, status=status, error_code=code)


def _decode_json(response: httpx.Response, provider: str) -> Any:
    """Parse a 2xx body as JSON (fractions as ``Decimal``); HTML or garbage is malformed."""
    status = response.status_code
    if _looks_like_html(response):
        raise MalformedResponseError(
            provider, "HTML page instead of JSON", status=status, retryable=True
        )
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as exc:
        raise MalformedResponseError(
            provider, "malformed JSON", status=status, retryable=True
        ) from exc


def _looks_like_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return "text/html" in content_type or response.content.lstrip()[:1] == b"<"


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _error_reason(
    response: httpx.Response, html: bool, secrets: list[str]
) -> tuple[str, int | None]:
    """A short, secret-free reason and the provider's error code from an error body."""
    body = response.content
    code: int | None = None
    if html:
        match = _TITLE.search(body[:20_000])
        title = match.group(1).decode("utf-8", "replace").strip() if match else ""
        cloudflare = "cf-ray" in response.headers or b"cloudflare" in body[:20_000].lower()
        reason = "HTML error page" + (" (Cloudflare)" if cloudflare else "")
        if title:
            reason += f": {' '.join(title.split())}"
        return _scrub(reason, secrets)[:_REASON_MAX], None
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None  # not JSON: the raw text below becomes the reason
    message: str | None = None
    if isinstance(data, dict):
        message, code = _message_from(data)
    if message is None:
        text = body[:_REASON_MAX].decode("utf-8", "replace").strip()
        message = " ".join(text.split()) or response.reason_phrase or "no body"
    return _scrub(message, secrets)[:_REASON_MAX], code


def _message_from(data: dict[str, Any]) -> tuple[str | None, int | None]:
    """Find the message and code in the error bodies the providers use.

    Binance: ``{"code": -1121, "msg": "..."}``. CoinGecko: ``{"status": {"error_code":
    429, "error_message": "..."}}`` or the same wrapped in ``{"error": ...}``, or
    ``{"error": "..."}``.
    """
    if "msg" in data:
        code = data.get("code")
        return str(data["msg"]), code if isinstance(code, int) else None
    inner = data.get("error", data)
    if isinstance(inner, str):
        return inner, None
    if isinstance(inner, dict):
        status = inner.get("status", inner)
        if isinstance(status, dict) and "error_message" in status:
            code = status.get("error_code")
            return str(status["error_message"]), code if isinstance(code, int) else None
    return None, None


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
