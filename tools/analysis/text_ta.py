"""Compact plain-text renderings of technical and formula reports, for chat and the agent.

Same conventions as :mod:`tools.market.text`: the notice (simulated or replayed data)
first, then a few lines with numbers formatted as users expect, then the notes. Nothing
here invents a value: missing ones are shown with the reason they are missing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from tools.analysis.formula import MAX_SAVED_FORMULAS, FormulaReport, UserFormula
from tools.analysis.technical import IndicatorReading, TechnicalReport
from tools.market.format import format_money, format_price

__all__ = ["format_number", "formula_text", "saved_formulas_text", "technical_text"]

_INTERVAL_WORDS = {"1h": "hourly", "4h": "4-hour", "1d": "daily", "1w": "weekly"}


def _with_notes(lines: list[str], notes: list[str], notice: str | None) -> str:
    return "\n".join(([notice] if notice else []) + lines + notes)


def _when(moment: datetime, interval: str) -> str:
    if interval in ("1h", "4h"):
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    return f"{moment:%Y-%m-%d}"


def _plain(value: float | None) -> Decimal | None:
    """``value`` as a Decimal when the shared price formatter can show it, else ``None``."""
    if value is None or not math.isfinite(value):
        return None
    if value != 0 and not 1e-12 <= abs(value) < 1e15:
        return None
    return Decimal(repr(value))


def format_number(value: float | None, *, signed: bool = False) -> str:
    """A number with price-like precision (``95,123.45``, ``0.7012``); ``n/a`` if undefined.

    Very large or tiny magnitudes use scientific notation (``1.235e+18``).
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    number = _plain(value)
    text = f"{value:.4g}" if number is None else format_price(number)
    return f"+{text}" if signed and value > 0 else text


def _money(value: float, vs: str) -> str:
    number = _plain(value)
    return format_number(value) + f" {vs.upper()}" if number is None else format_money(number, vs)


def _osc(value: float) -> str:
    return f"{value:.1f}"


def _values(reading: IndicatorReading, vs: str) -> str:
    """The values part of an indicator line."""
    v = reading.values
    name = reading.name
    if name == "RSI":
        return _osc(next(iter(v.values())))
    if name == "MACD":
        return (
            f"{format_number(v['MACD'])}, signal {format_number(v['Signal'])}, "
            f"histogram {format_number(v['Histogram'], signed=True)}"
        )
    if name == "BBANDS":
        text = f"upper {_money(v['Upper'], vs)}, mid {_money(v['Middle'], vs)}, "
        text += f"lower {_money(v['Lower'], vs)}"
        if "%B" in v:
            text += f", %B {v['%B']:.2f}"
        return text
    if name in ("SMA", "EMA"):
        if len(v) == 1:
            return _money(next(iter(v.values())), vs)
        return ", ".join(f"{label.split()[-1]}: {_money(x, vs)}" for label, x in v.items())
    if name == "ATR":
        return f"{_money(v[reading.label], vs)} ({v['ATR %']:.2f}% of price)"
    if name == "STOCH":
        return f"%K {_osc(v['%K'])}, %D {_osc(v['%D'])}"
    return ", ".join(f"{label} {format_number(x)}" for label, x in v.items())


def _indicator_line(reading: IndicatorReading, vs: str) -> str:
    if not reading.available:
        missing = " ".join(reading.unavailable) or "not available."
        return f"- {reading.label}: {missing}"
    line = f"- {reading.label}: {_values(reading, vs)}."
    if reading.reading:
        line += f" {reading.reading}"
    if reading.unavailable:
        line += " " + " ".join(reading.unavailable)
    return line


def technical_text(report: TechnicalReport) -> str:
    """A technical report in a few lines.

    Example::

        BTC (Bitcoin), daily bars, last close $95,123.45 (2025-11-20, forming):
        - RSI 14: 62.3. Neutral (between 30 and 70), above 50.
        - SMA 20/50/200: 20: $93,001.00, 50: $90,120.50. Price is above SMA 20 and
          SMA 50 (uptrend). SMA 200 needs 200 daily bars; only 120 are available.
        Stance: BULLISH. RSI 14 at 62.3 shows positive momentum. Price is above ...
        Source: binance, 470 daily bars.
    """
    vs, iv = report.vs_currency, report.interval
    words = _INTERVAL_WORDS.get(iv, iv)
    forming = ", forming" if report.last_bar_partial else ""
    lines = [
        f"{report.symbol} ({report.coin_name}), {words} bars, last close "
        f"{_money(report.last_close, vs)} ({_when(report.last_bar_time, iv)}{forming}):"
    ]
    lines += [_indicator_line(r, vs) for r in report.indicators]
    lines.append(f"Stance: {report.stance.value.upper()}. " + " ".join(report.reasons))
    lines.append(f"Source: {report.source}, {report.bars_available:,} {words} bars.")
    return _with_notes(lines, report.notes, report.notice)


def formula_text(report: FormulaReport) -> str:
    """A formula report: latest value (or signal state), recent values, warm-up, source.

    Example::

        ETH (Ethereum), daily, RSI(14) > 70 (saved as "hot"):
        Signal is OFF on the last bar (2025-11-20, forming).
        Last 10 values (2025-11-11 to 2025-11-20): 0, 0, 1, 1, 1, 0, 0, 0, 0, 0
        Needs 15 daily bars of history; 276 available. Source: binance.
    """
    iv = report.interval
    words = _INTERVAL_WORDS.get(iv, iv)
    saved = f' (saved as "{report.saved_name}")' if report.saved_name else ""
    forming = ", forming" if report.last_bar_partial else ""
    when = f"{_when(report.last_bar_time, iv)}{forming}"
    lines = [f"{report.symbol} ({report.coin_name}), {words}, {report.expression}{saved}:"]
    if report.bars_available < report.bars_needed:
        lines.append("No value: not enough history (see below).")
    elif report.is_signal:
        state = {True: "ON", False: "OFF", None: "undefined"}[report.signal_on]
        lines.append(f"Signal is {state} on the last bar ({when}).")
    else:
        lines.append(f"Value {format_number(report.latest)} on the last bar ({when}).")
    if report.recent:
        first, last = report.recent[0].time, report.recent[-1].time
        shown = ", ".join(_point(p.value, report.is_signal) for p in report.recent)
        lines.append(
            f"Last {len(report.recent)} values ({_when(first, iv)} to {_when(last, iv)}): {shown}"
        )
    lines.append(
        f"Needs {report.bars_needed:,} {words} bar{'s' if report.bars_needed != 1 else ''} "
        f"of history; {report.bars_available:,} available. Source: {report.source}."
    )
    return _with_notes(lines, report.notes, report.notice)


def _point(value: float | None, signal: bool) -> str:
    if value is None:
        return "n/a"
    if signal:
        return "1" if value else "0"
    return format_number(value)


def saved_formulas_text(formulas: Sequence[UserFormula]) -> str:
    """The user's saved formulas, one per line (``momentum: RSI(14) - RSI(28)``)."""
    if not formulas:
        return "You have no saved formulas yet."
    lines = [f"Your saved formulas ({len(formulas)} of {MAX_SAVED_FORMULAS}):"]
    lines += [f"{f.name}: {f.formula}" for f in formulas]
    return "\n".join(lines)
