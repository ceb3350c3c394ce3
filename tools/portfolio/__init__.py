"""Portfolios: trades, holdings and P&L, risk, targets and rebalancing, tax lots.

This version holds the computations (pure functions over trades and prices); the service
that stores trades and the agent tools arrive with the portfolio capability's front-ends.
"""

from tools.portfolio.holdings import PortfolioSummary, Position, holdings
from tools.portfolio.lots import Disposal, LotResult, OpenLot, TradeRecord, match_lots
from tools.portfolio.rebalance import RebalancePlan, rebalance_plan
from tools.portfolio.risk import RiskReport, portfolio_risk
from tools.portfolio.targets import parse_targets
from tools.portfolio.tax import TaxReport, form_8949_csv, tax_report

__all__ = [
    "Disposal",
    "LotResult",
    "OpenLot",
    "PortfolioSummary",
    "Position",
    "RebalancePlan",
    "RiskReport",
    "TaxReport",
    "TradeRecord",
    "form_8949_csv",
    "holdings",
    "match_lots",
    "parse_targets",
    "portfolio_risk",
    "rebalance_plan",
    "tax_report",
]
