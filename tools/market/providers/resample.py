"""Resampling of price points into OHLCV bars (used for CoinGecko ``market_chart``).

Bars are aligned to UTC boundaries: hours, 4-hour blocks and days from the Unix epoch,
weeks from Monday 00:00 UTC (as Binance aligns its weekly klines). A bar exists only where
at least one price point falls; open/close are its first/last point, high/low the extremes.

Volume comes from a rolling 24 h series in the quote currency (CoinGecko's
``total_volumes``), so it is an estimate: a day takes the day's last 24 h value, a shorter
bar that value times ``bar length / 24 h``, a week the sum of its days. The result is
divided by the closing price so that ``Candle.volume`` is in base-asset units, like
Binance's kline volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tools.market.types import Candle

DAY_SECONDS = 86400
#: 1970-01-05 (a Monday) in Unix seconds: weekly bars start on Mondays at 00:00 UTC.
_MONDAY_OFFSET = 4 * DAY_SECONDS


def bar_start(ts: int, bar_seconds: int) -> int:
    """Start (Unix seconds) of the UTC-aligned bar containing ``ts``; weeks start Monday."""
    if bar_seconds % (7 * DAY_SECONDS) == 0:
        return (ts - _MONDAY_OFFSET) // bar_seconds * bar_seconds + _MONDAY_OFFSET
    return ts // bar_seconds * bar_seconds


def resample_market_chart(
    prices: Sequence[tuple[int, float]],
    volumes: Sequence[tuple[int, float]],
    bar_seconds: int,
) -> list[Candle]:
    """Build OHLCV bars from CoinGecko price points and rolling 24 h volumes.

    Args:
        prices: ``(unix seconds, price)`` sorted by time.
        volumes: ``(unix seconds, rolling 24 h volume in the quote currency)``.
        bar_seconds: Bar length (3600, 14400, 86400 or 604800).

    Returns:
        One candle per bar that holds at least one price point, oldest first. Open and
        close are the first and last points in the bar, high and low their extremes;
        volume is in base-asset units (see the module docstring).
    """
    bars: dict[int, list[float]] = {}
    for ts, price in prices:
        bars.setdefault(bar_start(ts, bar_seconds), []).append(price)

    # Last rolling-24h volume and last price per bar and per UTC day.
    last_vol_bar: dict[int, float] = {}
    last_vol_day: dict[int, float] = {}
    for ts, volume in volumes:
        last_vol_bar[bar_start(ts, bar_seconds)] = volume
        last_vol_day[ts // DAY_SECONDS * DAY_SECONDS] = volume
    last_price_day: dict[int, float] = {}
    for ts, price in prices:
        last_price_day[ts // DAY_SECONDS * DAY_SECONDS] = price

    candles: list[Candle] = []
    for start in sorted(bars):
        points = bars[start]
        close = points[-1]
        if bar_seconds > DAY_SECONDS:
            volume = sum(
                vol / last_price_day.get(day, close)
                for day, vol in last_vol_day.items()
                if start <= day < start + bar_seconds
            )
        else:
            quote_volume = last_vol_bar.get(start, 0.0) * bar_seconds / DAY_SECONDS
            volume = quote_volume / close
        candles.append(
            Candle(
                ts=datetime.fromtimestamp(start, UTC),
                open=points[0],
                high=max(points),
                low=min(points),
                close=close,
                volume=volume,
            )
        )
    return candles
