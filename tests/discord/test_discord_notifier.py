"""Tests of the Discord notifier: the real discord.py against the fake Discord API."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.discord.notifier import (
    MAX_RATELIMIT_TIMEOUT_S,
    DiscordAddress,
    DiscordNotifier,
    channel_recipient,
    classify_error,
    parse_recipient,
    plan_message,
    user_recipient,
)
from storage import Database, OutboxRepository, UserRepository
from tests.discord.fake_discord_api import (
    FakeDiscordApi,
    FakeMessage,
    ManualClock,
    fake_discord_api,
    logged_in,
    make_client,
    message_errors,
)
from tools.attachments import Attachment
from tools.clock import FakeClock
from tools.delivery import Dispatcher, DispatchStats
from tools.notify import DeliveryStatus, OutgoingMessage, merge_messages

USER = 555
MESSAGES = r"/channels/\d+/messages"


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def alert(
    text: str = "BTC is $101,000, above your $100,000 trigger.", **kw: Any
) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "kind": "alert",
        "text": text,
        "title": "Alert #7",
        "severity": "warning",
        "key": "alert:7:2026-03-01T12:00",
    }
    fields.update(kw)
    return OutgoingMessage(**fields)


def table_text(rows: int) -> str:
    lines = ["COIN   PRICE (USD)      24H  NOTE"]
    lines += [f"C{i:<5} ${i * 1234.5:>12,.2f}  {i % 7 - 3:+.2f}%  *bold* _x_" for i in range(rows)]
    return "\n".join(lines)


class Harness:
    def __init__(self, server: FakeDiscordApi, client: discord.Client) -> None:
        self.server = server
        self.client = client
        self.clock = ManualClock()
        self.notifier = DiscordNotifier(client, clock=self.clock)

    def posts(self) -> list[Any]:
        return self.server.requests_to("POST", MESSAGES)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with fake_discord_api(clock=ManualClock()) as server, logged_in(server) as client:
        yield Harness(server, client)


# ---------------------------------------------------------------------- recipients


def test_recipient_scheme() -> None:
    assert parse_recipient("555") == DiscordAddress("auto", 555)
    assert parse_recipient(" user:555 ") == DiscordAddress("user", 555)
    assert parse_recipient("channel:777") == DiscordAddress("channel", 777)
    for bad in ("", "abc", "-5", "0", "chat:1", "channel:", "１２３", str(2**64)):
        assert parse_recipient(bad) is None, bad
    assert user_recipient(555) == "555" and channel_recipient("777") == "channel:777"


# -------------------------------------------------------------------- deliveries


async def test_dm_delivered_as_coloured_embed(harness: Harness) -> None:
    result = await harness.notifier.send(user_recipient(USER), alert())
    assert result.status is DeliveryStatus.SENT
    (message,) = harness.server.dms_to(USER)
    (embed,) = message.embeds
    assert embed["title"] == "⚠️ Alert #7" and embed["color"] == discord.Colour.orange().value
    assert embed["description"] == "BTC is $101,000, above your $100,000 trigger."
    (post,) = harness.posts()
    assert post.allowed_mentions == {"parse": []}
    assert post.json["enforce_nonce"] is True and len(post.json["nonce"]) == 25


async def test_closed_dms_are_unreachable_and_not_retried(harness: Harness) -> None:
    harness.server.block_dm(USER)
    first = await harness.notifier.send(str(USER), alert())
    assert first.status is DeliveryStatus.UNREACHABLE and "50007" in first.detail
    assert harness.server.dms_to(USER) == []
    second = await harness.notifier.send(str(USER), alert())
    assert second.status is DeliveryStatus.UNREACHABLE and "remembered" in second.detail
    assert len(harness.posts()) == 1  # no second invalid request
    assert harness.server.invalid_requests == 1
    harness.clock.advance(3601)  # the user may have opened their DMs again
    harness.server.block_dm(USER, blocked=False)
    assert (await harness.notifier.send(str(USER), alert())).status is DeliveryStatus.SENT


async def test_forget_clears_the_memory(harness: Harness) -> None:
    harness.server.block_dm(USER)
    assert (await harness.notifier.send(str(USER), alert())).status is DeliveryStatus.UNREACHABLE
    harness.server.block_dm(USER, blocked=False)
    harness.notifier.forget(str(USER))  # the user ran a command: DMs may be open again
    assert (await harness.notifier.send(str(USER), alert())).status is DeliveryStatus.SENT


async def test_channel_post_pings_nobody(harness: Harness) -> None:
    channel = harness.server.add_channel(name="depeg-alerts")
    message = alert(
        "@everyone USDC <@&42> <@1234> @here", title="@everyone depeg!", severity="critical"
    )
    result = await harness.notifier.send(channel_recipient(channel.id), message)
    assert result.status is DeliveryStatus.SENT
    (posted,) = harness.server.messages_in(channel.id)
    assert posted.pings.nobody
    assert harness.posts()[0].allowed_mentions == {"parse": []}
    assert harness.server.requests_to("POST", r"/users/@me/channels") == []


async def test_plain_fallback_pings_nobody_either(harness: Harness) -> None:
    channel = harness.server.add_channel()
    harness.server.fail_next("POST", MESSAGES, 400, code=50035, message="Invalid Form Body")
    message = alert("@everyone look: <@1234>", title="Label @here")
    result = await harness.notifier.send(channel_recipient(channel.id), message)
    assert result.status is DeliveryStatus.SENT and "plain text" in result.detail
    (posted,) = harness.server.messages_in(channel.id)
    assert posted.embeds == [] and "@everyone look" in posted.content
    assert posted.content.startswith("\\[WARNING\\] Label @here")
    assert posted.pings.nobody
    assert [p.allowed_mentions for p in harness.posts()] == [{"parse": []}] * 2


async def test_bare_channel_id_is_probed_once(harness: Harness) -> None:
    channel = harness.server.add_channel()
    for key in ("k1", "k2"):
        result = await harness.notifier.send(str(channel.id), alert(key=key))
        assert result.status is DeliveryStatus.SENT
    assert len(harness.server.messages_in(channel.id)) == 2
    (probe,) = harness.server.requests_to("POST", r"/users/@me/channels")
    assert probe.status == 404 and probe.response["code"] == 10013


async def test_same_row_sent_twice_arrives_once(harness: Harness) -> None:
    # A crash between sending and settling makes the dispatcher resend the row: the
    # nonce derived from its idempotency key makes Discord return the first message.
    for _ in range(2):
        assert (await harness.notifier.send(str(USER), alert())).status is DeliveryStatus.SENT
    assert len(harness.posts()) == 2 and len(harness.server.dms_to(USER)) == 1


async def test_dm_channel_id_recorded_as_chat_id(harness: Harness) -> None:
    dm_channel = harness.server.dm_channel_id(USER)
    assert (await harness.notifier.send(str(dm_channel), alert())).status is DeliveryStatus.SENT
    assert len(harness.server.dms_to(USER)) == 1


async def test_long_text_is_split_within_the_limits(harness: Harness) -> None:
    text = "Daily digest\n\n" + table_text(400) + "\n\nThat is all."
    result = await harness.notifier.send(str(USER), alert(text, kind="digest"))
    assert result.status is DeliveryStatus.SENT and "parts" in result.detail
    messages = harness.server.dms_to(USER)
    assert len(messages) > 2
    assert all(p.status == 200 for p in harness.posts())  # the fake checked every limit
    joined = "\n".join(m.text for m in messages)
    assert "C399 " in joined and "That is all." in joined
    descriptions = [e["description"] for m in messages for e in m.embeds]
    assert all(d.count("```") % 2 == 0 for d in descriptions)  # tables stay in code blocks


async def test_burst_of_alerts_is_paginated(harness: Harness) -> None:
    parts = [
        alert(f"Coin {i} moved: " + "details " * 60, title=f"Alert #{i}", key=f"k{i}")
        for i in range(45)
    ]
    merged = merge_messages(parts)
    planned = plan_message(merged)
    assert len(planned) > 1
    for message in planned:
        assert len(message.embeds) <= 10
        assert sum(len(e) for e in message.embeds) <= 6000
    result = await harness.notifier.send(str(USER), merged)
    assert result.status is DeliveryStatus.SENT
    assert len(harness.server.dms_to(USER)) == len(planned)


async def test_chart_is_attached_and_shown_in_the_embed(harness: Harness) -> None:
    chart = Attachment("usdc 7d.png", "image/png", tiny_png(), caption="USDC, 7 days")
    message = alert("USDC at 0.97", kind="depeg", severity="high", attachments=(chart,))
    assert (await harness.notifier.send(str(USER), message)).status is DeliveryStatus.SENT
    (posted,) = harness.server.dms_to(USER)
    (file,) = posted.attachments
    assert file["filename"] == "usdc_7d.png" and file["data"] == chart.data
    assert file["description"] == "USDC, 7 days"
    (embed,) = posted.embeds
    assert embed["image"]["url"] == file["url"]
    assert embed["color"] == discord.Colour.red().value and "USDC, 7 days" in embed["description"]


# -------------------------------------------------------------------- rate limits


async def test_short_rate_limit_is_handled_by_discord_py(harness: Harness) -> None:
    harness.server.rate_limit(retry_after=0.01)
    result = await harness.notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.SENT
    assert [p.status for p in harness.posts()] == [429, 200]
    assert len(harness.server.dms_to(USER)) == 1


@pytest.mark.parametrize("is_global", [False, True])
async def test_long_rate_limit_becomes_retry_after(harness: Harness, is_global: bool) -> None:
    harness.server.rate_limit(retry_after=95.0, is_global=is_global)
    result = await harness.notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.RETRY_AFTER and result.retry_after_s == 95.0
    assert harness.server.dms_to(USER) == []


async def test_cloudflare_ban_becomes_retry_after() -> None:
    async with fake_discord_api(clock=ManualClock(), invalid_request_limit=1) as server:
        async with logged_in(server) as client:
            notifier = DiscordNotifier(client)
            server.block_dm(1)
            assert (await notifier.send("1", alert())).status is DeliveryStatus.UNREACHABLE
            result = await notifier.send("2", alert())
            assert result.status is DeliveryStatus.RETRY_AFTER
            assert result.retry_after_s == 3600 and "Cloudflare" in result.detail


async def test_client_without_a_rate_limit_cap_gets_one(harness: Harness) -> None:
    client = discord.Client(intents=discord.Intents.default())
    assert client.http.max_ratelimit_timeout is None
    DiscordNotifier(client)
    assert client.http.max_ratelimit_timeout == MAX_RATELIMIT_TIMEOUT_S
    patient = make_client(max_ratelimit_timeout=120.0)
    DiscordNotifier(patient)
    assert patient.http.max_ratelimit_timeout == MAX_RATELIMIT_TIMEOUT_S


# ------------------------------------------------------------------------ failures


async def test_lost_channel_access_is_unreachable(harness: Harness) -> None:
    channel = harness.server.add_channel()
    harness.server.deny_channel(channel.id)
    result = await harness.notifier.send(channel_recipient(channel.id), alert())
    assert result.status is DeliveryStatus.UNREACHABLE and "50001" in result.detail
    harness.server.delete_channel(channel.id)
    gone = await harness.notifier.send(channel_recipient(channel.id + 1), alert())
    assert gone.status is DeliveryStatus.UNREACHABLE and "10003" in gone.detail


async def test_other_forbidden_on_a_dm_is_permanent(harness: Harness) -> None:
    harness.server.deny_channel(
        harness.server.dm_channel_id(USER), code=40002, message="verify your account"
    )
    result = await harness.notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.PERMANENT


async def test_server_error_is_transient(harness: Harness) -> None:
    harness.server.fail_next("POST", MESSAGES, 503)
    result = await harness.notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.TRANSIENT and "503" in result.detail


async def test_retry_after_a_500_does_not_duplicate(harness: Harness) -> None:
    # Discord created the message but answered 500; discord.py retries (after 1 s) with
    # the same nonce and gets the message back instead of a second one.
    harness.server.fail_next("POST", MESSAGES, 500, deliver=True)
    result = await harness.notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.SENT
    assert [p.status for p in harness.posts()] == [500, 200]
    assert len(harness.server.dms_to(USER)) == 1


async def test_timeout_after_the_post_left_is_unknown(harness: Harness) -> None:
    notifier = DiscordNotifier(harness.client, deadline_s=0.2)
    harness.server.stall_next("POST", MESSAGES, deliver=True)
    result = await notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.UNKNOWN
    assert len(harness.server.dms_to(USER)) == 1  # it did arrive: a resend would duplicate


async def test_timeout_before_any_post_is_transient(harness: Harness) -> None:
    notifier = DiscordNotifier(harness.client, deadline_s=0.2)
    harness.server.stall_next("POST", r"/users/@me/channels")
    result = await notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.TRANSIENT and harness.posts() == []


async def test_failure_after_some_parts_is_unknown(harness: Harness) -> None:
    harness.server.rate_limit(retry_after=90.0, skip=1)
    result = await harness.notifier.send(str(USER), alert(table_text(300)))
    assert result.status is DeliveryStatus.UNKNOWN
    assert result.detail.startswith("partly delivered: 1 of")
    assert len(harness.server.dms_to(USER)) == 1


async def test_refused_recipients_and_messages(harness: Harness) -> None:
    bad = await harness.notifier.send("telegram:1", alert())
    assert bad.status is DeliveryStatus.PERMANENT
    empty = await harness.notifier.send(str(USER), alert("", title=None, severity=None))
    assert empty.status is DeliveryStatus.PERMANENT
    assert harness.server.requests_to("POST", r".*") == []


async def test_client_not_logged_in_is_transient() -> None:
    notifier = DiscordNotifier(make_client())
    result = await notifier.send(str(USER), alert())
    assert result.status is DeliveryStatus.TRANSIENT


def http_error(kind: type[discord.HTTPException], status: int, code: int) -> Any:
    """A discord.py HTTP error as discord.py builds it from a response."""
    response: Any = SimpleNamespace(status=status, reason="", headers={})
    return kind(response, {"code": code, "message": f"error {code}"})


def test_classification() -> None:
    def status(exc: BaseException, target: Any = "user", in_flight: bool = False) -> Any:
        return classify_error(exc, target=target, in_flight=in_flight).status

    assert status(http_error(discord.Forbidden, 403, 50007)) is DeliveryStatus.UNREACHABLE
    missing = http_error(discord.Forbidden, 403, 50013)
    assert status(missing) is DeliveryStatus.PERMANENT
    assert status(missing, "channel") is DeliveryStatus.UNREACHABLE
    assert status(http_error(discord.NotFound, 404, 10013)) is DeliveryStatus.UNREACHABLE
    assert status(http_error(discord.NotFound, 404, 10008)) is DeliveryStatus.PERMANENT
    assert status(http_error(discord.HTTPException, 400, 50035)) is DeliveryStatus.PERMANENT
    assert status(http_error(discord.HTTPException, 401, 0)) is DeliveryStatus.TRANSIENT
    assert status(http_error(discord.DiscordServerError, 502, 0)) is DeliveryStatus.TRANSIENT
    assert status(TimeoutError(), in_flight=True) is DeliveryStatus.UNKNOWN
    assert status(TimeoutError()) is DeliveryStatus.TRANSIENT
    limited = classify_error(discord.RateLimited(42.0), target="channel", in_flight=False)
    assert (limited.status, limited.retry_after_s) == (DeliveryStatus.RETRY_AFTER, 42.0)


def test_every_planned_message_is_valid() -> None:
    rng = random.Random(3)
    for size in (0, 10, 500, 3000, 9000):
        text = "".join(rng.choice("ab *_`<@>\n") for _ in range(size)) or "x"
        for message in plan_message(alert(text, title="T" * rng.randint(1, 400))):
            body = {"content": message.content, "embeds": [e.to_dict() for e in message.embeds]}
            assert message_errors(body) == {}


# -------------------------------------------------------------- with the dispatcher


async def test_dispatcher_marks_closed_dms_unreachable(db: Database, harness: Harness) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    channel = harness.server.add_channel()
    harness.server.deny_channel(channel.id)  # the bot was removed from that channel
    harness.server.block_dm(1001)
    async with db.transaction() as session:
        users = UserRepository(session)
        closed, _ = await users.get_or_create("discord", "1001", now=now)
        open_, _ = await users.get_or_create("discord", "1002", now=now)
        outbox = OutboxRepository(session)
        payload = {"kind": "alert", "text": "ETH above 4,000 @everyone", "title": "Alert"}
        await outbox.enqueue("discord", "1001", payload, "a1", user_id=closed.id, now=now)
        await outbox.enqueue("discord", "1002", payload, "a2", user_id=open_.id, now=now)
        await outbox.enqueue("discord", channel_recipient(channel.id), payload, "c1", now=now)
    dispatcher = Dispatcher(
        db, {"discord": harness.notifier}, clock=FakeClock(now), rng=random.Random(1)
    )
    stats = await dispatcher.run_once()
    assert stats == DispatchStats(claimed=3, messages=3, sent=1, dead=2)
    async with db.transaction(readonly=True) as session:
        users = UserRepository(session)
        closed_now, open_now = await users.get(closed.id), await users.get(open_.id)
    assert closed_now is not None and not closed_now.reachable
    assert open_now is not None and open_now.reachable
    delivered: list[FakeMessage] = harness.server.dms_to(1002)
    assert len(delivered) == 1 and delivered[0].pings.nobody
