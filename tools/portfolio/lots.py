"""Tax-lot matching: which bought coins each sale used up, and at what gain.

Every buy opens a *lot* (its trade id is the lot id). Every sell consumes open lots
of the same symbol in the order a method prescribes:

* ``FIFO``: oldest lot first;
* ``LIFO``: newest lot first;
* ``HIFO``: highest unit cost first (ties: oldest first).

Trades are processed in ``(executed_at, id)`` order. Fees are in the quote
currency: a buy fee is part of the lot's cost, a sell fee reduces the sale's
proceeds. When a trade is split across lots, its cost or proceeds (fee included)
are shared in proportion to quantity; the last piece takes what is left, so the
pieces of a trade always add up to the whole trade exactly. Shares of a split are
rounded (half-even) to 18 decimal places; unsplit amounts are exact. One
consequence, checked by the tests: once everything is sold, the total gain is the
same under every method, to the last digit.

A sale that draws on several lots yields one :class:`Disposal` per lot, because
each lot has its own acquisition date and holding period. A disposal is long-term
when the coins were held *more than one year*, counted in calendar dates in UTC:
the sale date is after the first anniversary of the acquisition date (a lot bought
on 29 February has its anniversary on 28 February). Selling on the anniversary
itself is still short-term, as for US tax purposes.

Everything here is pure computation over :class:`TradeRecord` values: no I/O, no
clock. One pass in time order with a heap of open lots per symbol (O(n log n), no
quadratic work); 100,000 trades match in about 0.3 s (``benchmarks/tax.py``), with
the cyclic garbage collector paused meanwhile (see :func:`gc_paused`).
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from operator import attrgetter
from typing import Literal

from tools.errors import UserInputError

Method = Literal["FIFO", "LIFO", "HIFO"]
Side = Literal["buy", "sell"]

METHODS: tuple[Method, ...] = ("FIFO", "LIFO", "HIFO")
"""The cost-basis methods :func:`match_lots` understands."""

SHARE_QUANTUM = Decimal("1e-18")
"""Shares of a split trade's cost or proceeds are rounded to this (half-even)."""

EXACT_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Arithmetic context for sums of amounts: 18-decimal amounts below 10**40 add exactly."""
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One executed trade, as stored.

    Attributes:
        id: Unique trade id; breaks ties between trades at the same instant.
        side: ``"buy"`` or ``"sell"``.
        symbol: Upper-case ticker of the coin traded (e.g. ``"BTC"``).
        quantity: Coins bought or sold; positive.
        price: Price per coin in the quote currency; not negative.
        fee: Fee paid, in the quote currency; not negative.
        executed_at: When the trade happened; timezone-aware.
    """

    id: int
    side: Side
    symbol: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class OpenLot:
    """What is left of one buy.

    Attributes:
        lot_id: Id of the buy trade that opened the lot.
        symbol: Ticker.
        quantity: Coins still held from this lot (positive).
        original_quantity: Coins the buy acquired.
        cost_basis: Cost of the coins still held, buy fee share included.
        unit_cost: Cost per coin still held (``cost_basis / quantity``), fee included.
        acquired_at: Time of the buy (UTC).
    """

    lot_id: int
    symbol: str
    quantity: Decimal
    original_quantity: Decimal
    cost_basis: Decimal
    unit_cost: Decimal
    acquired_at: datetime


@dataclass(slots=True)
class Disposal:
    """Coins from one lot used up by one sell (treat as read-only).

    Not frozen: a history yields one per lot per sell, and a frozen dataclass is
    five times slower to build, which shows at 100,000 trades.

    Attributes:
        symbol: Ticker.
        quantity: Coins taken from the lot by this sell.
        acquired_at: Time of the buy that opened the lot (UTC).
        sold_at: Time of the sell (UTC).
        proceeds: This piece's share of ``quantity * price - fee`` of the sell.
        cost_basis: This piece's share of the lot's cost (buy fee included).
        gain: ``proceeds - cost_basis``; negative for a loss.
        long_term: Held more than one year (see the module docstring).
        lot_id: Id of the buy trade whose lot was consumed.
        sell_id: Id of the sell trade.
    """

    symbol: str
    quantity: Decimal
    acquired_at: datetime
    sold_at: datetime
    proceeds: Decimal
    cost_basis: Decimal
    gain: Decimal
    long_term: bool
    lot_id: int
    sell_id: int


