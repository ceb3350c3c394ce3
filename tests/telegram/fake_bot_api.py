"""A local fake of the Telegram Bot API that the real python-telegram-bot talks to over HTTP.

Start it in a test's event loop and point PTB at it::

    async with fake_bot_api(token="123:ABC") as server:
        app = (
            ApplicationBuilder()
            .token(server.token)
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .build()
        )
        server.user_message(42, "/start")
        ...
        await server.wait_for_messages(42)
        assert "Welcome" in server.texts_to(42)[0]

What it serves (``POST`` or ``GET /bot{token}/{method}``; form, JSON and multipart bodies;
answers shaped exactly like the Bot API's ``{"ok": ..., "result" | "error_code",
"description", "parameters"}``): getMe, getUpdates (long polling, offsets, 409 on a second
poller), set/get/deleteMyCommands, set/delete/getWebhookInfo (and delivery of queued
updates to the webhook, as Telegram does), sendMessage, editMessageText,
editMessageReplyMarkup, deleteMessage, sendPhoto, sendDocument, sendChatAction,
answerCallbackQuery, getFile (plus downloads at ``/file/bot{token}/{path}``), getChat,
getChatMember, getChatAdministrators. Unknown methods get 404, a wrong token 401.

What it enforces, as Telegram does: text at most 4096 and captions at most 1024 UTF-16 code
units after entity parsing; HTML parse mode parsed for real (tags, attributes, entities),
mirroring TDLib's parser and its error messages; inline-button callback data of 1-64 bytes;
message flood limits (429 with ``retry_after``); blocked users (403); migrated groups (400
with ``migrate_to_chat_id``). Limits are token buckets, see :class:`TelegramLimits`.

Where it deliberately differs from Telegram:

* A bare ``&`` that starts no entity is rejected (Telegram keeps it as text). Telegram's
  documentation asks for it to be escaped; set ``strict_ampersand=False`` to be lenient.
* Every chat exists and every user has started the bot; webhooks may be plain ``http``.
* A second getUpdates is refused with 409 while one is pending on another connection (or
  within ``poll_lease`` seconds after a long poll from another connection returned), so the
  newcomer sees the Conflict deterministically. Telegram ends the *older* request instead.
* MarkdownV2 and Markdown are accepted unparsed.

A bug inside the fake itself is logged and answered 500 (PTB raises NetworkError), recorded
in :attr:`FakeBotApi.calls` like any other answer.

The rate limiter and every recorded timestamp use the injected ``clock`` (default
:func:`time.monotonic`), so tests can use :class:`ManualClock` and never sleep. Long polling
and webhook retries run on real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import mimetypes
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "CONFLICT_DESCRIPTION",
    "DEFAULT_GROUP_CHAT_ID",
    "DEFAULT_TOKEN",
    "MESSAGE_METHODS",
    "SECRET_TOKEN_HEADER",
    "ApiCall",
    "BotApiError",
    "FakeBotApi",
    "ManualClock",
    "ParsedText",
    "SentMessage",
    "StoredFile",
    "TelegramLimits",
    "WebhookConfig",
    "WebhookPost",
    "fake_bot_api",
    "message_entities",
    "parse_html",
    "tg_len",
]

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
Clock = Callable[[], float]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
UPLOAD_LIMIT = 50 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_GROUP_CHAT_ID = -1001234567890
DEFAULT_TOKEN = "123:ABC"
CONFLICT_DESCRIPTION = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_ACTIVE_DESCRIPTION = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED_DESCRIPTION = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)

#: Methods that post a new message: these are recorded, flood-limited and targeted by
#: :meth:`FakeBotApi.fail_next` unless it is given another method.
MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
# Methods a blocked user or a kicked bot cannot use.
_OUTGOING_METHODS = MESSAGE_METHODS | {
    "sendChatAction",
    "editMessageText",
    "editMessageReplyMarkup",
}
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update types Telegram sends when allowed_updates was never set (or set to []).
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_BAD_BUTTON = (
    "Bad Request: can't parse inline keyboard button: "
    "Text buttons are unallowed in the inline keyboard"
)
_BUTTON_ACTIONS = frozenset(
    {"url", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat"}
    | {"switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"}
)
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")


def tg_len(text: str) -> int:
    """Length of ``text`` as Telegram counts it: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --------------------------------------------------------------------------- errors, records


class BotApiError(Exception):
    """A Bot API error answer: HTTP status (= ``error_code``), description, parameters."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        """The JSON body Telegram sends for this error."""
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class SentMessage:
    """One accepted call that produced, changed or removed a message.

    ``text``/``caption`` are the strings as the bot sent them (HTML source in HTML mode);
    ``rendered`` is what the user sees (text or caption after entity parsing) and
    ``entities`` its entities. Uploads keep ``filename``, ``file_size``, ``mime_type`` and
    the bytes in ``content``. ``at`` is the server clock when the call was accepted.
    """

    method: str
    chat_id: int
    message_id: int | None
    at: float
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    rendered: str | None = None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    reply_to_message_id: int | None = None
    filename: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    content: bytes | None = None
    file_id: str | None = None
    params: JSON = field(default_factory=dict)


@dataclass
class ApiCall:
    """One request to the API, whatever its outcome (``status`` 200 when it succeeded)."""

    method: str
    params: JSON
    status: int
    at: float
    chat_id: int | None = None
    description: str | None = None
    parameters: JSON | None = None


@dataclass
class StoredFile:
    """A file the server knows: sent by a user (injected) or uploaded by the bot."""

    file_id: str
    file_unique_id: str
    file_path: str
    filename: str | None
    content: bytes
    mime_type: str | None


@dataclass
class WebhookConfig:
    """What the bot passed to setWebhook, plus Telegram's delivery bookkeeping."""

    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class WebhookPost:
    """One POST of an update to a webhook, by :meth:`FakeBotApi.post_update_to` or delivery."""

    url: str
    update_id: int | None
    secret_token: str | None
    status: int
    at: float


@dataclass(frozen=True)
class TelegramLimits:
    """Flood limits as token buckets (``burst`` sends at once, then ``rate`` per second).

    The defaults follow Telegram's FAQ (about 1 message/s per chat with short bursts,
    30 messages/s overall, 20 messages/minute per group) and match the buckets of
    python-telegram-bot's ``AIORateLimiter``. ``jitter_tolerance`` seconds of refill are
    granted on top, so that a client limiting itself at exactly the documented rate is not
    punished for event-loop scheduling jitter; set it to 0 to test exact thresholds.
    Only :data:`MESSAGE_METHODS` count.
    """

    per_chat_rate: float = 1.0
    per_chat_burst: int = 3
    overall_rate: float = 30.0
    overall_burst: int = 30
    group_rate: float = 20 / 60
    group_burst: int = 20
    jitter_tolerance: float = 0.1


