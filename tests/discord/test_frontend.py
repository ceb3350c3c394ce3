"""The Discord front-end end to end: the real discord.py against the fake Discord API.

Each test runs :class:`bot.discord.bot.DiscordFrontEnd` on the offline application
(simulated market, offline agent, a temporary SQLite database), logged in at
:mod:`tests.discord.fake_discord_api` without a gateway. Interactions are built by the
fake from the commands the front-end synced there (so options are typed, ranged and
permission-checked as Discord would) and run through discord.py's own gateway parser;
everything the bot does is read back from the fake's records. Time is the fake's manual
clock: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.app import App
from bot.discord.bot import DiscordFrontEnd
from bot.discord.format import CONTENT_LIMIT, is_fence, to_plain
from bot.discord.tree import command_payload
from tests.discord.fake_discord_api import (
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DEFAULT_USER_ID,
    FakeDiscordApi,
    FakeInteraction,
    FakeMessage,
    ManualClock,
    discord_api_base,
    fake_discord_api,
)
from tests.telegram.frontend_helpers import offline_app, sqlite_copy
from tools.identity import ChatRef, UserRef
from tools.notify import DeliveryStatus, OutgoingMessage
from tools.subscriptions import SubscriptionService

ALICE = DEFAULT_USER_ID
BOB = 1400000000000000777
MANAGER = discord.Permissions(view_channel=True, send_messages=True, manage_guild=True)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


# -- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
async def app(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[App]:
    """The offline application (with the offline agent) on a fresh SQLite database."""
    url = sqlite_copy(sqlite_template, tmp_path / "cryptoguard.db")
    async with offline_app(url, tmp_path / "data") as application:
        yield application


@pytest.fixture
async def server() -> AsyncIterator[FakeDiscordApi]:
    async with fake_discord_api(clock=ManualClock()) as fake:
        yield fake


@pytest.fixture
async def frontend(app: App, server: FakeDiscordApi) -> AsyncIterator[DiscordFrontEnd]:
    """Logged in at the fake, commands synced to the test server (at start) and globally
    (for DMs); no gateway."""
    front = DiscordFrontEnd(
        app, server.token, test_guild_id=DEFAULT_GUILD_ID, api_base=server.api_base
    )
    try:
        await front.start(connect=False)
        await front.sync()
        server.announce_guild(front.bot)
        yield front
    finally:
        await front.stop()


async def run(server: FakeDiscordApi, front: DiscordFrontEnd, payload: Any) -> FakeInteraction:
    """Hand an interaction to discord.py and return the fake's record of what happened."""
    await server.dispatch(front.bot, payload)
    return server.interaction_for(payload)


def answer_text(interaction: FakeInteraction) -> str:
    """Everything the bot answered, as plain text."""
    return "\n".join(to_plain(text) for text in interaction.texts)


def assert_answered_in_time(interaction: FakeInteraction) -> None:
    """Acknowledged within Discord's 3 s, and a real answer replaced "thinking..."."""
    assert interaction.acknowledged
    assert interaction.responded_at is not None
    assert interaction.responded_at - interaction.created_at < 3.0
    assert interaction.messages and not any(m.loading for m in interaction.messages)


async def deliver_message(front: DiscordFrontEnd, payload: dict[str, Any]) -> None:
    """A MESSAGE_CREATE through discord.py's gateway parser; waits for the listeners."""
    before = asyncio.all_tasks()
    front.bot._connection.parse_message_create(payload)  # type: ignore[arg-type]
    started = [t for t in asyncio.all_tasks() - before if not t.done()]
    if started:
        done, pending = await asyncio.wait(started, timeout=10)
        assert not pending, "message handlers still running"
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]


