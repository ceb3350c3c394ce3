"""The fake Discord API against the real discord.py: login, command sync, interactions
(callbacks, defer and follow-up, the 3 s and 15 min windows), DMs, limits, mentions, rate
limits and invalid-request bans."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import discord.http
import pytest
from discord import app_commands

from tests.discord.fake_discord_api import (
    DEFAULT_APPLICATION_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_GUILD_ID,
    DEFAULT_USER_ID,
    FakeDiscordApi,
    ManualClock,
    command_errors,
    discord_api_base,
    fake_discord_api,
    logged_in,
    message_errors,
)

NO_PINGS = discord.AllowedMentions.none()


class Bot(discord.Client):
    """A small bot with the shapes the front-end uses: a deferring command, a quick one,
    a group with an attachment option, autocomplete, a Manage Server command, a
    persistent button."""

    def __init__(self, *, guild_only: bool = False) -> None:
        super().__init__(intents=discord.Intents.default(), max_ratelimit_timeout=30.0)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[discord.Interaction[Any]] = []
        self.slow: asyncio.Event | None = None
        self.clock: ManualClock | None = None
        self.work_s = 0.0
        tree = self.tree

        @tree.command(name="price", description="Price of a coin")
        @app_commands.describe(symbol="Coin symbol", days="History in days")
        async def price(
            interaction: discord.Interaction,
            symbol: str,
            days: app_commands.Range[int, 1, 365] = 7,
        ) -> None:
            self.seen.append(interaction)
            await interaction.response.defer(thinking=True, ephemeral=True)
            if self.clock is not None:
                self.clock.advance(self.work_s)  # a slow service, on the fake clock
            await interaction.followup.send(f"{symbol.upper()} over {days} days")
            await interaction.followup.send("second part", ephemeral=False)

        @price.autocomplete("symbol")
        async def symbol_autocomplete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            names = [f"C{i}" for i in range(40)] + ["BTC", "ETH"]
            return [
                app_commands.Choice(name=n, value=n)
                for n in names
                if n.lower().startswith(current.lower())
            ][:25]

        @tree.command(name="hello", description="Say hello")
        async def hello(interaction: discord.Interaction) -> None:
            self.seen.append(interaction)
            await interaction.response.send_message("hi @everyone", allowed_mentions=NO_PINGS)

        @tree.command(name="subscribe", description="Subscribe a channel")
        @app_commands.default_permissions(manage_guild=True)
        @app_commands.guild_only()
        async def subscribe(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
            self.seen.append(interaction)
            allowed = interaction.permissions.manage_guild
            await interaction.response.send_message(f"{channel.id} {allowed}", ephemeral=True)

        portfolio = app_commands.Group(name="portfolio", description="Your portfolio")
        trades = app_commands.Group(name="trades", description="Trades", parent=portfolio)

        @portfolio.command(name="import", description="Import trades from CSV")
        async def import_(
            interaction: discord.Interaction,
            file: discord.Attachment,
            method: app_commands.Choice[str] | None = None,
        ) -> None:
            self.seen.append(interaction)
            data = await file.read()
            await interaction.response.send_message(
                f"{file.filename} {len(data)} {method.value if method else '-'}"
            )

        import_ = app_commands.choices(method=[app_commands.Choice(name="FIFO", value="fifo")])(
            import_
        )

        @trades.command(name="list", description="List trades")
        async def list_(interaction: discord.Interaction, user: discord.User | None = None) -> None:
            self.seen.append(interaction)
            who = user.id if user else interaction.user.id
            await interaction.response.send_message(f"trades of {who}", ephemeral=True)

        tree.add_command(portfolio)
        self.guild_only = guild_only

    async def setup_hook(self) -> None:
        if self.guild_only:
            guild = discord.Object(id=DEFAULT_GUILD_ID)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        self.add_view(Buttons())


class Buttons(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Refresh", custom_id="refresh")
    async def refresh(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.edit_message(content="refreshed")


@pytest.fixture
async def server() -> AsyncIterator[FakeDiscordApi]:
    async with fake_discord_api(clock=ManualClock()) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeDiscordApi) -> AsyncIterator[Bot]:
    client = Bot()
    async with logged_in(server, client):
        yield client


# ---------------------------------------------------------------------- plumbing


async def test_route_base_is_patched_and_restored() -> None:
    original = discord.http.Route.BASE
    async with fake_discord_api() as fake:
        assert discord.http.Route.BASE == fake.api_base
        assert discord.http.Route("GET", "/users/@me").url == f"{fake.api_base}/users/@me"
    assert discord.http.Route.BASE == original
    with discord_api_base("http://example.invalid/api/v10"):
        assert discord.http.Route.BASE == "http://example.invalid/api/v10"
    assert discord.http.Route.BASE == original


async def test_login_without_gateway(server: FakeDiscordApi, bot: Bot) -> None:
    assert bot.user is not None and bot.user.id == DEFAULT_APPLICATION_ID
    assert bot.application_id == DEFAULT_APPLICATION_ID
    assert not bot.is_ready()  # no gateway connection
    paths = [r.path for r in server.requests[:3]]
    assert paths == [
        "/users/@me",
        "/oauth2/applications/@me",
        f"/applications/{DEFAULT_APPLICATION_ID}/commands",
    ]


async def test_wrong_token_is_a_login_failure(server: FakeDiscordApi) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert server.requests[-1].status == 401
    assert server.invalid_requests == 1


async def test_sync_records_commands_and_keeps_ids(server: FakeDiscordApi, bot: Bot) -> None:
    names = {c["name"]: c for c in server.commands[None]}
    assert set(names) == {"price", "hello", "subscribe", "portfolio"}
    first_ids = {n: c["id"] for n, c in names.items()}
    synced = await bot.tree.sync()
    assert {c.name: str(c.id) for c in synced} == first_ids
    group = names["portfolio"]["options"]
    assert {o["name"]: o["type"] for o in group} == {"import": 1, "trades": 2}
    assert names["subscribe"]["default_member_permissions"] == str(
        discord.Permissions(manage_guild=True).value
    )


async def test_guild_sync(server: FakeDiscordApi) -> None:
    async with logged_in(server, Bot(guild_only=True)):
        assert [c["name"] for c in server.commands[DEFAULT_GUILD_ID]][0] == "price"
        assert server.commands.get(None, []) == []


async def test_invalid_command_tree_is_refused(server: FakeDiscordApi, bot: Bot) -> None:
    route = discord.http.Route("PUT", "/applications/{app}/commands", app=DEFAULT_APPLICATION_ID)
    bad = [{"name": "Price", "description": "x" * 101, "type": 1}]
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, json=bad)
    assert caught.value.status == 400 and caught.value.code == 50035
    assert "0.name" in caught.value.text and "0.description" in caught.value.text


def test_command_rules() -> None:
    option = {"type": 3, "name": "symbol", "description": "Coin"}
    good = {"name": "price", "description": "Price", "type": 1, "options": [option]}
    assert command_errors([good]) == []
    assert command_errors([{**good, "name": "Price"}])
    assert command_errors([{**good, "name": "x" * 33}])
    assert command_errors([{**good, "description": ""}])
    assert command_errors([good, good])  # duplicate names
    many = [{**option, "name": f"o{i}"} for i in range(26)]
    assert any("options" in e for e in command_errors([{**good, "options": many}]))
    order = [{**option, "name": "a"}, {**option, "name": "b", "required": True}]
    assert any("required" in e for e in command_errors([{**good, "options": order}]))
    choices = [{"name": f"c{i}", "value": f"c{i}"} for i in range(26)]
    assert command_errors([{**good, "options": [{**option, "choices": choices}]}])
    both = {**option, "choices": choices[:2], "autocomplete": True}
    assert command_errors([{**good, "options": [both]}])
    mixed = [{"type": 1, "name": "add", "description": "d"}, option]
    assert command_errors([{**good, "options": mixed}])
    huge = [{**option, "name": f"o{i}", "description": "d" * 100} for i in range(25)]
    huge += []
    assert command_errors([{**good, "options": huge, "description": "d" * 100}]) == []
    choices_big = [{"name": "n" * 100, "value": "v" * 100} for _ in range(25)]
    too_big = [{**option, "name": f"o{i}", "choices": choices_big} for i in range(2)]
    assert any("maximum size" in e for e in command_errors([{**good, "options": too_big}]))


# ------------------------------------------------------------------- interactions


async def test_deferred_command_first_followup_replaces_thinking(
    server: FakeDiscordApi, bot: Bot
) -> None:
    payload = server.slash_command("price", {"symbol": "btc", "days": 30})
    await server.dispatch(bot, payload)
    record = server.interaction_for(payload)
    assert record.response_type == 5 and record.deferred
    original = record.original
    assert original is not None and not original.loading
    assert original.content == "BTC over 30 days"
    assert original.ephemeral  # from the deferral
    (second,) = record.followups
    assert second.content == "second part" and not second.ephemeral
    assert record.texts == ["BTC over 30 days", "second part"]
    (interaction,) = bot.seen
    assert interaction.guild_id == DEFAULT_GUILD_ID and interaction.user.id == DEFAULT_USER_ID


async def test_invoke_returns_the_interaction(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.slash_command("hello")
    interaction = await server.invoke(bot, payload)
    assert interaction.response.is_done()
    assert not interaction.command_failed
    message = server.interaction_for(payload).original
    assert message is not None and message.content == "hi @everyone"
    assert message.pings.nobody and not message.ephemeral


async def test_slow_handler_gets_unknown_interaction(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.slash_command("hello")
    server.clock.advance(3.5)  # type: ignore[attr-defined]
    interaction = await server.invoke(bot, payload)
    assert interaction.command_failed
    record = server.interaction_for(payload)
    assert not record.acknowledged
    (attempt,) = record.callback_attempts
    assert attempt.status == 404 and attempt.response["code"] == 10062


async def test_second_response_is_refused(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.slash_command("hello")
    interaction = await server.invoke(bot, payload)
    interaction.response._response_type = None  # pretend discord.py lost track
    with pytest.raises(discord.HTTPException) as caught:
        await interaction.response.send_message("again")
    assert caught.value.status == 400 and caught.value.code == 40060


async def test_followups_expire_after_15_minutes(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.slash_command("hello")
    interaction = await server.invoke(bot, payload)
    server.clock.advance(14 * 60)  # type: ignore[attr-defined]
    await interaction.followup.send("still in time")
    server.clock.advance(2 * 60)  # type: ignore[attr-defined]
    with pytest.raises(discord.HTTPException) as caught:
        await interaction.followup.send("too late")
    assert caught.value.status == 401 and caught.value.code == 50027
    assert server.interaction_for(payload).texts == ["hi @everyone", "still in time"]


async def test_followup_before_response_is_unknown_webhook(
    server: FakeDiscordApi, bot: Bot
) -> None:
    payload = server.slash_command("hello")
    interaction = discord.Interaction(data=payload, state=bot._connection)  # type: ignore[arg-type]
    with pytest.raises(discord.NotFound) as caught:
        await interaction.followup.send("first?")
    assert caught.value.code == 10015


async def test_original_response_edit_and_delete(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.slash_command("hello")
    interaction = await server.invoke(bot, payload)
    fetched = await interaction.original_response()
    assert fetched.content == "hi @everyone"
    await interaction.edit_original_response(content="edited", embed=discord.Embed(title="T"))
    record = server.interaction_for(payload)
    assert record.original is not None
    assert (record.original.content, record.original.embeds[0]["title"]) == ("edited", "T")
    await interaction.delete_original_response()
    assert record.messages == []


async def test_autocomplete_caps_and_filters(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.autocomplete("price", "symbol", "c", {"days": 3})
    await server.dispatch(bot, payload)
    record = server.interaction_for(payload)
    assert record.response_type == 8
    assert len(record.choices) == 25 and record.choices[0] == {"name": "C0", "value": "C0"}
    symbol, days = payload["data"]["options"]  # in the command's order
    assert symbol == {"type": 3, "name": "symbol", "value": "c", "focused": True}
    assert days == {"type": 4, "name": "days", "value": 3}


async def test_too_many_choices_are_refused(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.autocomplete("price", "symbol", "")
    interaction = discord.Interaction(data=payload, state=bot._connection)  # type: ignore[arg-type]
    choices = [app_commands.Choice(name=f"c{i}", value=f"c{i}") for i in range(26)]
    with pytest.raises(discord.HTTPException) as caught:
        await interaction.response.autocomplete(choices)
    assert caught.value.code == 50035 and not server.interaction_for(payload).acknowledged


async def test_subcommand_group_attachment_and_choice(server: FakeDiscordApi, bot: Bot) -> None:
    csv = b"date,symbol\n2024-01-01,BTC\n"
    upload = server.attachment("trades.csv", csv)
    payload = server.slash_command("portfolio import", {"file": upload, "method": "fifo"})
    assert payload["data"]["options"][0]["name"] == "import"
    assert str(upload.id) in payload["data"]["resolved"]["attachments"]
    await server.dispatch(bot, payload)
    message = server.interaction_for(payload).original
    assert message is not None and message.content == f"trades.csv {len(csv)} fifo"

    payload = server.slash_command("portfolio trades list", {"user": 777})
    group = payload["data"]["options"][0]
    assert (group["type"], group["options"][0]["type"]) == (2, 1)
    await server.dispatch(bot, payload)
    assert server.interaction_for(payload).texts == ["trades of 777"]


async def test_builder_refuses_what_discord_would_not_send(
    server: FakeDiscordApi, bot: Bot
) -> None:
    with pytest.raises(ValueError, match="maximum"):
        server.slash_command("price", {"symbol": "btc", "days": 400})
    with pytest.raises(ValueError, match="needs symbol"):
        server.slash_command("price", {})
    with pytest.raises(ValueError, match="no option"):
        server.slash_command("price", {"symbol": "btc", "sym": 1})
    with pytest.raises(ValueError, match="not one of the choices"):
        server.slash_command(
            "portfolio import", {"file": server.attachment("a", b"x"), "method": "x"}
        )
    with pytest.raises(ValueError, match="hides it"):
        server.slash_command("subscribe", {"channel": DEFAULT_CHANNEL_ID})
    with pytest.raises(ValueError, match="DMs"):
        server.slash_command("subscribe", {"channel": DEFAULT_CHANNEL_ID}, guild_id=None)


async def test_member_permissions_reach_the_handler(server: FakeDiscordApi, bot: Bot) -> None:
    alerts = server.add_channel(name="alerts")
    server.announce_guild(bot)  # a TextChannel option is resolved from the cache
    payload = server.slash_command(
        "subscribe",
        {"channel": alerts},
        permissions=discord.Permissions(manage_guild=True, send_messages=True),
    )
    await server.dispatch(bot, payload)
    assert server.interaction_for(payload).texts == [f"{alerts.id} True"]
    assert bot.seen[-1].permissions.manage_guild
    assert isinstance(bot.seen[-1].channel, discord.TextChannel)


async def test_dm_interaction(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.slash_command("hello", user=4242, guild_id=None)
    await server.dispatch(bot, payload)
    interaction = bot.seen[-1]
    assert interaction.guild is None and interaction.user.id == 4242
    assert isinstance(interaction.channel, discord.DMChannel)
    assert interaction.channel.id == server.dm_channel_id(4242)
    assert payload["context"] == 1 and "member" not in payload


async def test_persistent_button_updates_its_message(server: FakeDiscordApi, bot: Bot) -> None:
    payload = server.component("refresh")
    await server.dispatch(bot, payload)
    record = server.interaction_for(payload)
    assert record.response_type == 7
    assert server.messages_in(DEFAULT_CHANNEL_ID)[0].content == "refreshed"


async def test_handler_errors_reach_the_tree(server: FakeDiscordApi, bot: Bot) -> None:
    errors: list[Exception] = []

    async def on_error(interaction: discord.Interaction, error: Exception) -> None:
        errors.append(error)

    bot.tree.on_error = on_error  # type: ignore[method-assign]

    @bot.tree.command(name="boom", description="Fails")
    async def boom(interaction: discord.Interaction) -> None:
        raise RuntimeError("boom")

    payload = server.slash_command("boom", validate=False)
    await server.dispatch(bot, payload)
    assert len(errors) == 1 and isinstance(errors[0].__cause__, RuntimeError)


# ---------------------------------------------------------------- channels and DMs


async def test_dm_channel_and_closed_dms(server: FakeDiscordApi, bot: Bot) -> None:
    dm = await bot.create_dm(discord.Object(id=555))
    assert dm.id == server.dm_channel_id(555)
    await dm.send("hello")
    server.block_dm(555)
    with pytest.raises(discord.Forbidden) as caught:
        await dm.send("again")
    assert caught.value.code == 50007
    assert caught.value.text == "Cannot send messages to this user"
    assert [m.content for m in server.dms_to(555)] == ["hello"]
    assert server.invalid_requests == 1


async def test_unknown_and_denied_channels(server: FakeDiscordApi, bot: Bot) -> None:
    with pytest.raises(discord.NotFound) as unknown:
        await bot.get_partial_messageable(123456789).send("x")
    assert unknown.value.code == 10003
    channel = server.add_channel(name="alerts")
    server.deny_channel(channel.id)
    with pytest.raises(discord.Forbidden) as denied:
        await bot.get_partial_messageable(channel.id).send("x")
    assert denied.value.code == 50001
    with pytest.raises(discord.NotFound):
        await bot.create_dm(discord.Object(id=channel.id))  # a channel is no user


async def test_message_limits(server: FakeDiscordApi, bot: Bot) -> None:
    channel = bot.get_partial_messageable(DEFAULT_CHANNEL_ID)
    await channel.send("x" * 2000)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("x" * 2001)
    assert caught.value.code == 50035 and "content" in caught.value.text
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=discord.Embed(title="t" * 257))
    assert "embeds.0.title" in caught.value.text
    big = [discord.Embed(description="d" * 3001), discord.Embed(description="d" * 3000)]
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embeds=big)
    assert "6000" in caught.value.text
    fields = discord.Embed(title="t")
    for i in range(26):
        fields.add_field(name=f"n{i}", value="v")
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=fields)
    assert "embeds.0.fields" in caught.value.text
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("   ")
    assert caught.value.code == 50006
    assert len(server.messages_in(DEFAULT_CHANNEL_ID)) == 1


def test_message_error_details() -> None:
    assert message_errors({"content": "ok"}) == {}
    embed = {"fields": [{"name": "", "value": "v" * 1025}], "footer": {"text": "f" * 2049}}
    errors = message_errors({"embeds": [embed] * 11, "allowed_mentions": {"parse": ["x"]}})
    assert set(errors) == {"embeds", "allowed_mentions"}
    assert set(errors["embeds"]["0"]) == {"fields", "footer"}
    exclusive = {"parse": ["users"], "users": ["1"]}
    assert "allowed_mentions" in message_errors({"content": "a", "allowed_mentions": exclusive})


async def test_mentions_ping_unless_allowed_mentions_forbid(
    server: FakeDiscordApi, bot: Bot
) -> None:
    channel = bot.get_partial_messageable(DEFAULT_CHANNEL_ID)
    text = "@everyone <@42> <@&7> `@here` \\<@43>"
    await channel.send(text)
    await channel.send(text, allowed_mentions=NO_PINGS)
    await channel.send(
        text,
        allowed_mentions=discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(42)]
        ),
    )
    loud, quiet, some = server.messages_in(DEFAULT_CHANNEL_ID)
    assert (loud.pings.everyone, loud.pings.users, loud.pings.roles) == (True, (42,), (7,))
    assert quiet.pings.nobody and server.requests[-2].allowed_mentions == {"parse": []}
    assert (some.pings.everyone, some.pings.users, some.pings.roles) == (False, (42,), ())


async def test_nonce_prevents_duplicates(server: FakeDiscordApi, bot: Bot) -> None:
    channel = bot.get_partial_messageable(DEFAULT_CHANNEL_ID)
    first = await channel.send("once", nonce="alert-7")
    second = await channel.send("once", nonce="alert-7")
    assert first.id == second.id and len(server.messages_in(DEFAULT_CHANNEL_ID)) == 1


async def test_files_and_embedded_image(server: FakeDiscordApi, bot: Bot) -> None:
    channel = bot.get_partial_messageable(DEFAULT_CHANNEL_ID)
    embed = discord.Embed(title="chart").set_image(url="attachment://chart.png")
    import io

    await channel.send(
        embed=embed,
        files=[discord.File(io.BytesIO(b"\x89PNG..."), filename="chart.png", description="BTC")],
    )
    (message,) = server.messages_in(DEFAULT_CHANNEL_ID)
    (attachment,) = message.attachments
    assert attachment["data"] == b"\x89PNG..." and attachment["description"] == "BTC"
    assert message.embeds[0]["image"]["url"] == attachment["url"]
    async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as response:
        assert await response.read() == b"\x89PNG..."


# ------------------------------------------------------------------ rate limits


async def test_short_429_is_retried_by_discord_py(server: FakeDiscordApi, bot: Bot) -> None:
    server.rate_limit(retry_after=0.01)
    await bot.get_partial_messageable(DEFAULT_CHANNEL_ID).send("after the wait")
    posts = server.requests_to("POST", r"/channels/\d+/messages")
    assert [p.status for p in posts] == [429, 200]
    assert posts[0].response["retry_after"] == 0.01
    assert len(server.messages_in(DEFAULT_CHANNEL_ID)) == 1


async def test_global_429_is_retried(server: FakeDiscordApi, bot: Bot) -> None:
    server.rate_limit(retry_after=0.01, is_global=True)
    await bot.get_partial_messageable(DEFAULT_CHANNEL_ID).send("x")
    posts = server.requests_to("POST", r"/channels/\d+/messages")
    assert [p.status for p in posts] == [429, 200] and posts[0].response["global"] is True


async def test_long_429_raises_rate_limited(server: FakeDiscordApi, bot: Bot) -> None:
    server.rate_limit(retry_after=120.0, is_global=True)
    with pytest.raises(discord.RateLimited) as caught:
        await bot.get_partial_messageable(DEFAULT_CHANNEL_ID).send("x")
    assert caught.value.retry_after == 120.0
    assert server.messages_in(DEFAULT_CHANNEL_ID) == []


async def test_bucket_makes_discord_py_wait_without_429(server: FakeDiscordApi, bot: Bot) -> None:
    server.set_bucket("POST", r"/channels/\d+/messages", limit=2, per_s=0.1)
    channel = bot.get_partial_messageable(DEFAULT_CHANNEL_ID)
    for i in range(5):
        await channel.send(f"m{i}")
    statuses = [p.status for p in server.requests_to("POST", r"/channels/\d+/messages")]
    assert statuses == [200] * 5  # discord.py read the headers and waited
    assert server.requests[-1].status == 200


async def test_invalid_requests_lead_to_a_ban() -> None:
    async with fake_discord_api(clock=ManualClock(), invalid_request_limit=3) as fake:
        async with logged_in(fake) as client:
            fake.block_dm(9)
            dm = await client.create_dm(discord.Object(id=9))
            for _ in range(3):
                with pytest.raises(discord.Forbidden):
                    await dm.send("x")
            assert fake.invalid_requests == 3 and fake.banned_until is not None
            with pytest.raises(discord.HTTPException) as caught:
                await client.get_partial_messageable(DEFAULT_CHANNEL_ID).send("x")
            assert caught.value.status == 429 and "1015" in caught.value.text
            fake.clock.advance(601)  # type: ignore[attr-defined]
            assert fake.invalid_requests == 0


async def test_injected_failures_and_stalls(server: FakeDiscordApi, bot: Bot) -> None:
    channel = bot.get_partial_messageable(DEFAULT_CHANNEL_ID)
    server.fail_next("POST", r"/channels/\d+/messages", 503)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("x")
    server.stall_next("POST", r"/channels/\d+/messages", deliver=True)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await channel.send("lost answer")
    assert [m.content for m in server.messages_in(DEFAULT_CHANNEL_ID)] == ["lost answer"]
