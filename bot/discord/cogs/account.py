"""Personal commands: /digest, /settings, /help.

The digest and settings are private: answered ephemerally in a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.options import DIGEST_ACTIONS, text_choices, timezones
from bot.discord.respond import Turn, answer, run_command, tell
from prompts import render

if TYPE_CHECKING:
    from bot.app import App


class AccountCog(commands.Cog, name="account"):
    """The daily digest, personal settings and help."""

    def __init__(self, app: App) -> None:
        self.app = app

    @app_commands.command(name="digest", description="Your daily digest: now, on, off, its time")
    @app_commands.describe(
        action="What to do (default: show its status)", time="HH:MM, for set time"
    )
    @app_commands.choices(action=DIGEST_ACTIONS)
    async def digest(
        self,
        interaction: discord.Interaction,
        action: str | None = None,
        time: app_commands.Range[str, 4, 5] | None = None,
    ) -> None:
        """/digest action:now, /digest action:time time:07:30."""
        if action == "time" and time is None:
            await tell(
                interaction, "Give the time as well, e.g. /digest action:set its time time:07:30"
            )
            return
        args = [] if action is None else [action, *([time] if action == "time" and time else [])]

        await run_command(interaction, self.app, "digest", args, private=True)

    @app_commands.command(name="settings", description="Your settings; options change them")
    @app_commands.describe(
        timezone="Your timezone, e.g. Europe/Paris",
        depeg_alerts="Stablecoin depeg alerts in your DMs",
        depeg_threshold="Depeg alert threshold in percent",
        webhook="A URL for signed JSON copies of your alerts, or off",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        timezone: app_commands.Range[str, 1, 60] | None = None,
        depeg_alerts: bool | None = None,
        depeg_threshold: app_commands.Range[float, 0.01, 50.0] | None = None,
        webhook: app_commands.Range[str, 2, 500] | None = None,
    ) -> None:
        """/settings, /settings timezone:Europe/Paris depeg_threshold:1.5."""
        changes: list[list[str]] = []
        if timezone is not None:
            changes.append(["tz", timezone])
        if depeg_alerts is not None:
            changes.append(["depeg", "on" if depeg_alerts else "off"])
        if depeg_threshold is not None:
            changes.append(["depeg", f"{depeg_threshold:g}"])
        if webhook is not None:
            changes.append(["webhook", webhook])

        async def work(turn: Turn) -> str:
            if not changes:
                return _without_usage(await turn.run("settings", []))
            return "\n".join([await turn.run("settings", args) for args in changes])

        await answer(interaction, self.app, work, private=True)

    @settings.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return text_choices(timezones(), current)

    @app_commands.command(name="help", description="What CryptoGuard can do here")
    async def help(self, interaction: discord.Interaction) -> None:
        """/help (static text: answered at once, no defer needed)."""
        await tell(interaction, render("discord_help"), ephemeral=True)


def _without_usage(text: str) -> str:
    """The settings table without the console's usage line (the options say it)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("Usage:"))
