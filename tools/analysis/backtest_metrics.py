"""Performance metrics of an equity curve and its trades.

Definitions (returns are fractions: ``0.12`` is 12 %):

* **Bar returns** ``r`` are simple returns of the equity at each close, the first one
  measured from the initial capital.
* **Annualisation** uses the bar length: crypto trades around the clock, 365 days a
  year, so ``periods_per_year = 365 * 86400 / bar_seconds`` (8,760 for hourly bars,
  365 for daily bars). Stock-market tools use 252 trading days; do not compare their
  ratios with these directly.
* **CAGR** ``(final / initial) ** (1 / years) - 1`` with ``years = bars * bar_seconds /
  (365 * 86400)``.
* **Volatility** ``std(r, ddof=1) * sqrt(periods_per_year)``.
* **Sharpe** ``(mean(r) - rf_bar) / std(r, ddof=1) * sqrt(periods_per_year)``, where
  ``rf_bar = (1 + risk_free) ** (1 / periods_per_year) - 1`` (arithmetic mean of simple
  returns, the usual definition).
* **Sortino** the same with the downside deviation ``sqrt(mean(min(r - rf_bar, 0)²))``
  in place of the standard deviation.
* **Drawdown** ``equity / running_peak - 1`` at each close (zero or negative). The
  maximum drawdown comes with the bar of its peak, its trough and the first bar that
  regained the peak (``None`` when it never did).
* **Trade statistics** (win rate, profit factor, average, best and worst trade) cover
  **closed** trades. A trade's return is its pnl over the cash it committed, fees
  included. Profit factor is gross profit over gross loss in cash (``inf`` without a
  losing trade). A position still open at the end counts in the equity, not here.
* **Exposure** the share of bars whose close found a position in the market.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from tools.analysis.backtest_engine import YEAR_SECONDS, Simulation
from tools.analysis.bars import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class Metrics:
    """Performance of one simulation.

    Attributes:
        final_equity: Equity at the last close.
        total_return: ``final_equity / initial_capital - 1``.
        cagr: Compound annual growth rate.
        volatility: Annualised standard deviation of bar returns.
        sharpe: Annualised Sharpe ratio (``None`` for a flat curve).
        sortino: Annualised Sortino ratio (``None`` without downside).
        max_drawdown: Deepest fall from a running peak (``-0.25`` is -25 %).
        drawdown_peak, drawdown_trough: Bar times (UTC) of that drawdown's peak and trough.
        drawdown_recovery: First bar back at the peak's equity, ``None`` if never.
        n_trades: Closed trades.
        win_rate: Share of closed trades with a positive pnl (``None`` without trades).
        profit_factor: Gross profit / gross loss of closed trades.
        avg_trade_return, best_trade, worst_trade: Over closed trades.
        exposure: Share of bars in the market.
        open_trades: Trades (or DCA buys) still open at the end.
    """

    final_equity: float
    total_return: float
    cagr: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    drawdown_peak: datetime | None
    drawdown_trough: datetime | None
    drawdown_recovery: datetime | None
    n_trades: int
    win_rate: float | None
    profit_factor: float | None
    avg_trade_return: float | None
    best_trade: float | None
    worst_trade: float | None
    exposure: float
    open_trades: int


def periods_per_year(bar_seconds: float) -> float:
    """Bars in a 365-day year."""
    return YEAR_SECONDS / bar_seconds


def drawdown(equity: FloatArray) -> FloatArray:
    """``equity / running_peak - 1`` at each bar (zero or negative)."""
    dd = np.maximum.accumulate(equity)
    np.divide(equity, dd, out=dd)
    dd -= 1.0
    return dd


def compute_metrics(
    sim: Simulation,
    ts: IntArray,
    initial_capital: float,
    bar_seconds: float,
    risk_free: float = 0.0,
    dd: FloatArray | None = None,
) -> Metrics:
    """Metrics of ``sim`` (definitions in the module docstring).

    Args:
        sim: The simulation.
        ts: Bar times (UTC epoch seconds), to date the drawdown.
        initial_capital: Cash at the start.
        bar_seconds: Bar length, for annualisation.
        risk_free: Annual risk-free rate as a fraction (``0.04`` is 4 %).
        dd: The drawdown series if already computed.
    """
    equity = sim.equity
    n = equity.shape[0]
    ppy = periods_per_year(bar_seconds)
    final = float(equity[-1])
    total = final / initial_capital - 1.0

    years = n * bar_seconds / YEAR_SECONDS
    cagr = None
    if years > 0:
        cagr = -1.0 if final <= 0 else (final / initial_capital) ** (1.0 / years) - 1.0
        if not math.isfinite(cagr):
            cagr = None

    r = np.empty(n)  # equity stays positive: prices are, and nothing is borrowed
    r[0] = equity[0] / initial_capital
    np.divide(equity[1:], equity[:-1], out=r[1:])
    r -= 1.0
    rf_bar = (1.0 + risk_free) ** (1.0 / ppy) - 1.0
    volatility = sharpe = sortino = None
    if n >= 2:
        std = float(r.std(ddof=1))
        volatility = std * math.sqrt(ppy)
        excess = float(r.mean()) - rf_bar
        if std > 1e-15:
            sharpe = excess / std * math.sqrt(ppy)
        downside = float(np.sqrt(np.mean(np.minimum(r - rf_bar, 0.0) ** 2)))
        if downside > 1e-15:
            sortino = excess / downside * math.sqrt(ppy)

    if dd is None:
        dd = drawdown(equity)
    trough = int(np.argmin(dd))
    max_dd = float(dd[trough])
    peak_at = trough_at = recovery_at = None
    if max_dd < 0:
        peak = int(np.argmax(equity[: trough + 1]))
        later = np.flatnonzero(equity[trough:] >= equity[peak])
        peak_at, trough_at = _time(ts, peak), _time(ts, trough)
        recovery_at = _time(ts, trough + int(later[0])) if later.shape[0] else None

    t = sim.trades
    closed = ~t.is_open
    pnl = t.pnl[closed]
    rets = t.pnl[closed] / t.cost[closed]
    n_trades = int(pnl.shape[0])
    win_rate = profit_factor = avg = best = worst = None
    if n_trades:
        win_rate = float((pnl > 0).mean())
        gains = float(pnl[pnl > 0].sum())
        losses = float(-pnl[pnl < 0].sum())
        profit_factor = gains / losses if losses > 0 else (math.inf if gains > 0 else None)
        avg, best, worst = float(rets.mean()), float(rets.max()), float(rets.min())

    return Metrics(
        final_equity=final,
        total_return=total,
        cagr=cagr,
        volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=max_dd,
        drawdown_peak=peak_at,
        drawdown_trough=trough_at,
        drawdown_recovery=recovery_at,
        n_trades=n_trades,
        win_rate=win_rate,
        profit_factor=profit_factor,
        avg_trade_return=avg,
        best_trade=best,
        worst_trade=worst,
        exposure=sim.exposure,
        open_trades=int(t.is_open.sum()),
    )


def _time(ts: IntArray, index: int) -> datetime:
    return datetime.fromtimestamp(int(ts[index]), UTC)
