"""Column types that behave identically on SQLite and PostgreSQL.

* :class:`DecimalType` stores money and quantities exactly: ``NUMERIC(38, 18)`` on
  PostgreSQL, the decimal's text on SQLite (whose ``NUMERIC`` affinity would convert
  through a 64-bit float and lose digits). Values are rounded to 18 fractional digits
  (half-even) before they are written on both dialects, so both hold the same number;
  floats are refused so nobody stores one by accident.
* :class:`UTCDateTime` refuses naive datetimes and always returns aware UTC datetimes.
* :data:`IdType` is ``BIGINT`` on PostgreSQL and ``INTEGER`` on SQLite, where only an
  ``INTEGER PRIMARY KEY`` autoincrements.
* :data:`JsonType` is ``JSONB`` on PostgreSQL and JSON text on SQLite.

Because SQLite keeps decimals as text, a check constraint or comparison on a decimal
column must cast: ``CAST(quantity AS NUMERIC) > 0`` works on both dialects. Ordering by
a decimal column on SQLite would be lexicographic; cast there too if ever needed.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "DECIMAL_PRECISION",
    "DECIMAL_SCALE",
    "DecimalType",
    "IdType",
    "JsonType",
    "UTCDateTime",
    "decimal_text",
    "to_decimal",
]

#: Total significant digits and fractional digits of every stored decimal.
DECIMAL_PRECISION = 38
DECIMAL_SCALE = 18

_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_MAX_ABS = Decimal(10) ** (DECIMAL_PRECISION - DECIMAL_SCALE)
# Arithmetic context wide enough for 38 digits (the default context keeps only 28).
_CTX = decimal.Context(prec=DECIMAL_PRECISION + 10, rounding=decimal.ROUND_HALF_EVEN)

#: Primary-key type: BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
IdType: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere. Assign a new object to change
#: a value; in-place mutation of a loaded dict is not tracked.
JsonType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


def to_decimal(value: object) -> Decimal:
    """Convert a bind value to a finite ``Decimal`` rounded to the storage scale.

    Args:
        value: A ``Decimal``, ``int`` or decimal string. Floats and booleans are refused.

    Returns:
        The value rounded half-even to 18 fractional digits.

    Raises:
        TypeError: For floats, booleans and other types.
        ValueError: For text that is not a decimal, NaN/infinity, or more than 20
            integer digits.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"decimal columns take Decimal, int or str, not {type(value).__name__}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except decimal.InvalidOperation as exc:
        raise ValueError("not a decimal number") from exc
    if not number.is_finite():
        raise ValueError("decimal columns cannot store NaN or infinity")
    rounded = number.quantize(_QUANTUM, context=_CTX)
    if rounded.copy_abs() >= _MAX_ABS:
        raise ValueError(
            f"decimal out of range: at most {DECIMAL_PRECISION - DECIMAL_SCALE} integer digits"
        )
    return rounded


def _trim(value: Decimal) -> Decimal:
    """Drop trailing fractional zeros without switching integers to exponent notation."""
    if value == value.to_integral_value(context=_CTX):
        return value.quantize(Decimal(1), context=_CTX)
    return value.normalize(_CTX)


def decimal_text(value: object) -> str:
    """Exact fixed-point text of a decimal as stored (``"0.5"``, ``"100"``).

    Args:
        value: As for :func:`to_decimal`.
    """
    return format(_trim(to_decimal(value)), "f")


class DecimalType(TypeDecorator[Decimal]):
    """An exact decimal column (``NUMERIC(38, 18)``; decimal text on SQLite).

    Binds accept ``Decimal``, ``int`` or a decimal string and raise ``TypeError`` for
    floats. Results are ``Decimal`` with trailing zeros removed, identical on both
    dialects (``Decimal("1.50")`` comes back as ``Decimal("1.5")``).
    """

    impl = Numeric
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(DECIMAL_PRECISION, DECIMAL_SCALE, asdecimal=True)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Use text on SQLite and ``NUMERIC(38, 18)`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(48))
        return dialect.type_descriptor(Numeric(DECIMAL_PRECISION, DECIMAL_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Validate and round the value; SQLite receives fixed-point text."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return decimal_text(value)
        return to_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Return a ``Decimal`` (never a float) with trailing zeros removed."""
        if value is None:
            return None
        if isinstance(value, float):  # a row written by hand with a float; keep its text
            value = repr(value)
        return _trim(value if isinstance(value, Decimal) else Decimal(str(value)))

    @property
    def python_type(self) -> type[Decimal]:
        """The Python type of values in this column."""
        return Decimal


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp; naive datetimes are refused, results are aware UTC.

    PostgreSQL stores ``TIMESTAMP WITH TIME ZONE``. SQLite has no time zones: the value
    is converted to UTC and stored without offset, then UTC is attached on load.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and convert to UTC (offset dropped on SQLite)."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC datetime")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"unexpected timestamp value of type {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        """The Python type of values in this column."""
        return datetime
