"""Backtests: validation, no look-ahead, costs, DCA, metrics, CSV input, service and text."""

from __future__ import annotations

import csv
import io
import math
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import shared_data
from tools.analysis.backtest import (
    BacktestService,
    bar_seconds,
    bars_from_csv,
    parse_period,
    run_backtest,
    trades_csv,
)
from tools.analysis.backtest_engine import (
    Costs,
    Simulation,
    TradeArrays,
    period_starts,
    positions,
    simulate_signals,
)
from tools.analysis.backtest_metrics import compute_metrics, drawdown
from tools.analysis.backtest_strategies import STRATEGIES, get_strategy, validate_params
from tools.analysis.bars import Bars
from tools.analysis.text_backtest import DISCLAIMER, backtest_text
from tools.errors import UnknownSymbolError, UserInputError
from tools.market.types import DataOrigin

from .backtest_data import MONDAY, NOW, hand_bars, offline_prices, random_walk

NO_COSTS = Costs(fee=0.0, slippage=0.0)


def flags(n: int, *bars: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.bool_)
    out[list(bars)] = True
    return out


# -- strategies and parameters ----------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "params", "message"),
    [
        ("rsi_mean_reversion", {"period": 1},
         "rsi_mean_reversion: period must be a whole number from 2 to 200; got 1."),
        ("rsi_mean_reversion", {"period": 14.5},
         "rsi_mean_reversion: period must be a whole number from 2 to 200; got 14.5."),
        ("rsi_mean_reversion", {"buy_below": 0},
         "rsi_mean_reversion: buy_below must be a number from 1 to 99; got 0."),
        ("rsi_mean_reversion", {"buy_below": 70, "sell_above": 30},
         "rsi_mean_reversion: buy_below must be below sell_above; got buy_below=70.0, "
         "sell_above=30.0."),
        ("macd_crossover", {"fast": 30},
         "macd_crossover: fast must be below slow; got fast=30, slow=26."),
        ("sma_crossover", {"fast": 50, "slow": 50},
         "sma_crossover: fast must be below slow; got fast=50, slow=50."),
        ("sma_crossover", {"slow": "many"},
         "sma_crossover: slow must be a whole number from 3 to 1000; got 'many'."),
        ("bollinger_reversion", {"k": 6},
         "bollinger_reversion: k must be a number from 0.5 to 5; got 6."),
        ("bollinger_reversion", {"k": True},
         "bollinger_reversion: k must be a number from 0.5 to 5; got True."),
        ("dca", {"frequency": "hourly"},
         "dca: frequency must be one of daily, weekly, monthly; got 'hourly'."),
        ("dca", {"amount": -5}, "dca: amount must be a number above 0; got -5."),
        ("rsi_mean_reversion", {"window": 14},
         'rsi_mean_reversion has no parameter "window". '
         "Its parameters: period, buy_below, sell_above."),
        ("buy_and_hold", {"period": 3}, 'buy_and_hold has no parameter "period". '
         "Its parameters: none."),
    ],
)  # fmt: skip
def test_parameter_errors_name_the_parameter_range_and_value(
    strategy: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(UserInputError) as info:
        validate_params(get_strategy(strategy), params)
    assert info.value.user_message == message


def test_defaults_fill_in_and_numbers_are_coerced() -> None:
    spec = get_strategy("rsi_mean_reversion")
    assert validate_params(spec, None) == {"period": 14, "buy_below": 30, "sell_above": 70}
    got = validate_params(spec, {"period": "21", "buy_below": 25.0, "sell_above": None})
    assert got == {"period": 21, "buy_below": 25.0, "sell_above": 70}
    assert isinstance(got["period"], int)
    assert validate_params(get_strategy("dca"), {"frequency": " Monthly "}) == {
        "frequency": "monthly"
    }


def test_unknown_strategy_lists_the_valid_ones() -> None:
    with pytest.raises(UserInputError) as info:
        get_strategy("moon_shot")
    assert info.value.user_message == (
        'Unknown strategy "moon_shot". Choose one of: rsi_mean_reversion, macd_crossover, '
        "sma_crossover, bollinger_reversion, dca, buy_and_hold."
    )


@pytest.mark.parametrize(
    ("alias", "name"),
    [("RSI", "rsi_mean_reversion"), ("golden cross", "sma_crossover"),
     ("Buy-and-Hold", "buy_and_hold"), ("buy & hold", "buy_and_hold"),
     ("bollinger", "bollinger_reversion"), ("MACD", "macd_crossover")],
)  # fmt: skip
def test_strategy_aliases(alias: str, name: str) -> None:
    assert get_strategy(alias).name == name


@pytest.mark.parametrize(
    ("text", "days"),
    [("90d", 90), ("6m", 182), ("1y", 365), ("2y", 730), ("30 days", 30), ("12 weeks", 84),
     ("1 month", 30), ("10y", 3650), (45, 45), ("7", 7), ("1.5y", 548)],
)  # fmt: skip
def test_parse_period(text: str | int, days: int) -> None:
    assert parse_period(text) == days


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("11y", "at most 10 years (3650 days); you asked for 11y."),
     ("forever", '"forever" is not a period.'), ("0d", "at least 1 day"),
     ("3 fortnights", "is not a period")],
)  # fmt: skip
def test_bad_periods(text: str, fragment: str) -> None:
    with pytest.raises(UserInputError) as info:
        parse_period(text)
    assert fragment in info.value.user_message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"fee_pct": -0.1}, "fee_pct must be a number from 0 to 10; got -0.1."),
     ({"slippage_pct": 20}, "slippage_pct must be a number from 0 to 10; got 20."),
     ({"initial_capital": 0},
      "initial_capital must be a number above 0 to 1,000,000,000,000; got 0."),
     ({"initial_capital": "lots"},
      "initial_capital must be a number above 0 to 1,000,000,000,000; got lots.")],
)  # fmt: skip
def test_cost_and_capital_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UserInputError) as info:
        run_backtest(random_walk(100), "buy_and_hold", **kwargs)
    assert info.value.user_message == message


