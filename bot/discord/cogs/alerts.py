"""The /alert group: add, list, delete, pause, resume.

Alerts are private: answered ephemerally in a server. ``add`` takes the alert's parts as
typed options (kind, coin, threshold...) and calls :meth:`AlertService.create` with
them directly; the others run the shared commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.options import (
    ALERT_KINDS,
    BAR_INTERVALS,
    DIRECTIONS,
    WINDOWS,
    symbol_choices,
    text_choices,
    within_budget,
)
from bot.discord.respond import Turn, answer, run_command, user_ref

if TYPE_CHECKING:
    from bot.app import App

Short = app_commands.Range[str, 1, 40]


class AlertCog(commands.GroupCog, group_name="alert", group_description="Your price alerts"):
    """Price, move, depeg, RSI, portfolio and formula alerts."""

    def __init__(self, app: App) -> None:
        self.app = app
        super().__init__()

    @app_commands.command(name="add", description="Create an alert")
    @app_commands.describe(
        kind="What to watch",
        symbol="Coin (for portfolio alerts: the portfolio name, empty for the default one)",
        threshold="Price or value (100k, 2500), percent (5), RSI level (70); depeg: optional",
        window="Move alerts: the time window (default 24 hours)",
        direction="Move alerts: up, down or any (default)",
        interval="RSI and formula alerts: bar length (default 1d)",
        formula="Formula alerts: the name of your saved formula",
        recurring="Re-arm after firing (default: fire once)",
        cooldown="Recurring alerts: least time between firings, e.g. 30m, 4h",
        expires="Stop after this, e.g. 7d or 2026-12-31",
    )
    @app_commands.choices(
        kind=ALERT_KINDS, window=WINDOWS, direction=DIRECTIONS, interval=BAR_INTERVALS
    )
    async def add(
        self,
        interaction: discord.Interaction,
        kind: str,
        symbol: app_commands.Range[str, 1, 100] | None = None,
        threshold: Short | None = None,
        window: str | None = None,
        direction: str | None = None,
        interval: str | None = None,
        formula: Short | None = None,
        recurring: bool = False,
        cooldown: Short | None = None,
        expires: Short | None = None,
    ) -> None:
        """/alert add kind:price_above symbol:btc threshold:100k."""
        from tools.alerts.text import render_created

        async def work(turn: Turn) -> str:
            created = await turn.app.alerts.create(
                turn.user,
                kind,
                symbol,
                threshold,
                window,
                direction,
                recurring,
                formula,
                expires=expires,
                interval=interval,
                cooldown=cooldown,
            )
            return render_created(created)

        await answer(interaction, self.app, work, private=True)

    @add.autocomplete("symbol")
    async def symbol_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return symbol_choices(self.app.prices.resolver.coins(), current)

    @add.autocomplete("formula")
    async def formula_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        async def names() -> list[str]:
            return [f.name for f in await self.app.formulas.list(user_ref(interaction.user))]

        return text_choices(await within_budget(names(), "formula"), current)

    @app_commands.command(name="list", description="Your alerts, or the ones that fired")
    @app_commands.describe(history="Show alerts that fired instead", count="How many fired ones")
    async def list_(
        self,
        interaction: discord.Interaction,
        history: bool = False,
        count: app_commands.Range[int, 1, 100] = 20,
    ) -> None:
        """/alert list, /alert list history:true."""
        args = ["history", str(count)] if history else []

        await run_command(interaction, self.app, "alerts", args, private=True)

    @app_commands.command(name="delete", description="Delete alerts by id, or all of them")
    @app_commands.describe(
        alerts="Alert id, several ids (3 5 8) or all",
        confirm="Needed to delete more than one",
    )
    async def delete(
        self,
        interaction: discord.Interaction,
        alerts: app_commands.Range[str, 1, 100],
        confirm: bool = False,
    ) -> None:
        """/alert delete alerts:12."""
        args = [*alerts.replace(",", " ").split(), *(["confirm"] if confirm else [])]

        async def work(turn: Turn) -> str:
            text = await turn.run("delalert", args)
            return _confirm_hint(text)

        await answer(interaction, self.app, work, private=True)

    @app_commands.command(name="pause", description="Pause an alert (resume it later)")
    @app_commands.describe(alert="Alert id")
    async def pause(self, interaction: discord.Interaction, alert: Short) -> None:
        """/alert pause alert:12."""

        await run_command(interaction, self.app, "pause", [alert], private=True)

    @app_commands.command(name="resume", description="Resume a paused alert")
    @app_commands.describe(alert="Alert id")
    async def resume(self, interaction: discord.Interaction, alert: Short) -> None:
        """/alert resume alert:12."""

        await run_command(interaction, self.app, "resume", [alert], private=True)

    @delete.autocomplete("alerts")
    @pause.autocomplete("alert")
    @resume.autocomplete("alert")
    async def alert_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        async def mine() -> list[app_commands.Choice[str]]:
            views = await self.app.alerts.list(user_ref(interaction.user))
            key = current.strip().lstrip("#").lower()
            return [
                app_commands.Choice(
                    name=f"#{v.id} {v.description} ({v.status})"[:100], value=str(v.id)
                )
                for v in views
                if not key or str(v.id).startswith(key) or key in v.description.lower()
            ][:25]

        return await within_budget(mine(), "alert")


def _confirm_hint(text: str) -> str:
    """The shared command's "To delete them: /delalert ... confirm" in Discord's terms."""
    return "\n".join(
        "To delete them, run /alert delete again with confirm:true."
        if line.startswith("To delete them:")
        else line
        for line in text.splitlines()
    )
