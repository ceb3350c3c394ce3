"""Compact plain-text renderings of history reports, for chat answers and the agent.

Same conventions as :mod:`tools.market.text`: the notice (simulated or replayed data)
first, then a few lines of numbers formatted as users expect, then the notes.
"""

from __future__ import annotations

from datetime import date, datetime

from tools.analysis.history import HistoryReport, PointReport
from tools.market.format import format_money, format_pct

_INTERVAL_WORDS = {"1h": "hourly", "4h": "4-hour", "1d": "daily", "1w": "weekly"}


def _with_notes(lines: list[str], notes: list[str], notice: str | None) -> str:
    return "\n".join(([notice] if notice else []) + lines + notes)


def _when(moment: datetime, interval: str) -> str:
    if interval in ("1h", "4h"):
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    return f"{moment:%Y-%m-%d}"


def history_text(report: HistoryReport) -> str:
    """A four-line summary of a :class:`HistoryReport`.

    Example::

        BTC (Bitcoin), last 30 days, 31 daily bars, in USD:
        $91,200.00 on 2025-10-21 -> $95,123.45 on 2025-11-20 (+4.30%)
        High $98,765.43 on 2025-11-02; low $88,001.20 on 2025-10-25
        Volatility 41.2% a year (daily log returns). Source: offline.
    """
    vs, iv = report.vs_currency, report.interval
    words = _INTERVAL_WORDS.get(iv, iv)
    bars = f"{report.bars} {words} bar" + ("" if report.bars == 1 else "s")
    vol = (
        "Volatility n/a (too few bars)"
        if report.volatility_pct is None
        else f"Volatility {report.volatility_pct:.1f}% a year ({words} log returns)"
    )
    lines = [
        f"{report.coin.symbol} ({report.coin.name}), last {report.days} "
        f"day{'' if report.days == 1 else 's'}, {bars}, in {vs.upper()}:",
        f"{format_money(report.first_close, vs)} on {_when(report.first_time, iv)} -> "
        f"{format_money(report.last_close, vs)} on {_when(report.last_time, iv)} "
        f"({format_pct(report.return_pct)})",
        f"High {format_money(report.high, vs)} on {_when(report.high_time, iv)}; "
        f"low {format_money(report.low, vs)} on {_when(report.low_time, iv)}",
        f"{vol}. Source: {report.source}.",
    ]
    return _with_notes(lines, report.notes, report.notice)


def point_text(report: PointReport) -> str:
    """The close of the bar covering the requested moment, with the bar's range.

    Example::

        BTC (Bitcoin) on 2025-11-01: $96,000.00 (daily close)
        Bar 2025-11-01 00:00 to 2025-11-02 00:00 UTC: open $95,100.00, high $96,900.00,
        low $94,800.00. Source: offline.
    """
    vs = report.vs_currency
    requested = report.requested
    if isinstance(requested, datetime):
        asked = f"{requested:%Y-%m-%d %H:%M} UTC"
    elif isinstance(requested, date):
        asked = f"{requested:%Y-%m-%d}"
    else:  # pragma: no cover - the service only builds dates and datetimes
        asked = str(requested)
    kind = (
        "latest price, bar in progress"
        if report.in_progress
        else (f"{_INTERVAL_WORDS.get(report.interval, report.interval)} close")
    )
    lines = [
        f"{report.coin.symbol} ({report.coin.name}) on {asked}: "
        f"{format_money(report.close, vs)} ({kind})",
        f"Bar {report.bar_start:%Y-%m-%d %H:%M} to {report.bar_end:%Y-%m-%d %H:%M} UTC: "
        f"open {format_money(report.open, vs)}, high {format_money(report.high, vs)}, "
        f"low {format_money(report.low, vs)}. Source: {report.source}.",
    ]
    return _with_notes(lines, report.notes, report.notice)
