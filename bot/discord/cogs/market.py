"""Market commands: /price /top /depeg /chart /ta /formula /backtest.

Public answers (market data is nobody's secret); only saving a formula is personal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.options import (
    BAR_INTERVALS,
    CHART_INTERVALS,
    CURRENCIES,
    PERIODS,
    strategy_choices,
    symbol_choices,
    text_choices,
    within_budget,
)
from bot.discord.respond import Turn, answer, run_command, user_ref

if TYPE_CHECKING:
    from bot.app import App

Symbol = app_commands.Range[str, 1, 100]
Days = app_commands.Range[int, 1, 365]


class MarketCog(commands.Cog, name="market"):
    """Prices, rankings, stablecoins, charts and analysis."""

    def __init__(self, app: App) -> None:
        self.app = app

    @app_commands.command(name="price", description="Prices, 24h change, market cap and volume")
    @app_commands.describe(
        symbols="One or more coins, e.g. btc eth sol", currency="Quote currency (default USD)"
    )
    @app_commands.choices(currency=CURRENCIES)
    async def price(
        self, interaction: discord.Interaction, symbols: Symbol, currency: str = "usd"
    ) -> None:
        """/price symbols:btc eth currency:eur."""
        args = [*symbols.replace(",", " ").split(), "in", currency]

        await run_command(interaction, self.app, "price", args)

    @price.autocomplete("symbols")
    async def symbols_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return symbol_choices(self.app.prices.resolver.coins(), current, several=True)

    @app_commands.command(
        name="top", description="The largest coins with the day's gainers and losers"
    )
    @app_commands.describe(count="How many coins (1-100, default 10)", currency="Quote currency")
    @app_commands.choices(currency=CURRENCIES)
    async def top(
        self,
        interaction: discord.Interaction,
        count: app_commands.Range[int, 1, 100] = 10,
        currency: str = "usd",
    ) -> None:
        """/top count:20."""
        from bot.console_format import render_top

        async def work(turn: Turn) -> str:
            return render_top(await turn.app.prices.get_top(count, currency))

        await answer(interaction, self.app, work)

    @app_commands.command(
        name="depeg", description="Stablecoin peg health, or one coin's peg chart"
    )
    @app_commands.describe(
        coins="Stablecoins to show, e.g. usdc dai (default: the largest and any off peg)",
        chart="Draw the first coin against its peg bands",
        days="Days of the chart (default 30)",
    )
    async def depeg(
        self,
        interaction: discord.Interaction,
        coins: Symbol | None = None,
        chart: bool = False,
        days: Days = 30,
    ) -> None:
        """/depeg, /depeg coins:usdc chart:true."""
        words = (coins or "").replace(",", " ").split()
        if chart:
            args = ["chart", words[0], str(days)] if words else []
        else:
            args = words

        async def work(turn: Turn) -> str:
            if chart and not words:
                return "Name the stablecoin to chart, e.g. /depeg coins:usdc chart:true"
            return await turn.run("depeg", args)

        await answer(interaction, self.app, work)

    @depeg.autocomplete("coins")
    async def coins_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        stable = _stablecoin_ids()
        coins = [c for c in self.app.prices.resolver.coins() if c.id in stable]
        return symbol_choices(coins, current, several=True)

    @app_commands.command(name="chart", description="A price chart with Bollinger Bands and RSI")
    @app_commands.describe(symbol="Coin", days="Days back (default 30)", interval="Bar length")
    @app_commands.choices(interval=CHART_INTERVALS)
    async def chart(
        self,
        interaction: discord.Interaction,
        symbol: Symbol,
        days: Days = 30,
        interval: str = "1d",
    ) -> None:
        """/chart symbol:btc days:90."""

        await run_command(interaction, self.app, "chart", [symbol, str(days), interval])

    @app_commands.command(name="ta", description="Technical analysis: trend, momentum, levels")
    @app_commands.describe(
        symbol="Coin",
        interval="Bar length (default 1d)",
        indicators="Only these, e.g. rsi macd bbands (default: a summary)",
    )
    @app_commands.choices(interval=CHART_INTERVALS)
    async def ta(
        self,
        interaction: discord.Interaction,
        symbol: Symbol,
        interval: str = "1d",
        indicators: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """/ta symbol:eth interval:4h indicators:rsi macd."""
        args = [symbol, interval, *(indicators or "").replace(",", " ").split()]

        await run_command(interaction, self.app, "ta", args)

    @app_commands.command(name="formula", description="Evaluate a custom indicator formula")
    @app_commands.describe(
        symbol="Coin",
        expression="A formula, e.g. RSI(7) - RSI(21), or one of your saved formulas",
        interval="Bar length (default 1d)",
        save_as="Also save the formula under this name",
    )
    @app_commands.choices(interval=BAR_INTERVALS)
    async def formula(
        self,
        interaction: discord.Interaction,
        symbol: Symbol,
        expression: app_commands.Range[str, 1, 500],
        interval: str = "1d",
        save_as: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        """/formula symbol:eth expression:RSI(7) - RSI(21)."""
        from tools.analysis.formula_chart import formula_chart
        from tools.analysis.text_ta import formula_text

        async def work(turn: Turn) -> str:
            formulas = turn.app.formulas
            saved = ""
            if save_as is not None:
                kept = await formulas.save(turn.user, save_as, expression)
                saved = f"Saved {kept.name}: {kept.formula}"
            report = await formulas.evaluate(symbol, expression, interval, user=turn.user)
            chart = await formula_chart(report)
            if chart is not None:
                await turn.attach(chart)
            return "\n".join(p for p in (saved, formula_text(report)) if p)

        await answer(interaction, self.app, work, private=save_as is not None)

    @formula.autocomplete("expression")
    async def expression_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        async def names() -> list[str]:
            saved = await self.app.formulas.list(user_ref(interaction.user))
            return [f.name for f in saved]

        return text_choices(await within_budget(names(), "formula"), current)

    @app_commands.command(name="backtest", description="Backtest a strategy against buy and hold")
    @app_commands.describe(
        symbol="Coin",
        strategy="Trading strategy",
        period="How far back (default 1 year)",
        interval="Bar length (default 1d)",
        capital="Starting capital in USD (default 10,000)",
        fee="Fee per fill in percent (default 0.1)",
    )
    @app_commands.choices(strategy=strategy_choices(), period=PERIODS, interval=BAR_INTERVALS)
    async def backtest(
        self,
        interaction: discord.Interaction,
        symbol: Symbol,
        strategy: str,
        period: str = "1y",
        interval: str = "1d",
        capital: app_commands.Range[float, 1, 1_000_000_000] = 10_000.0,
        fee: app_commands.Range[float, 0, 10] = 0.1,
    ) -> None:
        """/backtest symbol:eth strategy:rsi_mean_reversion period:6m."""
        from tools.analysis.text_backtest import backtest_text

        async def work(turn: Turn) -> str:
            report = await turn.app.backtests.run(
                symbol, strategy, period, initial_capital=capital, interval=interval, fee_pct=fee
            )
            return backtest_text(report)

        await answer(interaction, self.app, work)

    @backtest.autocomplete("symbol")
    @formula.autocomplete("symbol")
    @chart.autocomplete("symbol")
    @ta.autocomplete("symbol")
    async def symbol_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return symbol_choices(self.app.prices.resolver.coins(), current)


def _stablecoin_ids() -> set[str]:
    from tools.market.catalog import STABLECOINS

    return {s.id for s in STABLECOINS}
