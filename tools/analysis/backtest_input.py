"""Backtest inputs: periods (``"90d"``, ``"6m"``, ``"1y"``), bar lengths and CSV bars."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tools.analysis.bars import Bars
from tools.errors import UserInputError
from tools.market.series import load_price_series
from tools.market.types import DataOrigin

#: The longest backtest period, in days (10 years).
MAX_DAYS = 3650
_UNIT_DAYS = {"d": 1, "w": 7, "m": 365 / 12, "y": 365}
_UNITS = {
    "d": "d", "day": "d", "days": "d",
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "m": "m", "mo": "m", "mos": "m", "mon": "m", "month": "m", "months": "m",
    "y": "y", "yr": "y", "yrs": "y", "year": "y", "years": "y",
}  # fmt: skip
_PERIOD = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)$")
_LABEL = re.compile(r"^(\d+)\s*([smhdw])$")
_LABEL_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_period(period: str | int) -> int:
    """Days in a period such as ``"90d"``, ``"6m"``, ``"1y"``, ``"2 weeks"`` or ``30``.

    Months are 365/12 days (rounded), years 365 days.

    Raises:
        UserInputError: Not a period, or longer than 10 years or shorter than a day.
    """
    if isinstance(period, bool):
        raise UserInputError(_period_help(str(period)))
    if isinstance(period, int):
        days = period
    else:
        text = str(period).strip().lower()
        match = _PERIOD.match(text)
        unit = _UNITS.get(match.group(2)) if match else None
        if text.isdigit():
            days = int(text)
        elif match is None or unit is None:
            raise UserInputError(_period_help(str(period)))
        else:
            days = round(float(match.group(1)) * _UNIT_DAYS[unit])
    if days < 1:
        raise UserInputError(f"A backtest period is at least 1 day; you asked for {period}.")
    if days > MAX_DAYS:
        raise UserInputError(
            f"A backtest period is at most 10 years ({MAX_DAYS} days); you asked for {period}."
        )
    return days


def bar_seconds(bars: Bars) -> int:
    """Bar length in seconds, from the interval label or the typical spacing of the bars."""
    match = _LABEL.match(bars.interval.strip().lower())
    if match:
        return int(match.group(1)) * _LABEL_SECONDS[match.group(2)]
    if len(bars) >= 2:
        return max(int(np.median(np.diff(bars.ts))), 1)
    return 86400


def interval_label(seconds: int) -> str:
    """``86400 -> "1d"``, ``14400 -> "4h"``, ``60 -> "1m"``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def bars_from_csv(path: str | Path, symbol: str) -> Bars:
    """Read bars from a CSV file (see :func:`tools.market.series.load_price_series`).

    A file with open/high/low/close columns gives OHLCV bars; a file with only a time
    and a price gives bars whose open, high, low and close are all that price. The bar
    length is the typical spacing of the rows. The bars are labelled as replayed from
    the file.

    Raises:
        UserInputError: The file cannot be read, or has fewer than 2 usable rows.
    """
    series = load_price_series(path)
    if series.candles:
        c = series.candles
        ts = np.fromiter((int(x.ts.timestamp()) for x in c), np.int64, len(c))
        o = np.fromiter((x.open for x in c), np.float64, len(c))
        h = np.fromiter((x.high for x in c), np.float64, len(c))
        lo = np.fromiter((x.low for x in c), np.float64, len(c))
        cl = np.fromiter((x.close for x in c), np.float64, len(c))
        vol = np.fromiter((x.volume for x in c), np.float64, len(c))
    else:
        pts = series.points
        ts = np.fromiter((int(t.timestamp()) for t, _ in pts), np.int64, len(pts))
        cl = np.fromiter((float(p) for _, p in pts), np.float64, len(pts))
        o, h, lo, vol = cl, cl, cl, np.zeros(len(pts))
    if ts.shape[0] < 2:
        raise UserInputError(f"{series.path.name} has fewer than 2 usable price rows.")
    spacing = max(int(np.median(np.diff(ts))), 1)
    return Bars(
        symbol=str(symbol).strip().upper() or series.name.upper(),
        interval=interval_label(spacing),
        ts=ts, open=o, high=h, low=lo, close=cl, volume=vol,
        source=f"file {series.path.name}",
        origin=DataOrigin.REPLAYED,
    )  # fmt: skip


def _period_help(shown: str) -> str:
    return (
        f'"{shown[:20]}" is not a period. Use days, weeks, months or years, '
        'for example 90d, 12w, 6m, 1y or "30 days".'
    )