def test_too_little_history_says_how_much_is_needed() -> None:
    with pytest.raises(UserInputError) as info:
        run_backtest(random_walk(40), "sma_crossover")
    assert info.value.user_message.startswith(
        "Too little history for sma_crossover with fast=20, slow=50: it needs at least 52 "
        "bars, the data has 40 (1d bars)."
    )


# -- no look-ahead ----------------------------------------------------------------------


def test_signal_on_the_last_bar_is_never_filled() -> None:
    bars = hand_bars([100, 101, 102, 103, 104])
    sim = simulate_signals(bars.open, bars.close, flags(5, 4), flags(5), 10_000, NO_COSTS)
    assert len(sim.trades) == 0
    assert np.array_equal(sim.equity, np.full(5, 10_000.0))


def test_signal_at_bar_i_fills_at_the_open_of_bar_i_plus_1() -> None:
    bars = hand_bars([100, 101, 102, 103, 104, 105], closes=[200, 201, 202, 203, 204, 205])
    costs = Costs(fee=0.0, slippage=0.01)
    sim = simulate_signals(bars.open, bars.close, flags(6, 1), flags(6, 3), 10_000, costs)
    t = sim.trades
    assert (int(t.entry_bar[0]), int(t.exit_bar[0])) == (2, 4)
    assert t.entry_price[0] == pytest.approx(102 * 1.01)  # bar 2's open, slipped up
    assert t.exit_price[0] == pytest.approx(104 * 0.99)  # bar 4's open, slipped down
    units = 10_000 / (102 * 1.01)
    assert sim.equity[:2].tolist() == [10_000, 10_000]  # nothing held at bars 0 and 1
    assert sim.equity[2] == pytest.approx(units * 202)  # held at bar 2's close
    assert sim.equity[4] == pytest.approx(units * 104 * 0.99)  # sold at bar 4's open
    assert sim.exposure == pytest.approx(2 / 6)


