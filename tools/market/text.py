"""Compact plain-text renderings of market reports, for chat answers and the agent.

One line per coin, every number formatted as users expect, and the report's notes and
notices kept, so whoever reads it (a person or a model) sees the provenance too.
"""

from __future__ import annotations

from tools.market.format import format_compact, format_money, format_pct, format_price
from tools.market.service import PriceReport, StablecoinReport, TopReport
from tools.market.stablecoins import PegSeverity


def _with_notes(lines: list[str], notes: list[str], notice: str | None) -> str:
    out = ([notice] if notice else []) + lines + notes
    return "\n".join(out)


def prices_text(report: PriceReport) -> str:
    """``BTC (Bitcoin): $95,123.45, 24h +1.23%, mcap 1.89T, vol 45.6B`` per coin."""
    lines = [
        f"{q.coin.symbol} ({q.coin.name}): {format_money(q.price, report.vs_currency)}, "
        f"24h {format_pct(q.change_24h_pct)}, mcap {format_compact(q.market_cap)}, "
        f"vol {format_compact(q.volume_24h)}"
        for q in report.quotes
    ]
    return _with_notes(lines or ["No prices available."], report.notes, report.notice)


def top_text(report: TopReport) -> str:
    """A numbered top list plus gainers and losers."""
    vs = report.vs_currency
    lines = [
        f"{i}. {q.coin.symbol} {format_money(q.price, vs)} {format_pct(q.change_24h_pct)} "
        f"(mcap {format_compact(q.market_cap)})"
        for i, q in enumerate(report.quotes, start=1)
    ]
    if report.gainers:
        movers = ", ".join(
            f"{q.coin.symbol} {format_pct(q.change_24h_pct)}" for q in report.gainers
        )
        lines.append(f"Top gainers: {movers}")
    if report.losers:
        movers = ", ".join(f"{q.coin.symbol} {format_pct(q.change_24h_pct)}" for q in report.losers)
        lines.append(f"Top losers: {movers}")
    return _with_notes(lines, report.notes, report.notice)


def stablecoins_text(report: StablecoinReport) -> str:
    """One line per stablecoin: price in its peg currency, deviation, severity, supply."""
    lines = []
    for r in report.rows:
        peg = r.coin.peg_currency or "variable peg"
        if r.price_in_peg is None:
            lines.append(f"{r.coin.symbol}: no reliable price ({peg}).")
            continue
        status = "on peg" if r.severity is PegSeverity.OK else f"{r.severity.value.upper()} depeg"
        if r.disputed:
            status += ", sources disagree"
        risk = report.risk.get(r.coin.symbol)
        lines.append(
            f"{r.coin.symbol}: {format_price(r.price_in_peg, stable=True)} {peg} "
            f"({format_pct(r.deviation_pct)} from peg, {status}); supply "
            f"{format_compact(r.coin.circulating)}, 7d {format_pct(r.supply_change_7d_pct)}"
            + (f"; depeg {risk.summary()}" if risk is not None else "")
        )
    lines.append(f"({len(report.rows)} shown of {report.tracked} tracked stablecoins)")
    return _with_notes(lines, report.notes, report.notice)
