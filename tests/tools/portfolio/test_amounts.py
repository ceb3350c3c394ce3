"""parse_amount and parse_trade_date: what chat users type, and what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tools.errors import UserInputError
from tools.portfolio.amounts import format_cash, money_currency, parse_amount, parse_trade_date

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("95k", "95000"),
        ("95K", "95000"),
        ("1.5m", "1500000"),
        ("2bn", "2000000000"),
        ("$10,000", "10000"),
        ("1,234,567.89", "1234567.89"),
        ("0.5", "0.5"),
        (".25", "0.25"),
        ("1e3", "1000"),
        ("2.5E-3", "0.0025"),
        (" 42 ", "42"),
        (95000, "95000"),
        (0.1, "0.1"),
        (Decimal("0.000000000000000001"), "1E-18"),
        ("1e15", "1000000000000000"),
    ],
)
def test_parse_amount_accepts(text: str | int | float | Decimal, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


def test_parse_amount_has_no_exponent_for_round_numbers() -> None:
    assert str(parse_amount("95k")) == "95000"
    assert str(parse_amount("1e3")) == "1000"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("1,5", "comma"),
        ("10,00", "comma"),
        ("1e400", "out of range"),
        ("1e-400", "out of range"),
        ("abc", "not a number"),
        ("5x", "unknown suffix"),
        ("nan", "finite"),
        ("inf", "finite"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (Decimal("NaN"), "finite"),
        ("-1", "negative"),
        (-3, "negative"),
        ("0", "above 0"),
        (0, "above 0"),
        ("2e15", "too large"),
        (10**16, "too large"),
        ("1e-19", "too small"),
        ("", "missing"),
        (True, "number"),
    ],
)
def test_parse_amount_refuses(value: object, fragment: str) -> None:
    with pytest.raises(UserInputError) as info:
        parse_amount(value, what="price")  # type: ignore[arg-type]
    assert fragment in info.value.user_message
    assert "price" in info.value.user_message


def test_parse_amount_zero_allowed_for_fees() -> None:
    assert parse_amount("0", what="fee", allow_zero=True) == 0


def test_parse_amount_rounds_to_storage_scale() -> None:
    assert parse_amount("0.1234567890123456789") == Decimal("0.123456789012345679")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, NOW),
        ("", NOW),
        ("today", NOW),
        ("now", NOW),
        ("yesterday", NOW - timedelta(days=1)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T10:30", datetime(2024, 3, 1, 10, 30, tzinfo=UTC)),
        ("2024-03-01 10:30+02:00", datetime(2024, 3, 1, 8, 30, tzinfo=UTC)),
        ("2024-03-01T10:30:00Z", datetime(2024, 3, 1, 10, 30, tzinfo=UTC)),
        ("2026-11-21", NOW),
        (date(2024, 3, 1), datetime(2024, 3, 1, tzinfo=UTC)),
        ("2009-01-03", datetime(2009, 1, 3, tzinfo=UTC)),
    ],
)
def test_parse_trade_date_accepts(text: str | None, expected: datetime) -> None:
    assert parse_trade_date(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2026-11-22", "future"),
        ("2030-01-01T00:00", "future"),
        ("2009-01-02", "before 2009-01-03"),
        ("1999-12-31", "before 2009-01-03"),
        ("last tuesday", "not a date"),
        ("2024-13-01", "not a date"),
    ],
)
def test_parse_trade_date_refuses(text: str, fragment: str) -> None:
    with pytest.raises(UserInputError, match=fragment):
        parse_trade_date(text, now=NOW)


def test_format_cash() -> None:
    assert format_cash(Decimal("1234.5"), "USD") == "$1,234.50"
    assert format_cash(Decimal("-3.104"), "usd") == "-$3.10"
    assert format_cash(Decimal("12"), "CHF") == "12.00 CHF"


@pytest.mark.parametrize(
    ("text", "currency", "amount"),
    [
        ("$10,000", "USD", Decimal(10000)),
        ("10 usd", "USD", Decimal(10)),
        ("€45k", "EUR", Decimal(45000)),
        ("45k EUR", "EUR", Decimal(45000)),
        ("45,000€", "EUR", Decimal(45000)),
        ("0.5", None, Decimal("0.5")),
    ],
)
def test_money_currency(text: str, currency: str | None, amount: Decimal) -> None:
    assert money_currency(text) == currency
    assert parse_amount(text, what="price") == amount
    assert money_currency(Decimal(5)) is None
