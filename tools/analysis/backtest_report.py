"""Backtest results: the report, its trades, and the trades as CSV.

Returns are fractions (``0.12`` is 12 %), prices and cash in the quote currency, times
aware UTC datetimes; the per-bar arrays (``ts``, ``equity``, ``drawdown``,
``benchmark_equity``) are kept for charts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tools.analysis.backtest_engine import TradeArrays
from tools.analysis.backtest_metrics import Metrics
from tools.analysis.backtest_strategies import Params
from tools.analysis.bars import FloatArray, IntArray
from tools.market.types import DataOrigin


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip (or one DCA buy, which stays open).

    Attributes:
        entry_time, exit_time: Open times (UTC) of the fill bars; an open trade's exit
            time is the last bar's.
        entry_price, exit_price: Fill prices with slippage; an open trade's exit price
            is the last close.
        size: Units bought.
        pnl: Profit in cash, fees included.
        ret: ``pnl`` over the cash committed at entry (fee included).
        bars_held: Bars in the market.
        fees: Fees paid.
        is_open: Still open at the end (valued at the last close, no exit fee).
    """

    entry_time: datetime
    exit_time: datetime
    entry_price: float
    exit_price: float
    size: float
    pnl: float
    ret: float
    bars_held: int
    fees: float
    is_open: bool


class Trades:
    """The trades of a report: numpy arrays underneath, :class:`Trade` items on access."""

    __slots__ = ("arrays", "_ts")

    def __init__(self, arrays: TradeArrays, ts: IntArray) -> None:
        self.arrays = arrays
        self._ts = ts

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> Trade:
        a = self.arrays
        i = range(len(a))[index]
        cost = float(a.cost[i])
        return Trade(
            entry_time=_time(self._ts, int(a.entry_bar[i])),
            exit_time=_time(self._ts, int(a.exit_bar[i])),
            entry_price=float(a.entry_price[i]),
            exit_price=float(a.exit_price[i]),
            size=float(a.size[i]),
            pnl=float(a.pnl[i]),
            ret=float(a.pnl[i]) / cost if cost else 0.0,
            bars_held=int(a.bars_held[i]),
            fees=float(a.fees[i]),
            is_open=bool(a.is_open[i]),
        )

    def __iter__(self) -> Iterator[Trade]:
        return (self[i] for i in range(len(self)))


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """The result of one backtest.

    Attributes:
        symbol: Upper-case ticker.
        strategy: Canonical strategy name; ``title`` its display name.
        params: Every parameter used, defaults and derived values included.
        interval: Bar length label; ``bar_seconds`` the same in seconds.
        start, end: Open times (UTC) of the first and last bar of the period.
        n_bars: Bars in the period.
        initial_capital: Cash at the start.
        fee_pct, slippage_pct, risk_free_pct: Costs and the Sharpe risk-free rate, in percent.
        metrics: The strategy's performance.
        benchmark: Buy and hold over the same bars with the same costs.
        trades: The strategy's trades.
        ts: Bar open times (UTC epoch seconds) of the period.
        equity, drawdown: The strategy's equity at each close and its drawdown.
        benchmark_equity: Buy and hold's equity at each close.
        source, origin: Where the prices came from; ``notice`` says so in a sentence
            when they are not live market data.
        vs_currency: Quote currency.
        notes: Other things the reader should know (ambiguous ticker, warm-up...).
    """

    symbol: str
    strategy: str
    title: str
    params: Params
    interval: str
    bar_seconds: int
    start: datetime
    end: datetime
    n_bars: int
    initial_capital: float
    fee_pct: float
    slippage_pct: float
    risk_free_pct: float
    metrics: Metrics
    benchmark: Metrics
    trades: Trades
    ts: IntArray
    equity: FloatArray
    drawdown: FloatArray
    benchmark_equity: FloatArray
    source: str
    origin: DataOrigin
    vs_currency: str = "usd"
    notice: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def excess_return(self) -> float:
        """Total return minus buy and hold's."""
        return self.metrics.total_return - self.benchmark.total_return


def trades_csv(report: BacktestReport) -> str:
    """The report's trades as CSV text (times in ISO 8601 UTC, returns as fractions)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl",
                     "return", "bars_held", "fees", "open"])  # fmt: skip
    for t in report.trades:
        writer.writerow([
            t.entry_time.isoformat(), t.exit_time.isoformat(), repr(t.entry_price),
            repr(t.exit_price), repr(t.size), f"{t.pnl:.10g}", f"{t.ret:.10g}", t.bars_held,
            f"{t.fees:.10g}", "yes" if t.is_open else "no",
        ])  # fmt: skip
    return out.getvalue()


def _time(ts: IntArray, index: int) -> datetime:
    return datetime.fromtimestamp(int(ts[index]), UTC)
