"""The agent's tool contract: every tool name the model may ever see, and what it is for.

Names and arguments are fixed by the product; each capability registers its tools as it
lands. Tools not registered yet are simply absent from the model's tool list, and the
offline model uses :data:`CAPABILITIES` to say what is not available yet.
"""

from __future__ import annotations

#: Tool name -> the capability it belongs to, in words for users.
CAPABILITIES: dict[str, str] = {
    "get_price": "price lookups",
    "market_overview": "the market overview",
    "stablecoin_status": "stablecoin peg status",
    "price_history": "price history",
    "price_chart": "price charts",
    "technical_analysis": "technical analysis",
    "evaluate_formula": "custom indicator formulas",
    "backtest_strategy": "strategy backtests",
    "create_alert": "alerts",
    "list_alerts": "alerts",
    "delete_alert": "alerts",
    "portfolio_summary": "portfolio tracking",
    "record_trade": "portfolio tracking",
    "portfolio_risk": "portfolio risk analysis",
    "set_target_allocation": "target allocations",
    "rebalance_plan": "rebalancing plans",
    "tax_report": "tax reports",
    "daily_digest": "the daily digest",
    "update_settings": "settings",
    "market_sentiment": "market sentiment",
}

#: Tools that change stored state: idempotent within a turn, refused on invalid input.
MUTATING: frozenset[str] = frozenset(
    {"create_alert", "delete_alert", "record_trade", "set_target_allocation", "update_settings"}
)
