"""A stablecoin's recent prices against its own peg and the severity bands."""

from __future__ import annotations

import asyncio

import numpy as np

from tools.analysis.bars import Bars
from tools.analysis.charts import stablecoin_chart
from tools.attachments import Attachment
from tools.market.service import PriceService


async def peg_chart(
    prices: PriceService, symbol: str, *, days: int = 30, interval: str = "1h"
) -> Attachment:
    """Chart ``symbol`` (a tracked stablecoin) over ``days`` against its peg.

    Raises:
        UserInputError: Not a tracked stablecoin, or bad days/interval.
    """
    [health] = (await prices.get_stablecoin_status([symbol])).rows
    peg_currency = health.coin.peg_currency or "USD"
    peg_usd = float(health.peg_usd) if health.peg_usd else 1.0
    _, history = await prices.get_history(symbol, days=days, interval=interval)
    bars = Bars.from_history(history)
    thresholds = prices.thresholds
    png = await asyncio.to_thread(
        stablecoin_chart,
        bars.ts,
        np.asarray(bars.close) / peg_usd,
        1.0,
        (thresholds.warn_pct, thresholds.high_pct, thresholds.critical_pct),
        title=f"{health.coin.symbol}/{peg_currency}",
        source=history.source,
        origin=history.origin,
        currency=peg_currency,
    )
    name = f"{health.coin.symbol.lower()}-peg-{days}d.png"
    caption = f"{health.coin.symbol} against its {peg_currency} peg, last {days} days"
    return Attachment(name, "image/png", png, caption)
