"""The equity-and-drawdown chart of a backtest, as an attachment."""

from __future__ import annotations

import asyncio

from tools.analysis.backtest_report import BacktestReport
from tools.analysis.charts import equity_chart
from tools.attachments import Attachment


async def backtest_chart(report: BacktestReport) -> Attachment:
    """Render the strategy's equity (with buy and hold) over its drawdown, off the event loop."""
    png = await asyncio.to_thread(
        equity_chart,
        report.ts,
        report.equity,
        report.drawdown,
        report.benchmark_equity,
        title=f"{report.symbol}: {report.title}",
        currency=report.vs_currency.upper(),
        source=report.source,
        origin=report.origin,
        equity_label=report.title,
        benchmark_label="Buy and hold",
    )
    name = f"{report.symbol.lower()}-{report.strategy}-backtest.png"
    caption = f"{report.symbol} {report.title}: equity and drawdown"
    return Attachment(name, "image/png", png, caption)
