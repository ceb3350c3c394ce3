"""tools.webhook: signed JSON POSTs, a real local receiver, status mapping."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from storage import Database, OutboxRepository
from tools.attachments import Attachment
from tools.clock import FakeClock
from tools.delivery import Dispatcher
from tools.errors import ConfigurationError, UserInputError
from tools.notify import DeliveryStatus, OutgoingMessage
from tools.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    sign_payload,
    validate_webhook_url,
    verify_signature,
)

SECRET = "s3cret-for-tests"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MESSAGE = OutgoingMessage(
    kind="alert",
    text="BTC is at 100,500 USD.",
    title="BTC above 100,000 USD",
    severity="high",
    data={"alert_id": 7},
    key="alert:7:2026-03-01T12:00:00+00:00",
    attachments=(Attachment("btc.png", "image/png", b"12345", "30 days"),),
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local webhook receiver that verifies signatures and deduplicates by key."""

    url: str
    requests: list[Received] = field(default_factory=list)
    processed: dict[str, dict[str, object]] = field(default_factory=dict)
    status: int = 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            ok = verify_signature(
                SECRET,
                self.headers[TIMESTAMP_HEADER],
                body,
                self.headers[SIGNATURE_HEADER],
                now=NOW,
            )
            if not ok:
                self.send_response(401)
            else:
                key = self.headers[IDEMPOTENCY_HEADER]
                state.processed.setdefault(key, json.loads(body))
                self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_posts_signed_json_over_a_real_socket(receiver: Receiver) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        notifier = WebhookNotifier(client, SECRET, clock=FakeClock(NOW))
        result = await notifier.send(receiver.url, MESSAGE)
        again = await notifier.send(receiver.url, MESSAGE)  # a resend after a crash
    assert result.status is DeliveryStatus.SENT and again.status is DeliveryStatus.SENT
    assert len(receiver.requests) == 2
    request = receiver.requests[0]
    assert request.path == "/hook"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["idempotency-key"] == MESSAGE.key
    assert headers["x-cryptoguard-timestamp"] == str(int(NOW.timestamp()))
    assert headers["x-cryptoguard-signature"].startswith("sha256=")
    assert headers["content-type"].startswith("application/json")
    document = json.loads(request.body)
    assert document == {
        "id": MESSAGE.key,
        "kind": "alert",
        "title": "BTC above 100,000 USD",
        "text": "BTC is at 100,500 USD.",
        "severity": "high",
        "data": {"alert_id": 7},
        "sent_at": "2026-03-01T12:00:00+00:00",
        "attachments": [
            {"filename": "btc.png", "content_type": "image/png", "caption": "30 days", "size": 5}
        ],
    }
    # The receiver deduplicates by Idempotency-Key: one message processed.
    assert list(receiver.processed) == [MESSAGE.key]
    # The signature verifies, and a tampered body does not.
    timestamp = headers["x-cryptoguard-timestamp"]
    signature = headers["x-cryptoguard-signature"]
    assert verify_signature(SECRET, timestamp, request.body, signature, now=NOW)
    tampered = request.body.replace(b"100,500", b"900,500")
    assert not verify_signature(SECRET, timestamp, tampered, signature, now=NOW)
    assert not verify_signature("other-secret", timestamp, request.body, signature, now=NOW)


async def test_receiver_rejecting_signature_is_permanent(receiver: Receiver) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        notifier = WebhookNotifier(client, "wrong-secret", clock=FakeClock(NOW))
        result = await notifier.send(receiver.url, MESSAGE)
    assert result.status is DeliveryStatus.PERMANENT and "401" in result.detail
    assert receiver.processed == {}


async def test_gone_endpoint_over_socket_is_unreachable(receiver: Receiver) -> None:
    receiver.status = 410
    async with httpx.AsyncClient(timeout=5) as client:
        result = await WebhookNotifier(client, SECRET, clock=FakeClock(NOW)).send(
            receiver.url, MESSAGE
        )
    assert result.status is DeliveryStatus.UNREACHABLE


async def test_connection_refused_is_transient() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port any more
    async with httpx.AsyncClient(timeout=5) as client:
        result = await WebhookNotifier(client, SECRET).send(f"http://127.0.0.1:{port}/", MESSAGE)
    assert result.status is DeliveryStatus.TRANSIENT and "not connected" in result.detail


def test_verify_signature_timestamp_tolerance() -> None:
    body = b'{"id":"k"}'
    ts = int(NOW.timestamp())
    header = sign_payload(SECRET, ts, body)
    assert verify_signature(SECRET, ts, body, header, now=NOW)
    assert verify_signature(SECRET, str(ts), body.decode(), header, now=ts + 300)
    assert not verify_signature(SECRET, ts, body, header, now=ts + 301)
    assert not verify_signature(SECRET, ts, body, header, now=ts - 301)
    assert not verify_signature(SECRET, ts, body, header, now=ts + 1000, tolerance_s=999)
    assert not verify_signature(SECRET, "nan", body, header, now=NOW)
    assert not verify_signature(SECRET, "yesterday", body, header, now=NOW)
    assert not verify_signature(SECRET, ts, body, None, now=NOW)
    assert not verify_signature(SECRET, ts, body, "sha256=00", now=NOW)
    assert not verify_signature(SECRET, ts, body, "sha256=Ü", now=NOW)


def respond(
    status: int, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers)

    return handler


