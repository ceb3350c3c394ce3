"""A local fake of the Discord REST API (v10) that the real discord.py talks to over HTTP.

Start it in a test's event loop; :func:`fake_discord_api` points discord.py at it by setting
``discord.http.Route.BASE`` (every REST URL discord.py builds, interaction callbacks and
webhooks included, is ``Route.BASE + path``) and restores it afterwards::

    async with fake_discord_api() as server, logged_in(server, MyBot()) as bot:
        payload = server.slash_command("price", {"symbol": "btc"}, user=42)
        await server.dispatch(bot, payload)
        interaction = server.interaction_for(payload)
        assert interaction.deferred and "BTC" in interaction.original.content

:func:`logged_in` logs a client in without a gateway connection (``client.login`` asks
``GET /users/@me`` and ``GET /oauth2/applications/@me`` here; ``setup_hook`` runs, so a
tree sync in it reaches the fake), and closes it afterwards. The pytest fixtures
``discord_api`` (a server on a :class:`ManualClock`) and ``discord_client`` (a plain
logged-in ``discord.Client``) wrap the two; import them into a test module or a
``conftest.py`` to use them.

Interactions without a gateway
    Nothing is cached by a gateway: :meth:`FakeDiscordApi.announce_guild` feeds the
    client a ``GUILD_CREATE`` for a server (needed by ``discord.TextChannel`` options).
    The builders (:meth:`FakeDiscordApi.slash_command`, :meth:`~FakeDiscordApi.autocomplete`,
    :meth:`~FakeDiscordApi.component`, :meth:`~FakeDiscordApi.modal_submit`) return
    ``INTERACTION_CREATE`` payloads shaped as Discord sends them (guild channel with the
    member and their permissions, or the user's DM; options typed from the commands the
    client synced here, subcommand groups, a focused option, resolved users, channels,
    roles and attachments) and register the interaction (its creation time on the clock,
    its token). Two ways to run one:

    * :meth:`FakeDiscordApi.dispatch` hands the payload to discord.py's own gateway parser,
      ``ConnectionState.parse_interaction_create``, exactly as a gateway event would be,
      and then awaits the tasks it started (the ``CommandTree-invoker`` task of an
      application command or autocomplete, a view's or a modal's callback task, any
      ``on_interaction`` listeners). Errors go to the tree's ``on_error`` as in production.
    * :meth:`FakeDiscordApi.invoke` builds ``discord.Interaction(data=payload,
      state=client._connection)`` and awaits ``tree._call(interaction)`` (plus
      ``tree._dispatch_error`` for an ``AppCommandError``, as the tree's own invoker
      does), returning the :class:`discord.Interaction` for assertions.

    Both are private APIs of discord.py 2.x (``_connection``, ``_call``): the price of
    running the real tree without a gateway.

What it serves (``/api/v10``; answers shaped like Discord's, errors as ``{"code",
"message", "errors"}``)
    ``GET /users/@me``, ``GET /oauth2/applications/@me``; ``GET``/``PUT
    /applications/{app}/commands`` and ``.../guilds/{guild}/commands`` (a bulk overwrite
    is validated against Discord's command rules, recorded, and answered with ids, which
    stay the same across syncs); ``POST /interactions/{id}/{token}/callback`` (types 1, 4,
    5, 6, 7, 8, 9; ``?with_response`` answered with the callback resource, else 204);
    ``POST /webhooks/{app}/{token}`` (follow-ups; ``flags`` 64 ephemeral); ``GET``/
    ``PATCH``/``DELETE /webhooks/{app}/{token}/messages/@original`` and
    ``.../messages/{id}``; ``POST /users/@me/channels`` (DM channels, one per user);
    ``GET /channels/{id}``; ``POST /channels/{id}/messages`` (JSON or multipart with
    ``payload_json`` and ``files[n]``), ``GET``/``PATCH``/``DELETE
    /channels/{id}/messages/{id}``; ``POST /channels/{id}/typing``. Uploaded and
    option attachments are downloadable from their ``url`` (``/attachments/...``).

What it enforces, as Discord does
    * Auth: ``Authorization: Bot <token>`` on everything but interaction callbacks and
      webhooks (401 ``{"message": "401: Unauthorized", "code": 0}``).
    * Messages (channel posts, callbacks of type 4/7, follow-ups, edits): content at most
      2000 characters; at most 10 embeds; embed title 256, description 4096, 25 fields,
      field name 1-256 and value 1-1024, footer 2048, author 256, and 6000 characters for
      all embeds of a message together; at most 10 files, each within
      ``attachment_size_limit`` (else 413 code 40005); ``allowed_mentions`` well formed;
      400 code 50035 "Invalid Form Body" with Discord's nested ``errors`` otherwise, and
      400 code 50006 for an empty message. Lengths count code points, as Discord does.
    * Mentions: who a message pings is worked out from its content and its
      ``allowed_mentions`` (none given: everything mentioned is pinged) and recorded in
      :attr:`FakeMessage.pings`; embeds never ping.
    * ``nonce`` with ``enforce_nonce``: the same nonce in the same channel returns the
      message created first (no duplicate).
    * DMs: :meth:`~FakeDiscordApi.block_dm` makes posts to that user's DM channel fail with
      403 code 50007 "Cannot send messages to this user" (the DM channel itself is still
      created, as on Discord). Unknown channels 404 code 10003; channels denied with
      :meth:`~FakeDiscordApi.deny_channel` 403 (code 50001 "Missing Access" by default).
    * Interactions: one response per interaction (a second: 400 code 40060 "Interaction
      has already been acknowledged."); no response later than 3 s after the interaction
      was created, on the injected clock (404 code 10062 "Unknown interaction"); response
      types valid for the interaction type; autocomplete choices at most 25 with names
      1-100; follow-ups and edits only after the response and within 15 minutes (401
      code 50027 "Invalid Webhook Token" after); after a deferred response (type 5) the
      first follow-up replaces the "thinking" message and keeps the deferral's ephemeral
      flag, whatever flags it carries (as Discord documents).
    * Rate limits: every answer carries ``X-RateLimit-*`` headers and ``Via`` (discord.py
      treats a 429 without ``Via`` as a Cloudflare ban). :meth:`~FakeDiscordApi.rate_limit`
      queues 429s (``retry_after`` in the JSON, ``Retry-After``, ``X-RateLimit-Scope``,
      ``X-RateLimit-Global``); :meth:`~FakeDiscordApi.set_bucket` enforces a bucket of
      ``limit`` requests per ``per_s`` seconds with real headers, so discord.py's limiter
      waits pre-emptively. Buckets run on real monotonic time, because discord.py sleeps in
      real time.
    * Invalid requests: answers 401, 403 and 429 (not ``shared`` scope) are counted over
      a 10-minute window of the injected clock (:attr:`~FakeDiscordApi.invalid_requests`);
      reaching ``invalid_request_limit`` (10,000) bans the client for an hour: every request
      gets Cloudflare's 429 (text ``error code: 1015``, no ``Via``).

Failure injection: :meth:`~FakeDiscordApi.fail_next` (any status and code),
:meth:`~FakeDiscordApi.stall_next` (no answer until the server closes, optionally after
the message was created, as when an answer is lost).

Every request is recorded (:attr:`FakeDiscordApi.requests`: method, path, query, JSON body
(``payload_json`` of a multipart request), files, ``allowed_mentions``, status, answer);
accepted messages are in :attr:`FakeDiscordApi.messages`, interactions in
:attr:`FakeDiscordApi.interactions`, synced commands in :attr:`FakeDiscordApi.commands`.

Where it deliberately differs from Discord: every user exists (``strict_users=True`` to
have unknown users 404 code 10013) and shares a server with the bot; channels must be
created with :meth:`~FakeDiscordApi.add_channel` (one server text channel exists); any
member can be pinged; role and mention permissions are not checked; component and modal
payloads are minimal; ids are increasing snowflakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import logging
import math
import mimetypes
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import discord
import discord.http
import pytest
from aiohttp import BodyPartReader, web

__all__ = [
    "API_VERSION",
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_CHANNEL_ID",
    "DEFAULT_GUILD_ID",
    "DEFAULT_MEMBER_PERMISSIONS",
    "DEFAULT_TOKEN",
    "DEFAULT_USER_ID",
    "EPHEMERAL",
    "ApiRequest",
    "DiscordApiError",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscordApi",
    "FakeInteraction",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "ManualClock",
    "Pings",
    "UploadedFile",
    "command_errors",
    "discord_api",
    "discord_api_base",
    "discord_client",
    "fake_discord_api",
    "logged_in",
    "make_client",
    "message_errors",
]

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
Clock = Callable[[], float]

API_VERSION = 10
DEFAULT_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.fake.discord-test-token"
DEFAULT_APPLICATION_ID = 1100000000000000001
DEFAULT_GUILD_ID = 1200000000000000001
DEFAULT_CHANNEL_ID = 1300000000000000001
DEFAULT_USER_ID = 1400000000000000001
DEFAULT_OWNER_ID = 1400000000000000000
#: Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
#: Permissions of an ordinary member in the default channel (no Manage Server).
DEFAULT_MEMBER_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_application_commands=True,
    use_external_emojis=True,
)
#: Permissions of the bot in the default channel.
DEFAULT_BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_external_emojis=True,
)

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
EMBED_TOTAL_LIMIT = 6000
FILES_PER_MESSAGE = 10
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
INTERACTION_RESPONSE_DEADLINE_S = 3.0
INTERACTION_TOKEN_TTL_S = 15 * 60.0
INVALID_REQUEST_LIMIT = 10_000
INVALID_REQUEST_WINDOW_S = 600.0
BAN_S = 3600.0
COMMAND_TOTAL_LIMIT = 4000

_DISCORD_EPOCH_MS = 1420070400000
_UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
_UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
_INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
_UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
_UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
_UNKNOWN_USER = (404, 10013, "Unknown User")
_CANNOT_DM = (403, 50007, "Cannot send messages to this user")
_RESPONSE_TYPES = {
    1: {1},  # ping: pong
    2: {4, 5, 9, 12},  # application command
    3: {4, 5, 6, 7, 9, 12},  # component
    4: {8},  # autocomplete
    5: {4, 5, 6, 7, 12},  # modal submit
}
_NAME_PUNCTUATION = frozenset("-_'")


# ---------------------------------------------------------------------------- helpers


class ManualClock:
    """A clock that moves only when told: ``clock.advance(1.5)``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