@dataclass(frozen=True, slots=True)
class LotResult:
    """The outcome of matching a trade history.

    Attributes:
        method: The method used.
        open_lots: Per symbol, the lots still held, oldest first; symbols with
            nothing left are absent.
        disposals: Every disposal, in the order the sells happened (and, within a
            sell, in the order the method consumed the lots).
    """

    method: Method
    open_lots: dict[str, tuple[OpenLot, ...]]
    disposals: tuple[Disposal, ...]

    def realised_gain(self, symbol: str | None = None) -> Decimal:
        """Sum the gains of all disposals (exactly), optionally of one symbol only.

        Args:
            symbol: Ticker to restrict the sum to; ``None`` for every symbol.
        """
        with localcontext(EXACT_CONTEXT):
            return sum(
                (d.gain for d in self.disposals if symbol is None or d.symbol == symbol), _ZERO
            )


class _Lot:
    """Mutable state of an open lot during matching."""

    __slots__ = ("anniversary", "at", "cost", "id", "qty", "original")

    def __init__(self, trade: TradeRecord, at: datetime) -> None:
        self.id = trade.id
        self.at = at
        self.qty = self.original = trade.quantity
        self.cost = trade.quantity * trade.price + trade.fee
        self.anniversary = _anniversary(at.date())

    def unit_cost(self) -> Decimal:
        """Cost per coin of the whole buy (unchanged by proportional consumption)."""
        return self.cost / self.qty


def _anniversary(day: date) -> date:
    """The first anniversary of ``day`` (29 February maps to 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return date(day.year + 1, 2, 28)


def parse_method(method: str) -> Method:
    """Validate a cost-basis method name (case-insensitive).

    Args:
        method: ``"FIFO"``, ``"LIFO"`` or ``"HIFO"``.

    Raises:
        UserInputError: Any other name.
    """
    upper = method.strip().upper() if isinstance(method, str) else ""
    for known in METHODS:
        if upper == known:
            return known
    shown = str(method)[:20]
    raise UserInputError(f'Unknown cost-basis method "{shown}". Use FIFO, LIFO or HIFO.')


def _check(trade: TradeRecord) -> None:
    """Reject a trade that cannot be matched, with a message naming it."""
    for name in ("quantity", "price", "fee"):
        amount = getattr(trade, name)
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise UserInputError(f"Trade #{trade.id} has {name} {amount!s:.20}; use a number.")
    if trade.side not in ("buy", "sell"):
        raise UserInputError(f'Trade #{trade.id} has side "{trade.side}"; use buy or sell.')
    if not trade.quantity > 0:
        shown = _qty(trade.quantity)
        raise UserInputError(f"Trade #{trade.id} has quantity {shown}; it must be above 0.")
    if trade.price < 0 or trade.fee < 0:
        raise UserInputError(f"Trade #{trade.id} has a negative price or fee.")
    if trade.executed_at.utcoffset() is None:
        raise UserInputError(f"Trade #{trade.id} has a time without a time zone.")
    if not trade.symbol.strip():
        raise UserInputError(f"Trade #{trade.id} has no symbol.")


def _qty(value: Decimal) -> str:
    """A quantity for messages, without exponent or trailing zeros."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_ORDER = attrgetter("executed_at", "id")


