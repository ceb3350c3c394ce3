"""``cryptoguard backtest``: run a strategy on market history or on a CSV of prices."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.app import App


def report_json(report: Any) -> str:
    """The machine-readable summary of a backtest report."""
    return json.dumps(
        {
            "symbol": report.symbol,
            "strategy": report.strategy,
            "params": dict(report.params),
            "interval": report.interval,
            "start": report.start,
            "bars": report.n_bars,
            "initial_capital": report.initial_capital,
            "metrics": asdict(report.metrics),
            "benchmark": asdict(report.benchmark),
            "notice": report.notice,
            "notes": list(report.notes),
        },
        default=str,
        indent=2,
    )


async def run_backtest_command(
    app: App,
    symbol: str,
    strategy: str,
    *,
    period: str,
    interval: str,
    capital: float,
    fee: float,
    slippage: float,
    csv: Path | None,
    as_json: bool,
    trades_out: Path | None,
) -> str:
    """Run the backtest and return what to print (writing the trades CSV if asked)."""
    from tools.analysis.backtest import bars_from_csv, trades_csv
    from tools.analysis.text_backtest import backtest_text

    if csv is not None:
        bars = bars_from_csv(csv, symbol.upper())
        report = app.backtests.run_on_bars(
            bars, strategy, initial_capital=capital, fee_pct=fee, slippage_pct=slippage
        )
    else:
        report = await app.backtests.run(
            symbol, strategy, period, None, capital, interval, fee, slippage
        )
    if trades_out is not None:
        await asyncio.to_thread(trades_out.write_text, trades_csv(report), encoding="utf-8")
    text = report_json(report) if as_json else backtest_text(report)
    if trades_out is not None and not as_json:
        text += f"\nTrades written to {trades_out}"
    return text