def test_exit_wins_when_both_signals_fire_and_positions_forward_fill() -> None:
    entries = flags(8, 1, 2, 5)
    exits = flags(8, 3, 5, 6)
    assert positions(entries, exits).tolist() == [0, 1, 1, 0, 0, 0, 0, 0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=60, max_value=399),
    strategy=st.sampled_from(["rsi_mean_reversion", "macd_crossover", "sma_crossover",
                              "bollinger_reversion"]),
    seed=st.integers(min_value=0, max_value=5),
)  # fmt: skip
def test_future_bars_never_change_the_past(cut: int, strategy: str, seed: int) -> None:
    full = random_walk(400, seed=seed)
    short = Bars(
        full.symbol, full.interval, full.ts[:cut], full.open[:cut], full.high[:cut],
        full.low[:cut], full.close[:cut], full.volume[:cut],
    )  # fmt: skip
    params = {"fast": 5, "slow": 30} if strategy == "sma_crossover" else None
    a = run_backtest(full, strategy, params)
    b = run_backtest(short, strategy, params)
    assert np.allclose(a.equity[:cut], b.equity, rtol=1e-12)
    ta, tb = a.trades.arrays, b.trades.arrays
    assert np.array_equal(ta.entry_bar[ta.entry_bar < cut], tb.entry_bar)


def reference_loop(
    open_: np.ndarray, close: np.ndarray, entries: np.ndarray, exits: np.ndarray,
    capital: float, fee: float, slip: float,
) -> list[float]:  # fmt: skip
    """The engine's rules, one bar at a time."""
    cash, units, pending, equity = capital, 0.0, None, []
    for i in range(close.shape[0]):
        if pending == "buy":
            units, cash = cash / (open_[i] * (1 + slip) * (1 + fee)), 0.0
        elif pending == "sell":
            cash, units = units * open_[i] * (1 - slip) * (1 - fee), 0.0
        pending = None
        if units == 0 and entries[i] and not exits[i]:
            pending = "buy"
        elif units > 0 and exits[i]:
            pending = "sell"
        equity.append(cash + units * close[i])
    return equity


@settings(max_examples=50, deadline=None)
@given(
    data=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=60),
    seed=st.integers(0, 100),
)
def test_vectorised_engine_matches_a_bar_by_bar_loop(
    data: list[tuple[bool, bool]], seed: int
) -> None:
    n = len(data)
    bars = random_walk(n, seed=seed)
    entries = np.array([d[0] for d in data])
    exits = np.array([d[1] for d in data])
    sim = simulate_signals(bars.open, bars.close, entries, exits, 1000.0, Costs(0.002, 0.001))
    expected = reference_loop(bars.open, bars.close, entries, exits, 1000.0, 0.002, 0.001)
    assert np.allclose(sim.equity, expected, rtol=1e-12)


# -- costs ----------------------------------------------------------------------------------


def test_fees_on_a_hand_computed_two_trade_example() -> None:
    # Trade 1: signal bar 0, buy at bar 1's open 100; signal bar 1, sell at bar 2's open 110.
    # Trade 2: signal bar 3, buy at bar 4's open 100; signal bar 4, sell at bar 5's open 90.
    bars = hand_bars([100, 100, 110, 105, 100, 90, 95])
    entries, exits = flags(7, 0, 3), flags(7, 1, 4)
    free = simulate_signals(bars.open, bars.close, entries, exits, 10_000, NO_COSTS)
    paid = simulate_signals(bars.open, bars.close, entries, exits, 10_000, Costs(0.001, 0.0))
    assert free.equity[-1] == pytest.approx(10_000 * 1.1 * 0.9)  # 9,900
    # units = 10,000 / (100 * 1.001) = 99.9001; proceeds = units * 110 * 0.999 = 10,978.02
    # then units = 10,978.02 / (100 * 1.001); proceeds = units * 90 * 0.999 = 9,860.48
    assert paid.equity[-1] == pytest.approx(9_860.479081358, rel=1e-12)
    assert paid.equity[-1] == pytest.approx(9_900 * (0.999 / 1.001) ** 2, rel=1e-12)
    t = paid.trades
    assert t.pnl.tolist() == pytest.approx([978.021978022, -1_117.542896664])
    assert t.fees[0] == pytest.approx(9.99000999 + 10.98901099)  # 0.1 % of 99.90 and 109.89
    assert float(t.pnl.sum()) == pytest.approx(paid.equity[-1] - 10_000)
    assert 10_000 + t.pnl.sum() + t.fees.sum() == pytest.approx(
        free.equity[-1], rel=3e-4
    )  # fees explain the difference (up to the compounding of the fees themselves)


