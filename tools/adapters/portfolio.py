"""Agent tools over ``PortfolioService``: the speaker's own trades, holdings, risk,
targets, rebalancing and tax report. The user always comes from the runtime context."""

from __future__ import annotations

from langchain.tools import ToolRuntime, tool
from langchain_core.tools import BaseTool

from tools.adapters.context import ToolContext
from tools.attachments import Attachment
from tools.portfolio.charts import portfolio_charts
from tools.portfolio.service import PortfolioService
from tools.portfolio.tax import form_8949_csv
from tools.portfolio.text import (
    render_rebalance,
    render_risk,
    render_summary,
    render_targets,
    render_tax,
    render_trade,
)


def portfolio_tools(portfolios: PortfolioService) -> list[BaseTool]:
    """The portfolio tools, bound to the service."""

    @tool(parse_docstring=True, response_format="content_and_artifact")
    async def portfolio_summary(
        portfolio: str | None = None, *, runtime: ToolRuntime[ToolContext]
    ) -> tuple[str, list[Attachment]]:
        """Show the user's holdings: value, average cost, P&L, allocation and 24h change
        (in the portfolio's currency, USD or EUR), with an allocation donut and a
        value-over-time chart.

        Args:
            portfolio: Portfolio name; omit for the default one.
        """
        user = runtime.context.user
        text = render_summary(await portfolios.summary(user, portfolio))
        return text, await portfolio_charts(portfolios, user, portfolio)

    @tool(parse_docstring=True)
    async def record_trade(
        side: str,
        symbol: str,
        quantity: float | str,
        price: float | str | None = None,
        date: str | None = None,
        fee: float | str | None = None,
        portfolio: str | None = None,
        *,
        runtime: ToolRuntime[ToolContext],
    ) -> str:
        """Record a buy or sell the user made (price defaults to the current price).

        Args:
            side: "buy" or "sell".
            symbol: Upper-case ticker such as "BTC".
            quantity: Amount of the coin, e.g. 0.5 or "1.5k".
            price: Price per coin in the portfolio's currency (USD, or EUR for a
                portfolio kept in euros), e.g. 48000 or "48k"; omit for the current price.
            date: When it happened, "YYYY-MM-DD" (past only); omit for now.
            fee: Fee paid, in the portfolio's currency.
            portfolio: Portfolio name; omit for the default one.
        """
        result = await portfolios.record_trade(
            runtime.context.user, side, symbol, quantity, price, date, fee, portfolio
        )
        return render_trade(result)

    @tool(parse_docstring=True)
    async def portfolio_risk(
        portfolio: str | None = None, *, runtime: ToolRuntime[ToolContext]
    ) -> str:
        """Measure the portfolio's risk: volatility, Sharpe, Sortino, drawdown, VaR, beta.

        Args:
            portfolio: Portfolio name; omit for the default one.
        """
        return render_risk(await portfolios.risk(runtime.context.user, portfolio))

    @tool(parse_docstring=True)
    async def set_target_allocation(
        targets: dict[str, float],
        portfolio: str | None = None,
        *,
        runtime: ToolRuntime[ToolContext],
    ) -> str:
        """Set the user's target mix, e.g. {"BTC": 0.7, "ETH": 0.3} (fractions summing to 1).

        Args:
            targets: Ticker to weight, as fractions (or percents) that add up to 1 (100%).
            portfolio: Portfolio name; omit for the default one.
        """
        result = await portfolios.set_targets(runtime.context.user, targets, portfolio)
        return render_targets(result)

    @tool(parse_docstring=True)
    async def rebalance_plan(
        portfolio: str | None = None, *, runtime: ToolRuntime[ToolContext]
    ) -> str:
        """Plan the trades that bring the portfolio back to its target mix.

        Args:
            portfolio: Portfolio name; omit for the default one.
        """
        return render_rebalance(await portfolios.rebalance(runtime.context.user, portfolio))

    @tool(parse_docstring=True, response_format="content_and_artifact")
    async def tax_report(
        year: int | None = None, method: str = "FIFO", *, runtime: ToolRuntime[ToolContext]
    ) -> tuple[str, Attachment]:
        """Compute realised capital gains per disposal, with a Form 8949 CSV.

        Args:
            year: Tax year such as 2025; omit for all years.
            method: Lot matching: FIFO, LIFO or HIFO.
        """
        report = await portfolios.tax(runtime.context.user, year, method)
        name = f"form-8949-{year or 'all'}-{report.method.lower()}.csv"
        csv = Attachment(name, "text/csv", form_8949_csv(report).encode(), "Form 8949 rows")
        return render_tax(report), csv

    return [
        portfolio_summary,
        record_trade,
        portfolio_risk,
        set_target_allocation,
        rebalance_plan,
        tax_report,
    ]
