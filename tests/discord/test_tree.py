"""The whole slash-command tree against Discord's rules, on the payload discord.py syncs.

``command_payload(tree)`` is exactly what ``tree.sync()`` PUTs to Discord (each command's
``to_dict(tree)``); a payload that breaks a rule makes Discord refuse the whole sync with
400 (50035), so every rule Discord documents for chat-input commands is checked here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.app import App
from bot.discord.bot import DiscordFrontEnd
from bot.discord.tree import command_payload, load_cogs, payload_digest
from tests.telegram.frontend_helpers import offline_app, sqlite_copy

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, CHANNEL, NUMBER, ATTACHMENT = 3, 4, 5, 7, 10, 11
MAX_COMMANDS = 100
MAX_OPTIONS = 25
MAX_CHOICES = 25
# Discord documents 8000 today; older docs (and the fake) say 4000: stay under both.
MAX_COMMAND_CHARS = 4000


# -- the rules -----------------------------------------------------------------------------


def valid_name(name: object) -> bool:
    """``^[-_\\p{L}\\p{N}]{1,32}$`` (letters and numbers of any script), lower-case."""
    if not isinstance(name, str) or not 1 <= len(name) <= 32 or name != name.lower():
        return False
    return all(c in "-_" or unicodedata.category(c)[0] in "LN" for c in name)


def violations(payload: list[dict[str, Any]]) -> list[str]:
    """Every way ``payload`` breaks Discord's rules for chat-input commands."""
    problems: list[str] = []
    chat_input = [c for c in payload if c.get("type", 1) == 1]
    if len(chat_input) > MAX_COMMANDS:
        problems.append(f"{len(chat_input)} commands (at most {MAX_COMMANDS})")
    names = [c.get("name") for c in chat_input]
    if len(set(names)) != len(names):
        problems.append(f"duplicate command names: {names}")
    for command in chat_input:
        where = f"/{command.get('name')}"
        problems += _check_named(command, where)
        problems += _check_options(command.get("options", []), where, depth=0)
        size = _chars(command)
        if size > MAX_COMMAND_CHARS:
            problems.append(f"{where}: {size} characters of names, descriptions and values")
    return problems


def _check_named(item: dict[str, Any], where: str) -> list[str]:
    problems = []
    if not valid_name(item.get("name")):
        problems.append(f"{where}: invalid name {item.get('name')!r}")
    description = item.get("description")
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        problems.append(f"{where}: description must be 1-100 characters: {description!r}")
    return problems


def _check_options(options: list[dict[str, Any]], where: str, depth: int) -> list[str]:
    problems: list[str] = []
    if len(options) > MAX_OPTIONS:
        problems.append(f"{where}: {len(options)} options (at most {MAX_OPTIONS})")
    names = [o.get("name") for o in options]
    if len(set(names)) != len(names):
        problems.append(f"{where}: duplicate option names {names}")
    kinds = {o.get("type") for o in options}
    nested = kinds & {SUB_COMMAND, SUB_COMMAND_GROUP}
    if nested and kinds - nested:
        problems.append(f"{where}: subcommands mixed with plain options")
    seen_optional = False
    for option in options:
        at = f"{where} {option.get('name')}"
        problems += _check_named(option, at)
        kind = option.get("type")
        if kind == SUB_COMMAND_GROUP:
            if depth > 0:
                problems.append(f"{at}: a subcommand group inside a subcommand group")
            subs = option.get("options", [])
            if any(s.get("type") != SUB_COMMAND for s in subs):
                problems.append(f"{at}: a group may only hold subcommands")
            problems += _check_options(subs, at, depth + 1)
            continue
        if kind == SUB_COMMAND:
            problems += _check_options(option.get("options", []), at, depth + 1)
            continue
        if option.get("required", False):
            if seen_optional:
                problems.append(f"{at}: a required option after an optional one")
        else:
            seen_optional = True
        problems += _check_value_rules(option, at)
    return problems


