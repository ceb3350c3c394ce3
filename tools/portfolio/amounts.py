"""Reading amounts and trade dates the way people type them in chat.

``parse_amount`` accepts ``0.5``, ``95k``, ``1.5m``, ``2bn``, ``$10,000``, ``€45k``, ``1e3`` and
numbers (``int``, ``Decimal``; a ``float`` is read through ``str()`` so ``0.1`` stays
``0.1``). It refuses what it cannot read unambiguously: a decimal comma (``1,5`` could
be one and a half or fifteen hundred), huge exponents, ``NaN``/infinity, amounts of zero
or less (unless allowed) and magnitudes above :data:`MAX_AMOUNT`. Results are rounded
half-even to :data:`AMOUNT_PLACES` decimals, as the database stores them, so what is
validated is what is stored. Every message names the field (``what``).

``parse_trade_date`` accepts ``None`` (now), ``today``/``now``, ``yesterday``, ISO dates
and datetimes (a time without offset is UTC); it refuses the future and anything before
Bitcoin's genesis block (2009-01-03).

``money_currency`` says which currency a typed amount names (``$10`` is USD, ``45k eur``
is EUR), so a service can refuse dollars given for a euro portfolio.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

from tools.errors import UserInputError

__all__ = [
    "AMOUNT_PLACES",
    "EARLIEST_TRADE",
    "MAX_AMOUNT",
    "format_cash",
    "format_quantity",
    "money_currency",
    "parse_amount",
    "parse_trade_date",
    "tidy",
]

#: Largest amount accepted (a quadrillion): anything above is a typo.
MAX_AMOUNT = Decimal("1e15")
#: Decimal places kept (the database's scale).
AMOUNT_PLACES = 18
#: Bitcoin's genesis block: no crypto trade can be older.
EARLIEST_TRADE = datetime(2009, 1, 3, tzinfo=UTC)
#: Clock skew tolerated before a time counts as "in the future".
FUTURE_TOLERANCE = timedelta(minutes=5)

_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_MAX_EXPONENT = 20
_SUFFIXES = {"k": 3, "m": 6, "mm": 6, "b": 9, "bn": 9}
_NUMBER = re.compile(r"^(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)(?P<suffix>[a-z]*)$")
_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[a-z]*)$")


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_amount(
    value: str | int | float | Decimal, *, what: str = "quantity", allow_zero: bool = False
) -> Decimal:
    """Read a positive amount typed by a user or given by a tool call.

    Args:
        value: Text (``"95k"``, ``"$10,000"``, ``"1e3"``) or a number.
        what: The field's name, used in messages (``"quantity"``, ``"price"``, ``"fee"``).
        allow_zero: Accept ``0`` (a fee, or the price of a gift).

    Returns:
        The amount, rounded half-even to 18 decimal places.

    Raises:
        UserInputError: Unreadable, ambiguous, not finite, negative, zero (unless
            allowed), below 1e-18 or above 1e15; the message names ``what``.
    """
    if isinstance(value, bool):
        raise UserInputError(f"The {what} must be a number, not {value}.")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(str(value))
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        amount = _parse_text(value, what)
    else:
        raise UserInputError(f"The {what} must be a number like 0.5, 95k or 10,000.")
    if not amount.is_finite():
        raise UserInputError(f"The {what} must be a finite number.")
    if amount < 0:
        raise UserInputError(f"The {what} cannot be negative.")
    if amount > MAX_AMOUNT:
        raise UserInputError(
            f"The {what} {_plain(amount, 0)} is too large (above 1,000,000,000,000,000); "
            "check for a typo."
        )
    rounded = _CONTEXT.quantize(amount, _QUANTUM)
    if rounded == 0 and not (allow_zero and amount == 0):
        if amount == 0:
            raise UserInputError(f"The {what} must be above 0.")
        raise UserInputError(
            f"The {what} is too small: the smallest amount is 0.000000000000000001."
        )
    return tidy(rounded)


def tidy(amount: Decimal) -> Decimal:
    """The same number without trailing zeros or a positive exponent (``95000``, ``0.5``)."""
    if not amount:
        return Decimal(0)
    reduced = amount.normalize(_CONTEXT)
    if reduced.adjusted() >= 0 and reduced == reduced.to_integral_value():
        return reduced.quantize(Decimal(1), context=_CONTEXT)
    return reduced


def _parse_text(text: str, what: str) -> Decimal:
    raw = text.strip()
    shown = _clip(raw)
    cleaned = raw.lower().replace(" ", "").replace("_", "")
    cleaned = cleaned.removeprefix("$").removesuffix("usd").removesuffix("$")
    cleaned = cleaned.removeprefix("€").removesuffix("eur").removesuffix("€")
    if cleaned.startswith("-"):
        raise UserInputError(f"The {what} cannot be negative.")
    cleaned = cleaned.removeprefix("+")
    if not cleaned:
        raise UserInputError(f"The {what} is missing; give a number like 0.5 or 95k.")
    if cleaned in ("nan", "inf", "infinity"):
        raise UserInputError(f"The {what} must be a finite number, not {shown}.")
    if "," in cleaned:
        if not _GROUPED.match(cleaned):
            raise UserInputError(
                f'The {what} "{shown}" has a comma that is not a thousands separator. '
                "Use a dot for decimals (1.5), and commas only between groups of three "
                "digits (10,000)."
            )
        cleaned = cleaned.replace(",", "")
    match = _NUMBER.match(cleaned)
    if match is None:
        raise UserInputError(
            f'The {what} "{shown}" is not a number; use digits like 0.5, 95k, 1.5m or $10,000.'
        )
    number, suffix = match["num"], match["suffix"]
    if suffix and suffix not in _SUFFIXES:
        raise UserInputError(
            f'The {what} "{shown}" has an unknown suffix "{_clip(suffix, 10)}"; '
            "use k (thousand), m (million) or b (billion)."
        )
    try:
        amount = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        raise UserInputError(f'The {what} "{shown}" is not a number.') from None
    exponent = amount.adjusted() if amount else 0
    if abs(exponent) > _MAX_EXPONENT:
        raise UserInputError(
            f'The {what} "{shown}" is out of range; amounts go from 0.000000000000000001 '
            "to 1,000,000,000,000,000."
        )
    if suffix:
        amount = amount.scaleb(_SUFFIXES[suffix], _CONTEXT)
    return amount


def money_currency(value: object) -> str | None:
    """The currency a typed amount names: ``"$10,000"``/``"10 usd"`` -> ``"USD"``,
    ``"€45k"``/``"45k EUR"`` -> ``"EUR"``; ``None`` for a bare number or a non-text value."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(" ", "")
    if text.startswith("$") or text.endswith(("$", "usd")):
        return "USD"
    if text.startswith("€") or text.endswith(("€", "eur")):
        return "EUR"
    return None


