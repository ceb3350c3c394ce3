"""Holdings and P&L: what a trade history holds now, what it is worth, what it made.

Pure computation over :class:`~tools.portfolio.lots.TradeRecord` values and a
mapping of current prices (the caller fetches them, usually from the price cache).
Open quantities and cost come from lot matching (:func:`match_lots`), so the
average cost is that of the coins still held, buy fees included, under the chosen
method; realised P&L is the sum of the disposals' gains.

A symbol without a price is listed with ``price``, ``value`` and the figures that
depend on them set to ``None`` and a note; nothing is invented, and totals cover the
priced positions only (``PortfolioSummary.unpriced`` names the others).

Percentages are ``Decimal`` percent (``12.5`` means 12.5 %), unrounded; front-ends
round for display. Allocation is each priced position's share of the total value,
so the allocations of the priced positions add up to 100 (up to the last digit of
28-digit division).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from tools.portfolio.lots import EXACT_CONTEXT, LotResult, TradeRecord, match_lots

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
# Sums, products and differences are exact (EXACT_CONTEXT); ratios have 28 digits.
_RATIO = Context(prec=28, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Position:
    """One coin still held.

    Attributes:
        symbol: Ticker.
        quantity: Coins held.
        cost_basis: What the held coins cost, buy fees included.
        average_cost: ``cost_basis / quantity``.
        price: Current price, or ``None`` when none was given.
        value: ``quantity * price``, or ``None`` without a price.
        unrealised_pnl: ``value - cost_basis``, or ``None`` without a price.
        unrealised_pct: ``unrealised_pnl / cost_basis`` in percent; ``None`` without
            a price or when the coins cost nothing.
        realised_pnl: Sum of the gains of this symbol's sales.
        allocation_pct: Share of the portfolio's total value in percent; ``None``
            without a price or when the total value is zero.
        change_24h_pct: Price change against ``prev_prices`` in percent, or ``None``.
        change_24h_value: ``quantity * (price - previous price)``, or ``None``.
        note: Why figures are missing, or ``None``.
    """

    symbol: str
    quantity: Decimal
    cost_basis: Decimal
    average_cost: Decimal
    price: Decimal | None
    value: Decimal | None
    unrealised_pnl: Decimal | None
    unrealised_pct: Decimal | None
    realised_pnl: Decimal
    allocation_pct: Decimal | None
    change_24h_pct: Decimal | None
    change_24h_value: Decimal | None
    note: str | None


@dataclass(frozen=True, slots=True)
class ClosedPosition:
    """A coin that was traded but is no longer held.

    Attributes:
        symbol: Ticker.
        realised_pnl: Sum of the gains of its sales.
    """

    symbol: str
    realised_pnl: Decimal


@dataclass(frozen=True, slots=True)
class PortfolioSummary:
    """Holdings, values and P&L of a trade history.

    Attributes:
        method: Cost-basis method used for average cost and realised P&L.
        positions: Coins held, by value (highest first), unpriced ones last.
        closed: Coins fully sold, by symbol.
        total_value: Sum of the priced positions' values.
        total_cost: Sum of the priced positions' cost bases.
        unrealised_pnl: ``total_value - total_cost``.
        unrealised_pct: ``unrealised_pnl / total_cost`` in percent, or ``None``
            when the cost is zero.
        realised_pnl: Sum of every sale's gain (held and closed coins).
        change_24h_value: Sum of the positions' 24h value changes, or ``None``
            when no position has a previous price.
        change_24h_pct: That change against the value 24 h ago, in percent, over
            the positions that have both prices; ``None`` when unknown.
        best: The priced position with the highest ``unrealised_pct``, or ``None``.
        worst: The priced position with the lowest ``unrealised_pct``, or ``None``.
        unpriced: Symbols held for which no price was given.
    """

    method: str
    positions: tuple[Position, ...]
    closed: tuple[ClosedPosition, ...]
    total_value: Decimal
    total_cost: Decimal
    unrealised_pnl: Decimal
    unrealised_pct: Decimal | None
    realised_pnl: Decimal
    change_24h_value: Decimal | None
    change_24h_pct: Decimal | None
    best: Position | None
    worst: Position | None
    unpriced: tuple[str, ...]


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole`` in percent to 28 significant digits; ``None`` for a zero whole."""
    return None if whole == 0 else _RATIO.multiply(_RATIO.divide(part, whole), _HUNDRED)