class DiscordApiError(Exception):
    """An error answer: HTTP status, Discord's JSON error code and message, nested errors."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: JSON | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @classmethod
    def of(cls, spec: tuple[int, int, str]) -> DiscordApiError:
        """The error for a ``(status, code, message)`` triple."""
        return cls(*spec)

    def body(self) -> JSON:
        """The JSON body Discord sends for this error."""
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def _put_error(errors: JSON, path: Sequence[str | int], code: str, message: str) -> None:
    node = errors
    for key in path:
        node = node.setdefault(str(key), {})
    node.setdefault("_errors", []).append({"code": code, "message": message})


def _flatten(errors: JSON, prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in errors.items():
        if key == "_errors":
            out += [f"{prefix or '(root)'}: {e['message']}" for e in value]
        else:
            out += _flatten(value, f"{prefix}.{key}" if prefix else key)
    return out


def _form_error(errors: JSON) -> DiscordApiError:
    return DiscordApiError(400, 50035, "Invalid Form Body", errors)


def _too_long(errors: JSON, path: Sequence[str | int], limit: int) -> None:
    _put_error(errors, path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _required(errors: JSON, path: Sequence[str | int]) -> None:
    _put_error(errors, path, "BASE_TYPE_REQUIRED", "This field is required")


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------ validation


def message_errors(payload: Mapping[str, Any], files: Sequence[UploadedFile] = ()) -> JSON:
    """Discord's nested ``errors`` for a message body (empty when it is valid).

    Checks content (2000), embeds (10 per message; title 256, description 4096, 25 fields of
    name 1-256 and value 1-1024, footer 2048, author 256; 6000 for all embeds together),
    files (10), ``allowed_mentions`` and ``nonce``.
    """
    errors: JSON = {}
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        _put_error(errors, ["content"], "STRING_TYPE_CONVERT", "Could not interpret as string.")
    elif content is not None and len(content) > CONTENT_LIMIT:
        _too_long(errors, ["content"], CONTENT_LIMIT)
    embeds = payload.get("embeds") or []
    if not isinstance(embeds, list):
        _put_error(errors, ["embeds"], "LIST_TYPE_CONVERT", "Only iterables may be used.")
        embeds = []
    if len(embeds) > EMBEDS_PER_MESSAGE:
        _too_long(errors, ["embeds"], EMBEDS_PER_MESSAGE)
    total = 0
    for index, embed in enumerate(embeds):
        total += _embed_errors(errors, index, embed if isinstance(embed, dict) else {})
    if total > EMBED_TOTAL_LIMIT:
        _put_error(
            errors,
            ["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}",
        )
    if len(files) > FILES_PER_MESSAGE:
        _too_long(errors, ["files"], FILES_PER_MESSAGE)
    mentions = payload.get("allowed_mentions")
    if mentions is not None:
        _allowed_mentions_errors(errors, mentions)
    nonce = payload.get("nonce")
    if isinstance(nonce, str) and len(nonce) > 25:
        _too_long(errors, ["nonce"], 25)
    return errors


def _embed_errors(errors: JSON, index: int, embed: Mapping[str, Any]) -> int:
    """Check one embed; return the characters it counts towards the 6000 total."""
    path: list[str | int] = ["embeds", index]
    total = 0
    for key in ("title", "description"):
        text = embed.get(key)
        if text is None:
            continue
        text = str(text)
        total += len(text)
        if len(text) > EMBED_LIMITS[key]:
            _too_long(errors, [*path, key], EMBED_LIMITS[key])
    for key, inner in (("footer", "text"), ("author", "name")):
        part = embed.get(key)
        if part is None:
            continue
        text = part.get(inner) if isinstance(part, dict) else None
        if not text:
            _required(errors, [*path, key, inner])
            continue
        total += len(str(text))
        if len(str(text)) > EMBED_LIMITS[key]:
            _too_long(errors, [*path, key, inner], EMBED_LIMITS[key])
    fields = embed.get("fields") or []
    if len(fields) > FIELDS_PER_EMBED:
        _too_long(errors, [*path, "fields"], FIELDS_PER_EMBED)
    for number, item in enumerate(fields):
        item = item if isinstance(item, dict) else {}
        for key, limit in (("name", FIELD_NAME_LIMIT), ("value", FIELD_VALUE_LIMIT)):
            text = item.get(key)
            if text is None or str(text) == "":
                _required(errors, [*path, "fields", number, key])
                continue
            total += len(str(text))
            if len(str(text)) > limit:
                _too_long(errors, [*path, "fields", number, key], limit)
    for key in ("url",):
        url = embed.get(key)
        if url is not None and not str(url).startswith(("http://", "https://")):
            _put_error(errors, [*path, key], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    for key in ("image", "thumbnail"):
        media = embed.get(key)
        url = media.get("url") if isinstance(media, dict) else None
        if url is not None and not str(url).startswith(("http://", "https://", "attachment://")):
            _put_error(
                errors, [*path, key, "url"], "URL_TYPE_INVALID_URL", "Not a well formed URL."
            )
    return total


def _allowed_mentions_errors(errors: JSON, mentions: Any) -> None:
    if not isinstance(mentions, dict):
        _put_error(errors, ["allowed_mentions"], "DICT_TYPE_CONVERT", "Only dictionaries.")
        return
    parse = mentions.get("parse", [])
    if not isinstance(parse, list) or any(p not in ("users", "roles", "everyone") for p in parse):
        _put_error(
            errors,
            ["allowed_mentions", "parse"],
            "BASE_TYPE_CHOICES",
            "Value must be one of ('users', 'roles', 'everyone').",
        )
        return
    for key in ("users", "roles"):
        ids = mentions.get(key)
        if ids and key in parse:
            _put_error(
                errors,
                ["allowed_mentions"],
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{key}"] and {key}: [ids...] are mutually exclusive.',
            )
        if ids is not None and len(ids) > 100:
            _too_long(errors, ["allowed_mentions", key], 100)


def _is_command_name(name: Any, *, chat_input: bool) -> bool:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return False
    if chat_input and name != name.lower():
        return False
    if not chat_input:
        return bool(name.strip())
    return all(c.isalnum() or c in _NAME_PUNCTUATION for c in name)


def _command_chars(node: Mapping[str, Any]) -> int:
    """Name, description and choice name/value characters of a command or option, nested."""
    total = len(str(node.get("name", ""))) + len(str(node.get("description", "")))
    for choice in node.get("choices") or []:
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    for option in node.get("options") or []:
        total += _command_chars(option)
    return total


def _option_errors(errors: JSON, path: list[str | int], options: Any, *, level: str) -> None:
    """Check the options of a command (``level="command"``), a subcommand group
    (``"group"``) or a subcommand (``"subcommand"``)."""
    if not isinstance(options, list):
        return
    if len(options) > 25:
        _too_long(errors, [*path, "options"], 25)
    names: set[str] = set()
    subcommands = [o for o in options if isinstance(o, dict) and o.get("type") in (1, 2)]
    values = [o for o in options if isinstance(o, dict) and o.get("type") not in (1, 2)]
    if subcommands and values:
        _put_error(
            errors,
            [*path, "options"],
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all "
            "other types",
        )
    if level == "group" and values:
        _put_error(
            errors,
            [*path, "options"],
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "A sub-command group may only contain sub-commands",
        )
    optional_seen = False
    for index, option in enumerate(options):
        here: list[str | int] = [*path, "options", index]
        if not isinstance(option, dict):
            _required(errors, here)
            continue
        kind = option.get("type")
        if kind not in range(1, 12):
            _put_error(errors, [*here, "type"], "BASE_TYPE_CHOICES", "Value must be 1-11.")
        if kind in (1, 2) and level == "subcommand":
            _put_error(
                errors, [*here, "type"], "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Too deep."
            )
        if kind == 2 and level == "group":
            _put_error(
                errors, [*here, "type"], "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Too deep."
            )
        name = option.get("name")
        if not _is_command_name(name, chat_input=True):
            _put_error(
                errors,
                [*here, "name"],
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid: {name!r}",
            )
        elif name in names:
            _put_error(
                errors,
                [*here, "name"],
                "APPLICATION_COMMAND_DUPLICATE_NAME",
                f"Application command option names must be unique: {name}",
            )
        names.add(str(name))
        description = option.get("description")
        if not isinstance(description, str) or not 1 <= len(description) <= 100:
            _put_error(
                errors,
                [*here, "description"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        if kind in (1, 2):
            _option_errors(
                errors,
                here,
                option.get("options") or [],
                level="group" if kind == 2 else "subcommand",
            )
            continue
        if option.get("required"):
            if optional_seen:
                _put_error(
                    errors,
                    [*here, "required"],
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        _value_option_errors(errors, here, option, kind)


def _value_option_errors(errors: JSON, here: list[str | int], option: JSON, kind: Any) -> None:
    choices = option.get("choices")
    if choices is not None:
        if kind not in (3, 4, 10):
            _put_error(errors, [*here, "choices"], "BASE_TYPE_CHOICES", "Choices not allowed.")
        if len(choices) > 25:
            _too_long(errors, [*here, "choices"], 25)
        if option.get("autocomplete"):
            _put_error(
                errors,
                [*here, "autocomplete"],
                "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                "Autocomplete cannot be used with choices",
            )
        for number, choice in enumerate(choices):
            cname = choice.get("name") if isinstance(choice, dict) else None
            if not isinstance(cname, str) or not 1 <= len(cname) <= 100:
                _put_error(
                    errors,
                    [*here, "choices", number, "name"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            value = choice.get("value") if isinstance(choice, dict) else None
            ok = (
                (kind == 3 and isinstance(value, str) and 1 <= len(value) <= 100)
                or (kind == 4 and isinstance(value, int) and not isinstance(value, bool))
                or (kind == 10 and isinstance(value, int | float) and not isinstance(value, bool))
            )
            if not ok:
                _put_error(
                    errors,
                    [*here, "choices", number, "value"],
                    "BASE_TYPE_BAD_LENGTH" if kind == 3 else "NUMBER_TYPE_COERCE",
                    "Invalid choice value.",
                )
    if ("min_value" in option or "max_value" in option) and kind not in (4, 10):
        _put_error(errors, [*here, "min_value"], "BASE_TYPE_CHOICES", "Only for numbers.")
    if "min_length" in option or "max_length" in option:
        if kind != 3:
            _put_error(errors, [*here, "min_length"], "BASE_TYPE_CHOICES", "Only for strings.")
        low, high = option.get("min_length", 0), option.get("max_length", 6000)
        if not (0 <= low <= 6000 and 1 <= high <= 6000 and low <= high):
            _put_error(
                errors, [*here, "min_length"], "NUMBER_TYPE_MAX", "Must be between 0 and 6000."
            )
    if "channel_types" in option and kind != 7:
        _put_error(errors, [*here, "channel_types"], "BASE_TYPE_CHOICES", "Only for channels.")


def _commands_error_tree(commands: Any) -> JSON:
    errors: JSON = {}
    if not isinstance(commands, list):
        _put_error(errors, [], "LIST_TYPE_CONVERT", "Only iterables may be used.")
        return errors
    if sum(1 for c in commands if isinstance(c, dict) and c.get("type", 1) == 1) > 100:
        _too_long(errors, [], 100)
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            _required(errors, [index])
            continue
        kind = command.get("type", 1)
        name = command.get("name")
        if not _is_command_name(name, chat_input=kind == 1):
            _put_error(
                errors,
                [index, "name"],
                "APPLICATION_COMMAND_INVALID_NAME",
                f"Command name is invalid: {name!r}",
            )
        elif (kind, str(name)) in seen:
            _put_error(
                errors,
                [index, "name"],
                "APPLICATION_COMMAND_DUPLICATE_NAME",
                f"Application command names must be unique: {name}",
            )
        seen.add((kind, str(name)))
        description = command.get("description", "")
        if kind == 1 and (not isinstance(description, str) or not 1 <= len(description) <= 100):
            _put_error(
                errors,
                [index, "description"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        if kind != 1 and description:
            _put_error(
                errors,
                [index, "description"],
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have description",
            )
        if kind == 1:
            _option_errors(errors, [index], command.get("options") or [], level="command")
        if _command_chars(command) > COMMAND_TOTAL_LIMIT:
            _put_error(
                errors,
                [index],
                "APPLICATION_COMMAND_TOO_LARGE",
                f"Command exceeds maximum size ({COMMAND_TOTAL_LIMIT})",
            )
    return errors


def command_errors(commands: Any) -> list[str]:
    """What Discord would refuse in a bulk overwrite of commands, as ``path: message`` lines
    (empty when the payload is valid).

    Discord's rules: at most 100 slash commands; names 1-32 characters, letters, digits,
    ``-``, ``_`` and ``'``, lower-case for slash commands and their options, unique;
    descriptions 1-100 (none on context menus); at most 25 options, required before
    optional, unique names; subcommands and groups not mixed with other options, groups
    holding only subcommands, no deeper nesting; at most 25 choices (names 1-100, values of
    the option's type, strings up to 100), not with autocomplete; ``min/max_value`` only on
    numbers, ``min/max_length`` (0-6000) only on strings; at most 4000 characters of names,
    descriptions and choices per command.
    """
    return _flatten(_commands_error_tree(commands))


# --------------------------------------------------------------------------- records


@dataclass
class UploadedFile:
    """A file of a multipart request (``files[n]``)."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class ApiRequest:
    """One request the server got and how it answered.

    ``path`` is relative to ``/api/v10``; ``json`` is the JSON body (the ``payload_json``
    part of a multipart request); ``at`` is the injected clock when it arrived; ``status``
    is 0 while a stalled request is unanswered.
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    at: float
    authorization: str | None = None
    status: int = 0
    response: Any = None

    @property
    def allowed_mentions(self) -> Any:
        """The body's ``allowed_mentions`` (under ``data`` for interaction callbacks), or
        ``None`` when absent."""
        body = self.json if isinstance(self.json, dict) else {}
        if "allowed_mentions" in body:
            return body["allowed_mentions"]
        data = body.get("data")
        return data.get("allowed_mentions") if isinstance(data, dict) else None


@dataclass
class FakeUser:
    """A Discord user."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_dict(self) -> JSON:
        """The user object."""
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class FakeRole:
    """A role (for role options and ``<@&id>`` mentions)."""

    id: int
    name: str

    def to_dict(self) -> JSON:
        """The role object."""
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "hoist": False,
            "position": 1,
            "permissions": "0",
            "managed": False,
            "mentionable": True,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    """A channel: ``type`` 0 (server text), 1 (DM), 5 (announcement), 11 (thread)...

    ``deny`` makes every post fail with that ``(status, code, message)``.
    """

    id: int
    type: int = 0
    guild_id: int | None = DEFAULT_GUILD_ID
    name: str = "general"
    recipient_id: int | None = None
    deny: tuple[int, int, str] | None = None


@dataclass
class FakeAttachment:
    """A file uploaded by a user for an attachment option (see
    :meth:`FakeDiscordApi.attachment`); downloadable from :attr:`url`."""

    id: int
    filename: str
    content_type: str
    data: bytes
    url: str

    def to_dict(self) -> JSON:
        """The attachment object of ``resolved.attachments``."""
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
            "ephemeral": True,
            "flags": 0,
        }


