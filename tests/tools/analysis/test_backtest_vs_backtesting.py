"""Our backtest engine against backtesting.py (a test-only dependency) on the same data.

Aligned conventions:

* ``trade_on_close=False``: backtesting.py fills a market order placed in ``next()`` at
  the next bar's open, as we do; ``exclusive_orders=True``; ``commission`` equal to our
  fee (charged on both sides, on the fill value, as ours); no slippage (its ``spread``
  only adjusts the entry price, ours moves both fills) and ``finalize_trades=False``
  (an open position is marked at the last close, with no exit fee, as ours).
* Sizing: backtesting.py buys whole units (``size=.9999`` means "as many whole units as
  equity allows"). Prices are scaled down so a full-equity order is many
  units (1e12 at the start; the tests check every order was above 1e11); the rounding
  then costs less than 1e-11 of equity per trade, and returns do not depend on the
  price scale. Equity therefore agrees to 1e-6 relative (in practice about 1e-13).
* Indicators are computed with TA-Lib in ``init()`` as plain arrays, not ``self.I``:
  backtesting.py skips ``next()`` until one bar after every ``self.I`` indicator is
  warm, which would ignore a signal on the first warm bar that our engine acts on.
* The strategies are written here from their definitions, independently of
  :mod:`tools.analysis.backtest_strategies`.

Definitional differences, checked after converting:

* Trade return: backtesting.py divides pnl by ``size * entry_price``; we divide by the
  cash committed, fee included (``size * entry_price * (1 + fee)``).
* Exposure: backtesting.py counts a trade's bars from entry to exit inclusive; we count
  the bars whose close finds a position (entry to exit - 1; the exit fills at an open).
* Sharpe, Sortino, volatility, CAGR are not compared: backtesting.py resamples equity to
  days and annualises geometric returns with 365 (weekends present) or 252 days and
  365.25-day years; ours uses simple bar returns and ``365 * 86400 / bar_seconds``
  periods a year (see :mod:`tools.analysis.backtest_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tools.analysis.backtest import BacktestReport, run_backtest
from tools.analysis.bars import Bars

from .backtest_data import offline_bars, random_walk
from .backtesting_reference import (
    bollinger_rule,
    macd_rule,
    rsi_rule,
    run_reference,
    sma_rule,
)

FEE_PCT = 0.1


CASES: dict[str, tuple[Callable[[np.ndarray], Any], dict[str, object]]] = {
    "rsi_mean_reversion": (rsi_rule, {}),
    "macd_crossover": (macd_rule, {}),
    "sma_crossover": (sma_rule(10, 30), {"fast": 10, "slow": 30}),
    "bollinger_reversion": (bollinger_rule, {}),
}


def run_both(bars: Bars, strategy: str) -> tuple[BacktestReport, pd.Series, float]:
    rule, params = CASES[strategy]
    stats, scale = run_reference(bars, rule, fee_pct=FEE_PCT)
    ours = run_backtest(bars, strategy, params, fee_pct=FEE_PCT, slippage_pct=0.0)
    return ours, stats, scale


def assert_agree(ours: BacktestReport, stats: pd.Series, scale: float) -> None:
    fee = FEE_PCT / 100
    trades = stats["_trades"]
    t = ours.trades.arrays
    closed = ~t.is_open
    assert len(trades) == ours.metrics.n_trades >= 3
    assert np.array_equal(trades["EntryBar"].to_numpy(), t.entry_bar[closed])
    assert np.array_equal(trades["ExitBar"].to_numpy(), t.exit_bar[closed])
    assert np.allclose(trades["EntryPrice"].to_numpy() / scale, t.entry_price[closed], rtol=1e-12)
    assert np.allclose(trades["ExitPrice"].to_numpy() / scale, t.exit_price[closed], rtol=1e-12)
    assert trades["Size"].min() >= 1e11  # whole-unit rounding below 1e-11 of equity
    still_open = bool(stats["_strategy"].position)
    assert ours.metrics.open_trades == int(still_open)

    equity = stats["_equity_curve"]["Equity"].to_numpy()
    assert np.max(np.abs(equity / ours.equity - 1)) < 1e-6
    assert stats["Equity Final [$]"] == pytest.approx(ours.metrics.final_equity, rel=1e-6)
    assert stats["Return [%]"] == pytest.approx(ours.metrics.total_return * 100, rel=1e-6)
    assert stats["Max. Drawdown [%]"] == pytest.approx(ours.metrics.max_drawdown * 100, abs=1e-6)
    assert stats["Win Rate [%]"] == pytest.approx((ours.metrics.win_rate or 0) * 100)
    assert np.allclose(trades["PnL"].to_numpy(), t.pnl[closed], rtol=1e-6, atol=1e-6)

    # Trade returns: theirs on size * entry price, ours on the cash committed.
    theirs = trades["ReturnPct"].to_numpy()
    assert np.allclose(theirs, t.pnl[closed] / t.cost[closed] * (1 + fee), rtol=1e-6, atol=1e-9)
    assert stats["Best Trade [%]"] == pytest.approx(ours.metrics.best_trade * (1 + fee) * 100)
    # Exposure: theirs counts entry..exit inclusive over closed trades.
    inclusive = int((t.exit_bar[closed] - t.entry_bar[closed] + 1).sum())
    assert stats["Exposure Time [%]"] == pytest.approx(inclusive / ours.n_bars * 100)


@pytest.mark.parametrize("strategy", list(CASES))
def test_agreement_on_a_seeded_random_walk(strategy: str) -> None:
    assert_agree(*run_both(random_walk(1500, seed=11, step=14400), strategy))


@pytest.mark.parametrize("strategy", list(CASES))
async def test_agreement_on_offline_market_history(strategy: str) -> None:
    bars = await offline_bars(1500, "1d")
    assert_agree(*run_both(bars, strategy))


async def test_agreement_on_hourly_offline_history_with_an_open_trade() -> None:
    bars = await offline_bars(120, "1h")
    still_open = 0
    for strategy in CASES:
        ours, stats, scale = run_both(bars, strategy)
        assert_agree(ours, stats, scale)
        still_open += ours.metrics.open_trades
    assert still_open >= 1  # marked at the last close without an exit fee, as theirs
