"""Compact plain-text renderings of portfolio results, for chat replies and tools.

No Markdown or HTML: front-ends may add their own formatting. Every renderer ends with
the data notice (simulated or replayed prices) when there is one.
"""

from __future__ import annotations

from decimal import Decimal

from tools.market.format import format_money, format_pct
from tools.portfolio.amounts import format_cash, format_quantity
from tools.portfolio.holdings import Position
from tools.portfolio.service import (
    CurrencyResult,
    RebalanceResult,
    RiskResult,
    SummaryReport,
    TargetsResult,
    TradePage,
    TradeResult,
    TradeView,
)
from tools.portfolio.tax import TaxReport

__all__ = [
    "render_rebalance",
    "render_risk",
    "render_summary",
    "render_targets",
    "render_tax",
    "render_currency",
    "render_trade",
    "render_trades",
]


def _tail(notes: tuple[str, ...], notice: str | None) -> list[str]:
    lines = [f"Note: {n}" for n in notes]
    if notice:
        lines.append(notice)
    return lines


def render_currency(result: CurrencyResult) -> str:
    """The portfolio's currency, or the switch just made."""
    return result.message


def render_trade(result: TradeResult) -> str:
    """The one-line confirmation plus notes and the data notice."""
    return "\n".join([result.message, *_tail(result.notes, result.notice)])


def _trade_line(t: TradeView) -> str:
    fee = f", fee {format_cash(t.fee, t.currency)}" if t.fee else ""
    return (
        f"#{t.id} {t.executed_at:%Y-%m-%d} {t.side} {format_quantity(t.quantity)} {t.symbol} "
        f"@ {format_money(t.price, t.currency)}{fee}"
    )


def render_trades(page: TradePage) -> str:
    """Trades newest first, with the page position."""
    if not page.total:
        return f'No trades in portfolio "{page.portfolio}" yet.'
    if not page.trades:
        return f"Page {page.page} is empty; there are {page.pages} page(s) of trades."
    head = f'Trades in "{page.portfolio}" (page {page.page} of {page.pages}, {page.total} in all):'
    return "\n".join([head, *(_trade_line(t) for t in page.trades)])


def _position_line(p: Position, currency: str) -> str:
    qty = f"{format_quantity(p.quantity)} {p.symbol}"
    if p.value is None or p.price is None:
        return f"{qty}: no current price (cost {format_cash(p.cost_basis, currency)})"
    share = f"{p.allocation_pct:.1f}%" if p.allocation_pct is not None else "n/a"
    pnl = p.unrealised_pnl if p.unrealised_pnl is not None else Decimal(0)
    day = f", 24h {format_pct(p.change_24h_pct)}" if p.change_24h_pct is not None else ""
    return (
        f"{qty} @ {format_money(p.price, currency)} = {format_cash(p.value, currency)} "
        f"({share}), P&L {format_cash(pnl, currency)} ({format_pct(p.unrealised_pct)}){day}"
    )


def render_summary(report: SummaryReport) -> str:
    """One line per holding, then totals and the best and worst performers."""
    s, cur = report.summary, report.currency
    if not s.positions and not s.closed:
        return f'Portfolio "{report.portfolio}" is empty. Record a trade, e.g. buy 0.1 BTC.'
    lines = [f'Portfolio "{report.portfolio}" ({s.method}):']
    lines += [_position_line(p, cur) for p in s.positions]
    if s.closed:
        closed = ", ".join(f"{c.symbol} {format_cash(c.realised_pnl, cur)}" for c in s.closed)
        lines.append(f"Closed: {closed}")
    lines.append(
        f"Total {format_cash(s.total_value, cur)}, cost {format_cash(s.total_cost, cur)}, "
        f"unrealised {format_cash(s.unrealised_pnl, cur)} ({format_pct(s.unrealised_pct)}), "
        f"realised {format_cash(s.realised_pnl, cur)}"
    )
    if s.change_24h_value is not None:
        lines.append(
            f"24h: {format_cash(s.change_24h_value, cur)} ({format_pct(s.change_24h_pct)})"
        )
    if s.best is not None and s.worst is not None and s.best is not s.worst:
        lines.append(
            f"Best {s.best.symbol} {format_pct(s.best.unrealised_pct)}, "
            f"worst {s.worst.symbol} {format_pct(s.worst.unrealised_pct)}"
        )
    if s.unpriced:
        lines.append("Not priced (left out of totals): " + ", ".join(s.unpriced))
    if report.sources:
        lines.append("Prices: " + ", ".join(report.sources))
    return "\n".join([*lines, *_tail(report.notes, report.notice)])


