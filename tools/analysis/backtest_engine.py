"""The vectorised backtest engine: positions, fills, costs and the equity curve.

Conventions (long-only spot, no leverage, no shorting):

* **Signals** are computed on bar ``i``'s close and **filled at bar ``i + 1``'s open**.
  A signal on the last bar is never filled. The wanted position is long from an entry
  signal until the next exit signal (exit wins if both fire on one bar): the forward
  fill of the signals, reduced to the bars where it changes.
* **Signal strategies** are all-in / all-out: an entry spends the whole cash balance,
  fee included (``units = cash / (fill * (1 + fee))``); an exit sells every unit and
  receives ``units * fill * (1 - fee)``.
* **Slippage** moves every fill against the trader: buys fill at ``open * (1 + s)``,
  sells at ``open * (1 - s)``. Fees are charged on the slipped fill value.
* **Schedules** (DCA, buy and hold) buy at the open of their scheduled bars, which are
  known in advance (no look-ahead): buy and hold at the first bar, DCA at the first bar
  of every day/week/month (UTC; weeks start on Monday). Cash not yet invested stays in
  the equity.
* **Equity** is marked at every bar's close. A position still open at the end is
  valued at the last close, with no exit fee (the trade is reported as open).

Everything is numpy: a few passes over the bars plus arrays as long as the number of
trades, so a year of one-minute bars takes milliseconds. Between fills cash and units
are constant, so the equity curve is ``cash + units * close`` with both repeated over
their segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tools.analysis.bars import FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]

#: Seconds in a year for annualisation: crypto trades 365 days a year.
YEAR_SECONDS = 365 * 86400


@dataclass(frozen=True, slots=True)
class Costs:
    """Trading costs as fractions (``fee=0.001`` is 0.1 % per side)."""

    fee: float = 0.001
    slippage: float = 0.0005


@dataclass(frozen=True, slots=True)
class TradeArrays:
    """Trades as parallel arrays (one element per trade, oldest first).

    Attributes:
        entry_bar, exit_bar: Bar indexes of the fills. An open trade's ``exit_bar`` is
            the last bar and its exit price the last close.
        entry_price, exit_price: Fill prices, slippage included.
        size: Units bought.
        cost: Cash spent on entry, fee included.
        pnl: Profit in cash, fees included (open trades: marked at the last close).
        fees: Fees paid (entry plus exit).
        is_open: The trade had not been closed at the end.
    """

    entry_bar: IntArray
    exit_bar: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    size: FloatArray
    cost: FloatArray
    pnl: FloatArray
    fees: FloatArray
    is_open: BoolArray

    def __len__(self) -> int:
        return int(self.entry_bar.shape[0])

    @property
    def ret(self) -> FloatArray:
        """Return of each trade on the cash it committed (``pnl / cost``)."""
        return self.pnl / self.cost

    @property
    def bars_held(self) -> IntArray:
        """Bars in the market: from the entry bar to the bar before the exit fill."""
        end = self.exit_bar + self.is_open.astype(np.int64)  # open: held through the last bar
        return end - self.entry_bar


@dataclass(frozen=True, slots=True)
class Simulation:
    """Equity at every bar's close and the trades that produced it."""

    equity: FloatArray
    trades: TradeArrays
    skipped_buys: int = 0  # DCA buys left out because the cash had run out

    @property
    def exposure(self) -> float:
        """Share of bars whose close found a position in the market."""
        n = self.equity.shape[0]
        t = self.trades
        if not n or not len(t):
            return 0.0
        if t.is_open.all():  # schedules: in the market from the first buy on
            return float(n - int(t.entry_bar.min())) / n
        return float(t.bars_held.sum()) / n


def signal_changes(entries: BoolArray, exits: BoolArray) -> tuple[IntArray, IntArray]:
    """Bars whose close turns the wanted position long, and bars that turn it flat.

    The wanted position is long from an entry signal until the next exit signal (exit
    wins when both fire on one bar); only the bars where it changes matter. They
    alternate, starting with an entry.
    """
    events = np.flatnonzero(entries | exits)
    want = entries[events] & ~exits[events]
    change = np.empty(events.shape[0], dtype=np.bool_)
    if events.shape[0]:
        change[0] = want[0]
        np.not_equal(want[1:], want[:-1], out=change[1:])
    bars, side = events[change], want[change]
    return bars[side].astype(np.int64), bars[~side].astype(np.int64)


def positions(entries: BoolArray, exits: BoolArray) -> BoolArray:
    """Position wanted after each bar's close (True: long); for tests and charts."""
    on, off = signal_changes(entries, exits)
    step = np.zeros(entries.shape[0] + 1, dtype=np.int8)
    step[on] += 1
    step[off] -= 1
    return np.cumsum(step[:-1]) > 0


