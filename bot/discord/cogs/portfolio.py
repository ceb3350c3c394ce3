"""The /portfolio group: show, buy, sell, trades, risk, target, rebalance, tax, import,
export.

Portfolios are private: answered ephemerally in a server unless the user shares one
(``/portfolio show public:true``). A CSV import is a dry run first; the trades are stored
after the "Import" button (or a second call with ``confirm:true``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.options import TAX_METHODS, symbol_choices
from bot.discord.respond import (
    defer,
    follow_up,
    interaction_chat,
    run_command,
    tell,
    user_ref,
)
from bot.errors import render_error
from tools.identity import UserRef

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

#: Largest CSV file accepted for an import.
MAX_IMPORT_BYTES = 5_000_000
#: How long the "Import" button of a dry run stays usable.
IMPORT_TTL_S = 900.0

Amount = app_commands.Range[str, 1, 40]


#: The option descriptions of /portfolio buy and /portfolio sell.
TRADE_OPTIONS = {
    "symbol": "Coin",
    "quantity": "How much, e.g. 0.5",
    "price": "Price per coin, e.g. 48k (default: the current price)",
    "date": "Trade date YYYY-MM-DD (default: now)",
}


class PortfolioCog(
    commands.GroupCog, group_name="portfolio", group_description="Your portfolio and trades"
):
    """Holdings, trades, risk, targets, rebalancing, tax and CSV import."""

    def __init__(self, app: App) -> None:
        self.app = app
        super().__init__()

    @app_commands.command(name="show", description="Holdings, value, P&L and allocation")
    @app_commands.describe(
        name="Portfolio name (default: your main one)",
        chart="Add allocation and value charts",
        public="Show it to the channel instead of only to you",
    )
    async def show(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 40] | None = None,
        chart: bool = False,
        public: bool = False,
    ) -> None:
        """/portfolio show."""
        args = ["chart"] if chart else ([name] if name else [])

        await run_command(interaction, self.app, "portfolio", args, private=True, public=public)

    @app_commands.command(name="buy", description="Record a buy")
    @app_commands.describe(**TRADE_OPTIONS)
    async def buy(
        self,
        interaction: discord.Interaction,
        symbol: app_commands.Range[str, 1, 100],
        quantity: Amount,
        price: Amount | None = None,
        date: app_commands.Range[str, 1, 25] | None = None,
    ) -> None:
        """/portfolio buy symbol:btc quantity:0.5 price:48k."""
        await self._trade(interaction, "buy", symbol, quantity, price, date)

    @app_commands.command(name="sell", description="Record a sell")
    @app_commands.describe(**TRADE_OPTIONS)
    async def sell(
        self,
        interaction: discord.Interaction,
        symbol: app_commands.Range[str, 1, 100],
        quantity: Amount,
        price: Amount | None = None,
        date: app_commands.Range[str, 1, 25] | None = None,
    ) -> None:
        """/portfolio sell symbol:btc quantity:0.1."""
        await self._trade(interaction, "sell", symbol, quantity, price, date)

    async def _trade(
        self,
        interaction: discord.Interaction,
        side: str,
        symbol: str,
        quantity: str,
        price: str | None,
        date: str | None,
    ) -> None:
        args = [symbol, quantity]
        if price:
            args += ["at", price]
        if date:
            args += ["on", date]

        await run_command(interaction, self.app, side, args, private=True)

    @buy.autocomplete("symbol")
    @sell.autocomplete("symbol")
    async def symbol_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return symbol_choices(self.app.prices.resolver.coins(), current)

    @app_commands.command(name="trades", description="Your trades, newest first")
    @app_commands.describe(page="Page (default 1)")
    async def trades(
        self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 10_000] = 1
    ) -> None:
        """/portfolio trades page:2."""

        await run_command(interaction, self.app, "trades", [str(page)], private=True)

    @app_commands.command(name="risk", description="Volatility, Sharpe, drawdown, VaR, beta")
    async def risk(self, interaction: discord.Interaction) -> None:
        """/portfolio risk."""

        await run_command(interaction, self.app, "risk", [], private=True)

    @app_commands.command(name="target", description="Show or set your target allocation")
    @app_commands.describe(allocation="Coins and weights, e.g. BTC 70 ETH 30 (empty: show)")
    async def target(
        self,
        interaction: discord.Interaction,
        allocation: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """/portfolio target allocation:BTC 70 ETH 30."""
        args = (allocation or "").replace(",", " ").replace("%", " ").split()

        await run_command(interaction, self.app, "target", args, private=True)

    @app_commands.command(name="rebalance", description="The trades back to your target mix")
    async def rebalance(self, interaction: discord.Interaction) -> None:
        """/portfolio rebalance."""

        await run_command(interaction, self.app, "rebalance", [], private=True)

    @app_commands.command(name="tax", description="Realised gains with a Form 8949 CSV")
    @app_commands.describe(
        year="Tax year (default: all years)", method="Lot matching (default FIFO)"
    )
    @app_commands.choices(method=TAX_METHODS)
    async def tax(
        self,
        interaction: discord.Interaction,
        year: app_commands.Range[int, 2009, 2100] | None = None,
        method: str = "FIFO",
    ) -> None:
        """/portfolio tax year:2025 method:HIFO."""
        args = [*([str(year)] if year else []), method]

        await run_command(interaction, self.app, "tax", args, private=True)

    @app_commands.command(name="export", description="All your trades as a CSV file")
    async def export(self, interaction: discord.Interaction) -> None:
        """/portfolio export."""

        await run_command(interaction, self.app, "export", [], private=True)

    @app_commands.command(name="import", description="Import trades from a CSV file")
    @app_commands.describe(
        file="CryptoGuard, Binance or Coinbase CSV export",
        confirm="Import at once (default: a dry run with an Import button)",
    )
    async def import_(
        self, interaction: discord.Interaction, file: discord.Attachment, confirm: bool = False
    ) -> None:
        """/portfolio import file:trades.csv."""
        from tools.portfolio.imports import import_trades

        chat = interaction_chat(interaction)
        ephemeral = not chat.private
        if file.size > MAX_IMPORT_BYTES:
            await tell(interaction, "That file is too large to import (5 MB at most).")
            return
        if not await defer(interaction, ephemeral=ephemeral):
            return
        who = user_ref(interaction.user)
        try:
            await self.app.users.ensure(who, chat)
            text = (await file.read()).decode("utf-8-sig")
        except UnicodeDecodeError:
            await tell(interaction, "That file is not UTF-8 text; export it as CSV first.")
            return
        except discord.HTTPException as exc:
            logger.warning("Discord: CSV attachment not downloaded (%s)", exc.status)
            await tell(interaction, "I could not download that file; please send it again.")
            return
        try:
            result = await import_trades(self.app.portfolios, who, text, dry_run=not confirm)
        except Exception as exc:  # the edge: every error becomes a message
            await follow_up(interaction, render_error(exc), ephemeral=ephemeral)
            return
        if confirm or not result.ok or not result.new:
            await follow_up(interaction, result.message, ephemeral=ephemeral)
            return
        view = ImportConfirm(self.app, who, text, ephemeral=ephemeral)
        await follow_up(interaction, result.message, ephemeral=ephemeral, view=view)


class ImportConfirm(discord.ui.View):
    """The "Import" and "Cancel" buttons under a dry run; only its owner may press them.

    Args:
        app: The services.
        owner: Who ran the dry run.
        text: The CSV file's content.
        ephemeral: Answer the press ephemerally (the dry run was).
    """

    def __init__(self, app: App, owner: UserRef, text: str, *, ephemeral: bool) -> None:
        super().__init__(timeout=IMPORT_TTL_S)
        self.app = app
        self.owner = owner
        self.text = text
        self.ephemeral = ephemeral
        self.used = False

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the user who sent the file decides."""
        if str(interaction.user.id) == self.owner.platform_user_id:
            return True
        await tell(interaction, "Only the person who sent this file can import it.")
        return False

    @discord.ui.button(label="Import", style=discord.ButtonStyle.success)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Store the trades of the dry run."""
        from tools.portfolio.imports import import_trades

        if self.used:
            await tell(interaction, "This import was already handled.")
            return
        self.used = True
        self.stop()
        await interaction.response.defer()
        try:
            result = await import_trades(self.app.portfolios, self.owner, self.text, dry_run=False)
            text = result.message
        except Exception as exc:  # the edge: every error becomes a message
            text = render_error(exc)
        await _drop_buttons(interaction)
        await follow_up(interaction, text, ephemeral=self.ephemeral)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Forget the file."""
        self.used = True
        self.stop()
        await interaction.response.defer()
        await _drop_buttons(interaction)
        await follow_up(
            interaction, "Import cancelled; nothing was stored.", ephemeral=self.ephemeral
        )


async def _drop_buttons(interaction: discord.Interaction) -> None:
    """Remove the buttons from the dry-run message (best effort)."""
    try:
        await interaction.edit_original_response(view=None)
    except discord.HTTPException as exc:
        logger.info("Discord: buttons not removed (%s)", exc.status)
