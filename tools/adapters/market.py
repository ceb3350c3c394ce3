"""Agent tools over ``PriceService``: get_price, market_overview, stablecoin_status.

Thin adapters: read the speaker from the injected runtime context, call one service,
return compact text. Domain errors propagate and are turned into sanitised tool
errors by the agent's middleware.
"""

from __future__ import annotations

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from tools.adapters.context import ToolContext
from tools.market.service import PriceService
from tools.market.text import prices_text, stablecoins_text, top_text
from tools.users import UserService


def market_tools(prices: PriceService, users: UserService) -> list[BaseTool]:
    """The market tools, bound to the services they call."""

    @tool(parse_docstring=True)
    async def get_price(
        symbols: list[str], vs_currency: str = "usd", *, runtime: ToolRuntime[ToolContext]
    ) -> str:
        """Get the current price, 24h change, market cap and volume of one or more coins.

        Args:
            symbols: Upper-case tickers such as ["BTC", "ETH"] (names are resolved too).
            vs_currency: Quote currency: usd, eur, gbp, jpy, chf, btc or eth.
        """
        report = await prices.get_quotes(symbols, vs_currency)
        await users.remember_coins(runtime.context.user, [q.coin.symbol for q in report.quotes])
        return prices_text(report)

    @tool(parse_docstring=True)
    async def market_overview(limit: int = 10) -> str:
        """Show the largest coins by market cap with the day's top gainers and losers.

        Args:
            limit: How many coins to list (1-100).
        """
        return top_text(await prices.get_top(limit))

    @tool(parse_docstring=True)
    async def stablecoin_status(symbols: list[str] | None = None) -> str:
        """Check stablecoins against their own peg: price, deviation, severity, supply trend.

        Args:
            symbols: Stablecoin tickers such as ["USDC", "DAI"]; omit for the largest ones
                plus any that are off peg.
        """
        return stablecoins_text(await prices.get_stablecoin_status(symbols or None))

    return [get_price, market_overview, stablecoin_status]
