"""Plain-text rendering of market reports for the console and the CLI.

Aligned columns, explicit signs on changes, and ANSI colours (green up, red down,
severity colours) only when writing to a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tools.market.format import format_compact, format_money, format_pct, format_price
from tools.market.peg_risk import RiskScore
from tools.market.service import PriceReport, StablecoinReport, TopReport
from tools.market.stablecoins import PegSeverity
from tools.market.types import Quote

_GREEN, _RED, _YELLOW, _MAGENTA, _BOLD, _DIM, _RESET = (
    "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[35m", "\x1b[1m", "\x1b[2m", "\x1b[0m",
)  # fmt: skip
_SEVERITY_COLOUR = {
    PegSeverity.OK: _GREEN,
    PegSeverity.WARNING: _YELLOW,
    PegSeverity.HIGH: _RED,
    PegSeverity.CRITICAL: _MAGENTA + _BOLD,
    PegSeverity.UNKNOWN: _DIM,
}
_RISK_COLOUR = {"low": _GREEN, "moderate": _YELLOW, "high": _RED, "severe": _MAGENTA + _BOLD}
Cell = tuple[str, str]  # (text, ansi colour or "")


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: set[int], color: bool
) -> str:
    """Render rows as aligned columns; columns in ``right`` are right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, (text, _) in enumerate(row):
            widths[i] = max(widths[i], len(text))

    def line(cells: Sequence[Cell]) -> str:
        parts = []
        for i, (text, colour) in enumerate(cells):
            padded = text.rjust(widths[i]) if i in right else text.ljust(widths[i])
            parts.append(f"{colour}{padded}{_RESET}" if color and colour else padded)
        return "  ".join(parts).rstrip()

    head = line([(h, _BOLD) for h in headers])
    return "\n".join([head, *(line(r) for r in rows)])


def _change_cell(value: Decimal | None) -> Cell:
    if value is None:
        return ("n/a", _DIM)
    colour = _GREEN if value > 0 else _RED if value < 0 else ""
    return (format_pct(value), colour)


def _footer(notes: Sequence[str], notice: str | None, color: bool) -> list[str]:
    lines = [f"note: {n}" for n in notes]
    if notice:
        lines.insert(0, f"{_YELLOW}{notice}{_RESET}" if color else notice)
    return lines


def render_prices(report: PriceReport, *, color: bool = False) -> str:
    """Render quotes as a table with notes and any simulated-data notice."""
    vs = report.vs_currency
    rows: list[list[Cell]] = []
    for q in report.quotes:
        rows.append(
            [
                (q.coin.symbol, _BOLD),
                (q.coin.name, ""),
                (format_money(q.price, vs), ""),
                _change_cell(q.change_24h_pct),
                (format_compact(q.market_cap), ""),
                (format_compact(q.volume_24h), ""),
            ]
        )
    headers = ["COIN", "NAME", f"PRICE ({vs.upper()})", "24H", "MKT CAP", "VOL 24H"]
    body = table(headers, rows, {2, 3, 4, 5}, color) if rows else "No prices to show."
    return "\n".join(
        [*_footer([], report.notice, color), body, *_footer(report.notes, None, color)]
    )


def _mover(q: Quote) -> str:
    return f"{q.coin.symbol} {format_pct(q.change_24h_pct)}"


def render_top(report: TopReport, *, color: bool = False) -> str:
    """Render the top list with gainers and losers."""
    vs = report.vs_currency
    rows: list[list[Cell]] = []
    for i, q in enumerate(report.quotes, start=1):
        rows.append(
            [
                (str(q.coin.market_cap_rank or i), _DIM),
                (q.coin.symbol, _BOLD),
                (q.coin.name, ""),
                (format_money(q.price, vs), ""),
                _change_cell(q.change_24h_pct),
                (format_compact(q.market_cap), ""),
            ]
        )
    headers = ["#", "COIN", "NAME", f"PRICE ({vs.upper()})", "24H", "MKT CAP"]
    lines = [*_footer([], report.notice, color), table(headers, rows, {0, 3, 4, 5}, color)]
    if report.gainers:
        lines.append("Top gainers: " + ", ".join(_mover(q) for q in report.gainers))
    if report.losers:
        lines.append("Top losers:  " + ", ".join(_mover(q) for q in report.losers))
    return "\n".join([*lines, *_footer(report.notes, None, color)])


def render_stablecoins(report: StablecoinReport, *, color: bool = False) -> str:
    """Render stablecoin peg health."""
    rows: list[list[Cell]] = []
    for r in report.rows:
        peg = r.coin.peg_currency or "VAR"
        price = format_price(r.price_in_peg, stable=True) if r.price_in_peg is not None else "n/a"
        status = r.severity.value.upper() if r.severity is not PegSeverity.OK else "ok"
        if r.disputed:
            status += " (disputed)"
        rows.append(
            [
                (r.coin.symbol, _BOLD),
                (peg, ""),
                (price, ""),
                _change_cell(r.deviation_pct) if r.deviation_pct is not None else ("n/a", _DIM),
                (status, _SEVERITY_COLOUR[r.severity]),
                (format_compact(r.coin.circulating), ""),
                _change_cell(r.supply_change_7d_pct),
                (r.coin.peg_mechanism, _DIM),
                _risk_cell(report.risk.get(r.coin.symbol)),
            ]
        )
    headers = [
        "COIN", "PEG", "PRICE", "DEVIATION", "STATUS", "SUPPLY", "SUPPLY 7D", "MECHANISM", "RISK",
    ]  # fmt: skip
    body = table(headers, rows, {2, 3, 5, 6, 8}, color) if rows else "No stablecoins to show."
    explained = [
        f"{r.coin.symbol} depeg {risk.summary()}"
        for r in report.rows
        if (risk := report.risk.get(r.coin.symbol)) is not None and risk.score >= RISK_EXPLAIN_FROM
    ]
    summary = f"{len(report.rows)} shown of {report.tracked} tracked stablecoins."
    return "\n".join(
        [
            *_footer([], report.notice, color),
            body,
            *explained,
            summary,
            *_footer(report.notes, None, color),
        ]
    )


#: Risk scores from this level are explained (the factors behind them) under the table.
RISK_EXPLAIN_FROM = 20


def _risk_cell(risk: RiskScore | None) -> Cell:
    if risk is None:
        return ("n/a", _DIM)
    colour = _RISK_COLOUR.get(risk.level, "")
    return (f"{risk.score}/100", colour)
