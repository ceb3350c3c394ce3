"""Platform-neutral number formatting shared by every front-end.

Precision follows what traders expect: large prices to the cent (``95,123.45``),
mid-range prices to four decimals (``2.3012``), stablecoins always to four
(``0.9998``) and sub-dollar coins to four significant digits (``0.00001234``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

_SUFFIXES = (
    (Decimal("1e12"), "T"),
    (Decimal("1e9"), "B"),
    (Decimal("1e6"), "M"),
    (Decimal("1e3"), "K"),
)
_CURRENCY_SIGNS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def format_price(value: Decimal, *, stable: bool = False) -> str:
    """Format a price with sensible precision and thousands separators."""
    if not value.is_finite():
        return str(value)
    magnitude = abs(value)
    if stable:
        places = 4
    elif magnitude >= 100:
        places = 2
    elif magnitude >= 1:
        places = 4
    elif magnitude == 0:
        places = 2
    else:
        # four significant digits: 0.7012, 0.00001234
        places = 3 - magnitude.adjusted()
        places = min(places, 18)
    quantum = Decimal(1).scaleb(-places)
    return f"{value.quantize(quantum, rounding=ROUND_HALF_EVEN):,.{places}f}"


def format_money(value: Decimal, currency: str, *, stable: bool = False) -> str:
    """Format a price with its currency (``$95,123.45``, ``0.0123 BTC``)."""
    sign = _CURRENCY_SIGNS.get(currency.lower())
    text = format_price(value, stable=stable)
    if sign is None:
        return f"{text} {currency.upper()}"
    if text.startswith("-"):
        return f"-{sign}{text[1:]}"
    return f"{sign}{text}"


def format_pct(value: Decimal | None, *, places: int = 2) -> str:
    """Format a percentage with an explicit sign (``+1.23%``); ``n/a`` when unknown."""
    if value is None or not value.is_finite():
        return "n/a"
    quantum = Decimal(1).scaleb(-places)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:+.{places}f}%"


def format_compact(value: Decimal | None) -> str:
    """Format a large amount compactly (``1.23T``, ``456.7B``, ``12.3M``); ``n/a`` if unknown."""
    if value is None or not value.is_finite():
        return "n/a"
    magnitude = abs(value)
    for threshold, suffix in _SUFFIXES:
        if magnitude >= threshold:
            scaled = value / threshold
            places = 2 if abs(scaled) < 100 else 1
            return f"{scaled:.{places}f}{suffix}"
    return f"{value:,.0f}"


def format_age(seconds: float) -> str:
    """Format an age (``45 s``, ``12 min``, ``3 h``, ``2 d``)."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min"
    if seconds < 36 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"
