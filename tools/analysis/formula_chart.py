"""The chart of a custom formula's recent values, as an attachment."""

from __future__ import annotations

import asyncio

import numpy as np

from tools.analysis.charts import series_chart
from tools.analysis.formula import FormulaReport
from tools.attachments import Attachment


async def formula_chart(report: FormulaReport) -> Attachment | None:
    """Render the formula's values (steps for 0/1 signals); ``None`` with nothing to draw."""
    if len(report.values) < 2:
        return None
    png = await asyncio.to_thread(
        series_chart,
        np.asarray(report.ts, dtype=np.int64),
        report.values,
        f"{report.symbol}: {report.expression}",
        report.is_signal,
        source=report.source,
        origin=report.origin,
        label=report.saved_name or report.expression,
    )
    name = f"{report.symbol.lower()}-formula-{report.interval}.png"
    return Attachment(
        name, "image/png", png, f"{report.symbol} {report.expression} ({report.interval})"
    )