@dataclass(frozen=True)
class Pings:
    """Who a message notified: ``@everyone``/``@here``, users, roles."""

    everyone: bool = False
    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()

    @property
    def nobody(self) -> bool:
        """Nobody was pinged."""
        return not (self.everyone or self.users or self.roles)


@dataclass
class FakeMessage:
    """A message as the server stores it (channel posts, DMs, interaction responses).

    ``embeds`` are as sent (``attachment://`` image URLs resolved to the uploaded file);
    ``attachments`` are attachment objects (with ``data``, the bytes, added); ``pings`` who
    it notified; ``interaction_id`` the interaction it answers; ``loading`` a deferred
    response not yet replaced.
    """

    id: int
    channel_id: int
    guild_id: int | None
    author: JSON
    content: str
    embeds: list[JSON]
    attachments: list[JSON]
    flags: int
    allowed_mentions: Any
    pings: Pings
    at: float
    nonce: str | int | None = None
    webhook_id: int | None = None
    interaction_id: int | None = None
    components: list[JSON] = field(default_factory=list)
    message_type: int = 0
    edited_at: float | None = None
    deleted: bool = False
    edits: int = 0

    @property
    def ephemeral(self) -> bool:
        """Only the user who invoked the interaction sees it."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred response ("thinking...") not replaced yet."""
        return bool(self.flags & LOADING)

    @property
    def text(self) -> str:
        """Content, embed titles, descriptions and fields, one per line (for assertions)."""
        lines = [self.content] if self.content else []
        for embed in self.embeds:
            for key in ("title", "description"):
                if embed.get(key):
                    lines.append(str(embed[key]))
            for item in embed.get("fields") or []:
                lines.append(f"{item.get('name')}\n{item.get('value')}")
            footer = embed.get("footer")
            if isinstance(footer, dict) and footer.get("text"):
                lines.append(str(footer["text"]))
        return "\n".join(lines)

    def to_dict(self) -> JSON:
        """The message object Discord returns."""
        data: JSON = {
            "id": str(self.id),
            "type": self.message_type,
            "channel_id": str(self.channel_id),
            "author": self.author,
            "content": self.content,
            "timestamp": _iso(self.at),
            "edited_timestamp": _iso(self.edited_at) if self.edited_at is not None else None,
            "tts": False,
            "mention_everyone": self.pings.everyone,
            "mentions": [
                {"id": str(u), "username": f"user{u}", "discriminator": "0", "avatar": None}
                for u in self.pings.users
            ],
            "mention_roles": [str(r) for r in self.pings.roles],
            "attachments": [{k: v for k, v in a.items() if k != "data"} for a in self.attachments],
            "embeds": self.embeds,
            "pinned": False,
            "flags": self.flags,
            "components": self.components,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        return data


@dataclass
class FakeInteraction:
    """An interaction the server created and what the bot did with it.

    Attributes:
        id: Interaction id.
        token: Its token (callback, webhooks).
        type: 2 application command, 3 component, 4 autocomplete, 5 modal submit.
        payload: The ``INTERACTION_CREATE`` payload.
        created_at: Clock time at creation (the 3 s and 15 min windows start here).
        user_id: Who invoked it.
        guild_id: Its server, or ``None`` in a DM.
        channel_id: Its channel (the DM channel in a DM).
        response_type: The callback type accepted (4 message, 5 deferred, 6 deferred
            update, 7 update, 8 autocomplete result, 9 modal), or ``None``.
        response: The callback's ``data``.
        responded_at: Clock time of the callback.
        original: The response message (a deferred one while ``loading``).
        followups: Follow-up messages, in order.
        callback_attempts: Every callback request for it, accepted or not.
        message_id: The message a component or modal interaction came from.
    """

    id: int
    token: str
    type: int
    payload: JSON
    created_at: float
    user_id: int
    guild_id: int | None
    channel_id: int
    response_type: int | None = None
    response: JSON | None = None
    responded_at: float | None = None
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    callback_attempts: list[ApiRequest] = field(default_factory=list)
    message_id: int | None = None

    @property
    def acknowledged(self) -> bool:
        """A callback was accepted."""
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        """The response was a deferral (type 5, "thinking...", or 6)."""
        return self.response_type in (5, 6)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices sent (type 8), else ``[]``."""
        if self.response_type != 8 or not self.response:
            return []
        return list(self.response.get("choices") or [])

    @property
    def messages(self) -> list[FakeMessage]:
        """The original response (when it is a message) and the follow-ups, in order."""
        first = [self.original] if self.original is not None else []
        return [m for m in first + self.followups if not m.deleted]

    @property
    def texts(self) -> list[str]:
        """:attr:`FakeMessage.text` of every message of :attr:`messages`."""
        return [m.text for m in self.messages]


@dataclass
class _RateLimitRule:
    method: str
    pattern: re.Pattern[str]
    retry_after: float
    is_global: bool
    scope: str
    times: int
    skip: int = 0


@dataclass
class _FailRule:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    times: int
    skip: int = 0
    deliver: bool = False


@dataclass
class _StallRule:
    method: str
    pattern: re.Pattern[str]
    deliver: bool
    times: int


@dataclass
class _Bucket:
    method: str
    pattern: re.Pattern[str]
    limit: int
    per_s: float
    name: str
    windows: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Awaitable[Any]]
    auth: bool


def _rule_matches(method: str, pattern: re.Pattern[str], req_method: str, path: str) -> bool:
    return (method == "*" or method == req_method) and bool(pattern.fullmatch(path))


# ----------------------------------------------------------------------------- server


class FakeDiscordApi:
    """The fake server (see the module docstring).

    Args:
        token: The bot token it accepts.
        application_id: The application (and bot user) id.
        bot_name: The bot's user name.
        clock: Time for interaction windows, message timestamps and the invalid-request
            window (default :func:`time.time`; tests pass a :class:`ManualClock`).
        invalid_request_limit: Invalid requests (401, 403, 429) per window before the ban.
        invalid_request_window_s: The window.
        strict_users: Unknown user ids are 404 code 10013 instead of created on demand.
        attachment_size_limit: Largest uploaded file.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        application_id: int = DEFAULT_APPLICATION_ID,
        bot_name: str = "CryptoGuard",
        clock: Clock | None = None,
        invalid_request_limit: int = INVALID_REQUEST_LIMIT,
        invalid_request_window_s: float = INVALID_REQUEST_WINDOW_S,
        strict_users: bool = False,
        attachment_size_limit: int = ATTACHMENT_SIZE_LIMIT,
    ) -> None:
        self.token = token
        self.application_id = application_id
        self.clock: Clock = clock or time.time
        self.invalid_request_limit = invalid_request_limit
        self.invalid_request_window_s = invalid_request_window_s
        self.strict_users = strict_users
        self.attachment_size_limit = attachment_size_limit
        self.bot_user = FakeUser(application_id, bot_name, bot=True)
        self.requests: list[ApiRequest] = []
        self.messages: list[FakeMessage] = []
        self.interactions: dict[int, FakeInteraction] = {}
        #: Synced commands by scope: ``None`` global, else a guild id.
        self.commands: dict[int | None, list[JSON]] = {}
        self.users: dict[int, FakeUser] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.roles: dict[int, FakeRole] = {}
        self.blocked_dms: set[int] = set()
        self.attachments: dict[int, FakeAttachment] = {}
        self.banned_until: float | None = None
        self._ids = itertools.count(((1_700_000_000_000 - _DISCORD_EPOCH_MS) << 22) + 1)
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self._dm_channels: dict[int, int] = {}
        self._by_token: dict[str, FakeInteraction] = {}
        self._nonces: dict[tuple[int, str], FakeMessage] = {}
        self._invalid: deque[float] = deque()
        self._rate_rules: list[_RateLimitRule] = []
        self._fail_rules: list[_FailRule] = []
        self._stall_rules: list[_StallRule] = []
        self._buckets: list[_Bucket] = []
        self._closing = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.add_user(DEFAULT_USER_ID, "alice")
        self.add_user(DEFAULT_OWNER_ID, "owner")
        self.add_channel(DEFAULT_CHANNEL_ID, guild_id=DEFAULT_GUILD_ID, name="general")
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self._port is None:
            raise RuntimeError("the fake Discord API is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` is set to: ``<base_url>/api/v10``."""
        return f"{self.base_url}/api/v{API_VERSION}"

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        app.router.add_get("/attachments/{id}/{filename}", self._download)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Answer stalled requests (503) and stop listening."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --------------------------------------------------------------------- set-up

    def next_id(self) -> int:
        """A new snowflake."""
        return next(self._ids)

    def add_user(
        self, user_id: int | None = None, username: str | None = None, *, bot: bool = False
    ) -> FakeUser:
        """Create (or return) a user."""
        uid = user_id if user_id is not None else self.next_id()
        if uid not in self.users:
            self.users[uid] = FakeUser(uid, username or f"user{uid % 100000}", bot=bot)
        return self.users[uid]

    def add_channel(
        self,
        channel_id: int | None = None,
        *,
        guild_id: int | None = DEFAULT_GUILD_ID,
        name: str = "alerts",
        type: int = 0,
    ) -> FakeChannel:
        """Create a server channel (``type`` 0 text, 5 announcement, 11 thread...)."""
        cid = channel_id if channel_id is not None else self.next_id()
        channel = FakeChannel(cid, type, guild_id, name)
        self.channels[cid] = channel
        return channel

    def add_role(self, role_id: int | None = None, name: str = "traders") -> FakeRole:
        """Create a role."""
        rid = role_id if role_id is not None else self.next_id()
        self.roles[rid] = FakeRole(rid, name)
        return self.roles[rid]

    def block_dm(self, user_id: int, blocked: bool = True) -> None:
        """The user closed their DMs (or blocked the bot): posts to their DM channel get 403
        code 50007."""
        if blocked:
            self.blocked_dms.add(user_id)
        else:
            self.blocked_dms.discard(user_id)

    def deny_channel(
        self,
        channel_id: int,
        *,
        status: int = 403,
        code: int = 50001,
        message: str = "Missing Access",
    ) -> None:
        """Posts to the channel fail with this error (the bot lost access or permission)."""
        self.channel(channel_id).deny = (status, code, message)

    def delete_channel(self, channel_id: int) -> None:
        """The channel is gone: 404 code 10003."""
        self.channels.pop(channel_id, None)

    def dm_channel_id(self, user_id: int) -> int:
        """The user's DM channel id (created if needed, as ``POST /users/@me/channels``)."""
        existing = self._dm_channels.get(user_id)
        if existing is not None:
            return existing
        cid = self.next_id()
        self._dm_channels[user_id] = cid
        self.channels[cid] = FakeChannel(cid, 1, None, "", recipient_id=user_id)
        return cid

    def channel(self, channel_id: int) -> FakeChannel:
        """The channel (``KeyError`` if unknown)."""
        return self.channels[channel_id]

    def rate_limit(
        self,
        method: str = "POST",
        path: str = r"/channels/\d+/messages",
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
        scope: str | None = None,
        times: int = 1,
        skip: int = 0,
    ) -> None:
        """Answer ``times`` matching requests with 429, after letting ``skip`` of them
        through (``path`` is a regular expression matched against the whole path after
        ``/api/v10``; ``method`` may be ``"*"``). ``scope`` defaults to ``global`` or
        ``user``; ``shared`` 429s do not count as invalid requests."""
        self._rate_rules.append(
            _RateLimitRule(
                method,
                re.compile(path),
                retry_after,
                is_global,
                scope or ("global" if is_global else "user"),
                times,
                skip,
            )
        )

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int = 0,
        message: str = "",
        times: int = 1,
        skip: int = 0,
        deliver: bool = False,
    ) -> None:
        """Answer ``times`` matching requests with this error, after letting ``skip`` of
        them through. With ``deliver`` the request is carried out first (a 500 after the
        message was created)."""
        text = message or {500: "500: Internal Server Error", 502: "502: Bad Gateway"}.get(
            status, f"{status}: error"
        )
        self._fail_rules.append(
            _FailRule(method, re.compile(path), status, code, text, times, skip, deliver)
        )

    def stall_next(self, method: str, path: str, *, deliver: bool = False, times: int = 1) -> None:
        """Never answer the next ``times`` matching requests (until the server closes).

        With ``deliver``, the request is carried out first (the message is created) and
        only the answer is lost, as when a connection drops after Discord got a message.
        """
        self._stall_rules.append(_StallRule(method, re.compile(path), deliver, times))

    def set_bucket(
        self, method: str, path: str, *, limit: int, per_s: float, name: str | None = None
    ) -> None:
        """Enforce a rate-limit bucket: ``limit`` requests per ``per_s`` seconds of real
        time per major parameter (the first id in the path), with Discord's headers; over
        it, 429 with scope ``user``."""
        bucket_name = name or hashlib.sha1(f"{method} {path}".encode()).hexdigest()[:16]  # noqa: S324
        self._buckets.append(_Bucket(method, re.compile(path), limit, per_s, bucket_name))

    # ------------------------------------------------------------------- queries

    @property
    def invalid_requests(self) -> int:
        """Invalid requests (401, 403, 429) within the window."""
        self._prune_invalid()
        return len(self._invalid)

    def messages_in(self, channel_id: int) -> list[FakeMessage]:
        """Accepted messages in a channel (not interaction responses), oldest first."""
        return [
            m
            for m in self.messages
            if m.channel_id == channel_id and m.interaction_id is None and not m.deleted
        ]

    def dms_to(self, user_id: int) -> list[FakeMessage]:
        """Accepted messages in the user's DM channel."""
        cid = self._dm_channels.get(user_id)
        return [] if cid is None else self.messages_in(cid)

    def requests_to(self, method: str, path: str) -> list[ApiRequest]:
        """Recorded requests whose method and path (a regular expression) match."""
        pattern = re.compile(path)
        return [
            r
            for r in self.requests
            if (method == "*" or r.method == method) and pattern.fullmatch(r.path)
        ]

    def interaction_for(self, payload: Mapping[str, Any]) -> FakeInteraction:
        """The server's record of the interaction a builder returned."""
        return self.interactions[int(payload["id"])]

    async def wait_until(self, predicate: Callable[[], bool], within_s: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (checked after every request); ``TimeoutError``
        after ``within_s`` seconds of real time."""
        async with asyncio.timeout(within_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # ------------------------------------------------------------ interactions

    def attachment(
        self, filename: str, data: bytes, content_type: str | None = None
    ) -> FakeAttachment:
        """A file a user attaches to an attachment option (pass it as the option value)."""
        aid = self.next_id()
        kind = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        url = f"{self.base_url}/attachments/{aid}/{filename}" if self._port else ""
        item = FakeAttachment(aid, filename, kind, data, url)
        self.attachments[aid] = item
        return item

    def slash_command(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: int | FakeUser = DEFAULT_USER_ID,
        guild_id: int | None = DEFAULT_GUILD_ID,
        channel_id: int | None = None,
        permissions: int | discord.Permissions | None = None,
        locale: str = "en-US",
        validate: bool = True,
    ) -> JSON:
        """An application-command interaction (``/command [group] [sub] option:value``).

        Args:
            command: ``"price"``, ``"alert add"`` (subcommand) or ``"a b c"`` (group and
                subcommand).
            options: Option values by name. Types come from the command as the client
                synced it here (then unknown names, missing required options, values
                outside the choices, ranges or lengths, and commands the member could not
                see raise ``ValueError``, since Discord would not send them); without a
                synced definition they are inferred (``str`` 3, ``int`` 4, ``bool`` 5,
                ``float``/``Decimal`` 10, :class:`FakeUser` 6, :class:`FakeChannel` 7,
                :class:`FakeRole` 8, :class:`FakeAttachment` 11).
            user: Who invokes it (a user id is created on demand).
            guild_id: The server; ``None`` for the user's DM with the bot.
            channel_id: The server channel (default: the default channel).
            permissions: The member's permissions in the channel (default
                :data:`DEFAULT_MEMBER_PERMISSIONS`, without Manage Server).
            locale: The user's locale.
            validate: Check the options against the synced definition.
        """
        return self._command_interaction(
            2,
            command,
            options or {},
            focused=None,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            validate=validate,
        )

    def autocomplete(
        self,
        command: str,
        focused: str,
        typed: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: int | FakeUser = DEFAULT_USER_ID,
        guild_id: int | None = DEFAULT_GUILD_ID,
        channel_id: int | None = None,
        permissions: int | discord.Permissions | None = None,
        locale: str = "en-US",
    ) -> JSON:
        """An autocomplete interaction: the user is typing ``typed`` into option
        ``focused`` (sent as a string, as Discord does), with ``options`` filled in."""
        values = dict(options or {})
        values[focused] = typed
        return self._command_interaction(
            4,
            command,
            values,
            focused=focused,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
            validate=True,
        )

    def component(
        self,
        custom_id: str,
        *,
        message: FakeMessage | None = None,
        component_type: int = 2,
        values: Sequence[str] | None = None,
        user: int | FakeUser = DEFAULT_USER_ID,
        guild_id: int | None = DEFAULT_GUILD_ID,
        channel_id: int | None = None,
        permissions: int | discord.Permissions | None = None,
    ) -> JSON:
        """A component interaction (button 2, select 3...) on ``message`` (a bot message
        in the channel is made up when none is given)."""
        member = self._user(user)
        target = self._interaction_channel(member.id, guild_id, channel_id)
        if message is None:
            message = self._store_message(
                target, content="", embeds=[], attachments=[], flags=0, allowed_mentions=None
            )
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        payload = self._interaction_payload(
            3, data, member, guild_id, target, permissions, "en-US", message=message
        )
        self.interaction_for(payload).message_id = message.id
        return payload

    def modal_submit(
        self,
        custom_id: str,
        fields: Mapping[str, str],
        *,
        user: int | FakeUser = DEFAULT_USER_ID,
        guild_id: int | None = DEFAULT_GUILD_ID,
        channel_id: int | None = None,
        permissions: int | discord.Permissions | None = None,
    ) -> JSON:
        """A modal submission: text inputs ``fields`` (custom id to value), one per row."""
        member = self._user(user)
        target = self._interaction_channel(member.id, guild_id, channel_id)
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ]
        data = {"custom_id": custom_id, "components": rows}
        return self._interaction_payload(5, data, member, guild_id, target, permissions, "en-US")

    def guild_payload(self, guild_id: int = DEFAULT_GUILD_ID) -> JSON:
        """A ``GUILD_CREATE`` payload for the server: its text channels, the bot as member."""
        everyone = FakeRole(guild_id, "@everyone").to_dict()
        everyone.update(permissions=str(DEFAULT_MEMBER_PERMISSIONS.value), position=0)
        channels: list[JSON] = [
            {
                "id": str(c.id),
                "type": c.type,
                "name": c.name,
                "position": index,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
                "topic": None,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "flags": 0,
            }
            for index, c in enumerate(
                c for c in self.channels.values() if c.guild_id == guild_id and c.type in (0, 5)
            )
        ]
        joined = "2024-01-01T00:00:00+00:00"
        return {
            "id": str(guild_id),
            "name": "CryptoGuard test server",
            "owner_id": str(DEFAULT_OWNER_ID),
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": channels,
            "threads": [],
            "members": [_member_dict(self.bot_user, DEFAULT_BOT_PERMISSIONS.value, with_user=True)],
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "vanity_url_code": None,
            "joined_at": joined,
            "application_id": None,
        }

    def announce_guild(self, client: discord.Client, guild_id: int = DEFAULT_GUILD_ID) -> None:
        """Put the server and its text channels into the client's cache, as the gateway's
        ``GUILD_CREATE`` would (``ConnectionState.parse_guild_create``).

        Needed when a handler relies on the cache: options typed ``discord.TextChannel``
        (discord.py resolves them from the cached server), ``interaction.guild.name``,
        ``interaction.channel`` as a ``TextChannel``. Channels added later need another
        call.
        """
        payload: Any = self.guild_payload(guild_id)
        client._connection.parse_guild_create(payload)

    async def dispatch(
        self, client: discord.Client, payload: Mapping[str, Any], *, within_s: float = 10.0
    ) -> None:
        """Run an interaction through discord.py's gateway parser and wait for its tasks.

        ``ConnectionState.parse_interaction_create`` builds the ``discord.Interaction`` and
        starts the tree's invoker task (or a view's or modal's), as an ``INTERACTION_CREATE``
        event would; the tasks it starts are awaited (``within_s`` seconds of real time).
        An exception escaping a task is raised here.
        """
        state = client._connection
        before = asyncio.all_tasks()
        state.parse_interaction_create(payload)  # type: ignore[arg-type]
        started = [t for t in asyncio.all_tasks() - before if not t.done()]
        if not started:
            return
        done, pending = await asyncio.wait(started, timeout=within_s)
        if pending:
            for task in pending:
                task.cancel()
            raise TimeoutError(f"interaction handlers still running after {within_s:g} s")
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def invoke(
        self, client: discord.Client, payload: Mapping[str, Any]
    ) -> discord.Interaction[Any]:
        """Run an application-command or autocomplete interaction through the client's
        command tree directly and return the :class:`discord.Interaction`.

        Mirrors the tree's own invoker: ``await tree._call(interaction)``, and an
        ``AppCommandError`` goes to ``tree._dispatch_error``.
        """
        state = client._connection
        tree = state._command_tree
        if tree is None:
            raise RuntimeError("the client has no app_commands.CommandTree")
        interaction: discord.Interaction[Any] = discord.Interaction(
            data=payload,  # type: ignore[arg-type]
            state=state,
        )
        try:
            await tree._call(interaction)
        except discord.app_commands.AppCommandError as exc:
            await tree._dispatch_error(interaction, exc)
        return interaction

    # ------------------------------------------------------- interaction internals

    def _user(self, user: int | FakeUser) -> FakeUser:
        if isinstance(user, FakeUser):
            self.users.setdefault(user.id, user)
            return user
        return self.add_user(user)

    def _interaction_channel(
        self, user_id: int, guild_id: int | None, channel_id: int | None
    ) -> FakeChannel:
        if guild_id is None:
            return self.channels[self.dm_channel_id(user_id)]
        cid = channel_id if channel_id is not None else DEFAULT_CHANNEL_ID
        if cid not in self.channels:
            self.add_channel(cid, guild_id=guild_id)
        return self.channels[cid]

    def _find_command(self, name: str, guild_id: int | None) -> tuple[JSON | None, int | None]:
        if guild_id is not None:
            for definition in self.commands.get(guild_id, []):
                if definition.get("name") == name and definition.get("type", 1) == 1:
                    return definition, guild_id
        for definition in self.commands.get(None, []):
            if definition.get("name") == name and definition.get("type", 1) == 1:
                return definition, None
        return None, None

    def _command_interaction(
        self,
        itype: int,
        command: str,
        values: Mapping[str, Any],
        *,
        focused: str | None,
        user: int | FakeUser,
        guild_id: int | None,
        channel_id: int | None,
        permissions: int | discord.Permissions | None,
        locale: str,
        validate: bool,
    ) -> JSON:
        member = self._user(user)
        target = self._interaction_channel(member.id, guild_id, channel_id)
        path = command.strip().lstrip("/").split()
        if not path:
            raise ValueError("no command name")
        definition, scope = self._find_command(path[0], guild_id)
        perms = _permission_value(permissions)
        if definition is not None and validate:
            _check_visible(definition, path[0], guild_id, perms)
        resolved: JSON = {}
        leaf_defs: list[JSON] | None = None
        if definition is not None:
            leaf_defs = _leaf_options(definition, path)
        names = list(values)
        if leaf_defs is not None:  # in the command's order, as Discord sends them
            order = {o.get("name"): i for i, o in enumerate(leaf_defs)}
            names.sort(key=lambda n: order.get(n, len(order)))
        leaf = [
            self._option(name, values[name], leaf_defs, focused, resolved, guild_id, path)
            for name in names
        ]
        if leaf_defs is not None and validate and focused is None:
            missing = [
                o["name"]
                for o in leaf_defs
                if o.get("required") and o["name"] not in values and o.get("type") not in (1, 2)
            ]
            if missing:
                raise ValueError(
                    f"/{command} needs {', '.join(missing)}: Discord would not send it"
                )
        options: list[JSON] = leaf
        if len(path) >= 2:
            options = [{"type": 1, "name": path[-1], "options": leaf}]
        if len(path) >= 3:
            options = [{"type": 2, "name": path[-2], "options": options}]
        data: JSON = {
            "id": str(definition["id"]) if definition else str(self.next_id()),
            "name": path[0],
            "type": 1,
            "options": options,
        }
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        return self._interaction_payload(itype, data, member, guild_id, target, permissions, locale)

    def _option(
        self,
        name: str,
        value: Any,
        defs: list[JSON] | None,
        focused: str | None,
        resolved: JSON,
        guild_id: int | None,
        path: Sequence[str],
    ) -> JSON:
        spec: JSON | None = None
        if defs is not None:
            spec = next((o for o in defs if o.get("name") == name), None)
            if spec is None:
                known = ", ".join(o.get("name", "?") for o in defs) or "none"
                raise ValueError(f"/{' '.join(path)} has no option {name!r} (it has: {known})")
            kind = int(spec.get("type", 3))
        else:
            kind = _infer_type(value)
        if name == focused:
            return {"type": kind, "name": name, "value": str(value), "focused": True}
        converted = self._convert(kind, value, resolved, guild_id)
        if spec is not None:
            _check_value(spec, converted, path)
        return {"type": kind, "name": name, "value": converted}

    def _convert(self, kind: int, value: Any, resolved: JSON, guild_id: int | None) -> Any:
        if kind == 3:
            return str(value)
        if kind == 4:
            if isinstance(value, bool):
                raise ValueError("an integer option cannot take a bool")
            return int(value)
        if kind == 5:
            return bool(value)
        if kind == 10:
            number = float(value) if isinstance(value, Decimal | str) else value
            return int(number) if isinstance(number, float) and number.is_integer() else number
        if kind in (6, 9) and not isinstance(value, FakeRole):
            member = self._user(value if isinstance(value, FakeUser) else int(value))
            resolved.setdefault("users", {})[str(member.id)] = member.to_dict()
            if guild_id is not None:
                resolved.setdefault("members", {})[str(member.id)] = _member_dict(
                    member, DEFAULT_MEMBER_PERMISSIONS.value, with_user=False
                )
            return str(member.id)
        if kind in (8, 9):
            role = value if isinstance(value, FakeRole) else self.roles.get(int(value))
            role = role or self.add_role(int(value))
            resolved.setdefault("roles", {})[str(role.id)] = role.to_dict()
            return str(role.id)
        if kind == 7:
            channel = value if isinstance(value, FakeChannel) else self.channels.get(int(value))
            if channel is None:
                channel = self.add_channel(int(value), guild_id=guild_id)
            resolved.setdefault("channels", {})[str(channel.id)] = {
                "id": str(channel.id),
                "type": channel.type,
                "name": channel.name,
                "permissions": str(DEFAULT_MEMBER_PERMISSIONS.value),
                "guild_id": str(channel.guild_id) if channel.guild_id else None,
                "parent_id": None,
                "nsfw": False,
                "position": 0,
                "flags": 0,
            }
            return str(channel.id)
        if kind == 11:
            if not isinstance(value, FakeAttachment):
                raise ValueError("an attachment option takes server.attachment(...)")
            resolved.setdefault("attachments", {})[str(value.id)] = value.to_dict()
            return str(value.id)
        raise ValueError(f"option type {kind} is not supported")

    def _interaction_payload(
        self,
        itype: int,
        data: JSON,
        user: FakeUser,
        guild_id: int | None,
        channel: FakeChannel,
        permissions: int | discord.Permissions | None,
        locale: str,
        *,
        message: FakeMessage | None = None,
    ) -> JSON:
        iid = self.next_id()
        token = f"aW50ZXJhY3Rpb246{iid}:{hashlib.sha256(str(iid).encode()).hexdigest()[:40]}"
        perms = _permission_value(permissions)
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(DEFAULT_BOT_PERMISSIONS.value),
            "entitlements": [],
            "attachment_size_limit": self.attachment_size_limit,
            "channel_id": str(channel.id),
        }
        if guild_id is not None:
            payload.update(
                guild_id=str(guild_id),
                guild={"id": str(guild_id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=_member_dict(user, perms, with_user=True),
                context=0,
                authorizing_integration_owners={"0": str(guild_id)},
                channel={
                    "id": str(channel.id),
                    "type": channel.type,
                    "guild_id": str(guild_id),
                    "name": channel.name,
                    "permissions": str(perms),
                    "position": 0,
                    "parent_id": None,
                    "nsfw": False,
                    "topic": None,
                    "last_message_id": None,
                    "rate_limit_per_user": 0,
                    "flags": 0,
                },
            )
        else:
            payload.update(
                user=user.to_dict(),
                context=1,
                authorizing_integration_owners={"0": "0"},
                channel={
                    "id": str(channel.id),
                    "type": 1,
                    "recipients": [user.to_dict()],
                    "last_message_id": None,
                    "flags": 0,
                },
            )
        if message is not None:
            payload["message"] = message.to_dict()
        record = FakeInteraction(
            iid, token, itype, payload, self.clock(), user.id, guild_id, channel.id
        )
        self.interactions[iid] = record
        self._by_token[token] = record
        return payload

    # -------------------------------------------------------------- HTTP plumbing

    def _build_routes(self) -> list[_Route]:
        table: list[tuple[str, str, Callable[..., Awaitable[Any]], bool]] = [
            ("GET", r"/users/@me", self._get_me, True),
            ("GET", r"/oauth2/applications/@me", self._get_application, True),
            ("GET", r"/applications/(?P<app>\d+)/commands", self._get_commands, True),
            ("PUT", r"/applications/(?P<app>\d+)/commands", self._put_commands, True),
            (
                "GET",
                r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands",
                self._get_commands,
                True,
            ),
            (
                "PUT",
                r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands",
                self._put_commands,
                True,
            ),
            (
                "POST",
                r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback",
                self._callback,
                False,
            ),
            ("POST", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)", self._followup, False),
            (
                "GET",
                r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)",
                self._get_webhook_message,
                False,
            ),
            (
                "PATCH",
                r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)",
                self._edit_webhook_message,
                False,
            ),
            (
                "DELETE",
                r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)",
                self._delete_webhook_message,
                False,
            ),
            ("POST", r"/users/@me/channels", self._create_dm, True),
            ("GET", r"/channels/(?P<cid>\d+)", self._get_channel, True),
            ("POST", r"/channels/(?P<cid>\d+)/messages", self._post_message, True),
            ("GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._get_message, True),
            ("PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._edit_message, True),
            (
                "DELETE",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)",
                self._delete_message,
                True,
            ),
            ("POST", r"/channels/(?P<cid>\d+)/typing", self._typing, True),
        ]
        return [_Route(m, re.compile(p), h, a) for m, p, h, a in table]

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        files: list[UploadedFile] = []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name or ""
                if name == "payload_json":
                    body = json.loads(await part.text())
                    continue
                data = await part.read(decode=False)
                files.append(
                    UploadedFile(
                        name,
                        part.filename or name,
                        part.headers.get("Content-Type", "application/octet-stream"),
                        bytes(data),
                    )
                )
            return body, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode("utf-8", "replace"), files

    async def _download(self, request: web.Request) -> web.StreamResponse:
        item = self.attachments.get(int(request.match_info["id"]))
        if item is None or item.filename != request.match_info["filename"]:
            for message in self.messages:
                for att in message.attachments:
                    if att["id"] == request.match_info["id"]:
                        return web.Response(body=att["data"], content_type=att["content_type"])
            return web.Response(status=404, text="Not Found")
        return web.Response(body=item.data, content_type=item.content_type)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].rstrip("/")
        body, files = await self._read_body(request)
        record = ApiRequest(
            request.method,
            path,
            dict(request.query),
            body,
            files,
            self.clock(),
            request.headers.get("Authorization"),
        )
        self.requests.append(record)
        headers: dict[str, str] = {"Via": "1.1 google"}
        try:
            if self.banned_until is not None and self.clock() < self.banned_until:
                record.status = 429
                record.response = "error code: 1015"
                wait = max(1, math.ceil(self.banned_until - self.clock()))
                return web.Response(
                    status=429, text="error code: 1015", headers={"Retry-After": str(wait)}
                )
            status, answer = await self._answer(request.method, path, record, headers)
        except DiscordApiError as exc:
            status, answer = exc.status, exc.body()
            headers.update(exc.headers)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("fake Discord API failed on %s %s", request.method, path)
            status, answer = 500, {"message": "500: Internal Server Error", "code": 0}
        record.status = status
        record.response = answer
        if status in (401, 403) or (status == 429 and headers.get("X-RateLimit-Scope") != "shared"):
            self._count_invalid()
        self._changed.set()
        if status == 204:
            return web.Response(status=204, headers=headers)
        # Exactly "application/json", without a charset: discord.py parses nothing else.
        headers["Content-Type"] = "application/json"
        return web.Response(status=status, body=json.dumps(answer).encode(), headers=headers)

    async def _answer(
        self, method: str, path: str, record: ApiRequest, headers: dict[str, str]
    ) -> tuple[int, Any]:
        route, params = self._route(method, path)
        if route.auth and record.authorization != f"Bot {self.token}":
            raise DiscordApiError(401, 0, "401: Unauthorized")
        for rule in self._fail_rules:
            if rule.times > 0 and _rule_matches(rule.method, rule.pattern, method, path):
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                rule.times -= 1
                if rule.deliver:
                    await route.handler(record, **params)
                raise DiscordApiError(rule.status, rule.code, rule.message)
        for rl in self._rate_rules:
            if rl.times > 0 and _rule_matches(rl.method, rl.pattern, method, path):
                if rl.skip > 0:
                    rl.skip -= 1
                    continue
                rl.times -= 1
                raise self._too_many(rl.retry_after, rl.is_global, rl.scope, "injected")
        headers.update(self._bucket_headers(method, path))
        stall = next(
            (
                s
                for s in self._stall_rules
                if s.times > 0 and _rule_matches(s.method, s.pattern, method, path)
            ),
            None,
        )
        if stall is not None:
            stall.times -= 1
            if stall.deliver:
                await route.handler(record, **params)
                self._changed.set()
            await self._closing.wait()
            raise DiscordApiError(503, 0, "503: Service Unavailable")
        result = await route.handler(record, **params)
        if result is None:
            return 204, None
        return 200, result

    def _route(self, method: str, path: str) -> tuple[_Route, dict[str, str]]:
        allowed = False
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            allowed = True
            if route.method == method:
                return route, match.groupdict()
        if allowed:
            raise DiscordApiError(405, 0, "405: Method Not Allowed")
        raise DiscordApiError(404, 0, "404: Not Found")

    def _too_many(
        self, retry_after: float, is_global: bool, scope: str, bucket: str
    ) -> DiscordApiError:
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": bucket,
                }
            )
        return DiscordApiError(
            429,
            0,
            "You are being rate limited.",
            headers=headers,
            extra={"retry_after": retry_after, "global": is_global},
        )

    def _bucket_headers(self, method: str, path: str) -> dict[str, str]:
        major = next(iter(re.findall(r"\d{5,}", path)), "")
        for bucket in self._buckets:
            if not _rule_matches(bucket.method, bucket.pattern, method, path):
                continue
            now = time.monotonic()
            window = bucket.windows.setdefault(major, [now, 0.0])
            if now - window[0] >= bucket.per_s:
                window[0], window[1] = now, 0.0
            reset_after = max(window[0] + bucket.per_s - now, 0.001)
            if window[1] >= bucket.limit:
                raise self._too_many(reset_after, False, "user", bucket.name)
            window[1] += 1
            return {
                "X-RateLimit-Limit": str(bucket.limit),
                "X-RateLimit-Remaining": str(int(bucket.limit - window[1])),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": bucket.name,
            }
        route = re.sub(r"\d{5,}", "{id}", path)
        digest = hashlib.sha1(f"{method} {route}".encode())  # noqa: S324
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": digest.hexdigest()[:16],
        }

    def _prune_invalid(self) -> None:
        horizon = self.clock() - self.invalid_request_window_s
        while self._invalid and self._invalid[0] < horizon:
            self._invalid.popleft()

    def _count_invalid(self) -> None:
        self._invalid.append(self.clock())
        self._prune_invalid()
        if len(self._invalid) >= self.invalid_request_limit:
            self.banned_until = self.clock() + BAN_S
            logger.warning("fake Discord API: %d invalid requests, banned", len(self._invalid))

    # ------------------------------------------------------------------ handlers

    async def _get_me(self, record: ApiRequest) -> JSON:
        data = self.bot_user.to_dict()
        data.update(verified=True, mfa_enabled=False, flags=0)
        return data

    async def _get_application(self, record: ApiRequest) -> JSON:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.users[DEFAULT_OWNER_ID].to_dict(),
            "verify_key": "0" * 64,
            "team": None,
            "flags": 0,
            "summary": "",
            "interactions_endpoint_url": None,
        }

    def _check_app(self, app: str) -> None:
        if int(app) != self.application_id:
            raise DiscordApiError(403, 50001, "Missing Access")

    async def _get_commands(
        self, record: ApiRequest, app: str, guild: str | None = None
    ) -> list[JSON]:
        self._check_app(app)
        return self.commands.get(int(guild) if guild else None, [])

    async def _put_commands(
        self, record: ApiRequest, app: str, guild: str | None = None
    ) -> list[JSON]:
        self._check_app(app)
        payload = record.json if record.json is not None else []
        errors = _commands_error_tree(payload)
        if errors:
            raise _form_error(errors)
        scope = int(guild) if guild else None
        stored: list[JSON] = []
        for command in payload:
            kind = int(command.get("type", 1))
            key = (scope, kind, str(command["name"]))
            cid = self._command_ids.setdefault(key, self.next_id())
            item = dict(command)
            item.update(
                id=str(cid),
                application_id=str(self.application_id),
                version=str(self.next_id()),
                type=kind,
                description=command.get("description", ""),
                default_member_permissions=(
                    None
                    if command.get("default_member_permissions") is None
                    else str(command["default_member_permissions"])
                ),
                nsfw=bool(command.get("nsfw", False)),
            )
            if scope is not None:
                item["guild_id"] = str(scope)
            stored.append(item)
        self.commands[scope] = stored
        return stored

    def _interaction(self, iid: str, token: str) -> FakeInteraction:
        item = self.interactions.get(int(iid))
        if item is None or item.token != token:
            raise DiscordApiError.of(_UNKNOWN_INTERACTION)
        return item

    async def _callback(self, record: ApiRequest, iid: str, token: str) -> JSON | None:
        item = self._interaction(iid, token)
        item.callback_attempts.append(record)
        if item.response_type is not None:
            raise DiscordApiError.of(_ACKNOWLEDGED)
        if self.clock() - item.created_at > INTERACTION_RESPONSE_DEADLINE_S:
            raise DiscordApiError.of(_UNKNOWN_INTERACTION)
        body = record.json if isinstance(record.json, dict) else {}
        rtype = body.get("type")
        raw_data = body.get("data")
        data: JSON = raw_data if isinstance(raw_data, dict) else {}
        if rtype not in _RESPONSE_TYPES.get(item.type, set()):
            errors: JSON = {}
            _put_error(
                errors,
                ["type"],
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Response type {rtype} is not valid for interaction type {item.type}.",
            )
            raise _form_error(errors)
        resource: JSON = {"type": rtype}
        if rtype in (4, 7):
            self._validate_message(data, record.files, path=["data"])
        if rtype == 8:
            _check_choices(data)
        if rtype == 9:
            _check_modal(data)
        channel = self.channels[item.channel_id]
        if rtype == 4:
            item.original = self._store_message(
                channel,
                content=str(data.get("content") or ""),
                embeds=list(data.get("embeds") or []),
                attachments=self._uploads(record.files, data),
                flags=int(data.get("flags") or 0) & EPHEMERAL,
                allowed_mentions=data.get("allowed_mentions"),
                interaction_id=item.id,
                components=list(data.get("components") or []),
            )
            resource["message"] = item.original.to_dict()
        elif rtype == 5:
            item.original = self._store_message(
                channel,
                content="",
                embeds=[],
                attachments=[],
                flags=LOADING | (int(data.get("flags") or 0) & EPHEMERAL),
                allowed_mentions=None,
                interaction_id=item.id,
            )
            resource["message"] = item.original.to_dict()
        elif rtype == 7 and item.message_id is not None:
            target = self._message_by_id(item.message_id)
            if target is not None:
                self._apply_edit(target, data, record.files)
                resource["message"] = target.to_dict()
        item.response_type = int(rtype)
        item.response = data
        item.responded_at = self.clock()
        if record.query.get("with_response", "").lower() not in ("1", "true"):
            return None
        original = item.original
        return {
            "interaction": {
                "id": str(item.id),
                "type": item.type,
                "response_message_id": str(original.id) if original else None,
                "response_message_loading": bool(original and original.loading),
                "response_message_ephemeral": bool(original and original.ephemeral),
            },
            "resource": resource,
        }

    def _webhook_interaction(self, app: str, token: str) -> FakeInteraction:
        if int(app) != self.application_id:
            raise DiscordApiError.of(_UNKNOWN_WEBHOOK)
        item = self._by_token.get(token)
        if item is None:
            raise DiscordApiError.of(_UNKNOWN_WEBHOOK)
        if self.clock() - item.created_at > INTERACTION_TOKEN_TTL_S:
            raise DiscordApiError.of(_INVALID_WEBHOOK_TOKEN)
        if item.response_type is None or item.type == 4:
            raise DiscordApiError.of(_UNKNOWN_WEBHOOK)
        return item

    async def _followup(self, record: ApiRequest, app: str, token: str) -> JSON:
        item = self._webhook_interaction(app, token)
        body = record.json if isinstance(record.json, dict) else {}
        self._validate_message(body, record.files)
        if item.original is not None and item.original.loading and item.response_type == 5:
            message = item.original
            self._apply_edit(message, body, record.files)
            return message.to_dict()
        message = self._store_message(
            self.channels[item.channel_id],
            content=str(body.get("content") or ""),
            embeds=list(body.get("embeds") or []),
            attachments=self._uploads(record.files, body),
            flags=int(body.get("flags") or 0) & EPHEMERAL,
            allowed_mentions=body.get("allowed_mentions"),
            interaction_id=item.id,
            components=list(body.get("components") or []),
        )
        item.followups.append(message)
        return message.to_dict()

    def _webhook_message(self, item: FakeInteraction, mid: str) -> FakeMessage:
        if mid == "@original":
            if item.original is None and item.response_type == 6 and item.message_id:
                found = self._message_by_id(item.message_id)
                if found is not None:
                    return found
            if item.original is None or item.original.deleted:
                raise DiscordApiError.of(_UNKNOWN_MESSAGE)
            return item.original
        for message in item.messages:
            if message.id == int(mid):
                return message
        raise DiscordApiError.of(_UNKNOWN_MESSAGE)

    async def _get_webhook_message(
        self, record: ApiRequest, app: str, token: str, mid: str
    ) -> JSON:
        item = self._webhook_interaction(app, token)
        return self._webhook_message(item, mid).to_dict()

    async def _edit_webhook_message(
        self, record: ApiRequest, app: str, token: str, mid: str
    ) -> JSON:
        item = self._webhook_interaction(app, token)
        message = self._webhook_message(item, mid)
        body = record.json if isinstance(record.json, dict) else {}
        self._validate_message(body, record.files, partial=True, current=message)
        self._apply_edit(message, body, record.files)
        return message.to_dict()

    async def _delete_webhook_message(
        self, record: ApiRequest, app: str, token: str, mid: str
    ) -> None:
        item = self._webhook_interaction(app, token)
        self._webhook_message(item, mid).deleted = True
        return None

    async def _create_dm(self, record: ApiRequest) -> JSON:
        body = record.json if isinstance(record.json, dict) else {}
        recipient = _as_int(body.get("recipient_id"))
        if recipient is None:
            errors: JSON = {}
            _required(errors, ["recipient_id"])
            raise _form_error(errors)
        if recipient in self.channels or recipient == self.application_id:
            raise DiscordApiError.of(_UNKNOWN_USER)
        if self.strict_users and recipient not in self.users:
            raise DiscordApiError.of(_UNKNOWN_USER)
        user = self.add_user(recipient)
        cid = self.dm_channel_id(recipient)
        return {
            "id": str(cid),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user.to_dict()],
        }

    def _channel_or_404(self, cid: str) -> FakeChannel:
        channel = self.channels.get(int(cid))
        if channel is None:
            raise DiscordApiError.of(_UNKNOWN_CHANNEL)
        return channel

    async def _get_channel(self, record: ApiRequest, cid: str) -> JSON:
        channel = self._channel_or_404(cid)
        if channel.deny is not None:
            raise DiscordApiError(*channel.deny)
        if channel.type == 1 and channel.recipient_id is not None:
            recipient = self.add_user(channel.recipient_id)
            return {
                "id": str(channel.id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [recipient.to_dict()],
            }
        return {
            "id": str(channel.id),
            "type": channel.type,
            "guild_id": str(channel.guild_id),
            "name": channel.name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def _postable(self, cid: str) -> FakeChannel:
        channel = self._channel_or_404(cid)
        if channel.deny is not None:
            raise DiscordApiError(*channel.deny)
        if channel.type == 1 and channel.recipient_id in self.blocked_dms:
            raise DiscordApiError.of(_CANNOT_DM)
        return channel

    async def _post_message(self, record: ApiRequest, cid: str) -> JSON:
        channel = self._postable(cid)
        body = record.json if isinstance(record.json, dict) else {}
        self._validate_message(body, record.files)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            existing = self._nonces.get((channel.id, str(nonce)))
            if existing is not None:
                return existing.to_dict()
        message = self._store_message(
            channel,
            content=str(body.get("content") or ""),
            embeds=list(body.get("embeds") or []),
            attachments=self._uploads(record.files, body),
            flags=int(body.get("flags") or 0),
            allowed_mentions=body.get("allowed_mentions"),
            nonce=nonce,
            components=list(body.get("components") or []),
            message_type=19 if body.get("message_reference") else 0,
        )
        if nonce is not None and body.get("enforce_nonce"):
            self._nonces[(channel.id, str(nonce))] = message
        return message.to_dict()

    def _channel_message(self, cid: str, mid: str) -> FakeMessage:
        channel = self._channel_or_404(cid)
        message = self._message_by_id(int(mid))
        if message is None or message.channel_id != channel.id or message.deleted:
            raise DiscordApiError.of(_UNKNOWN_MESSAGE)
        return message

    async def _get_message(self, record: ApiRequest, cid: str, mid: str) -> JSON:
        return self._channel_message(cid, mid).to_dict()

    async def _edit_message(self, record: ApiRequest, cid: str, mid: str) -> JSON:
        message = self._channel_message(cid, mid)
        body = record.json if isinstance(record.json, dict) else {}
        self._validate_message(body, record.files, partial=True, current=message)
        self._apply_edit(message, body, record.files)
        return message.to_dict()

    async def _delete_message(self, record: ApiRequest, cid: str, mid: str) -> None:
        self._channel_message(cid, mid).deleted = True
        return None

    async def _typing(self, record: ApiRequest, cid: str) -> None:
        self._postable(cid)
        return None

    # ------------------------------------------------------------ message internals

    def _validate_message(
        self,
        body: Mapping[str, Any],
        files: Sequence[UploadedFile],
        *,
        partial: bool = False,
        path: Sequence[str] = (),
        current: FakeMessage | None = None,
    ) -> None:
        errors = message_errors(body, files)
        if errors:
            for key in reversed(path):
                errors = {key: errors}
            raise _form_error(errors)
        for upload in files:
            if len(upload.data) > self.attachment_size_limit:
                raise DiscordApiError(413, 40005, "Request entity too large")
        content = body.get("content")
        if partial:
            if current is None:
                return
            content = content if "content" in body else current.content
            embeds = body.get("embeds") if "embeds" in body else current.embeds
            kept = body.get("attachments") if "attachments" in body else current.attachments
            components = body.get("components") if "components" in body else current.components
            if not (str(content or "").strip() or embeds or files or kept or components):
                raise DiscordApiError(400, 50006, "Cannot send an empty message")
            return
        has_content = isinstance(content, str) and bool(content.strip())
        has_other = any(body.get(key) for key in ("embeds", "sticker_ids", "poll", "components"))
        if not (has_content or has_other or files):
            raise DiscordApiError(400, 50006, "Cannot send an empty message")

    def _uploads(self, files: Sequence[UploadedFile], body: Mapping[str, Any]) -> list[JSON]:
        described = {f"files[{a.get('id')}]": a for a in body.get("attachments") or [] if "id" in a}
        out: list[JSON] = []
        for upload in files:
            aid = self.next_id()
            meta = described.get(upload.field, {})
            filename = str(meta.get("filename") or upload.filename)
            kind = mimetypes.guess_type(filename)[0] or upload.content_type
            item: JSON = {
                "id": str(aid),
                "filename": filename,
                "size": len(upload.data),
                "url": f"{self.base_url}/attachments/{aid}/{filename}",
                "proxy_url": f"{self.base_url}/attachments/{aid}/{filename}",
                "content_type": kind,
                "flags": 0,
                "data": upload.data,
            }
            if meta.get("description"):
                item["description"] = meta["description"]
            out.append(item)
        return out

    def _resolve_images(self, embeds: list[JSON], attachments: list[JSON]) -> list[JSON]:
        by_name = {a["filename"]: a["url"] for a in attachments}
        out = []
        for embed in embeds:
            embed = dict(embed)
            for key in ("image", "thumbnail"):
                media = embed.get(key)
                if not isinstance(media, dict):
                    continue
                url = media.get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    name = url.removeprefix("attachment://")
                    if name in by_name:
                        embed[key] = {**media, "url": by_name[name], "proxy_url": by_name[name]}
            out.append(embed)
        return out

    def _store_message(
        self,
        channel: FakeChannel,
        *,
        content: str,
        embeds: list[JSON],
        attachments: list[JSON],
        flags: int,
        allowed_mentions: Any,
        nonce: Any = None,
        interaction_id: int | None = None,
        components: list[JSON] | None = None,
        message_type: int = 0,
    ) -> FakeMessage:
        pings = _pings(content, allowed_mentions)
        message = FakeMessage(
            id=self.next_id(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self.bot_user.to_dict(),
            content=content,
            embeds=self._resolve_images(embeds, attachments),
            attachments=attachments,
            flags=flags,
            allowed_mentions=allowed_mentions,
            pings=pings,
            at=self.clock(),
            nonce=nonce,
            webhook_id=self.application_id if interaction_id is not None else None,
            interaction_id=interaction_id,
            components=components or [],
            message_type=20 if interaction_id is not None else message_type,
        )
        self.messages.append(message)
        return message

    def _message_by_id(self, mid: int) -> FakeMessage | None:
        return next((m for m in self.messages if m.id == mid), None)

    def _apply_edit(
        self, message: FakeMessage, body: Mapping[str, Any], files: Sequence[UploadedFile]
    ) -> None:
        if "content" in body:
            message.content = str(body.get("content") or "")
        if "attachments" in body or files:
            keep_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message.attachments if a["id"] in keep_ids]
            message.attachments = kept + self._uploads(files, body)
        if "embeds" in body:
            message.embeds = self._resolve_images(
                list(body.get("embeds") or []), message.attachments
            )
        if "components" in body:
            message.components = list(body.get("components") or [])
        if "allowed_mentions" in body:
            message.allowed_mentions = body.get("allowed_mentions")
        message.pings = _pings(message.content, message.allowed_mentions)
        if message.loading:
            message.flags &= ~LOADING
        else:
            message.edited_at = self.clock()
            message.edits += 1


# ------------------------------------------------------------ interaction helpers


def _permission_value(permissions: int | discord.Permissions | None) -> int:
    if permissions is None:
        return DEFAULT_MEMBER_PERMISSIONS.value
    if isinstance(permissions, discord.Permissions):
        return permissions.value
    return int(permissions)


def _member_dict(user: FakeUser, permissions: int, *, with_user: bool) -> JSON:
    data: JSON = {
        "roles": [],
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "permissions": str(permissions),
        "nick": None,
        "avatar": None,
        "banner": None,
        "premium_since": None,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user.to_dict()
    return data


def _check_visible(definition: JSON, name: str, guild_id: int | None, perms: int) -> None:
    """Raise ``ValueError`` when Discord would not offer the command to this user here."""
    contexts = definition.get("contexts")
    if guild_id is None:
        if definition.get("guild_id") is not None:
            raise ValueError(f"/{name} is a server command: Discord does not offer it in DMs")
        if contexts is not None and 1 not in contexts:
            raise ValueError(f"/{name} is not available in DMs (contexts {contexts})")
        if contexts is None and definition.get("dm_permission") is False:
            raise ValueError(f"/{name} is not available in DMs (dm_permission false)")
        return
    if contexts is not None and 0 not in contexts:
        raise ValueError(f"/{name} is not available in servers (contexts {contexts})")
    required = definition.get("default_member_permissions")
    if required is None:
        return
    needed = int(required)
    administrator = discord.Permissions(administrator=True).value
    if perms & administrator:
        return
    if needed == 0 or perms & needed != needed:
        raise ValueError(
            f"/{name} needs permissions {needed}: Discord hides it from this member ({perms})"
        )


def _leaf_options(definition: JSON, path: Sequence[str]) -> list[JSON]:
    """The value options of the (sub)command ``path`` names."""
    options: list[JSON] = list(definition.get("options") or [])
    for depth, name in enumerate(path[1:], start=1):
        found = next(
            (o for o in options if o.get("name") == name and o.get("type") in (1, 2)), None
        )
        if found is None:
            raise ValueError(f"/{' '.join(path[:depth])} has no subcommand {name!r}")
        options = list(found.get("options") or [])
    if any(o.get("type") in (1, 2) for o in options):
        raise ValueError(f"/{' '.join(path)} is a group: name one of its subcommands")
    return options


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float | Decimal):
        return 10
    if isinstance(value, FakeUser):
        return 6
    if isinstance(value, FakeChannel):
        return 7
    if isinstance(value, FakeRole):
        return 8
    if isinstance(value, FakeAttachment):
        return 11
    return 3


def _check_value(spec: JSON, value: Any, path: Sequence[str]) -> None:
    """Raise ``ValueError`` for a value a Discord client would not let through."""
    where = f"/{' '.join(path)} {spec.get('name')}"
    choices = spec.get("choices")
    if choices and value not in [c.get("value") for c in choices]:
        allowed = ", ".join(repr(c.get("value")) for c in choices)
        raise ValueError(f"{where}: {value!r} is not one of the choices ({allowed})")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "min_value" in spec and value < spec["min_value"]:
            raise ValueError(f"{where}: {value} is below the minimum {spec['min_value']}")
        if "max_value" in spec and value > spec["max_value"]:
            raise ValueError(f"{where}: {value} is above the maximum {spec['max_value']}")
    if isinstance(value, str) and spec.get("type") == 3:
        if "min_length" in spec and len(value) < spec["min_length"]:
            raise ValueError(f"{where}: shorter than {spec['min_length']}")
        if "max_length" in spec and len(value) > spec["max_length"]:
            raise ValueError(f"{where}: longer than {spec['max_length']}")


def _check_choices(data: Mapping[str, Any]) -> None:
    errors: JSON = {}
    choices = data.get("choices")
    if not isinstance(choices, list):
        _required(errors, ["data", "choices"])
        raise _form_error(errors)
    if len(choices) > 25:
        _too_long(errors, ["data", "choices"], 25)
    for index, choice in enumerate(choices):
        name = choice.get("name") if isinstance(choice, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            _put_error(
                errors,
                ["data", "choices", index, "name"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        value = choice.get("value") if isinstance(choice, dict) else None
        if isinstance(value, str) and len(value) > 100:
            _too_long(errors, ["data", "choices", index, "value"], 100)
    if errors:
        raise _form_error(errors)


def _check_modal(data: Mapping[str, Any]) -> None:
    errors: JSON = {}
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= 45:
        _put_error(errors, ["data", "title"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45.")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
        _put_error(
            errors, ["data", "custom_id"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100."
        )
    components = data.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= 5:
        _put_error(
            errors, ["data", "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5."
        )
    if errors:
        raise _form_error(errors)


_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_USER_MENTION = re.compile(r"(?<!\\)<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"(?<!\\)<@&(\d+)>")
_EVERYONE = re.compile(r"(?<!\\)@(?:everyone|here)\b")


def _pings(content: str, allowed_mentions: Any) -> Pings:
    """Who ``content`` notifies under ``allowed_mentions`` (``None``: everything parsed)."""
    text = _CODE.sub("", content or "")
    users = [int(u) for u in _USER_MENTION.findall(text)]
    roles = [int(r) for r in _ROLE_MENTION.findall(text)]
    everyone = bool(_EVERYONE.search(text))
    if not isinstance(allowed_mentions, dict):
        parse = {"users", "roles", "everyone"}
        allowed_users: set[int] = set()
        allowed_roles: set[int] = set()
    else:
        parse = set(allowed_mentions.get("parse") or [])
        allowed_users = {int(u) for u in allowed_mentions.get("users") or []}
        allowed_roles = {int(r) for r in allowed_mentions.get("roles") or []}
    pinged_users = [u for u in users if "users" in parse or u in allowed_users]
    pinged_roles = [r for r in roles if "roles" in parse or r in allowed_roles]
    return Pings(
        everyone=everyone and "everyone" in parse,
        users=tuple(dict.fromkeys(pinged_users)),
        roles=tuple(dict.fromkeys(pinged_roles)),
    )


# ----------------------------------------------------------------- entry points


@contextlib.contextmanager
def discord_api_base(url: str) -> Iterator[None]:
    """Point discord.py's REST calls (``discord.http.Route.BASE``) at ``url`` for the block."""
    route = discord.http.Route
    previous = route.BASE
    route.BASE = url
    try:
        yield
    finally:
        route.BASE = previous