def holdings(
    trades: Iterable[TradeRecord],
    prices: Mapping[str, Decimal],
    *,
    prev_prices: Mapping[str, Decimal] | None = None,
    method: str = "FIFO",
) -> PortfolioSummary:
    """Summarise what a trade history holds, its value and its P&L.

    Args:
        trades: The user's trades, in any order.
        prices: Current price per upper-case ticker, in the trades' quote currency.
        prev_prices: Prices 24 hours ago, for the 24h change; optional.
        method: Cost-basis method, ``"FIFO"``, ``"LIFO"`` or ``"HIFO"``.

    Returns:
        Positions, closed positions, totals, best and worst performers.

    Raises:
        UserInputError: As :func:`~tools.portfolio.lots.match_lots` (bad method,
            malformed trade, selling more than held).
    """
    result = match_lots(trades, method)
    with localcontext(EXACT_CONTEXT):
        return _summarise(result, prices, prev_prices or {})


def _summarise(
    result: LotResult, prices: Mapping[str, Decimal], previous: Mapping[str, Decimal]
) -> PortfolioSummary:
    realised: dict[str, Decimal] = {}
    for disposal in result.disposals:
        realised[disposal.symbol] = realised.get(disposal.symbol, _ZERO) + disposal.gain

    held: list[tuple[str, Decimal, Decimal, Decimal | None]] = []
    total_value = total_cost = _ZERO
    for symbol, lots in result.open_lots.items():
        quantity = sum((lot.quantity for lot in lots), _ZERO)
        cost = sum((lot.cost_basis for lot in lots), _ZERO)
        price = prices.get(symbol)
        if price is not None:
            total_value += quantity * price
            total_cost += cost
        held.append((symbol, quantity, cost, price))

    positions: list[Position] = []
    change_value = change_base = _ZERO
    any_change = False
    for symbol, quantity, cost, price in held:
        gain = realised.get(symbol, _ZERO)
        average = _RATIO.divide(cost, quantity)
        if price is None:
            note = f"No current price for {symbol}; its value and P&L are not shown."
            positions.append(
                Position(
                    symbol=symbol,
                    quantity=quantity,
                    cost_basis=cost,
                    average_cost=average,
                    price=None,
                    value=None,
                    unrealised_pnl=None,
                    unrealised_pct=None,
                    realised_pnl=gain,
                    allocation_pct=None,
                    change_24h_pct=None,
                    change_24h_value=None,
                    note=note,
                )
            )
            continue
        value = quantity * price
        moved = moved_pct = None
        before = previous.get(symbol)
        if before is not None:
            moved = quantity * (price - before)
            moved_pct = _pct(price - before, before)
            change_value += moved
            change_base += quantity * before
            any_change = True
        positions.append(
            Position(
                symbol=symbol,
                quantity=quantity,
                cost_basis=cost,
                average_cost=average,
                price=price,
                value=value,
                unrealised_pnl=value - cost,
                unrealised_pct=_pct(value - cost, cost),
                realised_pnl=gain,
                allocation_pct=_pct(value, total_value),
                change_24h_pct=moved_pct,
                change_24h_value=moved,
                note=None,
            )
        )

    positions.sort(key=lambda p: (p.value is None, -(p.value or _ZERO), p.symbol))
    ranked = sorted(
        ((p.unrealised_pct, p.symbol, p) for p in positions if p.unrealised_pct is not None),
        key=lambda entry: entry[:2],
    )
    closed = tuple(
        ClosedPosition(symbol, gain)
        for symbol, gain in sorted(realised.items())
        if symbol not in result.open_lots
    )
    return PortfolioSummary(
        method=result.method,
        positions=tuple(positions),
        closed=closed,
        total_value=total_value,
        total_cost=total_cost,
        unrealised_pnl=total_value - total_cost,
        unrealised_pct=_pct(total_value - total_cost, total_cost),
        realised_pnl=result.realised_gain(),
        change_24h_value=change_value if any_change else None,
        change_24h_pct=_pct(change_value, change_base) if any_change else None,
        best=ranked[-1][2] if ranked else None,
        worst=ranked[0][2] if ranked else None,
        unpriced=tuple(sorted(p.symbol for p in positions if p.price is None)),
    )
