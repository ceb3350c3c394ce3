"""Argument extraction for every tool: the builders, and what each tool accepts.

Each builder turns a :class:`~agents.offline.parsed.Parsed` message into the arguments of
one tool, including only what the user expressed (a :class:`~agents.offline.parsed.Batch`
when the message asks for the tool several times), or into a :class:`ChatIntent` when
something essential is missing (``unclear``, with the question to ask). The builders of
state-changing tools live in :mod:`agents.offline.mutations`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from agents.offline import entities as ent
from agents.offline.extract import Duration
from agents.offline.lexicon import STABLE_TICKERS
from agents.offline.mutations import (
    create_alert,
    delete_alert,
    record_trade,
    set_target_allocation,
    update_settings,
)
from agents.offline.parsed import Args, Batch, Parsed
from agents.offline.parsed import num as _num
from agents.offline.parsed import unclear as _unclear
from agents.offline.types import ChatIntent

# --- market tools ------------------------------------------------------------------------------


def get_price(p: Parsed) -> Args | ChatIntent:
    """Symbols (known and ticker-like) and the quote currency, if named."""
    symbols = p.symbols() + [u.symbol for u in p.unknown]
    cur = p.currency
    if cur is not None:
        as_quote = [c for c in p.coins if c.start <= cur.start < c.end]
        if as_quote and len(p.coins) > 1:
            symbols = [s for s in symbols if s != as_quote[0].symbol or symbols.count(s) > 1]
    symbols = list(dict.fromkeys(symbols))
    if not symbols:
        return _unclear("Which coin? For example: price of BTC.")
    args: Args = {"symbols": symbols}
    if cur is not None and not any(
        c.start <= cur.start < c.end for c in p.coins if c.symbol in symbols
    ):
        args["vs_currency"] = cur.code
    return args


def market_overview(p: Parsed) -> Args:
    """The number of coins, when the user asks for a "top N"."""
    m = re.search(
        r"\btop\s+(?P<a>\d+|ten|five|three|twenty|fifty)\b|\b(?P<b>\d+)\s+(?:biggest|largest|top|best|"
        r"worst)\b|\b(?:first|biggest|largest)\s+(?P<c>\d+)\b",
        p.low,
    )
    if m is None:
        return {}
    text = m.group("a") or m.group("b") or m.group("c")
    words = {"ten": 10, "five": 5, "three": 3, "twenty": 20, "fifty": 50}
    return {"limit": int(words.get(text) or text)}


def stablecoin_status(p: Parsed) -> Args | ChatIntent:
    """The stablecoins named, if any (none means all)."""
    stables = [s for s in p.symbols() if s in STABLE_TICKERS]
    return {"symbols": stables} if stables else {}


def days_of(p: Parsed) -> int | None:
    """The number of days of a span ("a week" -> 7, "3 months" -> 90), if named."""
    for d in p.durations:
        if d.unit == "min":
            continue
        return max(1, round(d.days()))
    if re.search(r"\b(?:ytd|year\s+to\s+date)\b", p.low):
        return max(1, (p.today - date(p.today.year, 1, 1)).days)
    return None


def _series(p: Parsed) -> Args | ChatIntent:
    symbol = p.symbol()
    if symbol is None:
        return _unclear("Which coin? For example: BTC chart for 30 days.")
    args: Args = {"symbol": symbol}
    days = days_of(p)
    if days is not None:
        args["days"] = days
    explicit = [i.value for i in p.intervals if i.explicit or not p.durations]
    if explicit:
        args["interval"] = explicit[0]
    return args


def technical_analysis(p: Parsed) -> Args | ChatIntent:
    """Coin, indicators and candle interval."""
    symbol = p.symbol()
    if symbol is None:
        return _unclear("Which coin? For example: RSI for ETH.")
    args: Args = {"symbol": symbol}
    if p.indicators:
        args["indicators"] = p.indicators
    interval = p.interval()
    if interval:
        args["interval"] = interval
    return args


def evaluate_formula(p: Parsed) -> Args | ChatIntent:
    """Coin, formula (casing kept) and candle interval."""
    symbol, formula = p.symbol(), p.formula
    if formula is None:
        return _unclear("Which formula? For example: evaluate RSI(7) - RSI(21) on ETH.")
    if symbol is None:
        return _unclear(f"On which coin should I evaluate {formula}?")
    args: Args = {"symbol": symbol, "formula": formula}
    interval = p.interval()
    if interval:
        args["interval"] = interval
    return args


def _period(d: Duration) -> str | None:
    unit = "mo" if d.unit == "m" else d.unit
    if unit == "y":
        return f"{_num(d.amount)}y" if d.amount.is_integer() else f"{round(d.amount * 12)}m"
    if unit == "mo":
        return f"{round(d.amount)}m"
    if unit in ("w", "d"):
        return f"{round(d.days())}d"
    return None


def period_of(p: Parsed) -> str | None:
    """The backtest period named ("6 months" -> "6m", "a year" -> "1y", "90 days" -> "90d")."""
    for d in p.durations:
        period = _period(d)
        if period:
            return period
    return None


def backtest_strategy(p: Parsed) -> Args | ChatIntent:
    """Coin, strategy, period, initial capital and candle interval."""
    symbol, strategy = p.symbol(), p.strategy
    if symbol is None:
        return _unclear(
            "Which coin should I backtest? For example: backtest macd_crossover on BTC."
        )
    if strategy is None:
        return _unclear(
            "Which strategy? rsi_mean_reversion, macd_crossover, sma_crossover, "
            "bollinger_reversion, dca or buy_and_hold."
        )
    args: Args = {"symbol": symbol, "strategy": strategy}
    period = period_of(p)
    if period:
        args["period"] = period
    capital = capital_of(p)
    if capital is not None:
        args["initial_capital"] = _num(capital)
    interval = p.interval(skip_cadence=strategy == "dca")
    if interval and not (strategy == "dca" and interval in ("1d", "1w")):
        args["interval"] = interval
    return args


def capital_of(p: Parsed) -> float | None:
    """The starting capital ("$10000", "with 5k", "1000 dollars"), if named."""
    for n in p.numbers:
        if n.value is None or n.percent or n.value <= 0:
            continue
        before, after = p.low[max(0, n.start - 25) : n.start], p.low[n.end : n.end + 12]
        suffixed = bool(re.search(r"[kmb]$|thousand|grand|million", p.low[n.start : n.end]))
        if (
            n.dollar
            or suffixed
            or re.match(r"\s*(?:dollars?|usd|bucks|usdt|usdc)\b", after)
            or re.search(
                r"\b(?:with|capital(?:\s+of)?|invest\w*|starting|start|put|of)\s*$", before
            )
        ):
            return n.value
    return None


def market_sentiment(p: Parsed) -> Args | ChatIntent:
    """The coin, if named."""
    symbol = p.symbol()
    return {"symbol": symbol} if symbol else {}


# --- portfolio ------------------------------------------------------------------------------


def portfolio_only(p: Parsed) -> Args | ChatIntent:
    """The portfolio name, if the user names one."""
    name = ent.find_portfolio_name(p.low)
    return {"portfolio": name} if name else {}


def tax_report(p: Parsed) -> Args:
    """The tax year and the lot method (FIFO, LIFO, HIFO), if named."""
    args: Args = {}
    year = re.search(r"\b(?:19|20)\d{2}\b", p.low)
    if year:
        args["year"] = int(year.group(0))
    elif re.search(r"\b(?:last|previous|prior)\s+(?:tax\s+|calendar\s+|fiscal\s+)?year\b", p.low):
        args["year"] = p.today.year - 1
    elif re.search(r"\b(?:this|current)\s+(?:tax\s+|calendar\s+)?year\b|\bytd\b", p.low):
        args["year"] = p.today.year
    method = re.search(r"\b(fifo|lifo|hifo)\b", p.low)
    phrase = re.search(r"\b(first|last|highest)[\s-]+in[\s,-]+first[\s-]+out\b", p.low)
    if method:
        args["method"] = method.group(1).upper()
    elif phrase:
        args["method"] = {"first": "FIFO", "last": "LIFO", "highest": "HIFO"}[phrase.group(1)]
    return args


BUILDERS: dict[str, Callable[[Parsed], Args | Batch | ChatIntent]] = {
    "get_price": get_price,
    "market_overview": market_overview,
    "stablecoin_status": stablecoin_status,
    "price_history": _series,
    "price_chart": _series,
    "technical_analysis": technical_analysis,
    "evaluate_formula": evaluate_formula,
    "backtest_strategy": backtest_strategy,
    "create_alert": create_alert,
    "list_alerts": lambda p: {},
    "delete_alert": delete_alert,
    "portfolio_summary": portfolio_only,
    "record_trade": record_trade,
    "portfolio_risk": portfolio_only,
    "set_target_allocation": set_target_allocation,
    "rebalance_plan": portfolio_only,
    "tax_report": tax_report,
    "daily_digest": lambda p: {},
    "update_settings": update_settings,
    "market_sentiment": market_sentiment,
}

#: The arguments each tool takes (for follow-ups that carry arguments over).
TOOL_ARGS: dict[str, frozenset[str]] = {
    "get_price": frozenset({"symbols", "vs_currency"}),
    "market_overview": frozenset({"limit"}),
    "stablecoin_status": frozenset({"symbols"}),
    "price_history": frozenset({"symbol", "days", "interval", "date"}),
    "price_chart": frozenset({"symbol", "days", "interval"}),
    "technical_analysis": frozenset({"symbol", "indicators", "interval"}),
    "evaluate_formula": frozenset({"symbol", "formula", "interval"}),
    "backtest_strategy": frozenset(
        {"symbol", "strategy", "period", "params", "initial_capital", "interval"}
    ),
    "create_alert": frozenset({"kind", "symbol", "threshold", "window", "direction", "recurring"}),
    "list_alerts": frozenset(),
    "delete_alert": frozenset({"alert_id"}),
    "portfolio_summary": frozenset({"portfolio"}),
    "record_trade": frozenset({"side", "symbol", "quantity", "price", "date", "fee", "portfolio"}),
    "portfolio_risk": frozenset({"portfolio"}),
    "set_target_allocation": frozenset({"targets", "portfolio"}),
    "rebalance_plan": frozenset({"portfolio"}),
    "tax_report": frozenset({"year", "method"}),
    "daily_digest": frozenset(),
    "update_settings": frozenset({"timezone", "digest_time", "digest_enabled", "depeg_threshold"}),
    "market_sentiment": frozenset({"symbol"}),
}