def test_slippage_moves_both_fills_against_the_trader() -> None:
    bars = hand_bars([100, 100, 110, 110])
    sim = simulate_signals(bars.open, bars.close, flags(4, 0), flags(4, 1), 10_000,
                           Costs(0.0, 0.01))  # fmt: skip
    assert sim.equity[-1] == pytest.approx(10_000 * 110 * 0.99 / (100 * 1.01))


def test_fee_ratio_on_a_real_strategy() -> None:
    bars = random_walk(600, seed=4)
    free = run_backtest(bars, "rsi", {"period": 5}, fee_pct=0, slippage_pct=0)
    paid = run_backtest(bars, "rsi", {"period": 5}, fee_pct=0.25, slippage_pct=0)
    m = paid.metrics
    assert m.n_trades == free.metrics.n_trades >= 3
    factor = (0.9975 / 1.0025) ** m.n_trades * (1 / 1.0025) ** m.open_trades
    assert paid.metrics.final_equity == pytest.approx(free.metrics.final_equity * factor)
    assert paid.benchmark.final_equity == pytest.approx(free.benchmark.final_equity / 1.0025)


# -- DCA and buy and hold ---------------------------------------------------------------


def test_dca_weekly_on_a_hand_example() -> None:
    opens = [100.0] * 21
    opens[7], opens[14] = 50.0, 200.0
    bars = hand_bars(opens, closes=[100.0] * 21)  # 3 weeks from Monday 2024-01-01
    report = run_backtest(bars, "dca", {"frequency": "weekly"}, fee_pct=0.1, slippage_pct=0)
    assert report.params["amount"] == pytest.approx(10_000 / 3)
    t = report.trades.arrays
    assert t.entry_bar.tolist() == [0, 7, 14]
    third = 10_000 / 3
    units = third / 1.001 * (1 / 100 + 1 / 50 + 1 / 200)  # 116.55
    assert float(t.size.sum()) == pytest.approx(units)
    assert report.metrics.final_equity == pytest.approx(units * 100)  # 11,655.01
    # Cash not yet invested counts: after the first buy, two thirds are still cash.
    assert report.equity[3] == pytest.approx(2 * third + third / 1.001)
    assert report.metrics.n_trades == 0 and report.metrics.open_trades == 3
    assert report.metrics.exposure == 1.0
    assert "3 weekly buys, $10,000.00 invested at an average cost of $85.80" in (
        backtest_text(report)
    )


def test_dca_with_an_explicit_amount_runs_out_of_cash() -> None:
    bars = hand_bars([100.0] * 21)
    partial = run_backtest(bars, "dca", {"amount": 4_000}, fee_pct=0, slippage_pct=0)
    assert partial.trades.arrays.cost.tolist() == [4_000, 4_000, 2_000]
    skipped = run_backtest(bars, "dca", {"amount": 5_000, "frequency": "weekly"})
    assert len(skipped.trades) == 2
    assert skipped.notes == ["The cash ran out after 2 buys; 1 scheduled buys were skipped."]
    with pytest.raises(UserInputError, match="at most the initial capital"):
        run_backtest(bars, "dca", {"amount": 20_000})


def test_period_starts() -> None:
    day = 86400
    ts = MONDAY + np.array([0, day, 6 * day, 7 * day, 30 * day, 31 * day, 59 * day, 60 * day])
    assert period_starts(ts, "daily").tolist() == list(range(8))
    assert period_starts(ts, "weekly").tolist() == [0, 3, 4, 6]  # Mondays 1/8, 1/29, 2/26
    assert period_starts(ts, "monthly").tolist() == [0, 5, 7]  # Feb 1st, Mar 1st
    hourly = MONDAY + 3600 * np.arange(50)
    assert period_starts(hourly, "daily").tolist() == [0, 24, 48]


