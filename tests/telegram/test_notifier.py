"""Tests of the Telegram notifier: the real python-telegram-bot against the fake Bot API server."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot.telegram.format import CAPTION_LIMIT, TEXT_LIMIT, tg_len, to_plain
from bot.telegram.notifier import (
    SendTimeouts,
    TelegramNotifier,
    classify_error,
    make_rate_limiter,
    plan_message,
    render_message,
)
from tests.telegram.fake_bot_api import (
    MESSAGE_METHODS,
    ApiCall,
    FakeBotApi,
    ManualClock,
    fake_bot_api,
    parse_html,
)
from tools.attachments import Attachment
from tools.notify import DeliveryStatus, OutgoingMessage, merge_messages

CHAT = 4242
GROUP = -100777
SUPERGROUP = -1009876543210


def tiny_png(width: int = 64, height: int = 48) -> bytes:
    """A valid PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def table_text(rows: int) -> str:
    lines = ["COIN   PRICE (USD)      24H  NOTE"]
    lines += [f"C{i:<5} ${i * 1234.5:>12,.2f}  {i % 7 - 3:+.2f}%  a<b & c>d" for i in range(rows)]
    return "\n".join(lines)


def sends(server: FakeBotApi) -> list[ApiCall]:
    """The message-sending calls the server got, whatever their outcome."""
    return [c for c in server.calls if c.method in MESSAGE_METHODS]


@dataclass
class Harness:
    """A fake server on a manual clock, a real Bot, and a notifier whose waits move the
    clock (``on_sleep`` runs at every wait: a hook between the parts of a message)."""

    server: FakeBotApi
    bot: Bot
    clock: ManualClock
    notifier: TelegramNotifier
    slept: list[float]
    on_sleep: Callable[[], None] | None = None


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    clock = ManualClock()
    async with fake_bot_api(clock=clock) as server:
        bot = Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url)
        async with bot:
            slept: list[float] = []
            box: list[Harness] = []

            async def sleep(seconds: float) -> None:
                slept.append(seconds)
                clock.advance(seconds)
                hook = box[0].on_sleep
                if hook is not None:
                    box[0].on_sleep = None
                    hook()

            notifier = TelegramNotifier(bot, sleep=sleep, clock=clock)
            box.append(Harness(server, bot, clock, notifier, slept))
            yield box[0]


