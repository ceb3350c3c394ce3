"""Compact plain-text rendering of a backtest, for chat answers and the agent.

Same conventions as :mod:`tools.market.text`: the notice (simulated or replayed data)
first, then a few lines of numbers against buy and hold, then the notes.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

from tools.analysis.backtest import BacktestReport
from tools.analysis.backtest_metrics import Metrics
from tools.market.format import format_money

_INTERVAL_WORDS = {"1h": "hourly", "4h": "4-hour", "1d": "daily", "1w": "weekly"}
#: CAGR is left out for periods shorter than this (annualising a week says little).
MIN_CAGR_SECONDS = 90 * 86400
DISCLAIMER = "Hypothetical results on past prices; not a forecast or advice."


def backtest_text(report: BacktestReport) -> str:
    """A summary of ``report`` in about eight lines.

    Example::

        Backtest on SIMULATED prices (offline market), not real market history.
        BTC, RSI mean reversion (period 14, buy_below 30, sell_above 70)
        365 daily bars, 2024-11-21 to 2025-11-20, starting with $10,000.00
        Return +12.34% ($11,234.00) vs buy and hold +25.10% ($12,510.00)
        CAGR +12.34% (B&H +25.10%); Sharpe 0.85 (B&H 1.10); Sortino 1.21; volatility 35.2%
        Max drawdown -18.20% (B&H -30.05%): peak 2025-03-01, trough 2025-04-07, recovered 2025-06-10
        14 trades: 57.1% won, profit factor 1.45, average +0.85%, best +9.10%, worst -5.20%
        In the market 38.0% of the time; 1 trade still open (+3.20%).
        Fee 0.10% and slippage 0.05% per fill; annualised over 365 days a year. Source: offline.
        Hypothetical results on past prices; not a forecast or advice.
    """
    m, b, vs = report.metrics, report.benchmark, report.vs_currency
    interval = report.interval
    words = _INTERVAL_WORDS.get(interval, f"{interval}")
    params = ", ".join(f"{k} {_param(v, vs) if k == 'amount' else _plain(v)}"
                       for k, v in report.params.items())  # fmt: skip
    lines = [
        f"{report.symbol}, {report.title}" + (f" ({params})" if params else ""),
        f"{report.n_bars} {words} bars, {_when(report.start, interval)} to "
        f"{_when(report.end, interval)}, starting with {_money(report.initial_capital, vs)}",
        f"Return {_pct(m.total_return)} ({_money(m.final_equity, vs)}) vs buy and hold "
        f"{_pct(b.total_return)} ({_money(b.final_equity, vs)})",
        _risk_line(m, b, show_cagr=report.n_bars * report.bar_seconds >= MIN_CAGR_SECONDS),
        f"Max drawdown {_pct(m.max_drawdown)} (B&H {_pct(b.max_drawdown)})"
        + _dd_dates(m, interval),
    ]
    if report.strategy == "dca":
        lines.append(_dca_line(report))
    elif report.strategy != "buy_and_hold":
        lines += _trade_lines(report)
    lines.append(
        f"Fee {report.fee_pct:.2f}% and slippage {report.slippage_pct:.2f}% per fill; "
        f"annualised over 365 days a year. Source: {report.source}."
    )
    lines.append(DISCLAIMER)
    return "\n".join(([report.notice] if report.notice else []) + lines + report.notes)


def _risk_line(m: Metrics, b: Metrics, *, show_cagr: bool) -> str:
    parts = []
    if show_cagr and m.cagr is not None:
        parts.append(f"CAGR {_pct(m.cagr)} (B&H {_pct(b.cagr)})")
    parts.append(f"Sharpe {_ratio(m.sharpe)} (B&H {_ratio(b.sharpe)})")
    parts.append(f"Sortino {_ratio(m.sortino)}")
    if m.volatility is not None:
        parts.append(f"volatility {m.volatility * 100:.1f}% a year")
    return "; ".join(parts)


def _dd_dates(m: Metrics, interval: str) -> str:
    if m.drawdown_peak is None or m.drawdown_trough is None:
        return ""
    text = f": peak {_when(m.drawdown_peak, interval)}, trough {_when(m.drawdown_trough, interval)}"
    if m.drawdown_recovery is not None:
        return text + f", recovered {_when(m.drawdown_recovery, interval)}"
    return text + ", not recovered"


def _trade_lines(report: BacktestReport) -> list[str]:
    m = report.metrics
    if len(report.trades) == 0:
        return ["No trades: the buy signal never fired in this period."]
    if m.n_trades == 0:
        first = "No closed trades."
    else:
        first = (
            f"{m.n_trades} closed trade{'' if m.n_trades == 1 else 's'}: "
            f"{(m.win_rate or 0) * 100:.1f}% won, profit factor {_ratio(m.profit_factor)}, "
            f"average {_pct(m.avg_trade_return)}, best {_pct(m.best_trade)}, "
            f"worst {_pct(m.worst_trade)}"
        )
    second = f"In the market {m.exposure * 100:.1f}% of the time"
    if m.open_trades:
        last = report.trades[-1]
        second += f"; 1 trade still open ({_pct(last.ret)} so far)"
    return [first, second + "."]


def _dca_line(report: BacktestReport) -> str:
    a = report.trades.arrays
    units = float(a.size.sum())
    spent = float(a.cost.sum())
    if units <= 0:
        return "No buys."
    frequency = str(report.params.get("frequency", ""))
    return (
        f"{len(a)} {frequency} buys, {_money(spent, report.vs_currency)} invested at an average "
        f"cost of {_money(spent / units, report.vs_currency)} (fees included); "
        f"{_money(max(round(report.initial_capital - spent, 2), 0.0), report.vs_currency)} "
        "left in cash."
    )


def _when(moment: datetime, interval: str) -> str:
    if interval.endswith(("d", "w")):
        return f"{moment:%Y-%m-%d}"
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _money(value: float, vs: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    return format_money(Decimal(repr(value)), vs)


def _pct(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value * 100:.2f}"
    if text in ("0.00", "-0.00"):
        return "0.00%"
    return f"+{text}%" if value > 0 else f"{text}%"


def _ratio(value: float | None) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf (no losing trade)"
    return f"{value:.2f}"


def _plain(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _param(value: object, vs: str) -> str:
    return _money(float(value), vs) if isinstance(value, int | float) else str(value)