def render_risk(result: RiskResult) -> str:
    """The risk metrics' plain sentences."""
    r = result.report
    head = (
        f'Risk of "{result.portfolio}", {r.start:%Y-%m-%d} to {r.end:%Y-%m-%d} '
        f"({r.days} daily changes), value {format_cash(r.current_value, r.currency)}:"
    )
    body = [f"- {line}" for line in r.explanations()]
    return "\n".join([head, *body, *_tail(result.notes, result.notice)])


def _pct_text(weight: Decimal) -> str:
    text = f"{(weight * 100).quantize(Decimal('0.1')):f}".rstrip("0").rstrip(".")
    return f"{text}%"


def render_targets(result: TargetsResult) -> str:
    """The stored targets (or how to set them)."""
    return result.message


def render_rebalance(result: RebalanceResult) -> str:
    """Drift per asset, then the trades (if any) and totals."""
    plan, cur = result.plan, result.currency
    lines = [f'Rebalance "{result.portfolio}" (total {format_cash(plan.total_value, cur)}):']
    for a in plan.assets:
        flag = " *" if a.outside_band else ""
        lines.append(
            f"{a.symbol}: {_pct_text(a.current_weight)} vs target {_pct_text(a.target_weight)} "
            f"({a.drift_points:+.1f} pts){flag}"
        )
    if plan.trades:
        lines.append("Trades:")
        for t in plan.trades:
            lines.append(
                f"{t.side} {format_quantity(t.quantity)} {t.symbol} "
                f"({format_cash(t.value, cur)}, fee ~{format_cash(t.fee, cur)})"
            )
    lines.append(plan.explanation)
    return "\n".join([*lines, *_tail(result.notes, result.notice)])


def render_tax(report: TaxReport, currency: str | None = None) -> str:
    """Totals per term and per year, and the method in one sentence.

    Amounts are in ``currency`` (default: the report's). Form 8949 is filed in US
    dollars, so a report in another currency says so.
    """
    currency = (currency or report.currency).upper()
    period = str(report.year) if report.year is not None else "all years"
    if not report.rows:
        return f"No sales in {period}, so no realised gains or losses. ({report.method})"
    lines = [
        f"Realised gains, {period} ({report.method}): {format_cash(report.total_gain, currency)} "
        f"over {len(report.rows)} lot(s).",
        f"Short-term: {report.short_term.count} lot(s), proceeds "
        f"{format_cash(report.short_term.proceeds, currency)}, cost "
        f"{format_cash(report.short_term.cost_basis, currency)}, gain "
        f"{format_cash(report.short_term.gain, currency)}",
        f"Long-term: {report.long_term.count} lot(s), proceeds "
        f"{format_cash(report.long_term.proceeds, currency)}, cost "
        f"{format_cash(report.long_term.cost_basis, currency)}, gain "
        f"{format_cash(report.long_term.gain, currency)}",
    ]
    if report.year is None and len(report.years) > 1:
        lines += [f"{y.year}: {format_cash(y.gain, currency)}" for y in report.years]
    lines.append(report.explanation)
    if currency != "USD":
        lines.append(
            f"Amounts are in {currency}, as this portfolio's trades; Form 8949 is filed in "
            "US dollars, so convert them before using the CSV for it."
        )
    return "\n".join(lines)
