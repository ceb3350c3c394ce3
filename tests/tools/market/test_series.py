"""Tests for loading price series from CSV files (real Chainlink exports and edge cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import shared_data
from tools.errors import UserInputError
from tools.market.series import PriceSeries, load_price_series, parse_price, parse_time

SHARED = shared_data.STABLECOINS
HOURLY = SHARED / "usdc_usd_chainlink_hourly_20230309_20230312.csv"
ROUNDS = SHARED / "etherisc_usdc_usd_chainlink_rounds_20221120_20230312.csv"
needs_shared = pytest.mark.skipif(
    not (HOURLY.is_file() and ROUNDS.is_file()),
    reason=f"recorded USDC depeg files not present in {SHARED}",
)


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the real files ---------------------------------------------------------------------------


@needs_shared
def test_hourly_chainlink_file_finds_columns_and_the_march_2023_low() -> None:
    series = load_price_series(HOURLY)

    assert series.name == "usdc_usd_chainlink_hourly_20230309_20230312"
    assert (series.time_column, series.price_column) == ("hour_start_utc", "price_usd_close")
    assert len(series.points) == 81 and series.skipped == 0 and series.duplicates == 0
    assert series.scale is None and not series.scale_detected
    assert series.start == datetime(2023, 3, 9, tzinfo=UTC)
    assert series.end == datetime(2023, 3, 12, 8, tzinfo=UTC)
    times = [t for t, _ in series.points]
    assert times == sorted(times) and all(t.tzinfo is UTC for t in times)
    low_time, low = series.min_point()
    assert Decimal("0.88") <= low <= Decimal("0.90")
    assert low_time.date() == datetime(2023, 3, 11).date()
    assert series.value_at(datetime(2023, 3, 11, 7, 30, tzinfo=UTC)) == Decimal("0.88330000")
    assert series.candles is None


@needs_shared
def test_hourly_file_with_the_sparse_minimum_column_skips_empty_cells() -> None:
    series = load_price_series(HOURLY, price_column="PRICE_USD_MIN_IN_HOUR")

    assert series.price_column == "price_usd_min_in_hour"
    assert series.skipped > 0
    assert len(series.points) + series.skipped == 81
    assert Decimal("0.879") <= series.min_point()[1] <= Decimal("0.89")


@needs_shared
def test_chainlink_rounds_file_skips_comment_and_detects_answer_scale() -> None:
    series = load_price_series(ROUNDS)

    assert series.price_column == "answer"
    assert series.time_column == "updatedAt"
    assert series.scale == Decimal("1e-8") and series.scale_detected
    assert len(series.points) == 400 and series.skipped == 0
    first_time, first_price = series.points[0]
    assert first_time == datetime(2022, 11, 20, 5, 16, 35, tzinfo=UTC)  # 1668921395
    assert first_price == Decimal("1.00018009")
    assert all(Decimal("0.85") < p < Decimal("1.05") for _, p in series.points)
    low_time, low = series.min_point()
    assert Decimal("0.88") <= low <= Decimal("0.90")
    assert low_time.date() == datetime(2023, 3, 11).date()


@needs_shared
def test_rounds_file_with_explicit_scale_and_time_column_agrees() -> None:
    auto = load_price_series(ROUNDS)
    explicit = load_price_series(ROUNDS, time_column="dateTimeAt", scale=Decimal("1e-8"))

    assert explicit.time_column == "dateTimeAt"
    assert not explicit.scale_detected
    assert explicit.points == auto.points


# -- synthetic files --------------------------------------------------------------------------


def test_time_formats_are_all_read_as_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "date,price\n"
        "2024-01-01T00:00:00Z,1\n"
        "2024-01-01T03:00:00+02:00,2\n"  # 01:00 UTC
        "2024-01-01 02:00:00,3\n"
        "1704160800,4\n"  # 2024-01-02T02:00:00Z in seconds
        "1704247200000,5\n"  # 2024-01-03T02:00:00Z in milliseconds
        "2024-01-04,6\n"
        "2024-01-05T00:00:00.500Z,7\n",
    )

    series = load_price_series(path)

    base = datetime(2024, 1, 1, tzinfo=UTC)
    assert [t for t, _ in series.points] == [
        base,
        base + timedelta(hours=1),
        base + timedelta(hours=2),
        base + timedelta(days=1, hours=2),
        base + timedelta(days=2, hours=2),
        base + timedelta(days=3),
        base + timedelta(days=4, milliseconds=500),
    ]
    assert [p for _, p in series.points] == [Decimal(i) for i in range(1, 8)]


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp,close\n"
        "2024-01-01T00:00:00Z,100\n"
        "2024-01-01T01:00:00Z,\n"
        "2024-01-01T02:00:00Z,NaN\n"
        "2024-01-01T03:00:00Z,abc\n"
        "2024-01-01T04:00:00Z,-5\n"
        "2024-01-01T05:00:00Z,0\n"
        "2024-01-01T06:00:00Z,inf\n"
        "not a time,101\n"
        ",102\n"
        "2024-01-01T07:00:00Z\n"
        "2024-01-01T08:00:00Z,103.5\n",
    )

    series = load_price_series(path)

    assert [p for _, p in series.points] == [Decimal(100), Decimal("103.5")]
    assert series.skipped == 9


def test_duplicates_keep_the_last_row_and_points_are_sorted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "time,price\n"
        "2024-01-01T02:00:00Z,3\n"
        "2024-01-01T00:00:00Z,1\n"
        "2024-01-01T01:00:00Z,2\n"
        "2024-01-01T00:00:00Z,1.5\n",
    )

    series = load_price_series(path)

    assert [p for _, p in series.points] == [Decimal("1.5"), Decimal(2), Decimal(3)]
    assert series.duplicates == 1
    assert series.start == datetime(2024, 1, 1, tzinfo=UTC)


def test_comments_blank_lines_bom_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text(
        "\ufeff# exported by a spreadsheet\n\n  # indented comment\nDate;Price\n"
        "2024-02-01;0.99\n\n2024-02-02;1.01\n",
        encoding="utf-8",
    )

    series = load_price_series(path)

    assert series.time_column == "Date" and series.price_column == "Price"
    assert [p for _, p in series.points] == [Decimal("0.99"), Decimal("1.01")]


def test_price_column_preference(tmp_path: Path) -> None:
    header_and_choice = [
        ("time,open,close,price", "price"),
        ("time,open,high,low,close", "close"),
        ("time,price_usd_min,price_usd_close", "price_usd_close"),
        ("time,value,other", "value"),
        ("time,last_close_usd,pct_change", "last_close_usd"),
    ]
    for header, expected in header_and_choice:
        columns = header.count(",")
        row = "2024-01-01," + ",".join(["1"] * columns)
        path = write(tmp_path, f"{header}\n{row}\n")
        assert load_price_series(path).price_column == expected, header


def test_exact_time_name_wins_over_partial_matches(tmp_path: Path) -> None:
    path = write(tmp_path, "updated_date_local,timestamp,price\nx,1704067200,5\n")

    series = load_price_series(path)

    assert series.time_column == "timestamp"
    assert series.points == [(datetime(2024, 1, 1, tzinfo=UTC), Decimal(5))]


def test_ohlcv_files_also_give_candles(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-01,10,12,9,11,1000\n"
        "2024-01-02,11,11.5,10,10.5,\n"
        "2024-01-03,bad,1,1,1,1\n",
    )

    series = load_price_series(path, scale=Decimal(2))

    assert series.price_column == "Close"
    assert [p for _, p in series.points] == [Decimal(22), Decimal(21), Decimal(2)]
    assert series.candles is not None and len(series.candles) == 2
    first = series.candles[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        20.0,
        24.0,
        18.0,
        22.0,
        1000.0,
    )
    assert series.candles[1].volume == 0.0


def test_small_answer_values_are_not_rescaled(tmp_path: Path) -> None:
    path = write(tmp_path, "updatedAt,answer\n1704067200,0.999\n1704070800,1.001\n")

    series = load_price_series(path)

    assert series.scale is None and not series.scale_detected
    assert series.points[0][1] == Decimal("0.999")


def test_value_at_is_a_step_function(tmp_path: Path) -> None:
    path = write(tmp_path, "time,price\n2024-01-01T00:00Z,1\n2024-01-01T02:00Z,2\n")
    series = load_price_series(path)

    assert series.value_at(datetime(2023, 12, 31, tzinfo=UTC)) is None
    assert series.value_at(datetime(2024, 1, 1, 1, tzinfo=UTC)) == Decimal(1)
    assert series.value_at(datetime(2024, 1, 1, 2, tzinfo=UTC)) == Decimal(2)
    assert series.value_at(datetime(2025, 1, 1, tzinfo=UTC)) == Decimal(2)


# -- errors -----------------------------------------------------------------------------------


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="nope.csv"):
        load_price_series(tmp_path / "nope.csv")


def test_unfindable_price_column_lists_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "date,volume,symbol\n2024-01-01,5,BTC\n", name="odd.csv")

    with pytest.raises(UserInputError) as caught:
        load_price_series(path)

    message = caught.value.user_message
    assert "odd.csv" in message and "price" in message
    assert "date, volume, symbol" in message


def test_unfindable_time_column_lists_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "when,price\nyesterday,5\n", name="notime.csv")

    with pytest.raises(UserInputError, match=r"notime\.csv.*time.*when, price"):
        load_price_series(path)


def test_named_column_that_does_not_exist(tmp_path: Path) -> None:
    path = write(tmp_path, "date,price\n2024-01-01,5\n", name="named.csv")

    with pytest.raises(UserInputError, match=r"named\.csv has no column 'mid'.*date, price"):
        load_price_series(path, price_column="mid")


def test_no_usable_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "# header only\ndate,price\n2024-01-01,0\n2024-01-02,-1\n", "dead.csv")

    with pytest.raises(UserInputError, match=r"dead\.csv has no usable rows.*2 without a positive"):
        load_price_series(path)


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing but a comment\n", name="empty.csv")

    with pytest.raises(UserInputError, match=r"empty\.csv is empty"):
        load_price_series(path)


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="directory"):
        load_price_series(tmp_path)


# -- parsers ----------------------------------------------------------------------------------


def test_parse_time_variants() -> None:
    assert parse_time("2023-03-11T02:00:00Z") == datetime(2023, 3, 11, 2, tzinfo=UTC)
    assert parse_time("2023-03-11 02:00:00 UTC") == datetime(2023, 3, 11, 2, tzinfo=UTC)
    assert parse_time("2023/03/11") == datetime(2023, 3, 11, tzinfo=UTC)
    assert parse_time("20230311") == datetime(2023, 3, 11, tzinfo=UTC)
    assert parse_time("1678500000") == datetime.fromtimestamp(1678500000, UTC)
    assert parse_time("1678500000000") == datetime.fromtimestamp(1678500000, UTC)
    for bad in ("", "  ", "soon", "2023-13-45", "1e400"):
        assert parse_time(bad) is None, bad


def test_parse_price_variants() -> None:
    assert parse_price(" 1.5 ") == Decimal("1.5")
    assert parse_price("1e-8") == Decimal("1e-8")
    for bad in ("", "nan", "NaN", "inf", "-1", "0", "abc", "1,5", "0.0"):
        assert parse_price(bad) is None, bad


@settings(max_examples=50, deadline=None)
@given(
    rows=st.dictionaries(
        st.integers(min_value=0, max_value=10**9),
        st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**9), places=8),
        min_size=1,
        max_size=30,
    )
)
def test_round_trip_of_random_series(tmp_path_factory: pytest.TempPathFactory, rows: dict) -> None:
    path = tmp_path_factory.mktemp("rt") / "random.csv"
    lines = ["timestamp,price"] + [f"{1_500_000_000 + s},{p}" for s, p in rows.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    series: PriceSeries = load_price_series(path)

    expected = sorted((datetime.fromtimestamp(1_500_000_000 + s, UTC), p) for s, p in rows.items())
    assert series.points == expected
    assert series.skipped == 0