def message_payload(
    server: FakeDiscordApi, content: str, *, author: int, guild: bool, mentions: list[int]
) -> dict[str, Any]:
    """A message as the gateway sends it: in the server's channel, or in the author's DM."""
    user = {"id": str(author), "username": "alice", "discriminator": "0", "avatar": None}
    payload: dict[str, Any] = {
        "id": str(server.next_id()),
        "type": 0,
        "content": content,
        "author": user,
        "timestamp": "2026-11-21T12:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [
            {"id": str(m), "username": f"user{m}", "discriminator": "0", "avatar": None}
            for m in mentions
        ],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "flags": 0,
        "components": [],
    }
    if guild:
        payload.update(channel_id=str(DEFAULT_CHANNEL_ID), guild_id=str(DEFAULT_GUILD_ID))
        payload["member"] = {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00"}
    else:
        payload["channel_id"] = str(server.dm_channel_id(author))
    return payload


def slow(
    server: FakeDiscordApi, seconds: float, call: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    """``call``, taking ``seconds`` of the fake's time (an upstream that is slow today)."""

    async def slowly(*args: Any, **kwargs: Any) -> Any:
        assert isinstance(server.clock, ManualClock)
        server.clock.advance(seconds)
        return await call(*args, **kwargs)

    return slowly


# -- tests ---------------------------------------------------------------------------------


async def test_start_syncs_to_the_test_server_and_every_command_is_accepted(
    frontend: DiscordFrontEnd, server: FakeDiscordApi
) -> None:
    synced = server.commands[DEFAULT_GUILD_ID]
    names = {c["name"] for c in synced}
    assert {"price", "alert", "portfolio", "subscribe", "ask"} <= names
    # the fake validates every bulk overwrite against Discord's rules: both were accepted
    puts = server.requests_to("PUT", r"/applications/\d+/(guilds/\d+/)?commands")
    assert [r.status for r in puts] == [200, 200]
    assert len(server.commands[None]) == len(command_payload(frontend.tree))


async def test_a_slow_command_defers_first_and_follows_up(
    frontend: DiscordFrontEnd, server: FakeDiscordApi, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the market takes 10 s today: far past the 3 s Discord gives the first response
    monkeypatch.setattr(app.prices, "get_top", slow(server, 10.0, app.prices.get_top))
    interaction = await run(server, frontend, server.slash_command("top", {"count": 5}))
    assert interaction.response_type == 5  # deferred ("thinking...") before the work
    assert interaction.responded_at == interaction.created_at
    assert_answered_in_time(interaction)
    assert "BTC" in answer_text(interaction)
    failed = [r for r in server.requests if r.status >= 400]
    assert failed == []  # no "Unknown interaction" or expired webhook anywhere


async def test_private_data_is_ephemeral_in_a_server_and_not_in_a_dm(
    frontend: DiscordFrontEnd, server: FakeDiscordApi
) -> None:
    buy = server.slash_command(
        "portfolio buy", {"symbol": "bitcoin", "quantity": "0.5", "price": "48k"}
    )
    bought = await run(server, frontend, buy)
    assert_answered_in_time(bought)
    assert all(m.ephemeral for m in bought.messages)
    assert "0.5" in answer_text(bought) and "BTC" in answer_text(bought)

    shown = await run(server, frontend, server.slash_command("portfolio show"))
    assert all(m.ephemeral for m in shown.messages) and "BTC" in answer_text(shown)
    for command in ("alert list", "settings", "digest"):
        private = await run(server, frontend, server.slash_command(command))
        assert private.messages and all(m.ephemeral for m in private.messages), command

    shared = await run(server, frontend, server.slash_command("portfolio show", {"public": True}))
    assert not any(m.ephemeral for m in shared.messages)
    public = await run(server, frontend, server.slash_command("price", {"symbols": "btc"}))
    assert not any(m.ephemeral for m in public.messages)

    # in the DM nobody else can see it; the same portfolio (identity is the user id)
    dm = await run(server, frontend, server.slash_command("portfolio show", guild_id=None))
    assert not any(m.ephemeral for m in dm.messages) and "BTC" in answer_text(dm)
    # another user has no portfolio
    other = await run(server, frontend, server.slash_command("portfolio show", user=BOB))
    assert "is empty" in answer_text(other)


async def test_symbol_autocomplete_is_ranked_by_market_cap_and_capped(
    frontend: DiscordFrontEnd, server: FakeDiscordApi, app: App
) -> None:
    coins = {c.id: c for c in app.prices.resolver.coins()}

    def rank(choice: dict[str, Any]) -> int:
        return coins[choice["value"]].market_cap_rank or 10**9

    def starts_with(choice: dict[str, Any], text: str) -> bool:
        coin = coins[choice["value"]]
        return any(f.lower().startswith(text) for f in (coin.id, coin.symbol, coin.name))

    async def choices(command: str, option: str, typed: str) -> list[dict[str, Any]]:
        interaction = await run(server, frontend, server.autocomplete(command, option, typed))
        assert interaction.response_type == 8
        return interaction.choices

    empty = await choices("chart", "symbol", "")
    assert len(empty) == 25  # Discord shows at most 25
    ranks = [rank(c) for c in empty]
    assert ranks == sorted(ranks) and empty[0]["value"] == "bitcoin"

    # coins starting with what was typed first, then the ones containing it; each
    # group largest first
    typed = await choices("alert add", "symbol", "s")
    assert 0 < len(typed) <= 25
    starts = [c for c in typed if starts_with(c, "s")]
    assert typed[: len(starts)] == starts and len(starts) < len(typed)
    for group in (starts, typed[len(starts) :]):
        assert [rank(c) for c in group] == sorted(rank(c) for c in group)
    assert starts[0]["value"] == "solana"

    several = await choices("price", "symbols", "btc eth so")
    assert several and all(c["value"].startswith("btc eth ") for c in several)
    assert any(c["value"] == "btc eth solana" for c in several)


async def test_submitted_symbols_are_checked_again(
    frontend: DiscordFrontEnd, server: FakeDiscordApi
) -> None:
    # typed, not picked from the suggestions: resolved on submit like everywhere else
    interaction = await run(
        server, frontend, server.slash_command("price", {"symbols": "notarealcoin123"})
    )
    assert_answered_in_time(interaction)
    assert "notarealcoin123" in answer_text(interaction).lower()
    picked = await run(server, frontend, server.slash_command("price", {"symbols": "ethereum"}))
    assert "ETH" in answer_text(picked)


async def test_a_long_answer_is_split_at_discords_limits(
    frontend: DiscordFrontEnd, server: FakeDiscordApi
) -> None:
    interaction = await run(server, frontend, server.slash_command("top", {"count": 100}))
    assert_answered_in_time(interaction)
    parts = interaction.messages
    assert len(parts) >= 2
    for part in parts:
        assert len(part.content) <= CONTENT_LIMIT
        fences = [line for line in part.content.splitlines() if is_fence(line)]
        assert len(fences) % 2 == 0  # every part renders on its own
    text = answer_text(interaction)
    assert len(text) > CONTENT_LIMIT and "BTC" in text
    assert "Top losers" in to_plain(parts[-1].content)  # nothing lost at the cuts


async def test_subscribe_needs_manage_server(
    frontend: DiscordFrontEnd, server: FakeDiscordApi, app: App
) -> None:
    subscriptions = SubscriptionService(app.db, clock=app.clock)
    here = ChatRef("discord", DEFAULT_CHANNEL_ID, private=False)

    # Discord hides the command from an ordinary member (default_member_permissions)...
    with pytest.raises(ValueError, match="hides it"):
        server.slash_command("subscribe", {"kind": "depeg"})
    # ...and if a server overrides that, the bot still refuses
    refused = await run(
        server, frontend, server.slash_command("subscribe", {"kind": "depeg"}, validate=False)
    )
    assert_answered_in_time(refused)
    assert all(m.ephemeral for m in refused.messages)
    assert "Manage Server" in answer_text(refused)
    assert (await subscriptions.list(here)).kinds == ()

    accepted = await run(
        server, frontend, server.slash_command("subscribe", {"kind": "depeg"}, permissions=MANAGER)
    )
    assert_answered_in_time(accepted)
    assert "#general now gets stablecoin depeg alerts" in answer_text(accepted)
    assert (await subscriptions.list(here)).kinds == ("depeg",)

    alerts = server.add_channel(server.next_id(), guild_id=DEFAULT_GUILD_ID, name="alerts")
    other = await run(
        server,
        frontend,
        server.slash_command(
            "subscribe", {"kind": "digest", "channel": alerts}, permissions=MANAGER
        ),
    )
    assert "#alerts now gets the daily market digest" in answer_text(other)
    target = ChatRef("discord", alerts.id, private=False)
    assert (await subscriptions.list(target)).kinds == ("digest",)

    stopped = await run(
        server,
        frontend,
        server.slash_command("unsubscribe", {"kind": "depeg"}, permissions=MANAGER),
    )
    assert "no longer gets" in answer_text(stopped)
    assert (await subscriptions.list(here)).kinds == ()


async def test_ask_reaches_the_agent_as_the_interaction_user(
    frontend: DiscordFrontEnd, server: FakeDiscordApi, app: App
) -> None:
    asked = await run(
        server,
        frontend,
        server.slash_command("ask", {"question": "alert me when SOL is above 250"}),
    )
    assert_answered_in_time(asked)
    assert asked.response_type == 5
    assert all(m.ephemeral for m in asked.messages)  # it may show private data
    assert "SOL" in answer_text(asked)
    assert app.agent is not None
    # the alert belongs to the Discord user who asked, not to anyone named in the text
    mine = await app.alerts.list(UserRef("discord", str(ALICE)))
    assert [a.symbol for a in mine] == ["SOL"]
    assert await app.alerts.list(UserRef("discord", str(BOB))) == []
    listed = await run(server, frontend, server.slash_command("alert list"))
    assert "SOL" in answer_text(listed)


async def test_mentions_and_dms_reach_the_agent(
    frontend: DiscordFrontEnd, server: FakeDiscordApi
) -> None:
    bot_id = server.application_id
    await deliver_message(
        frontend,
        message_payload(
            server,
            f"<@{bot_id}> how much is ethereum right now?",
            author=ALICE,
            guild=True,
            mentions=[bot_id],
        ),
    )
    replies = server.messages_in(DEFAULT_CHANNEL_ID)
    assert len(replies) == 1 and "ETH" in to_plain(replies[0].text)
    assert replies[0].pings.nobody
    assert server.requests_to("POST", rf"/channels/{DEFAULT_CHANNEL_ID}/typing")

    # a server message that does not mention the bot is not for it
    await deliver_message(
        frontend,
        message_payload(server, "eth is pumping", author=ALICE, guild=True, mentions=[]),
    )
    assert len(server.messages_in(DEFAULT_CHANNEL_ID)) == 1

    await deliver_message(
        frontend,
        message_payload(server, "price of btc?", author=BOB, guild=False, mentions=[]),
    )
    dms = server.dms_to(BOB)
    assert len(dms) == 1 and "BTC" in to_plain(dms[0].text)


async def test_nobody_is_pinged(frontend: DiscordFrontEnd, server: FakeDiscordApi) -> None:
    interaction = await run(
        server, frontend, server.slash_command("price", {"symbols": "@everyone <@&1>"})
    )
    assert interaction.messages
    assert all(m.pings.nobody for m in interaction.messages)
    sent = [r for r in server.requests if r.method == "POST" and r.allowed_mentions is not None]
    assert sent and all(r.allowed_mentions.get("parse") == [] for r in sent)


async def test_a_closed_dm_marks_the_user_unreachable(
    frontend: DiscordFrontEnd, server: FakeDiscordApi
) -> None:
    message = OutgoingMessage(kind="alert", text="BTC crossed 100,000", severity="warning")
    assert (await frontend.notifier.send(str(ALICE), message)).status is DeliveryStatus.SENT
    server.block_dm(BOB)
    result = await frontend.notifier.send(str(BOB), message)
    assert result.status is DeliveryStatus.UNREACHABLE and "50007" in result.detail
    posts = len(server.requests_to("POST", r"/channels/\d+/messages"))
    again = await frontend.notifier.send(str(BOB), message)
    assert again.status is DeliveryStatus.UNREACHABLE
    assert len(server.requests_to("POST", r"/channels/\d+/messages")) == posts  # no retry


async def test_csv_import_is_a_dry_run_until_confirmed(
    frontend: DiscordFrontEnd, server: FakeDiscordApi, app: App
) -> None:
    csv = server.attachment("trades.csv", (FIXTURES / "cryptoguard.csv").read_bytes())
    dry = await run(server, frontend, server.slash_command("portfolio import", {"file": csv}))
    assert_answered_in_time(dry)
    assert all(m.ephemeral for m in dry.messages)
    who = UserRef("discord", str(ALICE))
    assert (await app.portfolios.list_trades(who)).trades == ()  # nothing stored yet
    last: FakeMessage = dry.messages[-1]
    buttons = [c for row in last.components for c in row.get("components", [])]
    assert [b.get("label") for b in buttons] == ["Import", "Cancel"]

    # someone else cannot press it
    intruder = await run(
        server, frontend, server.component(buttons[0]["custom_id"], message=last, user=BOB)
    )
    assert "Only the person" in answer_text(intruder)
    assert (await app.portfolios.list_trades(who)).trades == ()

    pressed = await run(server, frontend, server.component(buttons[0]["custom_id"], message=last))
    assert pressed.response_type == 6
    assert (await app.portfolios.list_trades(who)).trades != ()
    assert last.components == []  # the buttons are gone

    # a second call with confirm:true imports at once (here: nothing new)
    again = await run(
        server, frontend, server.slash_command("portfolio import", {"file": csv, "confirm": True})
    )
    assert_answered_in_time(again)
    assert again.messages and not again.messages[-1].components


async def test_global_commands_are_synced_at_start_only_when_they_changed(
    app: App, server: FakeDiscordApi, tmp_path: Path
) -> None:
    state = tmp_path / "sync-state"
    global_puts = r"/applications/\d+/commands"
    for _ in range(2):  # a restart with the same commands does not sync again
        front = DiscordFrontEnd(app, server.token, sync_state=state)
        try:
            await front.start(connect=False)
        finally:
            await front.stop()
    assert len(server.requests_to("PUT", global_puts)) == 1
    assert {c["name"] for c in server.commands[None]} >= {"price", "portfolio"}

    state.write_text("an older version\n")  # the commands changed since
    front = DiscordFrontEnd(app, server.token, sync_state=state)
    try:
        await front.start(connect=False)
    finally:
        await front.stop()
    assert len(server.requests_to("PUT", global_puts)) == 2
    assert server.requests_to("PUT", r"/applications/\d+/guilds/\d+/commands") == []


async def test_a_refused_token_is_a_configuration_error(app: App, server: FakeDiscordApi) -> None:
    from tools.errors import ConfigurationError

    front = DiscordFrontEnd(app, "not-the-token", auto_sync=False)
    with pytest.raises(ConfigurationError, match="refused the bot token"):
        await front.start(connect=False)
    await front.stop()


@pytest.fixture
def threaded_server() -> Iterator[FakeDiscordApi]:
    """The fake on its own event loop in a thread (the CLI runs its own ``asyncio.run``)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def make() -> FakeDiscordApi:
        fake = FakeDiscordApi()
        await fake.start()
        return fake

    fake = asyncio.run_coroutine_threadsafe(make(), loop).result(10)
    try:
        with discord_api_base(fake.api_base):
            yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_cli_discord_sync(
    threaded_server: FakeDiscordApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app as cli

    for key in list(os.environ):
        if key.startswith("CRYPTOGUARD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CRYPTOGUARD_MARKET", "offline")
    monkeypatch.setenv("CRYPTOGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    runner = CliRunner()

    missing = runner.invoke(cli, ["discord", "sync"])
    assert missing.exit_code == 1 and "No Discord token" in missing.output

    monkeypatch.setenv("CRYPTOGUARD_DISCORD__TOKEN", threaded_server.token)
    guild = runner.invoke(cli, ["discord", "sync", "--guild", str(DEFAULT_GUILD_ID)])
    assert guild.exit_code == 0, guild.output
    count = len(threaded_server.commands[DEFAULT_GUILD_ID])
    assert f"Synced {count} slash commands to server {DEFAULT_GUILD_ID}." in guild.output
    assert None not in threaded_server.commands

    everywhere = runner.invoke(cli, ["discord", "sync"])
    assert everywhere.exit_code == 0 and "globally" in everywhere.output
    assert len(threaded_server.commands[None]) == count
