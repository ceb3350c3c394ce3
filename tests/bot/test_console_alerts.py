"""Console alert commands: parsing the friendly forms, and the commands end to end."""

from __future__ import annotations

import pytest

from bot.console_alerts import (
    HELP,
    AlertArgs,
    AlertCommandError,
    AlertCommands,
    parse_alert_command,
)
from bot.errors import render_error
from storage import Database
from tests.alerts.test_alert_service import ALICE, BOB, make, stored


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("btc above 100k", AlertArgs("price_above", "btc", "100k")),
        ("eth below 2500", AlertArgs("price_below", "eth", "2500")),
        ("BTC > 95k", AlertArgs("price_above", "BTC", "95k")),
        ("sol change 5% 1h", AlertArgs("pct_change", "sol", "5%", window="1h")),
        ("sol change 5% 1h up", AlertArgs("pct_change", "sol", "5%", window="1h", direction="up")),
        (
            "sol drops 10% 24h",
            AlertArgs("pct_change", "sol", "10%", window="24h", direction="down"),
        ),
        ("sol moves 3%", AlertArgs("pct_change", "sol", "3%")),
        ("usdc depeg 1", AlertArgs("depeg", "usdc", "1")),
        ("usdc depeg", AlertArgs("depeg", "usdc", None)),
        ("btc rsi above 70", AlertArgs("rsi_above", "btc", "70")),
        ("btc rsi below 30 4h", AlertArgs("rsi_below", "btc", "30", interval="4h")),
        ("portfolio below 20k", AlertArgs("portfolio_below", None, "20k")),
        ("portfolio long above 1m", AlertArgs("portfolio_above", "long", "1m")),
        (
            "btc formula gap above 0.5 4h",
            AlertArgs("formula_above", "btc", "0.5", formula="gap", interval="4h"),
        ),
        ("price_above btc 100k", AlertArgs("price_above", "btc", "100k")),
        (
            "pct_change sol 5 1h down",
            AlertArgs("pct_change", "sol", "5", window="1h", direction="down"),
        ),
        ("depeg usdt", AlertArgs("depeg", "usdt")),
        ("portfolio_below 20k", AlertArgs("portfolio_below", None, "20k")),
        ("formula_below eth gap -1", AlertArgs("formula_below", "eth", "-1", formula="gap")),
        ("btc above 100k --recurring", AlertArgs("price_above", "btc", "100k", recurring=True)),
        (
            "eth below 2k --recurring --cooldown 30m --expires 7d",
            AlertArgs("price_below", "eth", "2k", recurring=True, cooldown="30m", expires="7d"),
        ),
        (
            "eth below 2k expires 2026-12-31",
            AlertArgs("price_below", "eth", "2k", expires="2026-12-31"),
        ),
    ],
)
def test_alert_forms(line: str, expected: AlertArgs) -> None:
    assert parse_alert_command(line.split()) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "Usage: /alert"),
        ("btc", "Usage: /alert"),
        ("btc above", "Give a price"),
        ("btc sideways 5", "not something /alert understands"),
        ("btc above 100k banana", 'Unexpected "banana"'),
        ("btc rsi 70", "rsi above|below"),
        ("portfolio 20k", "portfolio [NAME] above|below"),
        ("btc above 100k --expires", "Give the expiry"),
        ("price_above", "Usage: /alert price_above SYMBOL"),
    ],
)
def test_bad_alert_forms(line: str, message: str) -> None:
    with pytest.raises(AlertCommandError, match=message.replace("[", r"\[").replace("|", r"\|")):
        parse_alert_command(line.split())


def test_help_lists_the_commands() -> None:
    for command in ("/alert", "/alerts", "/delalert", "/pause", "/resume", "--recurring"):
        assert command in HELP


async def run(commands: AlertCommands, line: str) -> str:
    """Like the console: split the line, call the command, render domain errors."""
    name, *args = line.split()
    try:
        return await commands.commands()[name.lstrip("/")](args)
    except Exception as exc:
        return render_error(exc)


async def test_commands_end_to_end(db: Database) -> None:
    s = make(db)
    me = AlertCommands(s.alerts, ALICE)
    reply = await run(me, "/alert btc above 500k")
    assert reply.startswith("Alert #1 set: BTC above $500,000 (one-shot).")
    assert "BTC is $" in reply and "Over the last 30 days" in reply
    reply = await run(me, "/alert sol change 5% 1h up --recurring --expires 7d")
    assert reply.startswith("Alert #2 set: SOL rises 5% within 1h (recurring, at most once per 1h")
    assert "expires 2026-11-28" in reply
    assert (await run(me, "/alert usdc depeg")).startswith("Alert #3 set: USDC off its peg")
    assert "already have this alert: #1" in await run(me, "/alert btc above 500,000")
    assert "cannot be negative" in await run(me, "/alert btc above -5")
    assert "Give a price" in await run(me, "/alert btc above")
    listed = await run(me, "/alerts")
    assert "Your alerts (3):" in listed and "#1" in listed and "#3" in listed
    assert "now: BTC is $" in listed
    assert (await run(me, "/pause 1")) == "Alert #1 paused: BTC above $500,000."
    assert "paused" in await run(me, "/alerts")
    assert (await run(me, "/resume 1")) == "Alert #1 resumed: BTC above $500,000."
    assert await run(me, "/alerts history") == "None of your alerts has fired yet."
    assert "Usage: /alerts history" in await run(me, "/alerts history many")
    assert "Usage: /pause ID" in await run(me, "/pause")


async def test_delalert_asks_before_deleting_several(db: Database) -> None:
    s = make(db)
    me = AlertCommands(s.alerts, ALICE)
    for threshold in ("500k", "600k", "700k"):
        await run(me, f"/alert btc above {threshold}")
    assert await run(me, "/delalert 1") == "Deleted alert #1: BTC above $500,000."
    prompt = await run(me, "/delalert all")
    assert prompt.startswith("This deletes 2 alerts:")
    assert prompt.endswith("To delete them: /delalert all confirm")
    prompt = await run(me, "/delalert 2 3")
    assert prompt.endswith("To delete them: /delalert 2 3 confirm")
    assert [a[2] for a in await stored(db, ALICE)] == ["deleted", "active", "active"]
    assert await run(me, "/delalert all confirm") == "Deleted 2 alerts: #2, #3."
    assert [a[2] for a in await stored(db, ALICE)] == ["deleted"] * 3
    assert "Usage: /delalert" in await run(me, "/delalert")
    assert "Usage: /delalert" in await run(me, "/delalert 4 all")


async def test_another_users_ids_are_not_found(db: Database) -> None:
    s = make(db)
    await run(AlertCommands(s.alerts, ALICE), "/alert eth below 1000")
    them = AlertCommands(s.alerts, BOB)
    for line in ("/delalert 1", "/pause 1", "/resume 1", "/delalert 1 2 confirm"):
        assert await run(them, line) == "You have no alert #1."
    assert await run(them, "/alerts") == "You have no active alerts."
    assert await stored(db, ALICE) == [(1, "price_below", "active")]