def test_buy_and_hold_enters_at_the_first_open_with_costs() -> None:
    bars = hand_bars([100, 120, 90, 150], closes=[110, 95, 140, 160])
    report = run_backtest(bars, "buy_and_hold", fee_pct=0.1, slippage_pct=0.05)
    units = 10_000 / (100 * 1.0005 * 1.001)
    assert report.equity.tolist() == pytest.approx([units * c for c in (110, 95, 140, 160)])
    assert report.metrics.final_equity == report.benchmark.final_equity
    assert np.array_equal(report.benchmark_equity, report.equity)
    in_decimal = run_backtest(bars, "hold", initial_capital=Decimal("5000"))
    assert in_decimal.metrics.final_equity == pytest.approx(report.metrics.final_equity / 2)


# -- metrics ------------------------------------------------------------------------------


def sim_of(equity: list[float], pnl: list[float], cost: list[float], is_open: list[bool],
           entry: list[int], exit_: list[int]) -> Simulation:  # fmt: skip
    k = len(pnl)
    trades = TradeArrays(
        entry_bar=np.array(entry, np.int64), exit_bar=np.array(exit_, np.int64),
        entry_price=np.ones(k), exit_price=np.ones(k), size=np.ones(k),
        cost=np.array(cost, float), pnl=np.array(pnl, float), fees=np.zeros(k),
        is_open=np.array(is_open, bool),
    )  # fmt: skip
    return Simulation(np.array(equity, float), trades)


def test_metrics_on_a_hand_computed_series() -> None:
    equity = [100.0, 110.0, 99.0, 121.0, 115.0]
    sim = sim_of(equity, pnl=[10.0, -5.0, 6.0], cost=[100.0, 100.0, 60.0],
                 is_open=[False, False, True], entry=[0, 2, 4], exit_=[1, 3, 4])  # fmt: skip
    ts = MONDAY + 86400 * np.arange(5, dtype=np.int64)
    m = compute_metrics(sim, ts, 100.0, 86400)
    r = [0.0, 0.1, -0.1, 121 / 99 - 1, 115 / 121 - 1]
    assert m.total_return == pytest.approx(0.15)
    assert m.cagr == pytest.approx(1.15 ** (365 / 5) - 1)
    assert m.volatility == pytest.approx(statistics.stdev(r) * math.sqrt(365))
    assert m.sharpe == pytest.approx(statistics.mean(r) / statistics.stdev(r) * math.sqrt(365))
    downside = math.sqrt((0.1**2 + (115 / 121 - 1) ** 2) / 5)
    assert m.sortino == pytest.approx(statistics.mean(r) / downside * math.sqrt(365))
    assert m.max_drawdown == pytest.approx(-0.1)
    day = timedelta(days=1)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert (m.drawdown_peak, m.drawdown_trough, m.drawdown_recovery) == (
        start + day,
        start + 2 * day,
        start + 3 * day,
    )
    assert (m.n_trades, m.open_trades) == (2, 1)  # trade statistics cover closed trades
    assert m.win_rate == 0.5
    assert m.profit_factor == pytest.approx(2.0)
    assert (m.avg_trade_return, m.best_trade, m.worst_trade) == pytest.approx((0.025, 0.1, -0.05))
    assert m.exposure == pytest.approx((1 + 1 + 1) / 5)  # bars held: 1, 1, and the open 1


def test_sharpe_uses_the_risk_free_rate_per_bar() -> None:
    sim = sim_of([101.0, 100.0, 103.0], [], [], [], [], [])
    ts = MONDAY + 3600 * np.arange(3, dtype=np.int64)
    m = compute_metrics(sim, ts, 100.0, 3600, risk_free=0.05)
    r = [0.01, 100 / 101 - 1, 0.03]
    rf = 1.05 ** (1 / 8760) - 1
    assert m.sharpe == pytest.approx((statistics.mean(r) - rf) / statistics.stdev(r) * 8760**0.5)
    assert m.win_rate is None and m.profit_factor is None and m.n_trades == 0