def match_lots(trades: Iterable[TradeRecord], method: str = "FIFO") -> LotResult:
    """Match sells to buys with a cost-basis method.

    Args:
        trades: The trade history, in any order (sorted here by time, then id).
        method: ``"FIFO"``, ``"LIFO"`` or ``"HIFO"`` (case-insensitive).

    Returns:
        The open lots left and every disposal, with gains.

    Raises:
        UserInputError: Unknown method, a malformed trade (side, quantity, price,
            fee, symbol or a time without time zone), or a sell of more coins than
            were held at that moment (the message names the symbol, the quantity
            sold and the quantity held).
    """
    chosen = parse_method(method)
    with localcontext(EXACT_CONTEXT), gc_paused():
        ordered = list(trades)
        try:
            ordered.sort(key=_ORDER)
        except TypeError:  # a naive time among aware ones: name the trade
            for trade in ordered:
                _check(trade)
            raise
        try:
            return _match(ordered, chosen)
        except (InvalidOperation, TypeError, AttributeError):  # NaN, float, None: name it
            for trade in ordered:
                _check(trade)
            raise


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a burst of acyclic allocations.

    Matching creates one object per lot and per disposal (a tax report one more
    per row) and none of them form cycles; with the collector running, its
    repeated passes over these and over the caller's trades cost as much as the
    work itself (measured: 330 ms instead of 80 ms for 100,000 tax rows).
    Re-entrant: an inner pause leaves the collector as the outer one found it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _match(ordered: list[TradeRecord], method: Method) -> LotResult:
    """One pass over time-ordered trades; each symbol's open lots sit in a heap.

    Heap keys: the trade's position in time order (FIFO), its negation (LIFO), or
    (negated unit cost, position) (HIFO). Keys are unique, so lots are never
    compared themselves.
    """
    heaps: dict[str, list[tuple[object, _Lot]]] = {}
    held: dict[str, Decimal] = {}
    disposals: list[Disposal] = []
    append = disposals.append
    push, pop = heapq.heappush, heapq.heappop
    quantum = SHARE_QUANTUM
    for seq, trade in enumerate(ordered):
        quantity = trade.quantity
        if not (quantity > 0 and trade.price >= 0 and trade.fee >= 0):
            _check(trade)
        at = trade.executed_at
        if at.tzinfo is not UTC:
            _check(trade)
            at = at.astimezone(UTC)
        symbol = trade.symbol.upper()
        side = trade.side
        if side == "buy":
            heap = heaps.get(symbol)
            if heap is None:
                _check(trade)
                heap = heaps[symbol] = []
            lot = _Lot(trade, at)
            key: object = seq if method == "FIFO" else -seq
            if method == "HIFO":
                key = (-lot.unit_cost(), seq)
            push(heap, (key, lot))
            held[symbol] = held.get(symbol, _ZERO) + quantity
            continue
        if side != "sell":
            _check(trade)
        available = held.get(symbol, _ZERO)
        if quantity > available:
            raise _oversold(trade, symbol, available)
        held[symbol] = available - quantity
        heap = heaps[symbol]
        left = quantity
        proceeds_left = quantity * trade.price - trade.fee
        sold_day = at.date()
        while left:
            lot = heap[0][1]
            if lot.qty <= left:
                take, cost = lot.qty, lot.cost
                pop(heap)
            else:
                take = left
                cost = (lot.cost * take / lot.qty).quantize(quantum)
                lot.qty -= take
                lot.cost -= cost
            if take == left:
                proceeds = proceeds_left
            else:
                proceeds = (proceeds_left * take / left).quantize(quantum)
                proceeds_left -= proceeds
            left -= take
            append(
                Disposal(
                    symbol,
                    take,
                    lot.at,
                    at,
                    proceeds,
                    cost,
                    proceeds - cost,
                    sold_day > lot.anniversary,
                    lot.id,
                    trade.id,
                )
            )
    open_lots: dict[str, tuple[OpenLot, ...]] = {}
    for symbol, heap in heaps.items():
        if heap:
            lots = sorted((entry[1] for entry in heap), key=attrgetter("at", "id"))
            open_lots[symbol] = tuple(_open(symbol, lot) for lot in lots)
    return LotResult(method, open_lots, tuple(disposals))


def _oversold(trade: TradeRecord, symbol: str, held: Decimal) -> UserInputError:
    when = trade.executed_at.astimezone(UTC)
    return UserInputError(
        f"Cannot sell {_qty(trade.quantity)} {symbol} (trade #{trade.id}, "
        f"{when:%Y-%m-%d %H:%M} UTC): only {_qty(held)} {symbol} held at that time."
    )


def _open(symbol: str, lot: _Lot) -> OpenLot:
    return OpenLot(lot.id, symbol, lot.qty, lot.original, lot.cost, lot.unit_cost(), lot.at)
