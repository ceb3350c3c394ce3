"""Lot matching: hand-computed FIFO/LIFO/HIFO cases, holding periods, errors, properties."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.errors import UserInputError
from tools.portfolio.lots import (
    EXACT_CONTEXT,
    METHODS,
    LotResult,
    TradeRecord,
    match_lots,
    parse_method,
)

D = Decimal
T0 = datetime(2023, 1, 10, 12, 0, tzinfo=UTC)


def trade(
    id: int,
    side: str,
    qty: str,
    price: str,
    fee: str = "0",
    at: datetime | None = None,
    symbol: str = "BTC",
) -> TradeRecord:
    return TradeRecord(id, side, symbol, D(qty), D(price), D(fee), at or T0 + timedelta(days=id))  # type: ignore[arg-type]


# Three buys with fees, then one sell that spans lots under every method:
#   #1 buy 1 @ 100, fee 2  -> lot cost 102 (unit 102)
#   #2 buy 1 @ 200, fee 4  -> lot cost 204 (unit 204)
#   #3 buy 2 @ 150, fee 0  -> lot cost 300 (unit 150)
#   #4 sell 1.5 @ 300, fee 3 -> proceeds 447 (298 per coin)
HISTORY = [
    trade(1, "buy", "1", "100", "2"),
    trade(2, "buy", "1", "200", "4"),
    trade(3, "buy", "2", "150"),
    trade(4, "sell", "1.5", "300", "3"),
]


def pieces(result: LotResult) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal]]:
    return [(d.lot_id, d.quantity, d.proceeds, d.cost_basis, d.gain) for d in result.disposals]


def remaining(result: LotResult) -> list[tuple[int, Decimal, Decimal]]:
    return [(lot.lot_id, lot.quantity, lot.cost_basis) for lot in result.open_lots["BTC"]]


def test_fifo_uses_oldest_lots_and_shares_fees_by_quantity() -> None:
    result = match_lots(HISTORY, "FIFO")
    assert pieces(result) == [
        (1, D(1), D(298), D(102), D(196)),
        (2, D("0.5"), D(149), D(102), D(47)),
    ]
    assert remaining(result) == [(2, D("0.5"), D(102)), (3, D(2), D(300))]
    assert result.realised_gain() == D(243)


def test_lifo_uses_newest_lot() -> None:
    result = match_lots(HISTORY, "LIFO")
    assert pieces(result) == [(3, D("1.5"), D(447), D(225), D(222))]
    assert remaining(result) == [(1, D(1), D(102)), (2, D(1), D(204)), (3, D("0.5"), D(75))]


def test_hifo_uses_highest_unit_cost_including_fees() -> None:
    result = match_lots(HISTORY, "hifo")
    assert result.method == "HIFO"
    assert pieces(result) == [
        (2, D(1), D(298), D(204), D(94)),
        (3, D("0.5"), D(149), D(75), D(74)),
    ]
    assert remaining(result) == [(1, D(1), D(102)), (3, D("1.5"), D(225))]
    assert result.open_lots["BTC"][1].unit_cost == D(150)


def test_hifo_ties_take_the_oldest_lot() -> None:
    history = [trade(1, "buy", "1", "10"), trade(2, "buy", "1", "10"), trade(3, "sell", "1", "5")]
    assert [d.lot_id for d in match_lots(history, "HIFO").disposals] == [1]


def test_split_shares_add_up_to_the_whole_exactly() -> None:
    # A lot of 3 coins costing 10 is sold in thirds: 10/3 is rounded, the last piece
    # takes the remainder, so the pieces sum to 10 exactly.
    history = [
        trade(1, "buy", "3", "3", "1"),
        trade(2, "sell", "1", "7"),
        trade(3, "sell", "1", "7"),
        trade(4, "sell", "1", "7"),
    ]
    result = match_lots(history, "FIFO")
    costs = [d.cost_basis for d in result.disposals]
    assert costs[0] == D("3.333333333333333333")
    assert sum(costs) == D(10)
    assert result.realised_gain() == D(11)
    assert result.open_lots == {}


def test_a_sell_split_across_lots_shares_its_fee_by_quantity() -> None:
    history = [
        trade(1, "buy", "1", "10"),
        trade(2, "buy", "2", "10"),
        trade(3, "sell", "3", "20", "3"),
    ]
    proceeds = [d.proceeds for d in match_lots(history, "FIFO").disposals]
    assert proceeds == [D(19), D(38)]


def test_trades_are_ordered_by_time_then_id() -> None:
    same = T0 + timedelta(days=30)
    history = [trade(9, "sell", "1", "5", at=same), trade(8, "buy", "1", "4", at=same)]
    # Given out of order; the buy (id 8) sorts first at the same instant.
    assert match_lots(list(reversed(history)), "FIFO").realised_gain() == D(1)
    assert match_lots(history, "FIFO").disposals[0].lot_id == 8
    with pytest.raises(UserInputError):
        match_lots([trade(8, "sell", "1", "5", at=same), trade(9, "buy", "1", "4", at=same)])


def test_times_are_normalised_to_utc_and_symbols_to_upper_case() -> None:
    est = timezone(timedelta(hours=-5))
    history = [
        trade(1, "buy", "1", "1", at=datetime(2023, 3, 1, 22, 0, tzinfo=est), symbol="eth"),
        trade(2, "sell", "1", "2", at=datetime(2023, 3, 5, tzinfo=UTC), symbol="ETH"),
    ]
    (disposal,) = match_lots(history).disposals
    assert disposal.symbol == "ETH"
    assert disposal.acquired_at == datetime(2023, 3, 2, 3, 0, tzinfo=UTC)
    assert disposal.acquired_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("bought", "sold", "long_term"),
    [
        (datetime(2022, 3, 15, 10, tzinfo=UTC), datetime(2023, 3, 15, 23, tzinfo=UTC), False),
        (datetime(2022, 3, 15, 10, tzinfo=UTC), datetime(2023, 3, 16, 0, tzinfo=UTC), True),
        (datetime(2022, 3, 15, 10, tzinfo=UTC), datetime(2022, 9, 1, tzinfo=UTC), False),
        (datetime(2020, 2, 29, tzinfo=UTC), datetime(2021, 2, 28, 12, tzinfo=UTC), False),
        (datetime(2020, 2, 29, tzinfo=UTC), datetime(2021, 3, 1, tzinfo=UTC), True),
        (datetime(2021, 1, 1, tzinfo=UTC), datetime(2022, 1, 2, tzinfo=UTC), True),
    ],
)
def test_long_term_means_sold_after_the_first_anniversary(
    bought: datetime, sold: datetime, long_term: bool
) -> None:
    history = [trade(1, "buy", "1", "1", at=bought), trade(2, "sell", "1", "2", at=sold)]
    assert match_lots(history).disposals[0].long_term is long_term


def test_one_sell_can_be_part_short_and_part_long_term() -> None:
    history = [
        trade(1, "buy", "1", "1", at=datetime(2021, 1, 1, tzinfo=UTC)),
        trade(2, "buy", "1", "1", at=datetime(2022, 6, 1, tzinfo=UTC)),
        trade(3, "sell", "2", "5", at=datetime(2022, 7, 1, tzinfo=UTC)),
    ]
    assert [d.long_term for d in match_lots(history).disposals] == [True, False]


def test_overselling_names_the_symbol_and_quantities() -> None:
    history = [trade(1, "buy", "1.5", "10"), trade(2, "sell", "2", "10")]
    with pytest.raises(UserInputError) as info:
        match_lots(history, "LIFO")
    message = info.value.user_message
    assert "Cannot sell 2 BTC" in message
    assert "only 1.5 BTC" in message
    assert "#2" in message


def test_selling_a_coin_never_bought_is_an_oversell() -> None:
    with pytest.raises(UserInputError, match="only 0 SOL"):
        match_lots([trade(1, "sell", "1", "10", symbol="SOL")], "HIFO")


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(UserInputError, match="FIFO, LIFO or HIFO"):
        match_lots(HISTORY, "AVERAGE")
    assert parse_method(" lifo ") == "LIFO"


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (trade(1, "buy", "0", "1"), "above 0"),
        (trade(1, "buy", "-1", "1"), "above 0"),
        (trade(1, "buy", "1", "-1"), "negative"),
        (trade(1, "buy", "1", "1", "-0.1"), "negative"),
        (trade(1, "hold", "1", "1"), "buy or sell"),
        (trade(1, "buy", "NaN", "1"), "number"),
        (trade(1, "buy", "1", "1", symbol=""), "no symbol"),
        (trade(1, "buy", "1", "1", at=datetime(2023, 1, 1)), "time zone"),  # noqa: DTZ001
    ],
)
def test_malformed_trades_are_rejected(bad: TradeRecord, fragment: str) -> None:
    with pytest.raises(UserInputError, match=fragment):
        match_lots([trade(2, "buy", "1", "1", at=datetime(2023, 1, 1, tzinfo=UTC)), bad])


def test_a_naive_time_alone_is_rejected() -> None:
    with pytest.raises(UserInputError, match="time zone"):
        match_lots([trade(1, "buy", "1", "1", at=datetime(2023, 1, 1))])  # noqa: DTZ001


# --- properties -------------------------------------------------------------------------

SYMBOLS = ("BTC", "ETH", "SOL")


@st.composite
def histories(draw: st.DrawFn, close_all: bool) -> list[TradeRecord]:
    """Valid histories (never oversold) with 8-decimal quantities and cent prices/fees."""
    held = dict.fromkeys(SYMBOLS, 0)  # in units of 1e-8
    trades: list[TradeRecord] = []
    at = datetime(2020, 1, 1, tzinfo=UTC)
    steps = draw(st.lists(st.tuples(st.sampled_from(SYMBOLS), st.booleans()), max_size=40))
    for symbol, wants_sell in steps:
        at += timedelta(hours=draw(st.integers(0, 24 * 500)))
        price = D(draw(st.integers(0, 10_000_000))) / 100
        fee = D(draw(st.integers(0, 5_000))) / 100
        if wants_sell and held[symbol]:
            units = draw(st.integers(1, held[symbol]))
            held[symbol] -= units
            side = "sell"
        else:
            units = draw(st.integers(1, 10**10))
            held[symbol] += units
            side = "buy"
        qty = D(units).scaleb(-8)
        trades.append(TradeRecord(len(trades) + 1, side, symbol, qty, price, fee, at))  # type: ignore[arg-type]
    if close_all:
        for symbol, units in held.items():
            if units:
                at += timedelta(days=1)
                price = D(draw(st.integers(0, 10_000_000))) / 100
                qty = D(units).scaleb(-8)
                trades.append(TradeRecord(len(trades) + 1, "sell", symbol, qty, price, D(1), at))
    return draw(st.permutations(trades))


@settings(max_examples=150, deadline=None)
@given(histories(close_all=True))
def test_once_everything_is_sold_every_method_has_the_same_total_gain(
    trades: list[TradeRecord],
) -> None:
    with localcontext(EXACT_CONTEXT):
        proceeds = sum((t.quantity * t.price - t.fee for t in trades if t.side == "sell"), D(0))
        costs = sum((t.quantity * t.price + t.fee for t in trades if t.side == "buy"), D(0))
        expected = proceeds - costs
    results = [match_lots(trades, method) for method in METHODS]
    assert all(r.open_lots == {} for r in results)
    assert [r.realised_gain() for r in results] == [expected] * 3


@settings(max_examples=150, deadline=None)
@given(histories(close_all=False), st.sampled_from(METHODS))
def test_no_lot_is_consumed_twice_and_nothing_goes_negative(
    trades: list[TradeRecord], method: str
) -> None:
    result = match_lots(trades, method)
    bought = {t.id: t for t in trades if t.side == "buy"}
    consumed: dict[int, Decimal] = defaultdict(D)
    for d in result.disposals:
        assert d.quantity > 0
        assert d.cost_basis >= 0
        assert d.acquired_at <= d.sold_at
        assert bought[d.lot_id].symbol == d.symbol
        consumed[d.lot_id] += d.quantity
    left = {lot.lot_id: lot.quantity for lots in result.open_lots.values() for lot in lots}
    for lot_id, buy in bought.items():
        assert consumed[lot_id] <= buy.quantity
        assert consumed[lot_id] + left.get(lot_id, D(0)) == buy.quantity
    for lots in result.open_lots.values():
        for lot in lots:
            assert lot.quantity > 0
            assert lot.cost_basis >= 0
    sold = defaultdict(D)
    for t in trades:
        if t.side == "sell":
            sold[t.id] += t.quantity
    per_sell: dict[int, Decimal] = defaultdict(D)
    for d in result.disposals:
        per_sell[d.sell_id] += d.quantity
    assert per_sell == sold
