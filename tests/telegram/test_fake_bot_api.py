"""The fake Bot API server, driven by the real python-telegram-bot over HTTP.

These tests pin down what the front-end's tests rely on: that PTB accepts every answer the
fake gives (the shapes are real), that each Telegram failure surfaces as the PTB exception
the front-end handles (RetryAfter, Forbidden, ChatMigrated, BadRequest, Conflict, TimedOut),
and that updates reach handlers both by long polling and by webhook.

PTB lower-cases error descriptions after the first letter ("Can't parse entities: unsupported
start tag ..."), hence the ``.lower()`` in the assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import io
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram.fake_bot_api import (
    CONFLICT_DESCRIPTION,
    DEFAULT_GROUP_CHAT_ID,
    BotApiError,
    FakeBotApi,
    ManualClock,
    TelegramLimits,
    fake_bot_api,
    message_entities,
    parse_html,
)

TOKEN = "123456:TEST-token"
# A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5f0d2a80000000049454e44ae426082"
)
AnyApp = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with fake_bot_api(TOKEN) as api:
        yield api


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with bot_for(server) as client:
        yield client


@contextlib.asynccontextmanager
async def bot_for(server: FakeBotApi, token: str | None = None) -> AsyncIterator[Bot]:
    async with Bot(
        token or server.token, base_url=server.base_url, base_file_url=server.base_file_url
    ) as client:
        yield client


def build_app(server: FakeBotApi, *, rate_limited: bool = False) -> AnyApp:
    builder = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )
    if rate_limited:
        return builder.rate_limiter(AIORateLimiter()).build()
    return builder.build()


@contextlib.asynccontextmanager
async def polling(app: AnyApp) -> AsyncIterator[AnyApp]:
    """Run ``app`` with long polling inside the test's event loop."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----------------------------------------------------------------------------- basics


async def test_get_me_wrong_token_and_unknown_method(server: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "cryptoguard_test_bot", True)

    with pytest.raises(InvalidToken):
        async with bot_for(server, token="123456:wrong"):
            pass
    assert server.errors(401)[0].description == "Unauthorized"

    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")
    assert server.calls[-1].status == 404


