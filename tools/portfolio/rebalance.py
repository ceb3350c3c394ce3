"""Rebalancing: how far holdings drifted from their targets and the trades that fix it.

Pure computation over current values (money, ``Decimal``) and prices.

* **Weights** are fractions of the total value, cash and stablecoins included. Targets
  are scaled to add up to exactly 1 (``parse_targets`` allows half a point of slack).
* **Drift** of an asset: ``current - target`` in percentage points, and relative to the
  target in percent (``None`` for a holding without a target).
* **Bands** (the "5/25 rule"): an asset is outside its band when its drift exceeds
  ``abs_band_pct`` points **or** its relative drift exceeds ``rel_band_pct`` percent.
  In effect the band is ``min(abs_band_pct, rel_band_pct% of the target)``: the absolute
  band governs large targets, the relative one small targets. A holding without a target
  is always outside (it should be sold).
* **Trades**: when any asset is outside its band, every asset is brought back to its
  target exactly (not merely to its band edge): overweight assets are sold, underweight
  ones bought, untargeted holdings sold to zero. A trade smaller than ``min_trade_value``
  is skipped; the largest buy absorbs what the skipped trades would have moved, so the
  plan never spends cash it does not have and leaves no stray cash behind (without any
  buy, the proceeds of sells stay as cash).
* **Cash**: the literal ``CASH`` is never traded; its change is ``cash_change`` (sells
  minus buys). Stablecoins are traded like coins but flagged ``cash_like``.
* **Quantities** are ``value / price`` rounded to 8 decimals (a satoshi for BTC).
  Fees are estimated at ``fee_pct`` percent of each trade's value and are *not*
  included in the sizing: they come out of the cash after the trades.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from tools.errors import UserInputError
from tools.market.catalog import STABLECOINS
from tools.portfolio.targets import CASH

#: Symbols that count as cash-like by default: CASH and the known stablecoins.
DEFAULT_CASH_LIKE: frozenset[str] = frozenset({CASH, *(s.symbol for s in STABLECOINS)})

_CENT = Decimal("0.01")
_QUANTITY = Decimal("0.00000001")
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class AssetDrift:
    """One asset's position against its target.

    Attributes:
        symbol: Upper-case ticker or ``CASH``.
        value: Current value.
        target_value: Value at the target weight.
        current_weight: Fraction of the total (``0.6`` is 60 %).
        target_weight: Target fraction (``0`` for a holding without a target).
        drift_points: ``(current - target) * 100``: percentage points over (+) or under.
        relative_drift_pct: Drift relative to the target, in percent; ``None`` without one.
        outside_band: Whether this asset alone calls for rebalancing.
        cash_like: ``CASH`` or a stablecoin.
    """

    symbol: str
    value: Decimal
    target_value: Decimal
    current_weight: Decimal
    target_weight: Decimal
    drift_points: Decimal
    relative_drift_pct: Decimal | None
    outside_band: bool
    cash_like: bool


@dataclass(frozen=True, slots=True)
class Trade:
    """One order of the plan.

    Attributes:
        symbol: What to trade.
        side: ``sell`` or ``buy``.
        value: Money value of the order.
        quantity: Units, ``value / price`` to 8 decimals.
        price: The price it was sized at.
        fee: Estimated fee.
        sell_all: The whole holding goes (the quantity may differ in the last digit).
        cash_like: A stablecoin.
    """

    symbol: str
    side: Literal["sell", "buy"]
    value: Decimal
    quantity: Decimal
    price: Decimal
    fee: Decimal
    sell_all: bool
    cash_like: bool


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    """Drift of every asset and the trades that restore the targets.

    Attributes:
        total_value: Value of everything held, cash included.
        assets: Every held or targeted asset, largest target first.
        needed: Whether to act: some asset is outside its band and a trade is large enough.
        trades: Sells first, then buys, largest first (empty when not needed).
        total_sell, total_buy: Sum of sell and buy values.
        total_fees: Sum of estimated fees.
        cash_change: Change of the ``CASH`` balance (``total_sell - total_buy``).
        skipped: Symbols whose trade was below ``min_trade_value``.
        explanation: Plain text for the user.
    """

    total_value: Decimal
    assets: tuple[AssetDrift, ...]
    needed: bool
    trades: tuple[Trade, ...]
    total_sell: Decimal
    total_buy: Decimal
    total_fees: Decimal
    cash_change: Decimal
    skipped: tuple[str, ...]
    explanation: str


def rebalance_plan(
    holdings_values: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    targets: Mapping[str, Decimal],
    *,
    abs_band_pct: float = 5.0,
    rel_band_pct: float = 25.0,
    min_trade_value: Decimal = Decimal("10"),
    fee_pct: Decimal = Decimal("0.1"),
    cash_like: Collection[str] = DEFAULT_CASH_LIKE,
    currency: str = "USD",
) -> RebalancePlan:
    """Measure drift from the targets and plan the trades that restore them.

    Args:
        holdings_values: Current value of each holding (``CASH`` for cash).
        prices: Price of one unit of each asset to trade (``CASH`` needs none).
        targets: Target fractions, e.g. from :func:`tools.portfolio.targets.parse_targets`.
        abs_band_pct: Allowed drift in percentage points.
        rel_band_pct: Allowed drift relative to the target, in percent.
        min_trade_value: Trades below this value are skipped.
        fee_pct: Estimated fee, percent of each trade's value.
        cash_like: Symbols that count as cash (``CASH`` is never traded).
        currency: Quote currency, for the explanation.

    Returns:
        A :class:`RebalancePlan`.

    Raises:
        UserInputError: Nothing held, negative holdings, or no usable targets.
        ValueError: A price missing or not positive for an asset that must be traded.
    """
    values = {s.upper(): _dec(v) for s, v in holdings_values.items()}
    if any(v < 0 for v in values.values()):
        raise UserInputError("Holdings cannot be negative.")
    total = sum(values.values(), Decimal(0))
    if total <= 0:
        raise UserInputError("There is nothing to rebalance: the portfolio is empty.")
    goals = {s.upper(): _dec(w) for s, w in targets.items()}
    if not goals or any(w <= 0 for w in goals.values()):
        raise UserInputError("Set targets above 0% for at least one coin before rebalancing.")
    goal_sum = sum(goals.values(), Decimal(0))
    goals = {s: w / goal_sum for s, w in goals.items()}
    cash_set = {s.upper() for s in cash_like} | {CASH}
    price_of = {s.upper(): _dec(p) for s, p in prices.items()}

    order = sorted(
        set(values) | set(goals), key=lambda s: (-goals.get(s, Decimal(0)), -values.get(s, 0), s)
    )
    abs_band, rel_band = Decimal(str(abs_band_pct)), Decimal(str(rel_band_pct))
    assets: list[AssetDrift] = []
    for s in order:
        value, target = values.get(s, Decimal(0)), goals.get(s, Decimal(0))
        weight = value / total
        drift = (weight - target) * _HUNDRED
        relative = (weight - target) / target * _HUNDRED if target > 0 else None
        if relative is None:
            outside = value > 0  # held without a target: sell it
        else:
            outside = abs(drift) > abs_band or abs(relative) > rel_band
        assets.append(
            AssetDrift(
                s,
                value,
                (total * target).quantize(_CENT),
                weight,
                target,
                drift,
                relative,
                outside,
                s in cash_set,
            )
        )

    outside_assets = [a for a in assets if a.outside_band]
    if not outside_assets:
        return _no_action(total, assets, abs_band, rel_band, "")

    moves = {a.symbol: a.target_value - a.value for a in assets if a.symbol != CASH}
    kept = {s: d for s, d in moves.items() if abs(d) >= min_trade_value and d != 0}
    skipped = tuple(sorted(s for s, d in moves.items() if d != 0 and s not in kept))
    # Skipped trades unbalance the books; the largest buy takes up the difference so the
    # cash ends at its target (or at zero if it cannot reach it).
    cash_after = values.get(CASH, Decimal(0)) - sum(kept.values(), Decimal(0))
    cash_goal = next((a.target_value for a in assets if a.symbol == CASH), Decimal(0))
    buys = sorted((s for s, d in kept.items() if d > 0), key=lambda s: -kept[s])
    if buys and cash_after < 0:
        kept[buys[0]] -= min(-cash_after, kept[buys[0]])
    elif buys and cash_after > cash_goal:
        kept[buys[0]] += cash_after - cash_goal
    if buys and 0 < kept[buys[0]] < min_trade_value:
        # Shrunk below the minimum by the adjustment: skip it too (cash stays put).
        kept[buys[0]] = Decimal(0)
        skipped = tuple(sorted({*skipped, buys[0]}))
    if not any(d != 0 for d in kept.values()):
        note = (
            f" Some holdings drifted, but every trade would be under "
            f"{min_trade_value:,.2f} {currency}."
        )
        return _no_action(total, assets, abs_band, rel_band, note, skipped)

    fee_rate = _dec(fee_pct) / _HUNDRED
    trades: list[Trade] = []
    for s, d in sorted(kept.items(), key=lambda kv: (kv[1] > 0, -abs(kv[1]), kv[0])):
        if d == 0:
            continue
        price = price_of.get(s)
        if price is None and s in cash_set:
            price = Decimal(1)
        if price is None or price <= 0:
            raise ValueError(f"no positive price for {s}")
        sell_all = d < 0 and -d == values.get(s, Decimal(0))
        value = abs(d).quantize(_CENT)
        trades.append(
            Trade(
                s,
                "buy" if d > 0 else "sell",
                value,
                (abs(d) / price).quantize(_QUANTITY, rounding=ROUND_HALF_EVEN),
                price,
                (value * fee_rate).quantize(_CENT),
                sell_all,
                s in cash_set,
            )
        )
    total_sell = sum((t.value for t in trades if t.side == "sell"), Decimal(0))
    total_buy = sum((t.value for t in trades if t.side == "buy"), Decimal(0))
    total_fees = sum((t.fee for t in trades), Decimal(0))
    reasons = ", ".join(_reason(a) for a in outside_assets[:4])
    explanation = (
        f"Rebalancing is needed: {reasons}. Sell {total_sell:,.2f} {currency} and buy "
        f"{total_buy:,.2f} {currency} in {len(trades)} trade{'s' if len(trades) != 1 else ''}"
        f", about {total_fees:,.2f} {currency} in fees."
    )
    if skipped:
        explanation += f" Skipped as too small: {', '.join(skipped)}."
    return RebalancePlan(
        total.quantize(_CENT),
        tuple(assets),
        True,
        tuple(trades),
        total_sell,
        total_buy,
        total_fees,
        total_sell - total_buy,
        skipped,
        explanation,
    )


def _no_action(
    total: Decimal,
    assets: list[AssetDrift],
    abs_band: Decimal,
    rel_band: Decimal,
    note: str,
    skipped: tuple[str, ...] = (),
) -> RebalancePlan:
    widest = max(assets, key=lambda a: abs(a.drift_points))
    explanation = (
        "No action needed: every holding is within its band "
        f"({abs_band:f} points or {rel_band:f}% of its target, whichever is tighter); "
        f"the largest drift is {widest.symbol} at {_points(widest.drift_points)}."
        if not note
        else "No action needed." + note
    )
    zero = Decimal("0.00")
    return RebalancePlan(
        total_value=total.quantize(_CENT),
        assets=tuple(assets),
        needed=False,
        trades=(),
        total_sell=zero,
        total_buy=zero,
        total_fees=zero,
        cash_change=zero,
        skipped=skipped,
        explanation=explanation,
    )


def _dec(x: Decimal | float | int | str) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def _reason(a: AssetDrift) -> str:
    if a.target_weight == 0:
        return f"{a.symbol} has no target"
    return (
        f"{a.symbol} is at {a.current_weight * _HUNDRED:.1f}% against a target of "
        f"{a.target_weight * _HUNDRED:.1f}%"
    )


def _points(drift: Decimal) -> str:
    return f"{drift:+.1f} points"
