"""Target allocations: parse and check what the user asked for.

A target maps each coin (or ``CASH``) to its share of the portfolio. Users write
fractions (``0.7``) or percents (``70`` or ``"70%"``); one request uses one kind. The
kind is detected: any ``%`` sign, or a total above 1.5, means percents. The shares must
add up to 100 % within half a point; otherwise the error proposes the normalised shares,
rounded to one decimal so that sending them back is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from tools.errors import UnknownSymbolError, UserInputError

CASH = "CASH"
#: Allowed distance of the total from 100 %, as a fraction.
SUM_TOLERANCE = Decimal("0.005")
_PERCENT_THRESHOLD = Decimal("1.5")
_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")


def parse_targets(
    raw: Mapping[str, float | int | str | Decimal],
    known_symbols: Collection[str],
) -> dict[str, Decimal]:
    """Turn the user's target allocation into fractions per symbol.

    Args:
        raw: Symbol to share, as fractions (``0.7``) or percents (``70``, ``"70%"``).
        known_symbols: Upper-case tickers that may be named (coins and stablecoins).
            The literal ``CASH`` is always allowed.

    Returns:
        Upper-case symbol to fraction (``Decimal("0.7")`` is 70 %), in the order given;
        the fractions add up to 1 within 0.005.

    Raises:
        UserInputError: Empty, unreadable, duplicate, unknown, zero, negative or
            over-100 % entries, or a total away from 100 %.
    """
    if not raw:
        raise UserInputError("Give at least one target, for example BTC 60%, ETH 40%.")
    known = {s.upper() for s in known_symbols} | {CASH}
    amounts: dict[str, Decimal] = {}
    spelled: dict[str, str] = {}
    percent_sign = False
    for key, value in raw.items():
        symbol = str(key).strip().upper()
        if not symbol:
            raise UserInputError("A target is missing its coin symbol.")
        if symbol in amounts:
            raise UserInputError(
                f'{symbol} is listed twice (as "{spelled[symbol]}" and "{key}"); '
                "give each coin once."
            )
        amount, has_sign = _read_amount(symbol, value)
        percent_sign = percent_sign or has_sign
        amounts[symbol] = amount
        spelled[symbol] = str(key)

    unknown = [s for s in amounts if s not in known]
    if len(unknown) == 1:
        raise UnknownSymbolError(unknown[0])
    if unknown:
        raise UserInputError(
            "Unknown coins: " + ", ".join(unknown) + ". Targets can name known coins, "
            "stablecoins or CASH."
        )

    total = sum(amounts.values(), Decimal(0))
    percents = percent_sign or total > _PERCENT_THRESHOLD
    fractions = {s: (a / _HUNDRED if percents else a) for s, a in amounts.items()}
    for symbol, fraction in fractions.items():
        if fraction <= 0:
            raise UserInputError(
                f"The target for {symbol} is {_show_pct(fraction * _HUNDRED)}; targets must "
                "be above 0% (leave a coin out to hold none of it)."
            )
    for symbol, fraction in fractions.items():
        if fraction > 1:
            raise UserInputError(
                f"The target for {symbol} is {_show_pct(fraction * _HUNDRED)}; "
                "no target can exceed 100%."
            )
    total_fraction = sum(fractions.values(), Decimal(0))
    if abs(total_fraction - 1) > SUM_TOLERANCE:
        proposal = ", ".join(
            f"{s} {_show_pct(p)}" for s, p in normalised_percents(fractions).items()
        )
        raise UserInputError(
            f"Your targets add up to {_show_pct(total_fraction * _HUNDRED)}, not 100%; "
            f"normalised they would be {proposal}. Send that if you meant it."
        )
    return fractions


def normalised_percents(fractions: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Scale positive shares to percents with one decimal that add up to exactly 100.

    Uses the largest-remainder method, so the rounded shares still total 100.0.
    """
    total = sum(fractions.values(), Decimal(0))
    exact = {s: f / total * 1000 for s, f in fractions.items()}  # in tenths of a percent
    floors = {s: Decimal(math.floor(x)) for s, x in exact.items()}
    missing = 1000 - int(sum(floors.values(), Decimal(0)))
    by_remainder = sorted(exact, key=lambda s: (-(exact[s] - floors[s]), s))
    for s in by_remainder[:missing]:
        floors[s] += 1
    return {s: (floors[s] * _TENTH).quantize(_TENTH) for s in fractions}


def _read_amount(symbol: str, value: float | int | str | Decimal) -> tuple[Decimal, bool]:
    """The number in ``value`` and whether it carried a ``%`` sign."""
    if isinstance(value, bool):
        raise UserInputError(f"The target for {symbol} must be a number, like 60% or 0.6.")
    has_sign = False
    text = value
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text.endswith("%"):
            has_sign, text = True, text[:-1]
    try:
        amount = Decimal(str(text)) if not isinstance(text, Decimal) else text
    except (InvalidOperation, ValueError):
        raise UserInputError(
            f'The target for {symbol} ("{str(value)[:20]}") is not a number; write it '
            "like 60% or 0.6."
        ) from None
    if not amount.is_finite():
        raise UserInputError(f"The target for {symbol} must be a finite number, like 60%.")
    return amount, has_sign


def _show_pct(percent: Decimal) -> str:
    """``Decimal("73.70")`` -> ``"73.7%"``; at most two decimals, no trailing zeros."""
    rounded = percent.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"