async def test_send_edit_delete_with_html_and_keyboard(server: FakeBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Delete", callback_data="del:12")]])
    message = await bot.send_message(
        42, "<b>BTC</b> &lt;up&gt; 2&amp;3", parse_mode="HTML", reply_markup=keyboard
    )

    assert message.text == "BTC <up> 2&3"
    assert message.entities == (MessageEntity(MessageEntity.BOLD, 0, 3),)
    assert message.reply_markup == keyboard
    [sent] = server.messages_to(42)
    assert (sent.method, sent.message_id, sent.parse_mode) == (
        "sendMessage",
        message.message_id,
        "HTML",
    )
    assert sent.reply_markup == keyboard.to_dict()
    assert server.texts_to(42) == ["<b>BTC</b> &lt;up&gt; 2&amp;3"]
    assert server.texts_to(42, rendered=True) == ["BTC <up> 2&3"]

    edited = await bot.edit_message_text("<i>gone</i>", 42, message.message_id, parse_mode="HTML")
    assert isinstance(edited, type(message)) and edited.text == "gone"
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("<i>gone</i>", 42, message.message_id, parse_mode="HTML")
    # Editing the text without reply_markup dropped the keyboard, as Telegram does.
    assert edited.reply_markup is None
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(42, message.message_id, reply_markup=None)
    await bot.edit_message_reply_markup(42, message.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", 42, 999)

    assert await bot.delete_message(42, message.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(42, message.message_id)
    assert [m.method for m in server.messages_to(42)] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
    ]
    assert server.texts_to(42, include_edits=True) == [
        "<b>BTC</b> &lt;up&gt; 2&amp;3",
        "<i>gone</i>",
    ]


async def test_photo_and_document_uploads_and_downloads(server: FakeBotApi, bot: Bot) -> None:
    photo = await bot.send_photo(42, PNG, caption="<b>BTC</b> 7d", parse_mode="HTML")
    assert photo.caption == "BTC 7d"
    assert (photo.photo[-1].width, photo.photo[-1].height) == (1, 1)

    csv = b"date,symbol,qty\n2024-01-01,BTC,0.5\n"
    document = await bot.send_document(
        42, io.BytesIO(csv), filename="tax-2024.csv", caption="Tax report"
    )
    assert document.document is not None
    assert document.document.file_name == "tax-2024.csv"

    photo_sent, doc_sent = server.messages_to(42)
    assert (photo_sent.method, photo_sent.file_size, photo_sent.rendered) == (
        "sendPhoto",
        len(PNG),
        "BTC 7d",
    )
    assert (doc_sent.filename, doc_sent.file_size, doc_sent.caption) == (
        "tax-2024.csv",
        len(csv),
        "Tax report",
    )
    assert doc_sent.content == csv and doc_sent.mime_type == "text/csv"

    file = await bot.get_file(document.document.file_id)
    assert bytes(await file.download_as_bytearray()) == csv

    # The same photo again by file_id; then the classic savefig-without-seek(0) mistake.
    await bot.send_photo(42, photo.photo[-1].file_id)
    with pytest.raises(BadRequest, match="(?i)file must be non-empty"):
        await bot.send_photo(42, io.BytesIO(b""))
    with pytest.raises(BadRequest, match="(?i)image_process_failed"):
        await bot.send_photo(43, b"not an image")


async def test_text_and_caption_limits_count_utf16(server: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(42, "x" * 4096)
    with pytest.raises(BadRequest, match="(?i)^message is too long$"):
        await bot.send_message(43, "x" * 4097)
    # 2,049 emoji are 4,098 UTF-16 code units.
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(44, "\N{SLIGHTLY SMILING FACE}" * 2049)
    # Limits apply after entity parsing: markup does not count.
    await bot.send_message(45, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")

    await bot.send_document(46, b"data", filename="a.txt", caption="c" * 1024)
    with pytest.raises(BadRequest, match="(?i)^message caption is too long$"):
        await bot.send_document(47, b"data", filename="a.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(48, "<b> </b>", parse_mode="HTML")
    assert [m.chat_id for m in server.sent] == [42, 45, 46]


async def test_html_parse_error_is_bad_request(server: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest) as info:
        await bot.send_message(42, "Price < 5 & falling", parse_mode="HTML")
    assert str(info.value).lower().startswith("can't parse entities: unsupported start tag")
    # The same text without a parse mode is fine: the fallback the front-end uses.
    await bot.send_message(42, "Price < 5 & falling")
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_document(42, b"x", filename="a.txt", caption="<b>x", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        too_long = InlineKeyboardButton("x", callback_data="d" * 65)
        await bot.send_message(42, "x", reply_markup=InlineKeyboardMarkup([[too_long]]))
    assert server.texts_to(42) == ["Price < 5 & falling"]


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        (
            "<b>bold</b> <I>it</I>",
            "bold it",
            [
                {"type": "bold", "offset": 0, "length": 4},
                {"type": "italic", "offset": 5, "length": 2},
            ],
        ),
        (
            '<a href="https://x.io/?a=1&amp;b=2">link</a>',
            "link",
            [{"type": "text_link", "offset": 0, "length": 4, "url": "https://x.io/?a=1&b=2"}],
        ),
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [{"type": "pre", "offset": 0, "length": 5, "language": "python"}],
        ),
        (
            '<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>',
            "ab",
            [
                {"type": "spoiler", "offset": 0, "length": 1},
                {"type": "spoiler", "offset": 1, "length": 1},
            ],
        ),
        (
            "<blockquote expandable>q</blockquote><blockquote>r</blockquote>",
            "qr",
            [
                {"type": "expandable_blockquote", "offset": 0, "length": 1},
                {"type": "blockquote", "offset": 1, "length": 1},
            ],
        ),
        (
            "a &lt; b &gt; c &amp; &quot;d&quot; &#128512;&#x41;",
            'a < b > c & "d" \N{GRINNING FACE}A',
            [],
        ),
        (
            "\N{GRINNING FACE}<u>x</u><s>y</>",
            "\N{GRINNING FACE}xy",
            [
                {"type": "underline", "offset": 2, "length": 1},
                {"type": "strikethrough", "offset": 3, "length": 1},
            ],
        ),
        ("<code></code>1 > 0", "1 > 0", []),
    ],
)
def test_parse_html_accepts_telegram_html(source: str, text: str, entities: list[Any]) -> None:
    parsed = parse_html(source)
    assert (parsed.text, parsed.entities) == (text, entities)


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("\N{LATIN SMALL LETTER E WITH ACUTE}<br>", 'Unsupported start tag "br" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x>y', "Unclosed start tag at byte offset 0"),
        ("<b x>y</b>", 'Expected equal sign in declaration of an attribute of the tag "b"'),
        ('<a href=x">y</a>', "Unexpected end of name token at byte offset 8"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("AT&T", "Character '&' is reserved and must be escaped as &amp; at byte offset 2"),
        ("a&nbsp;b", "Character '&' is reserved"),
    ],
)
def test_parse_html_rejects_what_telegram_rejects(source: str, detail: str) -> None:
    with pytest.raises(BotApiError) as info:
        parse_html(source)
    assert info.value.status == 400
    assert info.value.description.startswith("Bad Request: can't parse entities: " + detail)


def test_parse_html_lenient_ampersand_matches_telegram() -> None:
    assert parse_html("AT&T &nbsp;", strict_ampersand=False).text == "AT&T &nbsp;"


def test_user_message_entities_use_utf16_offsets() -> None:
    text = "\N{GRINNING FACE} /price@cryptoguard_test_bot btc @someone a@b.com /x/y"
    assert message_entities(text) == [
        {"type": "bot_command", "offset": 3, "length": 27},
        {"type": "mention", "offset": 35, "length": 8},
    ]


async def test_injected_updates_are_real_shaped(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(DEFAULT_GROUP_CHAT_ID, "BTC 64,000 USD")
    mention = Update.de_json(
        server.group_message(8, "@cryptoguard_test_bot why?", reply_to_bot=True), bot
    )
    assert mention.effective_chat is not None and mention.effective_chat.type == "supergroup"
    assert mention.message is not None and mention.message.reply_to_message is not None
    assert mention.message.reply_to_message.message_id == sent.message_id
    assert mention.message.reply_to_message.from_user == await bot.get_me()
    assert mention.message.parse_entities([MessageEntity.MENTION])

    document = Update.de_json(
        server.document_message(8, "trades.csv", b"x", "/import", chat_id=-42), bot
    )
    assert document.message is not None and document.message.chat.type == "group"
    assert document.message.caption_entities[0].type == MessageEntity.BOT_COMMAND

    press = Update.de_json(server.callback_query(8, "del:1", sent.message_id, -1001234567890), bot)
    assert press.callback_query is not None and press.callback_query.message is not None
    assert press.callback_query.message.chat.id == DEFAULT_GROUP_CHAT_ID
    assert len(server.pending_updates) == 3


# ----------------------------------------------------------------------------- failures


async def test_per_chat_flood_limit_raises_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta
    clock = ManualClock()
    limits = TelegramLimits(jitter_tolerance=0)
    async with fake_bot_api(TOKEN, clock=clock, limits=limits) as server, bot_for(server) as bot:
        for index in range(3):
            await bot.send_message(42, f"part {index}")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(42, "part 3")
        assert info.value.retry_after == dtm.timedelta(seconds=1)
        assert server.count_429 == 1
        assert server.errors(429)[0].parameters == {"retry_after": 1}

        await bot.send_message(43, "another chat is unaffected")
        clock.advance(1)
        await bot.send_message(42, "part 3")
        assert server.texts_to(42) == ["part 0", "part 1", "part 2", "part 3"]
        assert server.send_times(42) == [1000.0, 1000.0, 1000.0, 1001.0]
        assert server.max_sends_in(1.0, 42) == 3


async def test_overall_and_group_flood_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    clock = ManualClock()
    limits = TelegramLimits(per_chat_burst=100, per_chat_rate=100, jitter_tolerance=0)
    async with fake_bot_api(TOKEN, clock=clock, limits=limits) as server, bot_for(server) as bot:
        for chat_id in range(1, 31):
            await bot.send_message(chat_id, "digest")
        with pytest.raises(RetryAfter):
            await bot.send_message(31, "digest")
        clock.advance(1 / 30)
        await bot.send_message(31, "digest")
        assert server.max_sends_in(1.0) == 31  # 30 at once, then one more 1/30 s later

        clock.advance(10)
        for _ in range(20):
            await bot.send_message(DEFAULT_GROUP_CHAT_ID, "group")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(DEFAULT_GROUP_CHAT_ID, "group")
        assert info.value.retry_after == dtm.timedelta(seconds=3)  # 20 per minute
        assert server.count_429 == 2


async def test_rate_limited_client_never_sees_429(server: FakeBotApi) -> None:
    """PTB's AIORateLimiter at its defaults fits the fake's overall limit."""
    async with build_app(server, rate_limited=True) as app:
        for chat_id in range(1, 46):
            await app.bot.send_message(chat_id, "digest")
    assert server.count_429 == 0
    assert len(server.send_times()) == 45


async def test_blocked_user_and_injected_failures(
    server: FakeBotApi, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # else PTB warns when it builds RetryAfter
    server.block(42)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(42, "alert")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(42, "typing")
    await bot.send_message(43, "others still get theirs")
    server.unblock(42)
    await bot.send_message(42, "welcome back")

    server.block(DEFAULT_GROUP_CHAT_ID)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(DEFAULT_GROUP_CHAT_ID, "digest")

    server.fail_next(42, 502, "Bad Gateway")
    with pytest.raises(TelegramError, match="Bad Gateway"):
        await bot.send_message(42, "one")
    server.fail_next(None, 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7})
    with pytest.raises(RetryAfter):
        await bot.send_message(44, "two")
    await bot.send_message(44, "two")
    assert server.texts_to(42) == ["welcome back"]
    assert server.texts_to(44) == ["two"]


async def test_migrated_group_raises_chat_migrated(server: FakeBotApi, bot: Bot) -> None:
    old, new = -4001, -1009876543210
    server.group_message(7, "hello", chat_id=old, chat_type="group", title="Traders")
    updates = server.migrate(old, new, by_user_id=7)

    with pytest.raises(ChatMigrated) as info:
        await bot.send_message(old, "digest")
    assert info.value.new_chat_id == new
    await bot.send_message(new, "digest")
    assert server.texts_to(new) == ["digest"]

    first, second = (Update.de_json(update, bot) for update in updates)
    assert first.message is not None and first.message.migrate_to_chat_id == new
    assert second.message is not None and second.message.migrate_from_chat_id == old
    assert second.message.chat.type == "supergroup" and second.message.chat.title == "Traders"


async def test_timed_out_send_was_delivered(server: FakeBotApi, bot: Bot) -> None:
    server.delay_next(42, 5.0)
    with pytest.raises(TimedOut):
        await bot.send_message(42, "alert #1", read_timeout=0.2)
    assert server.texts_to(42) == ["alert #1"]


# ----------------------------------------------------------------------------- other methods


async def test_commands_chat_actions_and_group_admins(server: FakeBotApi, bot: Bot) -> None:
    commands = [BotCommand("price", "Show prices"), BotCommand("help", "How to use the bot")]
    assert await bot.set_my_commands(commands)
    assert await bot.get_my_commands() == tuple(commands)
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Price!", "bad")])

    assert await bot.send_chat_action(42, "typing")
    assert [(chat, action) for chat, action, _ in server.chat_actions] == [(42, "typing")]

    group = DEFAULT_GROUP_CHAT_ID
    server.group_message(7, "hi", chat_id=group, title="Traders")
    server.set_admins(group, [8, server.bot_id], owner_id=7)
    assert isinstance(await bot.get_chat_member(group, 7), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(group, 8), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(group, 9), ChatMemberMember)
    admins = await bot.get_chat_administrators(group)
    assert [member.user.id for member in admins] == [7, 8, server.bot_id]
    chat = await bot.get_chat(group)
    assert isinstance(chat, ChatFullInfo)
    assert (chat.type, chat.title) == ("supergroup", "Traders")
    with pytest.raises(BadRequest, match="(?i)no administrators in the private chat"):
        await bot.get_chat_administrators(42)


async def test_get_updates_offsets_and_long_polling(server: FakeBotApi, bot: Bot) -> None:
    first = server.user_message(5, "one")
    server.user_message(5, "two")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    assert updates[0].update_id == first["update_id"]

    # An offset confirms everything below it; the next poll waits for new updates.
    task = asyncio.ensure_future(bot.get_updates(offset=updates[-1].update_id + 1, timeout=5))
    await server.wait_until_polling()
    assert server.pending_updates == []
    server.user_message(5, "three")
    [third] = await task
    assert third.message is not None and third.message.text == "three"

    # A negative offset keeps only the last updates.
    server.user_message(5, "four")
    server.user_message(5, "five")
    [last] = await bot.get_updates(offset=-1, timeout=0)
    assert last.message is not None and last.message.text == "five"


# ----------------------------------------------------------------------------- Application


async def test_polling_application_handles_commands_messages_buttons_and_files(
    server: FakeBotApi,
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        buttons = [[InlineKeyboardButton("UTC", callback_data="tz:UTC")]]
        await update.message.reply_text(
            "Welcome! Pick a timezone:", reply_markup=InlineKeyboardMarkup(buttons)
        )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(f"You said: {update.message.text}")

    async def on_tz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Saved")
        await query.edit_message_text(f"Timezone: {query.data}")

    async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.document is not None
        file = await update.message.document.get_file()
        data = await file.download_as_bytearray()
        await update.message.reply_text(f"{update.message.document.file_name}: {len(data)} bytes")

    async def mentioned(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.message is not None
        await update.message.reply_text("Hello, group")

    app = build_app(server)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(on_tz, pattern=r"^tz:"))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(
        MessageHandler(filters.ChatType.GROUPS & filters.Entity(MessageEntity.MENTION), mentioned)
    )
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, echo)
    )

    async with polling(app):
        server.user_message(7, "/start", first_name="Ada")
        [welcome] = await server.wait_for_messages(7)
        assert welcome.reply_markup == {
            "inline_keyboard": [[{"text": "UTC", "callback_data": "tz:UTC"}]]
        }

        server.user_message(7, "what is btc doing?")
        server.callback_query(7, "tz:UTC", message_id=welcome.message_id or 0)
        server.document_message(7, "trades.csv", b"a,b\n1,2\n")
        server.group_message(8, "@cryptoguard_test_bot hi")
        server.group_message(8, "chatter the bot must ignore")
        await server.wait_for_messages(7, 3)
        await server.wait_for_messages(DEFAULT_GROUP_CHAT_ID)
        await server.wait_for_call("editMessageText")

    assert server.texts_to(7) == [
        "Welcome! Pick a timezone:",
        "You said: what is btc doing?",
        "trades.csv: 8 bytes",
    ]
    # PTB handles updates one at a time, so the edit comes in update order.
    assert server.texts_to(7, include_edits=True) == [
        "Welcome! Pick a timezone:",
        "You said: what is btc doing?",
        "Timezone: tz:UTC",
        "trades.csv: 8 bytes",
    ]
    assert server.callback_answers[0]["text"] == "Saved"
    assert server.texts_to(DEFAULT_GROUP_CHAT_ID) == ["Hello, group"]
    # Stopping the updater confirmed every update: a restart would not see them again.
    assert server.pending_updates == []
    assert server.count_409 == 0


async def test_second_poller_gets_conflict(server: FakeBotApi) -> None:
    errors: list[TelegramError] = []
    async with polling(build_app(server)):
        await server.wait_until_polling()
        async with bot_for(server) as intruder:
            with pytest.raises(Conflict, match="terminated by other getUpdates request"):
                await intruder.get_updates(timeout=0)

        second = build_app(server)
        async with second:
            assert second.updater is not None
            await second.updater.start_polling(
                poll_interval=0, timeout=1, error_callback=errors.append
            )
            await server.wait_for(lambda: bool(errors), what="the second poller's error")
            await second.updater.stop()

        # The first instance keeps polling undisturbed.
        server.user_message(5, "still here?")
        await server.wait_for(lambda: not server.pending_updates, what="the update consumed")
    assert isinstance(errors[0], Conflict)
    assert server.errors(409)[0].description == CONFLICT_DESCRIPTION


async def test_webhook_mode_checks_the_secret(server: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("hi from the webhook")

    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    app = build_app(server)
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=url,
            secret_token="s3cret_token",
        )
        try:
            assert server.webhook is not None
            assert (server.webhook.url, server.webhook.secret_token) == (url, "s3cret_token")
            info = await app.bot.get_webhook_info()
            assert info.url == url

            update = server.user_message(5, "/start", deliver=False)
            assert await server.post_update_to(url, update, "wrong") == 403
            assert await server.post_update_to(url, update) == 403
            assert await server.post_update_to(url, update, "s3cret_token") == 200
            await server.wait_for_messages(5)

            # Queued updates go to the webhook by themselves, with the secret.
            server.user_message(6, "/start")
            await server.wait_for_messages(6)
            assert server.webhook_posts[-1].secret_token == "s3cret_token"

            with pytest.raises(Conflict, match="webhook is active"):
                await app.bot.get_updates()
        finally:
            await app.updater.stop()
            await app.stop()
    assert server.texts_to(5) == ["hi from the webhook"]
    assert server.texts_to(6) == ["hi from the webhook"]