def failing(exc: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("simulated", request=request)

    return handler


async def send_with(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    url: str = "https://hooks.example.com/x",
    resend_on_timeout: bool = True,
) -> tuple[DeliveryStatus, float | None, str]:
    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport) as client:
        notifier = WebhookNotifier(
            client, SECRET, clock=FakeClock(NOW), resend_on_timeout=resend_on_timeout
        )
        result = await notifier.send(url, MESSAGE)
    return result.status, result.retry_after_s, result.detail


@pytest.mark.parametrize(
    ("status", "headers", "expected", "retry_after"),
    [
        (200, None, DeliveryStatus.SENT, None),
        (204, None, DeliveryStatus.SENT, None),
        (429, {"Retry-After": "7"}, DeliveryStatus.RETRY_AFTER, 7.0),
        (503, {"Retry-After": "Sun, 01 Mar 2026 12:01:00 GMT"}, DeliveryStatus.RETRY_AFTER, 60.0),
        (429, None, DeliveryStatus.TRANSIENT, None),
        (503, None, DeliveryStatus.TRANSIENT, None),
        (500, None, DeliveryStatus.TRANSIENT, None),
        (502, {"Retry-After": "5"}, DeliveryStatus.TRANSIENT, None),
        (408, None, DeliveryStatus.TRANSIENT, None),
        (410, None, DeliveryStatus.UNREACHABLE, None),
        (400, None, DeliveryStatus.PERMANENT, None),
        (403, None, DeliveryStatus.PERMANENT, None),
        (404, None, DeliveryStatus.PERMANENT, None),
        (302, {"Location": "https://elsewhere.example.com"}, DeliveryStatus.PERMANENT, None),
    ],
)
async def test_status_mapping(
    status: int,
    headers: dict[str, str] | None,
    expected: DeliveryStatus,
    retry_after: float | None,
) -> None:
    got, got_retry_after, detail = await send_with(respond(status, headers))
    assert got is expected
    assert got_retry_after == retry_after
    assert f"HTTP {status}" in detail and "hooks.example.com" in detail


@pytest.mark.parametrize(
    ("exc", "default", "strict"),
    [
        (httpx.ConnectError, DeliveryStatus.TRANSIENT, DeliveryStatus.TRANSIENT),
        (httpx.ConnectTimeout, DeliveryStatus.TRANSIENT, DeliveryStatus.TRANSIENT),
        (httpx.PoolTimeout, DeliveryStatus.TRANSIENT, DeliveryStatus.TRANSIENT),
        (httpx.ReadTimeout, DeliveryStatus.TRANSIENT, DeliveryStatus.UNKNOWN),
        (httpx.WriteTimeout, DeliveryStatus.TRANSIENT, DeliveryStatus.UNKNOWN),
        (httpx.RemoteProtocolError, DeliveryStatus.TRANSIENT, DeliveryStatus.UNKNOWN),
        (httpx.UnsupportedProtocol, DeliveryStatus.PERMANENT, DeliveryStatus.PERMANENT),
    ],
)
async def test_transport_errors(
    exc: type[httpx.TransportError], default: DeliveryStatus, strict: DeliveryStatus
) -> None:
    assert (await send_with(failing(exc)))[0] is default
    assert (await send_with(failing(exc), resend_on_timeout=False))[0] is strict


async def test_invalid_url_is_permanent_without_a_request() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200)

    status, _, detail = await send_with(handler, url="http://hooks.example.com/x")
    assert status is DeliveryStatus.PERMANENT and "invalid webhook URL" in detail
    assert calls == []


async def test_signature_header_matches_body() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(respond(200))) as client:
        notifier = WebhookNotifier(client, SECRET, clock=FakeClock(NOW))
        body, headers = notifier.build_request(OutgoingMessage("notice", "no key"))
    assert headers[IDEMPOTENCY_HEADER].startswith("random:")
    assert json.loads(body)["id"] == headers[IDEMPOTENCY_HEADER]
    assert verify_signature(
        SECRET, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], now=NOW
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/cryptoguard?token=abc",
        "http://localhost:8080/hook",
        "http://127.0.0.1/hook",
        "http://[::1]:9000/",
        "  https://example.org  ",
    ],
)
def test_valid_urls(url: str) -> None:
    assert validate_webhook_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://example.com/hook",
        "ftp://example.com/",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com:99999/",
        "example.com/hook",
        "https://example.com/" + "a" * 3000,
    ],
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(UserInputError):
        validate_webhook_url(url)


async def test_empty_secret_is_a_configuration_error() -> None:
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConfigurationError):
            WebhookNotifier(client, "")


async def test_dispatcher_delivers_webhook_rows_as_one_signed_request(
    db: Database, receiver: Receiver
) -> None:
    """End to end: two due outbox rows for one webhook URL become one signed POST."""
    async with db.transaction() as session:
        repo = OutboxRepository(session)
        for i in (1, 2):
            payload = {"kind": "alert", "text": f"alert {i}", "severity": "high"}
            await repo.enqueue("webhook", receiver.url, payload, f"alert:{i}:t", now=NOW)
    async with httpx.AsyncClient(timeout=5) as client:
        webhook = WebhookNotifier(client, SECRET, clock=FakeClock(NOW))
        stats = await Dispatcher(db, {"webhook": webhook}, clock=FakeClock(NOW)).run_once()
    assert stats.sent == 2 and stats.messages == 1
    (document,) = receiver.processed.values()
    assert document["title"] == "2 alerts" and document["severity"] == "high"
    data = document["data"]
    assert isinstance(data, dict)
    assert [item["key"] for item in data["items"]] == ["alert:1:t", "alert:2:t"]
    async with db.transaction(readonly=True) as session:
        assert await OutboxRepository(session).count_by_status() == {"sent": 2}