def _plain(amount: Decimal, places: int | None = None) -> str:
    if places is not None and abs(amount.adjusted()) > 40:
        return f"{amount:.3e}"
    text = f"{amount:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_quantity(amount: Decimal) -> str:
    """A quantity for messages: plain digits, no exponent, no trailing zeros (``0.5``)."""
    return _plain(amount)


def parse_trade_date(value: str | date | datetime | None, *, now: datetime) -> datetime:
    """Read when a trade happened.

    Args:
        value: ``None`` or ``""`` (now), ``"now"``, ``"today"`` (now), ``"yesterday"``
            (24 hours ago), an ISO date (``2024-03-01``: midnight UTC, or now if it is
            today) or datetime (``2024-03-01T14:30``, ``...Z`` or with an offset; no offset
            means UTC); ``date``/``datetime`` objects too.
        now: The current time (aware).

    Returns:
        An aware UTC datetime.

    Raises:
        UserInputError: Unreadable, in the future, or before 2009-01-03.
    """
    now = now.astimezone(UTC)
    when: datetime
    if value is None:
        return now
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        when = _day_start(value, now)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "now", "today"):
            return now
        if text == "yesterday":
            return now - timedelta(days=1)
        shown = _clip(value.strip())
        try:
            if len(text) == 10:
                when = _day_start(date.fromisoformat(text), now)
            else:
                when = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
        except ValueError:
            raise UserInputError(
                f'The date "{shown}" is not a date I can read; use YYYY-MM-DD (2024-03-01), '
                "YYYY-MM-DD HH:MM, today or yesterday."
            ) from None
    else:
        raise UserInputError("The date must be text like 2024-03-01, today or yesterday.")
    when = when.astimezone(UTC)
    if when > now + FUTURE_TOLERANCE:
        raise UserInputError(
            f"The date {when:%Y-%m-%d %H:%M} UTC is in the future; trades can only be "
            "recorded once they happened."
        )
    if when < EARLIEST_TRADE:
        raise UserInputError(
            f"The date {when:%Y-%m-%d} is before 2009-01-03, when Bitcoin started; check the year."
        )
    return min(when, now)


def _day_start(day: date, now: datetime) -> datetime:
    """Midnight UTC of ``day``; today means now (so a trade "today" follows earlier ones)."""
    if day == now.date():
        return now
    return datetime.combine(day, time(0), tzinfo=UTC)


_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def format_cash(amount: Decimal, currency: str) -> str:
    """A money total in cents with its currency (``$1,234.50``, ``-$3.10``, ``12.00 CHF``)."""
    cents = _CONTEXT.quantize(amount, Decimal("0.01"))
    if cents == 0:
        cents = abs(cents)
    text = f"{abs(cents):,.2f}"
    sign = _CURRENCY_SIGNS.get(currency.upper())
    minus = "-" if cents < 0 else ""
    return f"{minus}{sign}{text}" if sign else f"{minus}{text} {currency.upper()}"