def simulate_signals(
    open_: FloatArray,
    close: FloatArray,
    entries: BoolArray,
    exits: BoolArray,
    initial_capital: float,
    costs: Costs,
) -> Simulation:
    """All-in / all-out simulation of entry and exit signals (see the module docstring)."""
    n = close.shape[0]
    on, off = signal_changes(entries, exits)
    entry_bar = on[on < n - 1] + 1  # the order from bar i's close fills at bar i+1's open
    exit_bar = off[off < n - 1] + 1
    closed = exit_bar.shape[0]
    opened = entry_bar.shape[0]
    fee, slip = costs.fee, costs.slippage

    entry_px = open_[entry_bar] * (1.0 + slip)
    exit_px = np.empty(opened)
    exit_px[:closed] = open_[exit_bar] * (1.0 - slip)
    exit_px[closed:] = close[-1]  # a trade still open is marked at the last close
    growth = exit_px[:closed] * (1.0 - fee) / (entry_px[:closed] * (1.0 + fee))
    cash_after = initial_capital * np.cumprod(growth)
    cash_before = np.concatenate(([initial_capital], cash_after))[:opened]
    size = cash_before / (entry_px * (1.0 + fee))
    gross_out = size * exit_px
    proceeds = gross_out.copy()
    proceeds[:closed] *= 1.0 - fee
    fees = size * entry_px * fee
    fees[:closed] += gross_out[:closed] * fee

    # Cash and units are constant between fills: one value per segment, then equity.
    bounds = np.empty(opened + closed, dtype=np.int64)
    bounds[0::2] = entry_bar
    bounds[1::2] = exit_bar
    units_at = np.zeros(bounds.shape[0] + 1)
    cash_at = np.zeros(bounds.shape[0] + 1)
    cash_at[0] = initial_capital
    units_at[1::2] = size
    cash_at[2::2] = cash_after
    lengths = np.diff(bounds, prepend=0, append=n)
    equity = np.repeat(cash_at, lengths) + np.repeat(units_at, lengths) * close

    exit_at = np.full(opened, n - 1, dtype=np.int64)
    exit_at[:closed] = exit_bar
    is_open = np.zeros(opened, dtype=np.bool_)
    is_open[closed:] = True
    trades = TradeArrays(
        entry_bar=entry_bar,
        exit_bar=exit_at,
        entry_price=entry_px,
        exit_price=exit_px,
        size=size,
        cost=cash_before,
        pnl=proceeds - cash_before,
        fees=fees,
        is_open=is_open,
    )
    return Simulation(equity=equity, trades=trades)


def simulate_buys(
    open_: FloatArray,
    close: FloatArray,
    buy_bars: IntArray,
    amount: float,
    initial_capital: float,
    costs: Costs,
) -> Simulation:
    """Buy ``amount`` (fee included) at the open of each of ``buy_bars``; never sell.

    When the cash left is smaller than ``amount`` the buy uses what is left; buys after
    the cash has run out are skipped and counted.
    """
    n = close.shape[0]
    fee, slip = costs.fee, costs.slippage
    spent_before = np.minimum(amount * np.arange(buy_bars.shape[0]), initial_capital)
    spend = np.minimum(amount, initial_capital - spent_before)
    keep = spend > initial_capital * 1e-12
    bars, spend = buy_bars[keep], spend[keep]
    price = open_[bars] * (1.0 + slip)
    size = spend / (price * (1.0 + fee))

    lengths = np.diff(bars, prepend=0, append=n)
    units = np.repeat(np.concatenate(([0.0], np.cumsum(size))), lengths)
    cash_left = np.maximum(initial_capital - np.cumsum(spend), 0.0)
    cash = np.repeat(np.concatenate(([initial_capital], cash_left)), lengths)
    equity = cash + units * close

    last = close[-1]
    trades = TradeArrays(
        entry_bar=bars.astype(np.int64),
        exit_bar=np.full(bars.shape[0], n - 1, dtype=np.int64),
        entry_price=price,
        exit_price=np.full(bars.shape[0], last),
        size=size,
        cost=spend,
        pnl=size * last - spend,
        fees=size * price * fee,
        is_open=np.ones(bars.shape[0], dtype=np.bool_),
    )
    return Simulation(equity=equity, trades=trades, skipped_buys=int((~keep).sum()))


def period_starts(ts: IntArray, frequency: str) -> IntArray:
    """Indexes of the first bar of every UTC day, week (from Monday) or month.

    The first bar always starts a period.
    """
    days = ts // 86400
    if frequency == "daily":
        key = days
    elif frequency == "weekly":
        key = (days + 3) // 7  # 1970-01-01 was a Thursday; +3 makes weeks start on Monday
    elif frequency == "monthly":
        months = ts.astype("datetime64[s]").astype("datetime64[M]")
        key = months.astype(np.int64)
    else:
        raise ValueError(f"unknown frequency {frequency!r}")
    starts = np.ones(ts.shape[0], dtype=np.bool_)
    starts[1:] = key[1:] != key[:-1]
    return np.flatnonzero(starts).astype(np.int64)