@contextlib.asynccontextmanager
async def fake_discord_api(
    token: str = DEFAULT_TOKEN, **options: Any
) -> AsyncIterator[FakeDiscordApi]:
    """Run a :class:`FakeDiscordApi` on 127.0.0.1 with discord.py pointed at it."""
    server = FakeDiscordApi(token, **options)
    await server.start()
    try:
        with discord_api_base(server.api_base):
            yield server
    finally:
        await server.close()


def make_client(**options: Any) -> discord.Client:
    """A plain client as the front-end builds one (no privileged intents, long rate limits
    raised as ``RateLimited`` after 30 s)."""
    options.setdefault("intents", discord.Intents.default())
    options.setdefault("max_ratelimit_timeout", 30.0)
    return discord.Client(**options)


@contextlib.asynccontextmanager
async def logged_in(
    server: FakeDiscordApi, client: discord.Client | None = None
) -> AsyncIterator[discord.Client]:
    """Log ``client`` (default :func:`make_client`) in at ``server`` without connecting to
    the gateway; close it afterwards. ``setup_hook`` runs during the login."""
    bot = client if client is not None else make_client()
    try:
        await bot.login(server.token)
        yield bot
    finally:
        await bot.close()


@pytest.fixture
async def discord_api() -> AsyncIterator[FakeDiscordApi]:
    """A running fake on a :class:`ManualClock` (``discord_api.clock.advance(4)``), with
    discord.py pointed at it."""
    async with fake_discord_api(clock=ManualClock()) as server:
        yield server


@pytest.fixture
async def discord_client(discord_api: FakeDiscordApi) -> AsyncIterator[discord.Client]:
    """A plain ``discord.Client`` logged in at ``discord_api`` (no gateway)."""
    async with logged_in(discord_api) as client:
        yield client