def _check_value_rules(option: dict[str, Any], at: str) -> list[str]:
    problems = []
    kind = option.get("type")
    choices = option.get("choices") or []
    if choices and kind not in (STRING, INTEGER, NUMBER):
        problems.append(f"{at}: choices on an option of type {kind}")
    if len(choices) > MAX_CHOICES:
        problems.append(f"{at}: {len(choices)} choices (at most {MAX_CHOICES})")
    if choices and option.get("autocomplete"):
        problems.append(f"{at}: both choices and autocomplete")
    if option.get("autocomplete") and kind not in (STRING, INTEGER, NUMBER):
        problems.append(f"{at}: autocomplete on an option of type {kind}")
    for choice in choices:
        name, value = choice.get("name"), choice.get("value")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            problems.append(f"{at}: choice name must be 1-100 characters: {name!r}")
        if kind == STRING and (not isinstance(value, str) or len(value) > 100):
            problems.append(f"{at}: string choice value must be at most 100 characters")
        if kind == INTEGER and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{at}: integer choice with value {value!r}")
        if kind == NUMBER and (isinstance(value, bool) or not isinstance(value, int | float)):
            problems.append(f"{at}: number choice with value {value!r}")
    if ("min_value" in option or "max_value" in option) and kind not in (INTEGER, NUMBER):
        problems.append(f"{at}: min/max value on an option of type {kind}")
    if "min_length" in option or "max_length" in option:
        if kind != STRING:
            problems.append(f"{at}: min/max length on an option of type {kind}")
        low, high = option.get("min_length", 0), option.get("max_length", 6000)
        if not (0 <= low <= 6000 and 1 <= high <= 6000 and low <= high):
            problems.append(f"{at}: length range {low}-{high} outside 0-6000")
    low, high = option.get("min_value"), option.get("max_value")
    if low is not None and high is not None and low > high:
        problems.append(f"{at}: min_value {low} above max_value {high}")
    if option.get("channel_types") and kind != CHANNEL:
        problems.append(f"{at}: channel_types on an option of type {kind}")
    return problems


