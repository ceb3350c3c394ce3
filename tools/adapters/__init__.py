"""LangChain tool adapters over the capabilities, and the agent's tool contract.

``build_tools(...)`` returns every tool whose capability exists in this version; the
agent registers exactly those. Identity reaches tools through the injected runtime
context (:class:`ToolContext`), never through a model-visible argument.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool

from tools.adapters.context import ToolContext
from tools.adapters.contract import CAPABILITIES, MUTATING
from tools.adapters.market import market_tools
from tools.adapters.settings import settings_tools
from tools.alerts.service import AlertService
from tools.analysis.backtest import BacktestService
from tools.analysis.charts import ChartService
from tools.analysis.formula import FormulaService
from tools.analysis.history import HistoryService
from tools.analysis.sentiment import SentimentService
from tools.analysis.technical import TechnicalService
from tools.digest.service import DigestService
from tools.market.service import PriceService
from tools.portfolio.service import PortfolioService
from tools.users import UserService


def build_tools(
    prices: PriceService,
    users: UserService,
    *,
    history: HistoryService,
    charts: ChartService,
    technicals: TechnicalService,
    formulas: FormulaService,
    backtests: BacktestService,
    sentiment: SentimentService,
    portfolios: PortfolioService,
    alerts: AlertService | None = None,
    digests: DigestService | None = None,
) -> list[BaseTool]:
    """All tools available in this version (alerts and the digest when given)."""
    from tools.adapters.alerts import alert_tools
    from tools.adapters.analysis import analysis_tools
    from tools.adapters.digest import digest_tools
    from tools.adapters.portfolio import portfolio_tools

    tools = [
        *market_tools(prices, users),
        *analysis_tools(history, charts, technicals, formulas, backtests, sentiment),
        *portfolio_tools(portfolios),
        *(alert_tools(alerts) if alerts is not None else []),
        *(digest_tools(digests) if digests is not None else []),
        *settings_tools(users),
    ]
    unknown = {t.name for t in tools} - set(CAPABILITIES)
    if unknown:
        raise RuntimeError(f"tools outside the contract: {sorted(unknown)}")
    return tools


__all__ = ["CAPABILITIES", "MUTATING", "ToolContext", "build_tools"]
