"""Holdings summary: values, P&L, allocation, 24h change, missing prices, totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.errors import UserInputError
from tools.portfolio.holdings import holdings
from tools.portfolio.lots import TradeRecord

D = Decimal
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def trade(id: int, side: str, symbol: str, qty: str, price: str, fee: str = "0") -> TradeRecord:
    return TradeRecord(id, side, symbol, D(qty), D(price), D(fee), T0 + timedelta(hours=id))  # type: ignore[arg-type]


HISTORY = [
    trade(1, "buy", "BTC", "1", "100", "2"),  # lot cost 102
    trade(2, "buy", "BTC", "1", "200", "4"),  # lot cost 204
    trade(3, "sell", "BTC", "1", "300", "3"),  # FIFO: proceeds 297 - cost 102 = 195
    trade(4, "buy", "ETH", "10", "10"),  # cost 100
    trade(5, "buy", "DOGE", "1000", "0.1"),  # cost 100, no price given
    trade(6, "buy", "SOL", "2", "50"),
    trade(7, "sell", "SOL", "2", "40", "1"),  # closed: 79 - 100 = -21
]


def test_positions_values_and_pnl() -> None:
    summary = holdings(HISTORY, {"BTC": D(250), "ETH": D(5)}, prev_prices={"BTC": D(200)})
    btc, eth, doge = summary.positions
    assert (btc.symbol, btc.quantity, btc.cost_basis, btc.average_cost) == ("BTC", 1, 204, 204)
    assert (btc.value, btc.unrealised_pnl, btc.realised_pnl) == (250, 46, 195)
    assert btc.unrealised_pct == D(46) / 204 * 100
    assert btc.change_24h_pct == 25
    assert btc.change_24h_value == 50
    assert (eth.value, eth.unrealised_pnl, eth.unrealised_pct) == (50, -50, -50)
    assert eth.change_24h_pct is None and eth.change_24h_value is None
    assert btc.allocation_pct == D(250) / 300 * 100
    assert eth.allocation_pct == D(50) / 300 * 100

    assert summary.total_value == 300
    assert summary.total_cost == 304
    assert summary.unrealised_pnl == -4
    assert summary.realised_pnl == 195 - 21
    assert summary.change_24h_value == 50
    assert summary.change_24h_pct == 25
    assert summary.best is btc
    assert summary.worst is eth
    assert [(c.symbol, c.realised_pnl) for c in summary.closed] == [("SOL", -21)]


def test_a_symbol_without_price_is_listed_without_invented_values() -> None:
    summary = holdings(HISTORY, {"BTC": D(250), "ETH": D(5)})
    doge = summary.positions[-1]
    assert doge.symbol == "DOGE"
    assert doge.quantity == 1000 and doge.average_cost == D("0.1")
    assert doge.price is None and doge.value is None
    assert doge.unrealised_pnl is None and doge.allocation_pct is None
    assert doge.note is not None and "DOGE" in doge.note
    assert summary.unpriced == ("DOGE",)
    assert summary.total_value == 300  # DOGE not counted
    assert summary.change_24h_value is None and summary.change_24h_pct is None


def test_method_changes_average_cost_and_realised_pnl() -> None:
    summary = holdings(HISTORY, {"BTC": D(250)}, method="LIFO")
    btc = summary.positions[0]
    assert btc.average_cost == 102
    assert btc.realised_pnl == 297 - 204
    assert summary.method == "LIFO"


def test_empty_history_and_free_coins() -> None:
    empty = holdings([], {})
    assert empty.positions == () and empty.total_value == 0 and empty.best is None
    airdrop = holdings([trade(1, "buy", "ARB", "5", "0")], {"ARB": D(0)})
    (arb,) = airdrop.positions
    assert arb.unrealised_pct is None and arb.allocation_pct is None
    assert airdrop.unrealised_pct is None


def test_errors_from_matching_reach_the_caller() -> None:
    with pytest.raises(UserInputError):
        holdings([trade(1, "sell", "BTC", "1", "1")], {"BTC": D(1)})
    with pytest.raises(UserInputError):
        holdings(HISTORY, {}, method="NOPE")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**12),  # quantity in 1e-8 units
            st.integers(0, 10**9),  # buy price in cents
            st.integers(0, 10**9),  # current price in 1e-4 units
            st.booleans(),  # priced?
        ),
        max_size=25,
    )
)
def test_totals_are_consistent(
    rows: list[tuple[int, int, int, bool]],
) -> None:
    trades = []
    prices = {}
    for i, (units, cents, price, priced) in enumerate(rows):
        symbol = f"C{i}"
        trades.append(trade(i, "buy", symbol, str(D(units).scaleb(-8)), str(D(cents).scaleb(-2))))
        if priced:
            prices[symbol] = D(price).scaleb(-4)
    summary = holdings(trades, prices)
    priced_positions = [p for p in summary.positions if p.value is not None]
    assert sum((p.value for p in priced_positions if p.value), D(0)) == summary.total_value
    assert sum((p.cost_basis for p in priced_positions), D(0)) == summary.total_cost
    assert summary.unrealised_pnl == summary.total_value - summary.total_cost
    assert all(p.quantity > 0 for p in summary.positions)
    if summary.total_value:
        allocations = [p.allocation_pct or D(0) for p in priced_positions]
        assert abs(sum(allocations) - 100) < D("1e-20")
    values = [p.value for p in priced_positions]
    assert values == sorted(values, reverse=True)
    assert len(summary.positions) == len(rows)