def test_unrecovered_drawdown_and_flat_curve() -> None:
    ts = MONDAY + 86400 * np.arange(4, dtype=np.int64)
    m = compute_metrics(sim_of([100.0, 120.0, 90.0, 100.0], [], [], [], [], []), ts, 100.0, 86400)
    assert m.max_drawdown == pytest.approx(-0.25)
    assert m.drawdown_recovery is None
    flat = compute_metrics(sim_of([100.0] * 4, [], [], [], [], []), ts, 100.0, 86400)
    assert (flat.max_drawdown, flat.drawdown_peak, flat.sharpe, flat.sortino) == (
        0.0, None, None, None
    )  # fmt: skip
    assert drawdown(np.array([1.0, 2.0, 1.0, 3.0])).tolist() == [0.0, 0.0, -0.5, 0.0]


def test_profit_factor_without_losers_is_infinite() -> None:
    ts = MONDAY + 86400 * np.arange(3, dtype=np.int64)
    sim = sim_of([100.0, 110.0, 110.0], [10.0], [100.0], [False], [0], [1])
    assert compute_metrics(sim, ts, 100.0, 86400).profit_factor == math.inf


def test_report_trades_and_csv() -> None:
    bars = random_walk(500, seed=2)
    report = run_backtest(bars, "bollinger_reversion")
    assert len(report.trades) == report.metrics.n_trades + report.metrics.open_trades > 3
    first = report.trades[0]
    assert first.entry_time == datetime.fromtimestamp(int(bars.ts[0]), UTC) + timedelta(
        days=int(report.trades.arrays.entry_bar[0])
    )
    assert first.ret == pytest.approx(first.pnl / (first.size * first.entry_price * 1.001))
    arrays = report.trades.arrays
    assert first.bars_held == int(arrays.exit_bar[0] - arrays.entry_bar[0])
    rows = list(csv.DictReader(io.StringIO(trades_csv(report))))
    assert len(rows) == len(report.trades)
    assert list(rows[0]) == ["entry_time", "exit_time", "entry_price", "exit_price", "size",
                             "pnl", "return", "bars_held", "fees", "open"]  # fmt: skip
    assert float(rows[0]["pnl"]) == pytest.approx(first.pnl)
    assert rows[0]["entry_time"] == first.entry_time.isoformat()
    assert report.equity.shape == report.drawdown.shape == report.ts.shape == (500,)
    assert report.excess_return == pytest.approx(
        report.metrics.total_return - report.benchmark.total_return
    )


def test_every_strategy_runs_on_a_long_series() -> None:
    bars = random_walk(2000, seed=9, step=3600)
    for name in STRATEGIES:
        report = run_backtest(bars, name)
        assert report.n_bars == 2000
        assert report.metrics.final_equity > 0
        assert bar_seconds(bars) == 3600


# -- CSV input --------------------------------------------------------------------------


def test_csv_with_ohlcv_columns(tmp_path: Path) -> None:
    bars = random_walk(120, seed=5)
    path = tmp_path / "walk.csv"
    lines = ["date,open,high,low,close,volume"]
    for i in range(len(bars)):
        day = datetime.fromtimestamp(int(bars.ts[i]), UTC).date().isoformat()
        values = (bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i])
        lines.append(",".join([day, *(repr(float(v)) for v in values)]))
    path.write_text("\n".join(lines) + "\n")
    loaded = bars_from_csv(path, "walk")
    assert (loaded.symbol, loaded.interval, loaded.origin) == ("WALK", "1d", DataOrigin.REPLAYED)
    assert np.allclose(loaded.open, bars.open) and np.array_equal(loaded.ts, bars.ts)
    service = BacktestService(offline_prices())
    from_csv = service.run_on_bars(loaded, "rsi", {"period": 7})
    direct = run_backtest(bars, "rsi", {"period": 7})
    assert from_csv.metrics.final_equity == pytest.approx(direct.metrics.final_equity)
    assert from_csv.notice == (
        "Backtest on prices replayed from file walk.csv, not live market data."
    )
    assert from_csv.source == "file walk.csv"


