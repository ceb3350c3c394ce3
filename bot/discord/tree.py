"""The slash-command tree: its cogs, its error handler, and the payload Discord receives.

One cog per feature (:mod:`bot.discord.cogs`): market, alerts, portfolio, account,
server and assistant. Every command is offered in servers and in the bot's DMs (not in
other people's group DMs). Errors a command's own handler did not turn into a message
(a failed permission check, an option Discord resolved to something unusable, a command
Discord's copy of the tree still has but this version does not) are answered here,
ephemerally; anything unexpected is logged with an incident id and the user gets an
apology quoting it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.respond import tell
from bot.errors import render_error
from prompts import render

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

#: Where commands may be used: servers and the bot's DMs.
CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=False)
#: Installed to servers (not to user accounts).
INSTALLS = app_commands.AppInstallationType(guild=True, user=False)


class CryptoGuardTree(app_commands.CommandTree):
    """The command tree with plain-language error replies."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        """Tell the user what went wrong (ephemerally); log what was unexpected."""
        await tell(interaction, error_text(error))


def error_text(error: app_commands.AppCommandError) -> str:
    """The message for an error that reached the tree."""
    if isinstance(error, app_commands.MissingPermissions):
        return render("discord_manage_server")
    if isinstance(error, app_commands.NoPrivateMessage):
        return render("discord_server_only")
    if isinstance(error, app_commands.TransformerError):
        if error.type is discord.AppCommandOptionType.channel:
            return "Choose a text or announcement channel of this server."
        return "One of the options has a value I cannot use; please check it and try again."
    if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        logger.warning("Discord: the server's copy of the commands is out of date (%s)", error)
        return "This command was just updated; please try again in a minute."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    if isinstance(error, app_commands.CommandInvokeError):
        return render_error(error.original)
    return render_error(error)


async def load_cogs(bot: commands.Bot, app: App) -> None:
    """Add every feature's cog to ``bot`` (its commands join ``bot.tree``); idempotent."""
    from bot.discord.cogs.account import AccountCog
    from bot.discord.cogs.alerts import AlertCog
    from bot.discord.cogs.assistant import AssistantCog
    from bot.discord.cogs.market import MarketCog
    from bot.discord.cogs.portfolio import PortfolioCog
    from bot.discord.cogs.server import ServerCog

    if bot.cogs:
        return
    for cog in (
        MarketCog(app),
        AlertCog(app),
        PortfolioCog(app),
        AccountCog(app),
        ServerCog(app),
        AssistantCog(app, bot),
    ):
        await bot.add_cog(cog)


def command_payload(
    tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None = None
) -> list[dict[str, Any]]:
    """The JSON list ``tree.sync(guild=guild)`` sends to Discord."""
    return [command.to_dict(tree) for command in tree.get_commands(guild=guild)]


def payload_digest(payload: list[dict[str, Any]]) -> str:
    """A fingerprint of a command payload (to sync only when it changed)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
