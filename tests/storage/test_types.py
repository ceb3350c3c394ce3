"""Column types: exact decimals, aware UTC datetimes, 64-bit chat ids, cast checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from storage import (
    ConstraintError,
    Database,
    QuoteCacheRepository,
    QuoteRow,
    TradeRepository,
    UserRepository,
)
from storage.models import QuoteCache, Trade
from storage.types import decimal_text, to_decimal
from tests.storage.helpers import NOW, buy, make_portfolio, make_user

EXACT = [
    Decimal("123456789.123456789012345678"),
    Decimal("0.000000000000000001"),
    Decimal("-0.000000000000000001"),
    Decimal("99999999999999999999.999999999999999999"),
    Decimal("-99999999999999999999.999999999999999999"),
    Decimal("0"),
    Decimal("1E+5"),
    Decimal("42"),
]


@st.composite
def decimals(draw: st.DrawFn) -> Decimal:
    """Decimals with up to 20 integer and 18 fractional digits: what NUMERIC(38, 18) holds.

    Built from text, since Decimal arithmetic in the default context keeps only 28 digits
    (hypothesis' own ``decimals`` rounds its 38-digit bounds).
    """
    integer = draw(st.integers(min_value=0, max_value=10**20 - 1))
    fraction = draw(st.text(alphabet="0123456789", max_size=18))
    sign = "-" if draw(st.booleans()) else ""
    return Decimal(f"{sign}{integer}.{fraction or '0'}")


def quote(price: object, coin_id: str = "coin", **extra: object) -> QuoteRow:
    values: dict[str, object] = {
        "coin_id": coin_id,
        "vs_currency": "usd",
        "symbol": "C",
        "name": "Coin",
        "price": price,
        "change_24h_pct": None,
        "market_cap": None,
        "volume_24h": None,
        "last_updated": None,
        "source": "test",
        "origin": "live",
        "fetched_at": NOW,
    }
    values.update(extra)
    return QuoteRow(**values)  # type: ignore[arg-type]


async def roundtrip(db: Database, value: object) -> Decimal:
    async with db.transaction() as session:
        await QuoteCacheRepository(session).upsert_many([quote(value)])
    async with db.transaction() as session:
        stored = await session.scalar(select(QuoteCache.price))
    assert isinstance(stored, Decimal)
    return stored


@pytest.mark.parametrize("value", EXACT, ids=str)
async def test_decimal_exact_roundtrip(db: Database, value: Decimal) -> None:
    stored = await roundtrip(db, value)
    assert stored == value
    assert "E" not in str(stored) or abs(stored) < 1  # integers never in exponent form


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=decimals())
async def test_decimal_roundtrip_property(db: Database, value: Decimal) -> None:
    assert await roundtrip(db, value) == value


async def test_decimal_accepts_int_and_str_rejects_float(db: Database) -> None:
    assert await roundtrip(db, 7) == Decimal(7)
    assert await roundtrip(db, "0.10") == Decimal("0.1")
    with pytest.raises(TypeError):
        await roundtrip(db, 0.1)
    with pytest.raises(TypeError):
        await roundtrip(db, True)
    with pytest.raises(ValueError):
        await roundtrip(db, Decimal("NaN"))
    with pytest.raises(ValueError):
        await roundtrip(db, "abc")
    with pytest.raises(ValueError):
        await roundtrip(db, Decimal("1E+20"))  # 21 integer digits


async def test_decimal_rounds_to_18_places_identically(db: Database) -> None:
    assert await roundtrip(db, Decimal("0.1234567890123456789")) == Decimal("0.123456789012345679")


def test_decimal_helpers() -> None:
    assert to_decimal("1.5") == Decimal("1.5")
    assert decimal_text(Decimal("1E+2")) == "100"
    assert decimal_text(Decimal("0.000000000000000001")) == "0.000000000000000001"
    assert decimal_text("2.50") == "2.5"


async def test_datetimes_come_back_aware_utc(db: Database) -> None:
    paris = timezone(timedelta(hours=1))
    fetched = datetime(2026, 3, 1, 13, 30, 15, 123456, tzinfo=paris)
    async with db.transaction() as session:
        await QuoteCacheRepository(session).upsert_many(
            [quote(Decimal(1), fetched_at=fetched, last_updated=NOW)]
        )
    async with db.transaction() as session:
        row = (await QuoteCacheRepository(session).get_many(["coin"], "usd"))["coin"]
    assert row.fetched_at == fetched
    assert row.fetched_at.tzinfo is UTC
    assert row.fetched_at.hour == 12 and row.fetched_at.microsecond == 123456
    assert row.last_updated is not None and row.last_updated.utcoffset() == timedelta(0)


async def test_naive_datetime_rejected(db: Database) -> None:
    with pytest.raises(ValueError, match="naive"):
        async with db.transaction() as session:
            await QuoteCacheRepository(session).upsert_many(
                [quote(Decimal(1), fetched_at=datetime(2026, 1, 1))]  # naive
            )


async def test_datetime_comparisons_across_offsets(db: Database) -> None:
    """Queries with a non-UTC bound compare as instants on both dialects."""
    user = await make_user(db)
    portfolio = await make_portfolio(db, user)
    async with db.transaction() as session:
        await TradeRepository(session).add(buy(portfolio), now=NOW)
    east = timezone(timedelta(hours=5))
    async with db.transaction() as session:
        just_after = (NOW + timedelta(microseconds=1)).astimezone(east)
        found = await session.scalars(select(Trade).where(Trade.executed_at < just_after))
        assert len(found.all()) == 1
        found = await session.scalars(select(Trade).where(Trade.executed_at < NOW.astimezone(east)))
        assert found.all() == []


async def test_chat_id_above_32_bits(db: Database) -> None:
    big = -(2**40) - 123  # Telegram supergroup ids look like -100xxxxxxxxxx
    async with db.transaction() as session:
        user, _ = await UserRepository(session).get_or_create(
            "telegram", "7", chat_id=2**33 + 5, now=NOW
        )
        await UserRepository(session).update(user, chat_id=big)
    async with db.transaction() as session:
        loaded = await UserRepository(session).get_by_platform_id("telegram", "7")
    assert loaded is not None and loaded.chat_id == big


@pytest.mark.parametrize("quantity", ["-1", "0", "-0.000000000000000001"])
async def test_quantity_check_constraint(db: Database, quantity: str) -> None:
    user = await make_user(db)
    portfolio = await make_portfolio(db, user)
    with pytest.raises(ConstraintError):
        async with db.transaction() as session:
            await TradeRepository(session).add(buy(portfolio, quantity=quantity), now=NOW)


async def test_check_constraint_enforced_in_raw_sql(db: Database) -> None:
    """The CAST check works on the stored representation of each dialect, not just ORM."""
    user = await make_user(db)
    portfolio = await make_portfolio(db, user)
    with pytest.raises(ConstraintError):
        async with db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO trades (portfolio_id, side, symbol, coin_id, quantity, price,"
                    " fee, executed_at, created_at, source) VALUES (:p, 'buy', 'BTC', 'bitcoin',"
                    " -5, 1, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'manual')"
                ),
                {"p": portfolio.id},
            )