def test_csv_with_date_and_price_only(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("timestamp,price\n" + "".join(
        f"{MONDAY + 3600 * i},{100 + (i % 7) - 3}\n" for i in range(200)
    ))  # fmt: skip
    bars = bars_from_csv(path, "xyz")
    assert bars.interval == "1h"
    assert np.array_equal(bars.open, bars.close) and np.array_equal(bars.high, bars.low)
    report = run_backtest(bars, "bollinger")
    assert report.bar_seconds == 3600
    # Fills happen at the next bar's "open", which for price-only files is its price.
    t = report.trades.arrays
    assert np.allclose(t.entry_price, bars.close[t.entry_bar] * 1.0005)


def test_csv_errors_are_plain(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not found"):
        bars_from_csv(tmp_path / "missing.csv", "X")
    one = tmp_path / "one.csv"
    one.write_text("date,price\n2024-01-01,5\n")
    with pytest.raises(UserInputError, match="fewer than 2 usable price rows"):
        bars_from_csv(one, "X")


@pytest.mark.skipif(not shared_data.USDC_HOURLY.is_file(), reason=shared_data.SKIP_REASON)
def test_recorded_usdc_depeg_file() -> None:
    bars = bars_from_csv(shared_data.USDC_HOURLY, "usdc")
    report = run_backtest(bars, "bollinger_reversion", fee_pct=0.0, slippage_pct=0.0)
    assert report.interval == "1h" and report.n_bars == len(bars) > 50
    assert report.metrics.max_drawdown <= 0


# -- the service and the text ---------------------------------------------------------------


async def test_service_fetches_warm_up_bars_and_labels_simulated_prices() -> None:
    service = BacktestService(offline_prices())
    report = await service.run("btc", "sma_crossover", "1y", {"fast": 10, "slow": 100})
    assert report.origin is DataOrigin.SIMULATED
    assert report.notice == (
        "Backtest on SIMULATED prices (offline market), not real market history."
    )
    assert report.n_bars == 365
    assert report.end.date() == NOW.date()
    assert report.notes == []  # the slow SMA was warm before the period began
    assert report.benchmark.total_return != report.metrics.total_return
    text = backtest_text(report)
    assert text.splitlines()[0] == report.notice
    assert "BTC, SMA crossover (fast 10, slow 100)" in text
    assert "vs buy and hold" in text and DISCLAIMER in text


async def test_service_intervals_and_errors() -> None:
    service = BacktestService(offline_prices())
    report = await service.run("eth", "rsi", "30d", interval="4h")
    assert (report.interval, report.bar_seconds, report.n_bars) == ("4h", 14400, 180)
    with pytest.raises(UserInputError) as info:
        await service.run("eth", "rsi", "30d", interval="5m")
    assert info.value.user_message == 'Interval must be one of 1h, 4h, 1d; got "5m".'
    with pytest.raises(UnknownSymbolError):
        await service.run("notacoin", "rsi", "30d")
    with pytest.raises(UserInputError, match="Unknown strategy"):
        await service.run("btc", "astrology", "30d")


def test_text_for_a_strategy_with_trades() -> None:
    report = run_backtest(random_walk(800, seed=3), "rsi")
    text = backtest_text(report)
    m = report.metrics
    assert m.win_rate is not None
    assert f"{m.n_trades} closed trades: {m.win_rate * 100:.1f}% won" in text
    assert f"Return {m.total_return * 100:+.2f}%" in text
    assert "Max drawdown" in text and "Sharpe" in text
    assert "annualised over 365 days a year" in text
    assert "2024-01-01 to 2026-03-10" in text


def test_text_without_trades_and_with_an_open_trade() -> None:
    quiet = run_backtest(random_walk(100, seed=1, vol=0.001), "rsi", {"period": 50})
    assert len(quiet.trades) == 0
    assert "No trades: the buy signal never fired in this period." in backtest_text(quiet)
    # Down for 30 days then up for 30: one golden cross, no death cross.
    prices = [100.0 - i for i in range(30)] + [71.0 + 2 * i for i in range(30)]
    report = run_backtest(hand_bars(prices), "sma_crossover", {"fast": 3, "slow": 10})
    assert (report.metrics.n_trades, report.metrics.open_trades) == (0, 1)
    last = report.trades[-1]
    assert last.is_open and last.exit_price == prices[-1]
    text = backtest_text(report)
    assert "No closed trades." in text
    assert f"1 trade still open (+{last.ret * 100:.2f}% so far)" in text
    assert "CAGR" not in text  # 60 days: too short to annualise meaningfully
