"""Portfolios: trades, holdings and P&L, risk, targets and rebalancing, tax lots."""