def _chars(item: dict[str, Any]) -> int:
    """Characters Discord counts towards a command's size (names, descriptions, values)."""
    total = len(str(item.get("name", ""))) + len(str(item.get("description", "")))
    for choice in item.get("choices") or []:
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total + sum(_chars(option) for option in item.get("options") or [])


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def app(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[App]:
    url = sqlite_copy(sqlite_template, tmp_path / "cryptoguard.db")
    async with offline_app(url, tmp_path / "data", agent=False) as application:
        yield application


@pytest.fixture
async def payload(app: App) -> list[dict[str, Any]]:
    """The global commands as ``tree.sync()`` would send them (no login needed)."""
    frontend = DiscordFrontEnd(app, "unused-token", auto_sync=False)
    await load_cogs(frontend.bot, app)
    return command_payload(frontend.tree)


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


# -- tests ---------------------------------------------------------------------------------


async def test_the_whole_tree_follows_discords_rules(payload: list[dict[str, Any]]) -> None:
    assert violations(payload) == []


async def test_the_tree_has_every_command_of_the_issue(payload: list[dict[str, Any]]) -> None:
    commands = by_name(payload)
    assert {
        "price", "top", "depeg", "chart", "ta", "formula", "backtest", "alert", "portfolio",
        "digest", "settings", "ask", "subscribe", "unsubscribe",
    } <= set(commands)  # fmt: skip
    alert = by_name(commands["alert"]["options"])
    assert {"add", "list", "delete", "pause"} <= set(alert)
    portfolio = by_name(commands["portfolio"]["options"])
    assert {
        "show", "buy", "sell", "trades", "risk", "target", "rebalance", "tax", "import",
    } <= set(portfolio)  # fmt: skip
    assert all(o["type"] == SUB_COMMAND for o in commands["portfolio"]["options"])


async def test_options_are_typed(payload: list[dict[str, Any]]) -> None:
    commands = by_name(payload)
    price = by_name(commands["price"]["options"])
    assert price["symbols"]["autocomplete"] is True and price["symbols"]["required"] is True
    top = by_name(commands["top"]["options"])["count"]
    assert (top["type"], top["min_value"], top["max_value"]) == (INTEGER, 1, 100)
    add = by_name(by_name(commands["alert"]["options"])["add"]["options"])
    assert {c["value"] for c in add["kind"]["choices"]} >= {"price_above", "depeg", "pct_change"}
    assert add["symbol"]["autocomplete"] is True
    backtest = by_name(commands["backtest"]["options"])
    assert {c["value"] for c in backtest["strategy"]["choices"]} >= {
        "rsi_mean_reversion",
        "buy_and_hold",
    }
    portfolio = by_name(commands["portfolio"]["options"])
    tax = by_name(portfolio["tax"]["options"])
    assert [c["value"] for c in tax["method"]["choices"]] == ["FIFO", "LIFO", "HIFO"]
    assert (tax["year"]["min_value"], tax["year"]["max_value"]) == (2009, 2100)
    file = by_name(portfolio["import"]["options"])["file"]
    assert (file["type"], file["required"]) == (ATTACHMENT, True)
    interval = by_name(commands["chart"]["options"])["interval"]
    assert [c["value"] for c in interval["choices"]] == ["1h", "4h", "1d", "1w"]


async def test_subscriptions_need_manage_server(payload: list[dict[str, Any]]) -> None:
    manage_guild = str(discord.Permissions(manage_guild=True).value)
    for name in ("subscribe", "unsubscribe"):
        command = by_name(payload)[name]
        assert str(command["default_member_permissions"]) == manage_guild
        assert command["contexts"] == [0]  # servers only
        options = by_name(command["options"])
        assert {c["value"] for c in options["kind"]["choices"]} == {"depeg", "digest"}
        assert options["channel"]["type"] == CHANNEL
        assert set(options["channel"]["channel_types"]) == {0, 5}  # text, announcement
    # everything else is open to everyone, in servers and the bot's DMs
    price = by_name(payload)["price"]
    assert price.get("default_member_permissions") is None
    assert sorted(price["contexts"]) == [0, 1] and price["integration_types"] == [0]


async def test_the_validator_catches_each_rule() -> None:
    def option(name: str, **extra: Any) -> dict[str, Any]:
        return {"type": STRING, "name": name, "description": "d", **extra}

    bad: list[dict[str, Any]] = [
        {"name": "Price", "description": "d"},
        {"name": "x" * 33, "description": "d"},
        {"name": "ok", "description": ""},
        {"name": "ok2", "description": "d" * 101},
        {"name": "opts", "description": "d", "options": [option(f"o{i}") for i in range(26)]},
        {
            "name": "order",
            "description": "d",
            "options": [option("a", required=False), option("b", required=True)],
        },
        {
            "name": "choices",
            "description": "d",
            "options": [
                option("c", choices=[{"name": f"n{i}", "value": str(i)} for i in range(26)])
            ],
        },
        {"name": "sp ace", "description": "d"},
    ]
    found = violations(bad)
    for text in (
        "invalid name 'Price'",
        "invalid name 'xxx",
        "/ok: description",
        "/ok2: description",
        "26 options",
        "required option after an optional",
        "26 choices",
        "invalid name 'sp ace'",
    ):
        assert any(text in problem for problem in found), (text, found)
    assert valid_name("déjà-vu_2") and valid_name("価格")


async def test_the_payload_fingerprint_follows_changes(
    payload: list[dict[str, Any]],
) -> None:
    changed = [dict(c) for c in payload]
    changed[0]["description"] = changed[0]["description"] + "!"
    assert payload_digest(payload) == payload_digest([dict(c) for c in payload])
    assert payload_digest(changed) != payload_digest(payload)
