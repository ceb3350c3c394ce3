"""The outgoing webhook channel: messages POSTed as JSON, signed with HMAC-SHA256.

For power users who want alerts in their own systems. The recipient of a ``webhook``
outbox row is the URL (``https://``; plain ``http://`` only to ``localhost``). Each
delivery is one ``POST`` with this JSON body (UTF-8)::

    {"id": "<idempotency key>", "kind": "alert", "title": "...", "text": "...",
     "severity": "high", "data": {...}, "sent_at": "2026-03-01T12:00:00+00:00",
     "attachments": [{"filename": "...", "content_type": "...", "caption": "...",
                      "size": 1234}]}

(attachment bytes are not sent, only their description). When several messages for
one URL were due together they arrive as one request (``kind`` is their common kind or
``"mixed"``, ``text`` lists them all) whose ``data["items"]`` holds each original message
with its own ``key``; receivers that deduplicate per message should use those keys, since
the ``id`` of a merged request depends on which messages it carries. Headers:

* ``X-CryptoGuard-Timestamp``: Unix time in seconds when the request was signed.
* ``X-CryptoGuard-Signature``: ``sha256=<hex>``, the HMAC-SHA256 under the shared
  secret of ``"<timestamp>.<raw body>"``.
* ``Idempotency-Key``: equals ``id``; the same message always carries the same key.

How a receiver verifies a request (:func:`verify_signature` does exactly this)::

    1. Read the raw body bytes (before any JSON parsing) and both headers.
    2. Reject if |now - timestamp| > 300 s (replayed or badly delayed request).
    3. expected = "sha256=" + hex(HMAC_SHA256(secret, timestamp + "." + body))
    4. Compare with the header in constant time (hmac.compare_digest); reject on mismatch.
    5. If the Idempotency-Key was already processed, answer 2xx and do nothing.

Outcome mapping: 2xx is sent; 429/503 with ``Retry-After`` is retry-after; 408, other
5xx, 429/503 without ``Retry-After``, connection failures and pool timeouts are
transient; 410 Gone is unreachable (the endpoint was removed: dead-lettered, not
retried); redirects and other 4xx are permanent (retried a few times, then
dead-lettered).

Timeouts after the request went out (read/write timeouts, the connection dropped
mid-response) are ambiguous: the receiver may have processed the message. Because every
request carries an ``Idempotency-Key`` that receivers are required to honour (step 5),
a resend is safe, so by default they are **transient** (retried with backoff) rather
than ``unknown``. A deployment whose receivers do not deduplicate sets
``resend_on_timeout=False`` and gets ``unknown`` (never resent) instead.

This is the only module outside ``tools/market/providers/`` that imports httpx (a
per-file exception to the layering rule); httpx errors never leave it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from tools.clock import Clock, SystemClock
from tools.errors import ConfigurationError, UserInputError
from tools.market.providers.http import parse_retry_after
from tools.notify import DeliveryResult, DeliveryStatus, OutgoingMessage

logger = logging.getLogger(__name__)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_TOLERANCE_S",
    "TIMESTAMP_HEADER",
    "WebhookNotifier",
    "sign_payload",
    "validate_webhook_url",
    "verify_signature",
]

SIGNATURE_HEADER = "X-CryptoGuard-Signature"
TIMESTAMP_HEADER = "X-CryptoGuard-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Largest clock difference a receiver accepts between the timestamp and its own clock.
SIGNATURE_TOLERANCE_S = 300.0
DEFAULT_USER_AGENT = "CryptoGuard-Webhook/1.0"
_MAX_URL_CHARS = 2048


def validate_webhook_url(url: str) -> str:
    """Check that ``url`` may receive webhooks: ``https://``, or ``http://`` to localhost.

    Args:
        url: The URL a user gave.

    Returns:
        The URL, stripped of surrounding whitespace.

    Raises:
        UserInputError: Not an absolute http(s) URL, plain http to another host, or
            credentials in the URL.
    """
    text = url.strip()
    if not text or len(text) > _MAX_URL_CHARS:
        raise UserInputError("The webhook URL is empty or too long.")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise UserInputError("The webhook URL is not a valid URL.") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise UserInputError("The webhook URL must start with https:// and name a host.")
    if parts.username is not None or parts.password is not None:
        raise UserInputError("The webhook URL must not contain a user name or password.")
    if parts.scheme == "http" and not _is_loopback(host):
        raise UserInputError("The webhook URL must use https:// (plain http only to localhost).")
    return text


def _timestamp_text(timestamp: int | float | str) -> str:
    if isinstance(timestamp, str):
        return timestamp.strip()
    return str(int(timestamp))


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def sign_payload(secret: str, timestamp: int | float | str, body: bytes | str) -> str:
    """Return the signature header value for ``body`` sent at ``timestamp``.

    Args:
        secret: The shared secret.
        timestamp: Unix seconds (as sent in ``X-CryptoGuard-Timestamp``).
        body: The raw request body.

    Returns:
        ``"sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>"``.
    """
    signed = _timestamp_text(timestamp).encode("ascii") + b"." + _as_bytes(body)
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: int | float | str,
    body: bytes | str,
    header: str | None,
    *,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
    now: datetime | float | None = None,
) -> bool:
    """Check a received webhook request (for receivers and tests).

    Args:
        secret: The shared secret.
        timestamp: The ``X-CryptoGuard-Timestamp`` header.
        body: The raw request body, exactly as received.
        header: The ``X-CryptoGuard-Signature`` header.
        tolerance_s: Largest accepted difference between ``timestamp`` and ``now``.
        now: The receiver's current time (datetime or Unix seconds; default: the clock).

    Returns:
        ``True`` if the signature matches and the timestamp is fresh.
    """
    if not header or not secret:
        return False
    try:
        sent = float(_timestamp_text(timestamp))
    except ValueError:
        return False
    if not math.isfinite(sent):
        return False
    if now is None:
        current = SystemClock().now().timestamp()
    elif isinstance(now, datetime):
        current = now.timestamp()
    else:
        current = float(now)
    if abs(current - sent) > tolerance_s:
        return False
    expected = sign_payload(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace"))


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookNotifier:
    """Delivers messages by POSTing signed JSON to the recipient URL.

    Args:
        client: The shared HTTP client (give it explicit timeouts well below the
            dispatcher's lease, e.g. 10 s, and ``follow_redirects=False``).
        secret: The HMAC secret shared with receivers.
        channel: The channel name this notifier serves.
        clock: Time source for the timestamp and ``sent_at``.
        resend_on_timeout: Whether an ambiguous timeout is transient (resent with the
            same ``Idempotency-Key``) or unknown (never resent); see the module docstring.
        user_agent: ``User-Agent`` header.

    Raises:
        ConfigurationError: An empty secret.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        secret: str,
        channel: str = "webhook",
        *,
        clock: Clock | None = None,
        resend_on_timeout: bool = True,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if not secret:
            raise ConfigurationError(
                "The webhook channel needs a signing secret.", detail="empty webhook secret"
            )
        self.channel = channel
        self._client = client
        self._secret = secret
        self._clock = clock or SystemClock()
        self._resend_on_timeout = resend_on_timeout
        self._user_agent = user_agent

    def build_request(self, message: OutgoingMessage) -> tuple[bytes, dict[str, str]]:
        """Return the body and headers for ``message`` (signed at the current time)."""
        now = self._clock.now()
        key = message.key or f"random:{uuid.uuid4().hex}"
        document: dict[str, Any] = {
            "id": key,
            "kind": message.kind,
            "title": message.title,
            "text": message.text,
            "severity": message.severity,
            "data": dict(message.data),
            "sent_at": now.isoformat(),
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "caption": a.caption,
                    "size": len(a.data),
                }
                for a in message.attachments
            ],
        }
        body = json.dumps(
            document, default=_json_default, ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": self._user_agent,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign_payload(self._secret, timestamp, body),
            IDEMPOTENCY_HEADER: key,
        }
        return body, headers

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        """POST ``message`` to the URL ``recipient`` and classify the answer."""
        try:
            url = validate_webhook_url(recipient)
        except UserInputError as exc:
            return DeliveryResult(DeliveryStatus.PERMANENT, f"invalid webhook URL: {exc}")
        host = urlsplit(url).hostname or "?"
        body, headers = self.build_request(message)
        try:
            response = await self._client.post(
                url, content=body, headers=headers, follow_redirects=False
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the receiver: always safe to retry.
            return DeliveryResult(
                DeliveryStatus.TRANSIENT, f"webhook {host}: not connected ({type(exc).__name__})"
            )
        except (
            httpx.ReadTimeout,
            httpx.WriteTimeout,
            httpx.ReadError,
            httpx.WriteError,
            httpx.RemoteProtocolError,
        ) as exc:
            status = DeliveryStatus.TRANSIENT if self._resend_on_timeout else DeliveryStatus.UNKNOWN
            return DeliveryResult(
                status, f"webhook {host}: no answer after sending ({type(exc).__name__})"
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return DeliveryResult(
                DeliveryStatus.PERMANENT, f"webhook {host}: bad URL ({type(exc).__name__})"
            )
        except httpx.HTTPError as exc:
            return DeliveryResult(
                DeliveryStatus.TRANSIENT, f"webhook {host}: request failed ({type(exc).__name__})"
            )
        return self._classify(response, host)

    def _classify(self, response: httpx.Response, host: str) -> DeliveryResult:
        code = response.status_code
        detail = f"webhook {host}: HTTP {code}"
        if 200 <= code < 300:
            return DeliveryResult(DeliveryStatus.SENT, detail)
        if code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock.now())
            if retry_after is not None:
                return DeliveryResult(DeliveryStatus.RETRY_AFTER, detail, retry_after_s=retry_after)
            return DeliveryResult(DeliveryStatus.TRANSIENT, detail)
        if code == 408 or code >= 500:
            return DeliveryResult(DeliveryStatus.TRANSIENT, detail)
        if code == 410:
            return DeliveryResult(DeliveryStatus.UNREACHABLE, f"{detail} (endpoint gone)")
        if 300 <= code < 400:
            return DeliveryResult(DeliveryStatus.PERMANENT, f"{detail} (redirects not followed)")
        if code in (401, 403):
            logger.warning("webhook %s refused the request (HTTP %s): check its secret", host, code)
        return DeliveryResult(DeliveryStatus.PERMANENT, detail)


def open_webhook_notifier(
    secret: str, *, timeout_s: float = 10.0, clock: Clock | None = None
) -> tuple[WebhookNotifier, Callable[[], Awaitable[None]]]:
    """A webhook notifier with its own HTTP client, and the coroutine that closes it.

    Timeouts stay well below the dispatcher's lease; redirects are not followed.
    """
    client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False)
    return WebhookNotifier(client, secret, clock=clock), client.aclose