class ManualClock:
    """A clock for the server that moves only when told: ``clock.advance(1.5)``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


class _TokenBucket:
    def __init__(self, rate: float, burst: int, slack: float, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.slack = slack
        self.tokens = float(burst)
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one send is allowed (0 if it is allowed now)."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = max(self.updated, now)
        missing = 1.0 - self.slack - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


# --------------------------------------------------------------------------- HTML parse mode


@dataclass
class ParsedText:
    """Text after entity parsing: what the user sees, and its entities (UTF-16 offsets)."""

    text: str
    entities: list[JSON]


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts


_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")


def _decode_entity(source: str, pos: int) -> tuple[str, int] | None:
    match = _ENTITY_RE.match(source, pos)
    if match is None:
        return None
    name, decimal, hexadecimal = match.groups()
    if name:
        return _NAMED_ENTITIES[name], match.end() - pos
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end() - pos


def parse_html(source: str, *, strict_ampersand: bool = True) -> ParsedText:
    """Parse Telegram HTML the way the Bot API does (after TDLib's ``parse_html``).

    Raises:
        BotApiError: 400 "Bad Request: can't parse entities: ..." with Telegram's wording.
    """

    def byte_offset(pos: int) -> int:
        return len(source[:pos].encode("utf-8", "surrogatepass"))

    def fail(detail: str) -> BotApiError:
        return BotApiError(400, f"Bad Request: can't parse entities: {detail}")

    out: list[str] = []
    out_len = 0
    stack: list[_OpenTag] = []
    entities: list[JSON] = []
    n = len(source)
    i = 0
    while i < n:
        char = source[i]
        if char == "&":
            decoded = _decode_entity(source, i)
            if decoded is not None:
                out.append(decoded[0])
                out_len += tg_len(decoded[0])
                i += decoded[1]
                continue
            if strict_ampersand:
                raise fail(
                    "Character '&' is reserved and must be escaped as &amp; "
                    f"at byte offset {byte_offset(i)}"
                )
        if char != "<":
            out.append(char)
            out_len += tg_len(char)
            i += 1
            continue
        begin = i
        i += 1
        if i >= n or source[i] != "/":
            while i < n and not source[i].isspace() and source[i] != ">":
                i += 1
            if i >= n:
                raise fail(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = source[begin + 1 : i].lower()
            if tag not in _ENTITY_TYPES:
                raise fail(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
            attributes: dict[str, str] = {}
            while True:
                while i < n and source[i].isspace():
                    i += 1
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {byte_offset(begin)}")
                if source[i] == ">":
                    break
                name_begin = i
                while i < n and not source[i].isspace() and source[i] not in "=>":
                    i += 1
                name = source[name_begin:i].lower()
                if not name:
                    raise fail(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{byte_offset(begin)}"
                    )
                while i < n and source[i].isspace():
                    i += 1
                if i < n and source[i] != "=" and tag == "blockquote" and name == "expandable":
                    attributes[name] = ""
                    continue
                if i >= n or source[i] != "=":
                    raise fail(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {byte_offset(begin)}'
                    )
                i += 1
                while i < n and source[i].isspace():
                    i += 1
                if i >= n:
                    raise fail(f"Unclosed start tag at byte offset {byte_offset(begin)}")
                if source[i] not in "'\"":
                    token_begin = i
                    while i < n and (
                        source[i].isascii() and source[i].isalnum() or source[i] in ".-"
                    ):
                        i += 1
                    if i < n and not source[i].isspace() and source[i] != ">":
                        at = byte_offset(token_begin)
                        raise fail(f"Unexpected end of name token at byte offset {at}")
                    value = source[token_begin:i].lower()
                else:
                    quote = source[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and source[i] != quote:
                        decoded = _decode_entity(source, i) if source[i] == "&" else None
                        if decoded is not None:
                            chars.append(decoded[0])
                            i += decoded[1]
                        else:
                            chars.append(source[i])
                            i += 1
                    if i >= n:
                        raise fail(f"Unclosed start tag at byte offset {byte_offset(begin)}")
                    i += 1
                    value = "".join(chars)
                attributes[name] = value
            i += 1  # past '>'
            argument = ""
            if tag == "a":
                argument = attributes.get("href", "")
            elif tag == "code":
                css = attributes.get("class", "")
                if css.startswith("language-"):
                    argument = css[len("language-") :]
            elif tag == "span":
                if attributes.get("class") != "tg-spoiler":
                    raise fail(
                        f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{byte_offset(begin)}"
                    )
            elif tag == "blockquote" and "expandable" in attributes:
                argument = "expandable"
            stack.append(_OpenTag(tag, argument, out_len))
        else:
            if not stack:
                raise fail(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            i += 1  # past '/'
            name_begin = i
            while i < n and not source[i].isspace() and source[i] != ">":
                i += 1
            end_name = source[name_begin:i].lower()
            while i < n and source[i].isspace():
                i += 1
            if i >= n or source[i] != ">":
                raise fail(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            i += 1
            opened = stack.pop()
            if end_name and end_name != opened.name:
                raise fail(
                    f"Unmatched end tag at byte offset {byte_offset(begin)}, expected "
                    f'"</{opened.name}>", found "</{end_name}>"'
                )
            _close_entity(opened, out_len, stack, entities)
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return ParsedText("".join(out), entities)


def _close_entity(opened: _OpenTag, end: int, stack: list[_OpenTag], entities: list[JSON]) -> None:
    length = end - opened.offset
    if opened.name == "code" and opened.argument and stack and stack[-1].name == "pre":
        # <pre><code class="language-x">: the language belongs to the pre entity.
        if stack[-1].offset == opened.offset:
            stack[-1].argument = opened.argument
            return
    if length <= 0:
        return
    kind = _ENTITY_TYPES[opened.name]
    entity: JSON = {"type": kind, "offset": opened.offset, "length": length}
    if kind == "text_link":
        if not opened.argument:
            return
        entity["url"] = opened.argument
    elif kind == "pre" and opened.argument:
        entity["language"] = opened.argument
    elif kind == "blockquote" and opened.argument == "expandable":
        entity["type"] = "expandable_blockquote"
    entities.append(entity)


_AUTO_ENTITY_RE = re.compile(
    r"(?P<bot_command>(?<![\w/<>@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)(?![\w/<>@])"
    r"|(?P<mention>(?<![\w@/])@[A-Za-z0-9_]{5,32})(?!\w)"
)


def message_entities(text: str) -> list[JSON]:
    """The entities Telegram computes for a user's text: ``bot_command`` and ``mention``."""
    entities: list[JSON] = []
    for match in _AUTO_ENTITY_RE.finditer(text):
        kind = match.lastgroup or "mention"
        entities.append(
            {
                "type": kind,
                "offset": tg_len(text[: match.start()]),
                "length": tg_len(match.group()),
            }
        )
    return entities


# --------------------------------------------------------------------------- request decoding


@dataclass
class _Upload:
    name: str
    filename: str
    content: bytes
    content_type: str | None


class _Params:
    """Request parameters as the Bot API reads them: strings from forms, JSON values inside."""

    def __init__(self, values: JSON, uploads: dict[str, _Upload]) -> None:
        self.values = values
        self.uploads = uploads

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise BotApiError(400, f"Bad Request: invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise BotApiError(400, f"Bad Request: invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json_value(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise BotApiError(400, f"Bad Request: can't parse {name} JSON object") from None
        return value

    def chat_id(self) -> int:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise BotApiError(400, "Bad Request: chat_id is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise BotApiError(400, "Bad Request: chat not found") from None

    def required_int(self, name: str) -> int:
        value = self.integer(name)
        if value is None:
            raise BotApiError(400, f"Bad Request: {name} is empty")
        return value


async def _read_params(request: web.Request) -> _Params:
    values: JSON = dict(request.query)
    uploads: dict[str, _Upload] = {}
    if request.method != "POST" or not request.can_read_body:
        return _Params(values, uploads)
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise BotApiError(400, "Bad Request: can't parse JSON encoded request") from None
        if not isinstance(body, dict):
            raise BotApiError(400, "Bad Request: can't parse JSON encoded request")
        values.update(body)
    elif content_type == "multipart/form-data":
        reader = await request.multipart()
        total = 0
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            name = part.name or ""
            if part.filename is not None:
                content = bytes(await part.read(decode=False))
                total += len(content)
                if total > UPLOAD_LIMIT:
                    raise BotApiError(413, "Request Entity Too Large")
                uploads[name] = _Upload(
                    name, part.filename, content, part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
                )
            else:
                values[name] = await part.text()
    else:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                values[key] = value
    return _Params(values, uploads)


def _image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None if it is none of them."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        return int.from_bytes(content[6:8], "little"), int.from_bytes(content[8:10], "little")
    if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
        return 512, 512
    if content.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 < len(content):
            if content[pos] != 0xFF:
                return None
            marker = content[pos + 1]
            size = int.from_bytes(content[pos + 2 : pos + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(content[pos + 5 : pos + 7], "big")
                width = int.from_bytes(content[pos + 7 : pos + 9], "big")
                return width, height
            pos += 2 + size
    return None


def _scaled(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass
class _Failure:
    chat_id: int | None
    methods: frozenset[str]
    error: BotApiError
    remaining: int


@dataclass
class _Delay:
    chat_id: int | None
    methods: frozenset[str]
    seconds: float


@dataclass
class _Context:
    peer: object


# --------------------------------------------------------------------------- the server


class FakeBotApi:
    """The fake Bot API server. Create it with :func:`fake_bot_api`; see the module docstring.

    Inspection: :attr:`sent`, :attr:`calls`, :attr:`chat_actions`, :attr:`callback_answers`,
    :attr:`webhook`, :attr:`webhook_posts`, :attr:`commands`, :attr:`files`,
    :meth:`messages_to`, :meth:`texts_to`, :meth:`send_times`, :meth:`max_sends_in`,
    :attr:`count_429`, :attr:`count_409`, :meth:`errors`, :attr:`pending_updates`,
    :attr:`polling`, :meth:`message`, and the async waits :meth:`wait_for`,
    :meth:`wait_for_messages`, :meth:`wait_for_call`, :meth:`wait_until_polling` (each takes
    ``within=`` seconds, default 5, and fails with an AssertionError listing recent calls).

    Control: :meth:`block`, :meth:`unblock`, :meth:`fail_next`, :meth:`delay_next`,
    :meth:`migrate`, :meth:`set_admins`.

    Updates: :meth:`user_message`, :meth:`group_message`, :meth:`callback_query`,
    :meth:`document_message`, :meth:`push_update`, :meth:`post_update_to`.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "cryptoguard_test_bot",
        bot_first_name: str = "CryptoGuard Test",
        limits: TelegramLimits | None = None,
        clock: Clock | None = None,
        strict_ampersand: bool = True,
        poll_lease: float = 0.5,
        webhook_retry_delay: float = 0.5,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        id_part = token.split(":", 1)[0]
        self.bot_id = int(id_part) if id_part.isdigit() else 1
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.limits = limits or TelegramLimits()
        self.clock: Clock = clock or time.monotonic
        self.strict_ampersand = strict_ampersand
        self.poll_lease = poll_lease
        self.webhook_retry_delay = webhook_retry_delay

        #: Accepted message sends, edits and deletions, in order.
        self.sent: list[SentMessage] = []
        #: Every API request with its outcome.
        self.calls: list[ApiCall] = []
        #: ``(chat_id, action, at)`` for every accepted sendChatAction.
        self.chat_actions: list[tuple[int, str, float]] = []
        #: The parameters of every accepted answerCallbackQuery.
        self.callback_answers: list[JSON] = []
        #: The active webhook, or None while polling.
        self.webhook: WebhookConfig | None = None
        #: Every POST of an update to a webhook.
        self.webhook_posts: list[WebhookPost] = []
        #: setMyCommands by ``(scope JSON, language_code)``; the default scope is ``("", "")``.
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        #: Files by file_id.
        self.files: dict[str, StoredFile] = {}
        #: Chat ids that blocked the bot (or kicked it): 403.
        self.blocked: set[int] = set()
        #: Migrated group ids: old -> new.
        self.migrated: dict[int, int] = {}

        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._bot_messages: dict[int, list[int]] = {}
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._admins: dict[int, set[int]] = {}
        self._owners: dict[int, int] = {}
        self._open_callbacks: set[str] = set()
        self._allowed_updates: set[str] | None = None
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        now = self.clock()
        self._overall = _TokenBucket(
            self.limits.overall_rate,
            self.limits.overall_burst,
            self.limits.overall_rate * self.limits.jitter_tolerance,
            now,
        )
        self._chat_buckets: dict[int, _TokenBucket] = {}
        self._group_buckets: dict[int, _TokenBucket] = {}
        self._pending_polls: dict[object, object] = {}
        self._lease: tuple[object, float] | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._session: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._methods: dict[str, Callable[[_Params, _Context], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "getChatAdministrators": self._get_chat_administrators,
        }
        self._method_names = {name.lower(): name for name in self._methods}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])

    async def close(self) -> None:
        """End pending long polls and webhook delivery, then stop listening."""
        self._closing = True
        self._bump()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("the fake Bot API server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` / ``Bot(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)`` / ``Bot(base_file_url=...)``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ inspection

    def messages_to(
        self, chat_id: int, *, methods: Iterable[str] | None = None
    ) -> list[SentMessage]:
        """Accepted sends (and edits/deletions) to ``chat_id``, optionally of some methods."""
        wanted = None if methods is None else set(methods)
        return [
            message
            for message in self.sent
            if message.chat_id == chat_id and (wanted is None or message.method in wanted)
        ]

    def texts_to(
        self, chat_id: int, *, rendered: bool = False, include_edits: bool = False
    ) -> list[str]:
        """Texts of the sendMessage calls to ``chat_id`` as sent (HTML source in HTML mode).

        ``rendered=True`` gives what the user sees instead; ``include_edits=True`` adds the
        texts of editMessageText calls, in order.
        """
        methods = {"sendMessage", "editMessageText"} if include_edits else {"sendMessage"}
        return [
            (message.rendered if rendered else message.text) or ""
            for message in self.messages_to(chat_id, methods=methods)
        ]

    def send_times(self, chat_id: int | None = None) -> list[float]:
        """Clock times of accepted message sends, to one chat or to all."""
        return [
            message.at
            for message in self.sent
            if message.method in MESSAGE_METHODS and (chat_id is None or message.chat_id == chat_id)
        ]

    def max_sends_in(self, window: float, chat_id: int | None = None) -> int:
        """The largest number of accepted message sends within any ``window`` seconds."""
        times = sorted(self.send_times(chat_id))
        best = 0
        start = 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    def errors(self, status: int | None = None) -> list[ApiCall]:
        """Calls answered with an error (of one HTTP status, if given)."""
        return [
            call
            for call in self.calls
            if call.status != 200 and (status is None or call.status == status)
        ]

    @property
    def count_429(self) -> int:
        """How many requests were answered 429 Too Many Requests."""
        return len(self.errors(429))

    @property
    def count_409(self) -> int:
        """How many requests were answered 409 Conflict."""
        return len(self.errors(409))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by a getUpdates offset (or delivered to a webhook)."""
        return list(self._updates)

    @property
    def polling(self) -> bool:
        """Whether a getUpdates request is waiting right now."""
        return bool(self._pending_polls)

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """The current state of a message (as Telegram would send it), if it exists."""
        return self._messages.get((chat_id, message_id))

    async def wait_for(
        self, predicate: Callable[[], bool], *, within: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` holds; re-checked after every request and injection.

        Raises:
            AssertionError: if it does not hold within ``within`` seconds.
        """
        try:
            async with asyncio.timeout(within):
                while not predicate():
                    await self._changed_event().wait()
        except TimeoutError:
            recent = ", ".join(f"{c.method}({c.chat_id})={c.status}" for c in self.calls[-10:])
            raise AssertionError(
                f"timed out after {within} s waiting for {what}; last calls: {recent}"
            ) from None

    async def wait_for_messages(
        self, chat_id: int, count: int = 1, *, within: float = 5.0
    ) -> list[SentMessage]:
        """Wait until at least ``count`` messages were sent to ``chat_id``; return them all."""
        await self.wait_for(
            lambda: len(self.messages_to(chat_id, methods=MESSAGE_METHODS)) >= count,
            within=within,
            what=f"{count} message(s) to chat {chat_id}",
        )
        return self.messages_to(chat_id, methods=MESSAGE_METHODS)

    async def wait_for_call(
        self, method: str, *, count: int = 1, within: float = 5.0
    ) -> list[ApiCall]:
        """Wait until ``method`` was called at least ``count`` times; return those calls."""

        def matching() -> list[ApiCall]:
            return [call for call in self.calls if call.method == method]

        await self.wait_for(
            lambda: len(matching()) >= count, within=within, what=f"{count} {method} call(s)"
        )
        return matching()

    async def wait_until_polling(self, *, within: float = 5.0) -> None:
        """Wait until a getUpdates long poll is pending (the bot is listening)."""
        await self.wait_for(lambda: self.polling, within=within, what="a pending getUpdates")

    # ------------------------------------------------------------------ control

    def block(self, chat_id: int) -> None:
        """The user blocks the bot (or the group kicks it): sends answer 403 from now on."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Undo :meth:`block`."""
        self.blocked.discard(chat_id)

    def fail_next(
        self,
        chat_id: int | None,
        status: int,
        description: str,
        *,
        method: str | None = None,
        parameters: JSON | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` sends to ``chat_id`` (None: any chat) with this error.

        Matches :data:`MESSAGE_METHODS` unless ``method`` names another one. Example:
        ``fail_next(42, 429, "Too Many Requests: retry after 7", parameters={"retry_after": 7})``.
        """
        methods = frozenset({method}) if method else MESSAGE_METHODS
        self._failures.append(
            _Failure(chat_id, methods, BotApiError(status, description, parameters), times)
        )

    def delay_next(self, chat_id: int | None, seconds: float, *, method: str | None = None) -> None:
        """Process the next send to ``chat_id`` normally but answer only after ``seconds``.

        With a client read timeout below ``seconds`` this is PTB's ``TimedOut`` for a
        message that *was* delivered.
        """
        methods = frozenset({method}) if method else MESSAGE_METHODS
        self._delays.append(_Delay(chat_id, methods, seconds))

    def set_admins(
        self, chat_id: int, user_ids: Iterable[int], *, owner_id: int | None = None
    ) -> None:
        """Set a group's administrators (include :attr:`bot_id` to make the bot one)."""
        self._admins[chat_id] = set(user_ids)
        if owner_id is not None:
            self._owners[chat_id] = owner_id

    def migrate(
        self, old_chat_id: int, new_chat_id: int, *, by_user_id: int | None = None
    ) -> list[JSON]:
        """Upgrade a group to a supergroup: the old id answers 400 with ``migrate_to_chat_id``.

        Queues the two service messages Telegram sends (``migrate_to_chat_id`` in the old
        chat, ``migrate_from_chat_id`` in the new one) and returns those updates.
        """
        self.migrated[old_chat_id] = new_chat_id
        old_chat = self._chat_json(old_chat_id)
        self._chats[new_chat_id] = {
            "id": new_chat_id,
            "type": "supergroup",
            "title": old_chat.get("title", "Test group"),
        }
        if old_chat_id in self._admins:
            self._admins.setdefault(new_chat_id, set(self._admins[old_chat_id]))
        if old_chat_id in self._owners:
            self._owners.setdefault(new_chat_id, self._owners[old_chat_id])
        sender = self._users.get(by_user_id) if by_user_id is not None else None
        extra: JSON = {"from": sender} if sender else {}
        first = self._new_message(old_chat_id, {**extra, "migrate_to_chat_id": new_chat_id})
        second = self._new_message(new_chat_id, {**extra, "migrate_from_chat_id": old_chat_id})
        return [self._enqueue({"message": first}), self._enqueue({"message": second})]

    # ------------------------------------------------------------------ update injection

    def push_update(self, update: JSON) -> JSON:
        """Queue a raw update (an ``update_id`` is assigned if missing); return it."""
        return self._enqueue(dict(update))

    def user_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str | None = None,
        title: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "en",
        reply_to_bot: bool = False,
        reply_to_message_id: int | None = None,
        deliver: bool = True,
    ) -> JSON:
        """A text message from a user; ``bot_command``/``mention`` entities are computed.

        ``chat_id`` defaults to ``user_id`` (a private chat); ``chat_type`` defaults to what
        the id says (an earlier message's type, else ``-100...`` supergroup, other negative
        ids group). ``reply_to_bot`` makes it a
        reply to the bot's last message in the chat (or to a made-up one). With
        ``deliver=False`` the update is built (and the message stored) but not queued, for
        :meth:`post_update_to`. Returns the Update JSON.
        """
        chat_id = user_id if chat_id is None else chat_id
        sender = self._register_user(user_id, first_name, last_name, username, language_code)
        chat = self._register_chat(chat_id, chat_type, title, sender)
        content: JSON = {"text": text}
        entities = message_entities(text)
        if entities:
            content["entities"] = entities
        content.update(self._reply_content(chat_id, reply_to_bot, reply_to_message_id))
        message = self._new_message(chat["id"], {"from": sender, **content})
        update: JSON = {"message": message}
        return self._enqueue(update) if deliver else self._with_update_id(update)

    def group_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int = DEFAULT_GROUP_CHAT_ID,
        chat_type: str | None = None,
        title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        reply_to_bot: bool = False,
        reply_to_message_id: int | None = None,
        deliver: bool = True,
    ) -> JSON:
        """A text message from a user in a group (by default the supergroup
        :data:`DEFAULT_GROUP_CHAT_ID`)."""
        return self.user_message(
            user_id,
            text,
            chat_id=chat_id,
            chat_type=chat_type,
            title=title,
            first_name=first_name,
            username=username,
            reply_to_bot=reply_to_bot,
            reply_to_message_id=reply_to_message_id,
            deliver=deliver,
        )

    def callback_query(
        self,
        user_id: int,
        data: str,
        message_id: int,
        chat_id: int | None = None,
        *,
        deliver: bool = True,
    ) -> JSON:
        """A press on an inline button of message ``message_id`` in ``chat_id`` (default the
        user's private chat). The query id is ``update["callback_query"]["id"]``."""
        chat_id = user_id if chat_id is None else chat_id
        sender = self._register_user(user_id)
        message = self._messages.get((chat_id, message_id))
        if message is None:
            self._register_chat(chat_id, None, None, sender)
            message = self._new_message(
                chat_id, {"from": self.bot_user, "text": "(message)"}, message_id=message_id
            )
        query_id = str(next(self._callback_ids))
        self._open_callbacks.add(query_id)
        update: JSON = {
            "callback_query": {
                "id": query_id,
                "from": sender,
                "chat_instance": str(abs(chat_id) * 7919 + self.bot_id),
                "data": data,
                "message": self._shallow(message),
            }
        }
        return self._enqueue(update) if deliver else self._with_update_id(update)

    def document_message(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        chat_type: str | None = None,
        mime_type: str | None = None,
        deliver: bool = True,
    ) -> JSON:
        """A user sends a file; the bot can fetch it with getFile and the file URL."""
        chat_id = user_id if chat_id is None else chat_id
        sender = self._register_user(user_id)
        self._register_chat(chat_id, chat_type, None, sender)
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self._store_file("documents", filename, content, mime)
        body: JSON = {"document": self._document_json(stored)}
        if caption is not None:
            body["caption"] = caption
            entities = message_entities(caption)
            if entities:
                body["caption_entities"] = entities
        message = self._new_message(chat_id, {"from": sender, **body})
        update: JSON = {"message": message}
        return self._enqueue(update) if deliver else self._with_update_id(update)

    async def post_update_to(self, url: str, update: JSON, secret_token: str | None = None) -> int:
        """POST ``update`` to a webhook like Telegram does; return the HTTP status.

        The secret goes in the ``X-Telegram-Bot-Api-Secret-Token`` header (left out when
        None). Connection failures return 0.
        """
        headers: dict[str, str] = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers[SECRET_TOKEN_HEADER] = secret_token
        status = 0
        try:
            async with self._client().post(
                url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.webhook_posts.append(
            WebhookPost(url, update.get("update_id"), secret_token, status, self.clock())
        )
        self._bump()
        return status

    # ------------------------------------------------------------------ HTTP

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method_name = request.match_info["method"]
        method = self._method_names.get(method_name.lower(), method_name)
        params: _Params | None = None
        chat_id: int | None = None
        try:
            if ":" not in token:
                raise BotApiError(404, "Not Found")
            if token != self.token:
                raise BotApiError(401, "Unauthorized")
            handler = self._methods.get(method)
            if handler is None:
                raise BotApiError(404, "Not Found")
            params = await _read_params(request)
            with contextlib.suppress(BotApiError):
                chat_id = params.chat_id() if params.has("chat_id") else None
            peer = request.transport.get_extra_info("peername") if request.transport else None
            result = await handler(params, _Context(peer))
        except BotApiError as error:
            self._record_call(method, params, chat_id, error.status, error)
            return web.json_response(error.body(), status=error.status)
        except Exception as exc:  # a bug in the fake: answer like a server error, keep the trace
            logger.exception("fake Bot API failed on %s", method)
            bug = BotApiError(500, f"Internal Server Error: fake Bot API bug: {exc!r}")
            self._record_call(method, params, chat_id, 500, bug)
            return web.json_response(bug.body(), status=500)
        self._record_call(method, params, chat_id, 200, None)
        delay = self._take_delay(method, chat_id)
        if delay:
            await self._sleep_unless_closing(delay)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(BotApiError(404, "Not Found").body(), status=404)
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.content,
                    content_type=stored.mime_type or "application/octet-stream",
                )
        return web.json_response(BotApiError(404, "Not Found").body(), status=404)

    def _record_call(
        self,
        method: str,
        params: _Params | None,
        chat_id: int | None,
        status: int,
        error: BotApiError | None,
    ) -> None:
        values = dict(params.values) if params else {}
        if params:
            for name, upload in params.uploads.items():
                values[name] = f"<file {upload.filename} {len(upload.content)} bytes>"
        self.calls.append(
            ApiCall(
                method=method,
                params=values,
                status=status,
                at=self.clock(),
                chat_id=chat_id,
                description=error.description if error else None,
                parameters=error.parameters if error else None,
            )
        )
        self._bump()

    # ------------------------------------------------------------------ method handlers

    async def _get_me(self, params: _Params, ctx: _Context) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: _Params, ctx: _Context) -> list[JSON]:
        if self.webhook is not None:
            raise BotApiError(409, WEBHOOK_ACTIVE_DESCRIPTION)
        if not self._poll_free(ctx.peer):
            # A poller that just disconnected may not have been noticed yet: grace period.
            with contextlib.suppress(AssertionError):
                await self.wait_for(lambda: self._poll_free(ctx.peer), within=0.05)
            if not self._poll_free(ctx.peer):
                raise BotApiError(409, CONFLICT_DESCRIPTION)
        offset = params.integer("offset")
        limit = min(100, max(1, params.integer("limit") or 100))
        timeout = max(0.0, params.number("timeout") or 0.0)
        allowed = params.json_value("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = {str(kind) for kind in allowed} or None
        self._confirm(offset)
        marker = object()
        self._pending_polls[marker] = ctx.peer
        self._bump()
        completed = False
        batch: list[JSON] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                batch = self._deliverable(limit)
                remaining = deadline - loop.time()
                if batch or self._closing or remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await self._changed_event().wait()
            completed = True
        finally:
            del self._pending_polls[marker]
            if completed and timeout > 0:
                self._lease = (ctx.peer, time.monotonic() + self.poll_lease)
            elif self._lease is not None and self._lease[0] == ctx.peer:
                self._lease = None
            self._bump()
        return batch

    def _poll_free(self, peer: object) -> bool:
        if self._pending_polls:
            return False
        if self._lease is None:
            return True
        lease_peer, until = self._lease
        return lease_peer == peer or time.monotonic() >= until

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[JSON]:
        allowed = self._allowed_updates
        kept = []
        for update in self._updates:
            kind = next(key for key in update if key != "update_id")
            if (
                (kind in allowed)
                if allowed is not None
                else (kind not in _DEFAULT_EXCLUDED_UPDATES)
            ):
                kept.append(update)
        self._updates = kept
        return kept[:limit]

    async def _set_my_commands(self, params: _Params, ctx: _Context) -> bool:
        commands = params.json_value("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise BotApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise BotApiError(400, "Bad Request: can't parse BotCommand JSON object")
            if not _COMMAND_NAME_RE.fullmatch(str(command.get("command", ""))):
                raise BotApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise BotApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": str(c["command"]), "description": str(c["description"])} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: _Params, ctx: _Context) -> list[JSON]:
        return list(self.commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: _Params, ctx: _Context) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _commands_key(self, params: _Params) -> tuple[str, str]:
        scope = params.json_value("scope")
        scope_key = (
            "" if not scope or scope == {"type": "default"} else json.dumps(scope, sort_keys=True)
        )
        return scope_key, params.text("language_code") or ""

    async def _set_webhook(self, params: _Params, ctx: _Context) -> bool:
        url = params.text("url") or ""
        if not url:
            return await self._delete_webhook(params, ctx)
        if not url.startswith(("http://", "https://")):
            raise BotApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.text("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(secret):
            raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.json_value("allowed_updates")
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        if isinstance(allowed, list):
            self._allowed_updates = {str(kind) for kind in allowed} or None
        self.webhook = WebhookConfig(
            url=url,
            secret_token=secret,
            allowed_updates=[str(kind) for kind in allowed] if isinstance(allowed, list) else None,
            max_connections=params.integer("max_connections") or 40,
            ip_address=params.text("ip_address"),
        )
        self._restart_webhook_delivery()
        return True

    async def _delete_webhook(self, params: _Params, ctx: _Context) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        self._restart_webhook_delivery()
        return True

    async def _get_webhook_info(self, params: _Params, ctx: _Context) -> JSON:
        info: JSON = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates is not None:
                info["allowed_updates"] = self.webhook.allowed_updates
            if self.webhook.ip_address:
                info["ip_address"] = self.webhook.ip_address
            if self.webhook.last_error_date is not None:
                info["last_error_date"] = self.webhook.last_error_date
                info["last_error_message"] = self.webhook.last_error_message
        return info

    async def _send_message(self, params: _Params, ctx: _Context) -> JSON:
        chat_id = self._target_chat("sendMessage", params)
        text = params.text("text")
        if text is None or not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        parse_mode = params.text("parse_mode")
        parsed = self._parse(text, parse_mode)
        if not parsed.text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if tg_len(parsed.text) > TEXT_LIMIT:
            raise BotApiError(400, "Bad Request: message is too long")
        markup = self._reply_markup(params)
        reply = self._reply_target(chat_id, params)
        self._check_flood(chat_id)
        content: JSON = {"text": parsed.text}
        if parsed.entities:
            content["entities"] = parsed.entities
        message = self._bot_message(chat_id, content, markup, reply)
        self.sent.append(
            SentMessage(
                method="sendMessage",
                chat_id=chat_id,
                message_id=message["message_id"],
                at=self.clock(),
                text=text,
                parse_mode=parse_mode,
                rendered=parsed.text,
                entities=parsed.entities,
                reply_markup=markup,
                reply_to_message_id=reply["message_id"] if reply else None,
                params=dict(params.values),
            )
        )
        return message

    async def _edit_message_text(self, params: _Params, ctx: _Context) -> JSON:
        chat_id, message = self._editable(params, "editMessageText")
        text = params.text("text")
        if text is None or not text.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        parse_mode = params.text("parse_mode")
        parsed = self._parse(text, parse_mode)
        if tg_len(parsed.text) > TEXT_LIMIT:
            raise BotApiError(400, "Bad Request: message is too long")
        if "text" not in message:
            raise BotApiError(400, "Bad Request: there is no text in the message to edit")
        markup = self._reply_markup(params)
        if (
            message.get("text") == parsed.text
            and message.get("entities", []) == parsed.entities
            and message.get("reply_markup") == self._inline_only(markup)
        ):
            raise BotApiError(400, NOT_MODIFIED_DESCRIPTION)
        message["text"] = parsed.text
        message.pop("entities", None)
        if parsed.entities:
            message["entities"] = parsed.entities
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        self.sent.append(
            SentMessage(
                method="editMessageText",
                chat_id=chat_id,
                message_id=message["message_id"],
                at=self.clock(),
                text=text,
                parse_mode=parse_mode,
                rendered=parsed.text,
                entities=parsed.entities,
                reply_markup=markup,
                params=dict(params.values),
            )
        )
        return message

    async def _edit_message_reply_markup(self, params: _Params, ctx: _Context) -> JSON:
        chat_id, message = self._editable(params, "editMessageReplyMarkup")
        markup = self._reply_markup(params)
        if message.get("reply_markup") == self._inline_only(markup):
            raise BotApiError(400, NOT_MODIFIED_DESCRIPTION)
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        self.sent.append(
            SentMessage(
                method="editMessageReplyMarkup",
                chat_id=chat_id,
                message_id=message["message_id"],
                at=self.clock(),
                reply_markup=markup,
                params=dict(params.values),
            )
        )
        return message

    async def _delete_message(self, params: _Params, ctx: _Context) -> bool:
        chat_id = self._target_chat("deleteMessage", params)
        message_id = params.required_int("message_id")
        if self._messages.pop((chat_id, message_id), None) is None:
            raise BotApiError(400, "Bad Request: message to delete not found")
        self.sent.append(
            SentMessage(
                method="deleteMessage",
                chat_id=chat_id,
                message_id=message_id,
                at=self.clock(),
                params=dict(params.values),
            )
        )
        return True

    async def _send_photo(self, params: _Params, ctx: _Context) -> JSON:
        chat_id = self._target_chat("sendPhoto", params)
        stored, upload = self._input_file(params, "photo", "photos")
        size = _image_size(stored.content)
        if size is None:
            raise BotApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or max(width, height) > 20 * max(1, min(width, height)):
            raise BotApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        caption, parse_mode, parsed = self._caption(params)
        markup = self._reply_markup(params)
        reply = self._reply_target(chat_id, params)
        self._check_flood(chat_id)
        if upload:
            self.files[stored.file_id] = stored
        sizes = []
        for index, side in enumerate((90, 1280)):
            w, h = _scaled(width, height, side)
            sizes.append(
                {
                    "file_id": f"{stored.file_id}-{index}" if index == 0 else stored.file_id,
                    "file_unique_id": f"{stored.file_unique_id}-{index}",
                    "width": w,
                    "height": h,
                    "file_size": len(stored.content) if index else min(len(stored.content), 2048),
                }
            )
        content: JSON = {"photo": sizes}
        content.update(self._caption_content(parsed))
        message = self._bot_message(chat_id, content, markup, reply)
        self.sent.append(
            self._upload_record(
                "sendPhoto",
                chat_id,
                message,
                stored,
                caption,
                parse_mode,
                parsed,
                markup,
                reply,
                params,
            )
        )
        return message

    async def _send_document(self, params: _Params, ctx: _Context) -> JSON:
        chat_id = self._target_chat("sendDocument", params)
        stored, upload = self._input_file(params, "document", "documents")
        caption, parse_mode, parsed = self._caption(params)
        markup = self._reply_markup(params)
        reply = self._reply_target(chat_id, params)
        self._check_flood(chat_id)
        if upload:
            self.files[stored.file_id] = stored
        content: JSON = {"document": self._document_json(stored)}
        content.update(self._caption_content(parsed))
        message = self._bot_message(chat_id, content, markup, reply)
        self.sent.append(
            self._upload_record(
                "sendDocument",
                chat_id,
                message,
                stored,
                caption,
                parse_mode,
                parsed,
                markup,
                reply,
                params,
            )
        )
        return message

    async def _send_chat_action(self, params: _Params, ctx: _Context) -> bool:
        chat_id = self._target_chat("sendChatAction", params)
        action = params.text("action")
        if action not in _CHAT_ACTIONS:
            raise BotApiError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat_id, action, self.clock()))
        return True

    async def _answer_callback_query(self, params: _Params, ctx: _Context) -> bool:
        query_id = params.text("callback_query_id") or ""
        if query_id not in self._open_callbacks:
            raise BotApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = params.text("text")
        if text is not None and len(text) > 200:
            raise BotApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        self.callback_answers.append(dict(params.values))
        return True

    async def _get_file(self, params: _Params, ctx: _Context) -> JSON:
        file_id = params.text("file_id") or ""
        stored = self.files.get(file_id) or self.files.get(file_id.rsplit("-", 1)[0])
        if stored is None:
            raise BotApiError(400, "Bad Request: invalid file_id")
        if len(stored.content) > DOWNLOAD_LIMIT:
            raise BotApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    async def _get_chat(self, params: _Params, ctx: _Context) -> JSON:
        chat_id = self._target_chat("getChat", params)
        return {
            **self._chat_json(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_chat_member(self, params: _Params, ctx: _Context) -> JSON:
        chat_id = self._target_chat("getChatMember", params)
        user_id = params.required_int("user_id")
        if chat_id > 0 and user_id not in (chat_id, self.bot_id):
            raise BotApiError(400, "Bad Request: member not found")
        return self._member_json(chat_id, user_id)

    async def _get_chat_administrators(self, params: _Params, ctx: _Context) -> list[JSON]:
        chat_id = self._target_chat("getChatAdministrators", params)
        if chat_id > 0:
            raise BotApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = []
        if chat_id in self._owners:
            ids.append(self._owners[chat_id])
        ids.extend(sorted(self._admins.get(chat_id, set()) - set(ids)))
        return [self._member_json(chat_id, user_id) for user_id in ids]

    # ------------------------------------------------------------------ helpers: checks

    def _target_chat(self, method: str, params: _Params) -> int:
        """The chat of a request, after injected failures, migrations and blocks."""
        chat_id = params.chat_id()
        for failure in self._failures:
            if method in failure.methods and failure.chat_id in (None, chat_id):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                raise failure.error
        if chat_id in self.migrated:
            raise BotApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat_id]},
            )
        if chat_id in self.blocked and method in _OUTGOING_METHODS:
            if chat_id > 0:
                raise BotApiError(403, "Forbidden: bot was blocked by the user")
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            raise BotApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        return chat_id

    def _check_flood(self, chat_id: int) -> None:
        now = self.clock()
        limits = self.limits
        buckets = [self._overall]
        if chat_id not in self._chat_buckets:
            self._chat_buckets[chat_id] = _TokenBucket(
                limits.per_chat_rate,
                limits.per_chat_burst,
                limits.per_chat_rate * limits.jitter_tolerance,
                now,
            )
        buckets.append(self._chat_buckets[chat_id])
        if chat_id < 0:
            if chat_id not in self._group_buckets:
                self._group_buckets[chat_id] = _TokenBucket(
                    limits.group_rate,
                    limits.group_burst,
                    limits.group_rate * limits.jitter_tolerance,
                    now,
                )
            buckets.append(self._group_buckets[chat_id])
        wait = max(bucket.wait_time(now) for bucket in buckets)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise BotApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )
        for bucket in buckets:
            bucket.take()

    def _parse(self, text: str, parse_mode: str | None) -> ParsedText:
        if not parse_mode:
            return ParsedText(text, [])
        mode = parse_mode.lower()
        if mode == "html":
            return parse_html(text, strict_ampersand=self.strict_ampersand)
        if mode in ("markdown", "markdownv2"):
            return ParsedText(text, [])
        raise BotApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")

    def _caption(self, params: _Params) -> tuple[str | None, str | None, ParsedText | None]:
        caption = params.text("caption")
        parse_mode = params.text("parse_mode")
        if caption is None:
            return None, parse_mode, None
        parsed = self._parse(caption, parse_mode)
        if tg_len(parsed.text) > CAPTION_LIMIT:
            raise BotApiError(400, "Bad Request: message caption is too long")
        return caption, parse_mode, parsed

    @staticmethod
    def _caption_content(parsed: ParsedText | None) -> JSON:
        if parsed is None or not parsed.text:
            return {}
        content: JSON = {"caption": parsed.text}
        if parsed.entities:
            content["caption_entities"] = parsed.entities
        return content

    def _reply_markup(self, params: _Params) -> JSON | None:
        if not params.has("reply_markup"):
            return None
        markup = params.json_value("reply_markup")
        if not isinstance(markup, dict):
            raise BotApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is None:
            return markup
        rows = keyboard if isinstance(keyboard, list) else [None]
        for row in rows:
            for button in row if isinstance(row, list) else [None]:
                if not isinstance(button, dict) or not button.get("text"):
                    raise BotApiError(400, _BAD_BUTTON)
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if data is None and not _BUTTON_ACTIONS & set(button):
                    raise BotApiError(400, _BAD_BUTTON)
        return markup

    @staticmethod
    def _inline_only(markup: JSON | None) -> JSON | None:
        if markup and markup.get("inline_keyboard"):
            return markup
        return None

    def _set_markup(self, message: JSON, markup: JSON | None) -> None:
        inline = self._inline_only(markup)
        if inline is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = inline

    def _reply_target(self, chat_id: int, params: _Params) -> JSON | None:
        reply_parameters = (
            params.json_value("reply_parameters") if params.has("reply_parameters") else None
        )
        allow_missing = params.flag("allow_sending_without_reply")
        target_chat, message_id = chat_id, params.integer("reply_to_message_id")
        if isinstance(reply_parameters, dict):
            message_id = reply_parameters.get("message_id")
            with contextlib.suppress(TypeError, ValueError):
                target_chat = int(reply_parameters.get("chat_id") or chat_id)
            allow_missing = allow_missing or bool(
                reply_parameters.get("allow_sending_without_reply")
            )
        if message_id is None:
            return None
        target = self._messages.get((target_chat, int(message_id)))
        if target is None and not allow_missing:
            raise BotApiError(400, "Bad Request: message to be replied not found")
        return target

    def _editable(self, params: _Params, method: str) -> tuple[int, JSON]:
        if params.has("inline_message_id"):
            raise BotApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat_id = self._target_chat(method, params)
        message_id = params.required_int("message_id")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise BotApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise BotApiError(400, "Bad Request: message can't be edited")
        return chat_id, message

    def _input_file(self, params: _Params, name: str, folder: str) -> tuple[StoredFile, bool]:
        """The file of a send: an upload (True) or a known file_id/URL (False)."""
        upload = params.uploads.get(name)
        reference = params.text(name)
        if upload is None and reference and reference.startswith("attach://"):
            upload = params.uploads.get(reference[len("attach://") :])
        if upload is not None:
            if not upload.content:
                raise BotApiError(400, "Bad Request: file must be non-empty")
            mime = upload.content_type or mimetypes.guess_type(upload.filename)[0]
            return self._new_file(folder, upload.filename, upload.content, mime), True
        if not reference:
            raise BotApiError(400, f"Bad Request: there is no {name} in the request")
        known = self.files.get(reference) or self.files.get(reference.rsplit("-", 1)[0])
        if known is not None:
            return known, False
        if reference.startswith(("http://", "https://")):
            filename = reference.rsplit("/", 1)[-1] or "file"
            content = (
                b"\x89PNG\r\n\x1a\n"
                + b"\x00\x00\x00\rIHDR"
                + (640).to_bytes(4, "big")
                + (480).to_bytes(4, "big")
            )
            return self._store_file(
                folder, filename, content, mimetypes.guess_type(filename)[0]
            ), False
        raise BotApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _upload_record(
        self,
        method: str,
        chat_id: int,
        message: JSON,
        stored: StoredFile,
        caption: str | None,
        parse_mode: str | None,
        parsed: ParsedText | None,
        markup: JSON | None,
        reply: JSON | None,
        params: _Params,
    ) -> SentMessage:
        values = dict(params.values)
        for name, upload in params.uploads.items():
            values[name] = f"<file {upload.filename} {len(upload.content)} bytes>"
        return SentMessage(
            method=method,
            chat_id=chat_id,
            message_id=message["message_id"],
            at=self.clock(),
            caption=caption,
            parse_mode=parse_mode,
            rendered=parsed.text if parsed else None,
            entities=parsed.entities if parsed else [],
            reply_markup=markup,
            reply_to_message_id=reply["message_id"] if reply else None,
            filename=stored.filename,
            file_size=len(stored.content),
            mime_type=stored.mime_type,
            content=stored.content,
            file_id=stored.file_id,
            params=values,
        )

    # ------------------------------------------------------------------ helpers: state

    def _changed_event(self) -> asyncio.Event:
        return self._changed

    def _bump(self) -> None:
        """Wake everything waiting for a change (long polls, waits, webhook delivery)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _sleep_unless_closing(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self._closing:
                    await self._changed_event().wait()

    def _take_delay(self, method: str, chat_id: int | None) -> float:
        for delay in self._delays:
            if method in delay.methods and delay.chat_id in (None, chat_id):
                self._delays.remove(delay)
                return delay.seconds
        return 0.0

    def _with_update_id(self, update: JSON) -> JSON:
        if "update_id" not in update:
            update = {"update_id": next(self._update_ids), **update}
        return update

    def _enqueue(self, update: JSON) -> JSON:
        update = self._with_update_id(update)
        self._updates.append(update)
        self._bump()
        return update

    def _register_user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JSON:
        user = self._users.setdefault(
            user_id,
            {
                "id": user_id,
                "is_bot": False,
                "first_name": f"User{user_id}",
                "username": f"user{user_id}",
                "language_code": "en",
            },
        )
        for key, value in (
            ("first_name", first_name),
            ("last_name", last_name),
            ("username", username),
            ("language_code", language_code),
        ):
            if value is not None:
                user[key] = value
        return dict(user)

    def _register_chat(
        self, chat_id: int, chat_type: str | None, title: str | None, sender: JSON
    ) -> JSON:
        if chat_type is None:
            chat_type = self._chat_json(chat_id)["type"]
        if chat_type == "private":
            if chat_id != sender["id"]:
                raise ValueError("a private chat's id is the user's id")
            chat: JSON = {"id": chat_id, "type": "private", "first_name": sender["first_name"]}
            for key in ("last_name", "username"):
                if key in sender:
                    chat[key] = sender[key]
        else:
            if chat_id > 0:
                raise ValueError("group chat ids are negative")
            previous = self._chats.get(chat_id, {})
            chat = {
                "id": chat_id,
                "type": chat_type,
                "title": title or previous.get("title") or "Test group",
            }
        self._chats[chat_id] = chat
        return chat

    def _chat_json(self, chat_id: int) -> JSON:
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if chat_id > 0:
            user = self._users.get(chat_id, {"first_name": f"User{chat_id}"})
            return {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": "Test group"}

    def _new_message(self, chat_id: int, content: JSON, *, message_id: int | None = None) -> JSON:
        last = self._message_ids.get(chat_id, 0)
        if message_id is None:
            message_id = last + 1
        self._message_ids[chat_id] = max(last, message_id)
        message: JSON = {"message_id": message_id, "date": int(time.time())}
        content = dict(content)
        if "from" in content:
            message["from"] = content.pop("from")
        message["chat"] = self._chat_json(chat_id)
        message.update(content)
        self._messages[(chat_id, message_id)] = message
        if message.get("from", {}).get("id") == self.bot_id:
            self._bot_messages.setdefault(chat_id, []).append(message_id)
        return message

    def _bot_message(
        self, chat_id: int, content: JSON, markup: JSON | None, reply: JSON | None
    ) -> JSON:
        extra: JSON = dict(content)
        if reply is not None:
            extra["reply_to_message"] = self._shallow(reply)
        inline = self._inline_only(markup)
        if inline is not None:
            extra["reply_markup"] = inline
        return self._new_message(chat_id, {"from": self.bot_user, **extra})

    def _reply_content(
        self, chat_id: int, reply_to_bot: bool, reply_to_message_id: int | None
    ) -> JSON:
        if reply_to_message_id is not None:
            target = self._messages.get((chat_id, reply_to_message_id))
            if target is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
            return {"reply_to_message": self._shallow(target)}
        if not reply_to_bot:
            return {}
        for message_id in reversed(self._bot_messages.get(chat_id, [])):
            target = self._messages.get((chat_id, message_id))
            if target is not None:
                return {"reply_to_message": self._shallow(target)}
        made_up = self._new_message(chat_id, {"from": self.bot_user, "text": "(earlier message)"})
        return {"reply_to_message": self._shallow(made_up)}

    @staticmethod
    def _shallow(message: JSON) -> JSON:
        """A copy of a message as it appears nested in another (no nested reply)."""
        return {key: value for key, value in message.items() if key != "reply_to_message"}

    def _new_file(
        self, folder: str, filename: str | None, content: bytes, mime_type: str | None
    ) -> StoredFile:
        number = next(self._file_ids)
        suffix = ""
        if filename and "." in filename:
            suffix = "." + filename.rsplit(".", 1)[1]
        elif folder == "photos":
            suffix = ".jpg"
        return StoredFile(
            file_id=f"FAKE{folder[:3].upper()}{number:06d}",
            file_unique_id=f"U{number:06d}",
            file_path=f"{folder}/file_{number}{suffix}",
            filename=filename,
            content=content,
            mime_type=mime_type,
        )

    def _store_file(
        self, folder: str, filename: str | None, content: bytes, mime_type: str | None
    ) -> StoredFile:
        stored = self._new_file(folder, filename, content, mime_type)
        self.files[stored.file_id] = stored
        return stored

    @staticmethod
    def _document_json(stored: StoredFile) -> JSON:
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.filename:
            document["file_name"] = stored.filename
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return document

    def _member_json(self, chat_id: int, user_id: int) -> JSON:
        user = self.bot_user if user_id == self.bot_id else self._register_user(user_id)
        if self._owners.get(chat_id) == user_id:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in self._admins.get(chat_id, set()):
            rights = dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                    "can_pin_messages",
                ),
                True,
            )
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_promote_members": False,
                **rights,
            }
        return {"status": "member", "user": user}

    # ------------------------------------------------------------------ webhook delivery

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def _restart_webhook_delivery(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            self._webhook_task = None
        if self.webhook is not None and not self._closing:
            self._webhook_task = asyncio.get_running_loop().create_task(
                self._deliver_to_webhook(self.webhook), name="fake-bot-api-webhook"
            )

    async def _deliver_to_webhook(self, config: WebhookConfig) -> None:
        """Send queued updates one at a time, in order, until the webhook changes."""
        while not self._closing and self.webhook is config:
            pending = self._deliverable(1)
            if not pending:
                await self._changed_event().wait()
                continue
            update = pending[0]
            status = await self.post_update_to(config.url, update, config.secret_token)
            if 200 <= status < 300:
                with contextlib.suppress(ValueError):
                    self._updates.remove(update)
                self._bump()
                continue
            config.last_error_date = int(time.time())
            config.last_error_message = (
                f"Wrong response from the webhook: {status}" if status else "Connection refused"
            )
            await self._sleep_unless_closing(self.webhook_retry_delay)


@contextlib.asynccontextmanager
async def fake_bot_api(
    token: str = DEFAULT_TOKEN,
    *,
    bot_username: str = "cryptoguard_test_bot",
    limits: TelegramLimits | None = None,
    clock: Clock | None = None,
    strict_ampersand: bool = True,
    poll_lease: float = 0.5,
    webhook_retry_delay: float = 0.5,
) -> AsyncIterator[FakeBotApi]:
    """Run a :class:`FakeBotApi` on 127.0.0.1 for the duration of the block."""
    server = FakeBotApi(
        token,
        bot_username=bot_username,
        limits=limits,
        clock=clock,
        strict_ampersand=strict_ampersand,
        poll_lease=poll_lease,
        webhook_retry_delay=webhook_retry_delay,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.close()