def alert(
    text: str = "BTC is $101,000, above your $100,000 trigger.", **kw: object
) -> OutgoingMessage:
    fields: dict[object, object] = {"kind": "alert", "text": text, "title": "Alert #7"}
    fields.update(kw)
    return OutgoingMessage(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- rendering


def test_render_title_badge_and_escaped_text() -> None:
    message = OutgoingMessage(
        kind="depeg",
        title="USDC <depeg> & co",
        text="COIN  PRICE\nUSDC  0.97",
        severity="critical",
    )
    html = render_message(message)
    assert html == "🚨 <b>USDC &lt;depeg&gt; &amp; co</b>\n<pre>COIN  PRICE\nUSDC  0.97</pre>"
    assert parse_html(html).text == "🚨 USDC <depeg> & co\nCOIN  PRICE\nUSDC  0.97"


def test_render_without_title_and_info_has_no_badge() -> None:
    assert render_message(OutgoingMessage(kind="notice", text="a < b", severity="info")) == (
        "a &lt; b"
    )
    up = OutgoingMessage(kind="alert", text="SOL +8%", data={"direction": "up"})
    assert render_message(up) == "📈 SOL +8%"


def test_plan_text_photo_and_document() -> None:
    assert [p.kind for p in plan_message(alert())] == ["text"]
    long = plan_message(alert(table_text(400)))
    assert len(long) > 1 and all(p.kind == "text" for p in long)
    assert all(tg_len(p.html) <= TEXT_LIMIT for p in long)
    files = (
        Attachment("btc.png", "image/png", tiny_png(), "BTC, 30 days"),
        Attachment("trades.csv", "text/csv", b"a,b\n1,2\n", "Your trades"),
        Attachment("huge.png", "image/png", b"\x89PNG" + b"0" * (11 * 1024 * 1024)),
    )
    plan = plan_message(alert(attachments=files))
    assert [p.kind for p in plan] == ["photo", "document", "document"]
    assert plan[0].html.endswith("\n\nBTC, 30 days")
    assert plan[1].html == "Your trades"
    assert plan[2].html == ""


def test_plan_long_caption_moves_to_follow_up() -> None:
    message = alert(table_text(300), attachments=(Attachment("c.png", "image/png", tiny_png()),))
    plan = plan_message(message)
    assert plan[0].kind == "photo"
    assert 0 < tg_len(plan[0].html) <= CAPTION_LIMIT
    assert len(plan) > 2 and all(p.kind == "text" for p in plan[1:])
    joined = "\n".join(to_plain(p.html) for p in plan)
    assert joined == to_plain(render_message(message))


def test_empty_message_plans_nothing() -> None:
    assert plan_message(OutgoingMessage(kind="notice", text="  \n ")) == []


# ---------------------------------------------------------------------- errors


def test_classify_retry_after_int_and_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    result = classify_error(RetryAfter(7))
    assert (result.status, result.retry_after_s) == (DeliveryStatus.RETRY_AFTER, 7.0)
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    result = classify_error(RetryAfter(timedelta(seconds=2.5)))
    assert (result.status, result.retry_after_s) == (DeliveryStatus.RETRY_AFTER, 2.5)


def test_classify_other_errors() -> None:
    class ConnectTimeout(Exception):
        pass

    def timed_out_before_sending() -> TimedOut:
        try:
            raise TimedOut from ConnectTimeout()
        except TimedOut as exc:
            return exc

    assert classify_error(Forbidden("Forbidden: user is deactivated")).status == "unreachable"
    assert classify_error(BadRequest("Bad Request: chat not found")).status == "unreachable"
    assert classify_error(BadRequest("Bad Request: message is too long")).status == "permanent"
    assert classify_error(TimedOut()).status == "unknown"
    assert classify_error(timed_out_before_sending()).status == "transient"
    assert classify_error(TimedOut("Pool timeout: ... Request was *not* sent")).status == (
        "transient"
    )
    assert classify_error(NetworkError("Bad Gateway")).status == "transient"
    assert classify_error(RuntimeError("boom")).status == "transient"


# ------------------------------------------------------------- against the server


async def test_sends_html_message(harness: Harness) -> None:
    result = await harness.notifier.send(str(CHAT), alert(severity="high"))
    assert result.status is DeliveryStatus.SENT
    (sent,) = harness.server.messages_to(CHAT)
    assert sent.parse_mode == "HTML"
    assert sent.rendered == "🟠 Alert #7\nBTC is $101,000, above your $100,000 trigger."
    assert any(e["type"] == "bold" for e in sent.entities)
    assert sent.params.get("link_preview_options")


async def test_names_with_markup_characters_arrive_verbatim(harness: Harness) -> None:
    text = "Portfolio <main> & _alts_ *[x](y)*\nA  <1>\nB  &2"
    result = await harness.notifier.send(str(CHAT), alert(text, title="P&L <today>"))
    assert result.status is DeliveryStatus.SENT
    assert harness.server.messages_to(CHAT)[0].rendered == f"P&L <today>\n{text}"


async def test_bad_recipient_is_permanent_and_sends_nothing(harness: Harness) -> None:
    result = await harness.notifier.send("@someone", alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert sends(harness.server) == []


async def test_retry_after_is_reported_not_resent(harness: Harness) -> None:
    harness.server.fail_next(
        CHAT, 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7}
    )
    result = await harness.notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.RETRY_AFTER
    assert result.retry_after_s == 7
    assert [c.status for c in sends(harness.server)] == [429]
    assert harness.server.sent == []


async def test_real_flood_limit_gives_retry_after(harness: Harness) -> None:
    fast = TelegramNotifier(harness.bot, part_interval_s=0, clock=harness.clock)
    results = [await fast.send(str(CHAT), alert(f"message {i}")) for i in range(4)]
    # the server allows a burst of 3 per chat, then about one per second
    assert [r.status for r in results[:3]] == [DeliveryStatus.SENT] * 3
    assert results[3].status is DeliveryStatus.RETRY_AFTER
    assert results[3].retry_after_s is not None and results[3].retry_after_s >= 1
    assert len(harness.server.messages_to(CHAT)) == 3


async def test_blocked_user_is_unreachable(harness: Harness) -> None:
    harness.server.block(CHAT)
    result = await harness.notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.UNREACHABLE
    assert "blocked" in result.detail
    assert len(sends(harness.server)) == 1


async def test_migrated_group_gets_the_message_and_new_recipient(harness: Harness) -> None:
    harness.server.migrate(GROUP, SUPERGROUP)
    result = await harness.notifier.send(str(GROUP), alert())
    assert result.status is DeliveryStatus.SENT
    assert result.new_recipient == str(SUPERGROUP)
    assert harness.server.messages_to(GROUP) == []
    (sent,) = harness.server.messages_to(SUPERGROUP)
    assert sent.rendered is not None and sent.rendered.startswith("Alert #7")


async def test_parse_error_falls_back_to_plain_text(harness: Harness) -> None:
    harness.server.fail_next(
        CHAT, 400, 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
    )
    message = alert("COIN  PRICE\nBTC   $1 <cheap> & more")
    result = await harness.notifier.send(str(CHAT), message)
    assert result.status is DeliveryStatus.SENT
    assert "plain text" in result.detail
    (sent,) = harness.server.messages_to(CHAT)
    assert sent.parse_mode is None
    assert sent.text == "Alert #7\nCOIN  PRICE\nBTC   $1 <cheap> & more"


async def test_other_bad_request_is_permanent(harness: Harness) -> None:
    harness.server.fail_next(CHAT, 400, "Bad Request: message is too long")
    result = await harness.notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.PERMANENT
    harness.server.fail_next(CHAT, 400, "Bad Request: chat not found")
    result = await harness.notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.UNREACHABLE


async def test_long_text_is_split_under_the_limit_and_paced(harness: Harness) -> None:
    message = alert(table_text(500), severity="warning")
    result = await harness.notifier.send(str(CHAT), message)
    assert result.status is DeliveryStatus.SENT, result.detail
    sent = harness.server.messages_to(CHAT)
    assert len(sent) >= 3
    assert result.detail.startswith(f"{len(sent)} parts")
    for part in sent:
        assert part.text is not None and tg_len(part.text) <= TEXT_LIMIT
        assert part.parse_mode == "HTML"  # the server parsed every part as valid HTML
        assert part.rendered is not None
    # every line arrives once, in order (the newline at each cut is dropped)
    assert "\n".join(p.rendered or "" for p in sent) == "⚠️ Alert #7\n" + table_text(500)
    assert sent[1].text is not None and sent[1].text.startswith("<pre>")
    assert harness.server.count_429 == 0
    assert harness.server.max_sends_in(1.0, CHAT) == 1


async def test_photo_with_long_caption_gets_a_follow_up(harness: Harness) -> None:
    chart = Attachment("btc-30d.png", "image/png", tiny_png(), "BTC, 30 days")
    message = alert(table_text(60), attachments=(chart,))
    result = await harness.notifier.send(str(CHAT), message)
    assert result.status is DeliveryStatus.SENT, result.detail
    sent = harness.server.messages_to(CHAT)
    assert [s.method for s in sent][:2] == ["sendPhoto", "sendMessage"]
    photo = sent[0]
    assert photo.filename == "btc-30d.png" and photo.content == chart.data
    assert photo.caption is not None and tg_len(photo.caption) <= CAPTION_LIMIT
    assert photo.rendered is not None and photo.rendered.startswith("Alert #7\nCOIN")
    rendered = "\n".join(s.rendered or "" for s in sent)
    assert rendered == "Alert #7\n" + table_text(60) + "\n\nBTC, 30 days"


async def test_short_caption_stays_with_the_photo_and_csv_goes_as_document(
    harness: Harness,
) -> None:
    files = (
        Attachment("btc.png", "image/png", tiny_png()),
        Attachment("tax-2025.csv", "text/csv", b"date,gain\n2025-01-02,10\n", "Form 8949"),
    )
    result = await harness.notifier.send(str(CHAT), alert(attachments=files))
    assert result.status is DeliveryStatus.SENT
    photo, document = harness.server.messages_to(CHAT)
    assert photo.method == "sendPhoto"
    assert photo.rendered == "Alert #7\nBTC is $101,000, above your $100,000 trigger."
    assert document.method == "sendDocument"
    assert (document.filename, document.rendered) == ("tax-2025.csv", "Form 8949")
    assert document.content == files[1].data


async def test_photo_refused_as_photo_goes_as_document(harness: Harness) -> None:
    broken = Attachment("chart.png", "image/png", b"not really a png")
    result = await harness.notifier.send(str(CHAT), alert(attachments=(broken,)))
    assert result.status is DeliveryStatus.SENT
    (sent,) = harness.server.messages_to(CHAT)
    assert sent.method == "sendDocument"


async def test_timeout_is_unknown_and_not_resent(harness: Harness) -> None:
    notifier = TelegramNotifier(harness.bot, timeouts=SendTimeouts(read_s=0.2), clock=harness.clock)
    harness.server.delay_next(CHAT, 30)
    result = await notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.UNKNOWN
    # it was delivered, and only once
    assert len(harness.server.messages_to(CHAT)) == 1
    assert len(sends(harness.server)) == 1


async def test_failure_after_the_first_part_is_unknown_not_resent(harness: Harness) -> None:
    harness.on_sleep = lambda: harness.server.fail_next(CHAT, 500, "Internal Server Error")
    result = await harness.notifier.send(str(CHAT), alert(table_text(500)))
    assert result.status is DeliveryStatus.UNKNOWN
    assert result.detail.startswith("partly delivered: 1 of ")
    assert len(harness.server.messages_to(CHAT)) == 1
    assert len(sends(harness.server)) == 2


async def test_blocked_after_the_first_part_is_unreachable(harness: Harness) -> None:
    harness.on_sleep = lambda: harness.server.block(CHAT)
    result = await harness.notifier.send(str(CHAT), alert(table_text(500)))
    assert result.status is DeliveryStatus.UNREACHABLE
    assert "after 1 of" in result.detail


async def test_short_retry_after_on_a_later_part_is_waited_out(harness: Harness) -> None:
    harness.on_sleep = lambda: harness.server.fail_next(
        CHAT, 429, "Too Many Requests: retry after 2", parameters={"retry_after": 2}
    )
    result = await harness.notifier.send(str(CHAT), alert(table_text(500)))
    assert result.status is DeliveryStatus.SENT, result.detail
    assert 2 in harness.slept
    texts = [s.rendered or "" for s in harness.server.messages_to(CHAT)]
    assert "\n".join(texts) == "Alert #7\n" + table_text(500)  # nothing twice, nothing lost


async def test_long_retry_after_on_a_later_part_is_unknown(harness: Harness) -> None:
    harness.on_sleep = lambda: harness.server.fail_next(
        CHAT, 429, "Too Many Requests: retry after 60", parameters={"retry_after": 60}
    )
    result = await harness.notifier.send(str(CHAT), alert(table_text(500)))
    assert result.status is DeliveryStatus.UNKNOWN
    assert "retry_after" in result.detail
    assert len(harness.server.messages_to(CHAT)) == 1


async def test_merged_alerts_go_out_as_one_message(harness: Harness) -> None:
    parts = [alert(f"BTC crossed {i}k", title=f"Alert #{i}", severity="warning") for i in range(3)]
    result = await harness.notifier.send(str(CHAT), merge_messages(parts))
    assert result.status is DeliveryStatus.SENT
    (sent,) = harness.server.messages_to(CHAT)
    assert sent.rendered is not None and sent.rendered.startswith("⚠️ 3 alerts\n3 alerts:")


async def test_connection_refused_is_transient() -> None:
    bot = Bot("123:ABC", base_url="http://127.0.0.1:9/bot")
    notifier = TelegramNotifier(bot)
    result = await notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.TRANSIENT
    assert "network error" in result.detail


async def test_works_with_the_rate_limited_bot_without_its_retries() -> None:
    async with fake_bot_api() as server:
        bot = ExtBot(server.token, base_url=server.base_url, rate_limiter=make_rate_limiter())
        async with bot:
            notifier = TelegramNotifier(bot, part_interval_s=0)
            assert (await notifier.send(str(GROUP), alert())).status is DeliveryStatus.SENT
            server.fail_next(
                GROUP, 429, "Too Many Requests: retry after 3", parameters={"retry_after": 3}
            )
            result = await notifier.send(str(GROUP), alert())
            assert result.status is DeliveryStatus.RETRY_AFTER
            assert result.retry_after_s == 3
            # the limiter did not retry on its own (max_retries=0)
            assert [c.status for c in sends(server)] == [200, 429]


# ------------------------------------------------------------- time budget


async def test_deadline_while_waiting_before_any_send_is_transient(harness: Harness) -> None:
    async def never(seconds: float) -> None:
        await asyncio.Event().wait()

    notifier = TelegramNotifier(harness.bot, deadline_s=0.05, sleep=never, clock=harness.clock)
    notifier._next_slot[CHAT] = harness.clock() + 10  # the chat's next slot is 10 s away
    result = await notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.TRANSIENT
    assert sends(harness.server) == []


async def test_deadline_while_a_request_is_out_is_unknown(harness: Harness) -> None:
    notifier = TelegramNotifier(harness.bot, deadline_s=0.2, clock=harness.clock)
    harness.server.delay_next(CHAT, 30)
    result = await notifier.send(str(CHAT), alert())
    assert result.status is DeliveryStatus.UNKNOWN
    assert len(harness.server.messages_to(CHAT)) == 1


# ------------------------------------------- every part parses as Telegram would

_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("<>&\"'  \n_*[]()`|-.:$%0123456789")),
        st.characters(exclude_categories=("Cs", "Cc")),
    ),
    max_size=3000,
)


@settings(max_examples=150, deadline=None)
@given(
    _TEXT,
    st.one_of(st.none(), _TEXT.map(lambda t: t[:80])),
    st.sampled_from([None, "info", "warning", "high", "critical", "recovered"]),
    st.booleans(),
)
def test_every_planned_part_is_valid_telegram_html(
    text: str, title: str | None, severity: str | None, with_photo: bool
) -> None:
    files = (Attachment("c.png", "image/png", tiny_png()),) if with_photo else ()
    message = OutgoingMessage("alert", text, title, severity, attachments=files)
    parts = plan_message(message)
    for part in parts:
        parsed = parse_html(part.html)  # raises like the Bot API on invalid HTML
        limit = CAPTION_LIMIT if part.kind == "photo" else TEXT_LIMIT
        assert tg_len(parsed.text) <= limit
        if part.kind == "text":
            assert parsed.text.strip()
    shown = "".join(parse_html(p.html).text for p in parts)
    expected = to_plain(render_message(message))
    assert "".join(shown.split()) == "".join(expected.split())
