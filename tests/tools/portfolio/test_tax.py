"""Tax report: rows per year, short/long split, totals, year checks, Form 8949 CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tools.errors import UserInputError
from tools.portfolio.lots import TradeRecord
from tools.portfolio.tax import (
    FORM_8949_COLUMNS,
    METHOD_EXPLANATIONS,
    form_8949_csv,
    tax_report,
)

D = Decimal
TODAY = date(2024, 6, 1)


def trade(id: int, side: str, qty: str, price: str, fee: str, at: datetime) -> TradeRecord:
    return TradeRecord(id, side, "BTC", D(qty), D(price), D(fee), at)  # type: ignore[arg-type]


HISTORY = [
    trade(1, "buy", "1", "100", "2", datetime(2021, 5, 3, tzinfo=UTC)),  # cost 102
    trade(2, "buy", "1", "200", "4", datetime(2022, 8, 9, tzinfo=UTC)),  # cost 204
    # 2022: 0.5 of lot 1 (short-term): proceeds 0.5*300-1 = 149, cost 51 -> 98
    trade(3, "sell", "0.5", "300", "1", datetime(2022, 2, 1, tzinfo=UTC)),
    # 2023: 0.5 of lot 1 (long-term) and 0.5 of lot 2 (short-term), proceeds 400 - 2 = 398
    trade(4, "sell", "1", "400", "2", datetime(2023, 3, 1, 15, 30, tzinfo=UTC)),
]


def test_rows_for_one_year_split_by_term() -> None:
    report = tax_report(HISTORY, 2023, "FIFO", today=TODAY)
    assert report.year == 2023 and report.method == "FIFO"
    assert [
        (
            r.asset,
            r.quantity,
            r.date_acquired,
            r.date_sold,
            r.proceeds,
            r.cost_basis,
            r.gain,
            r.long_term,
        )
        for r in report.rows
    ] == [
        ("BTC", D("0.5"), date(2021, 5, 3), date(2023, 3, 1), 199, 51, 148, True),
        ("BTC", D("0.5"), date(2022, 8, 9), date(2023, 3, 1), 199, 102, 97, False),
    ]
    assert report.long_term.gain == 148 and report.long_term.count == 1
    assert report.short_term.gain == 97 and report.short_term.proceeds == 199
    assert report.total_gain == 245
    (year,) = report.years
    assert (year.year, year.gain, year.short_term.cost_basis) == (2023, 245, 102)
    assert report.explanation == METHOD_EXPLANATIONS["FIFO"]
    assert report.explanation.count(".") == 1 and "oldest" in report.explanation


def test_all_years_have_totals_each() -> None:
    report = tax_report(HISTORY, None, "FIFO", today=TODAY)
    assert [(y.year, y.gain) for y in report.years] == [(2022, 98), (2023, 245)]
    assert report.total_gain == 343
    assert report.short_term.count == 2 and report.long_term.count == 1


def test_earlier_years_decide_what_a_later_sale_uses() -> None:
    # Under HIFO the 2022 sale can only use lot 1 (lot 2 is bought later that year); the
    # 2023 sale then takes the whole of lot 2 (unit cost 204 beats 102).
    report = tax_report(HISTORY, 2023, "HIFO", today=TODAY)
    assert [(r.date_acquired.year, r.cost_basis, r.gain) for r in report.rows] == [(2022, 204, 194)]
    assert "cost the most" in report.explanation


def test_year_without_sales_is_empty() -> None:
    report = tax_report(HISTORY, 2021, "LIFO", today=TODAY)
    assert report.rows == () and report.years == () and report.total_gain == 0


@pytest.mark.parametrize("year", [2008, 2025, 1999, True])
def test_year_must_be_between_2009_and_now(year: int) -> None:
    with pytest.raises(UserInputError, match="2009|year like"):
        tax_report(HISTORY, year, "FIFO", today=TODAY)


def test_current_year_is_allowed() -> None:
    assert tax_report(HISTORY, 2024, "FIFO", today=TODAY).rows == ()


def test_bad_method_is_a_user_error() -> None:
    with pytest.raises(UserInputError):
        tax_report(HISTORY, 2023, "MAGIC", today=TODAY)


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_header_follows_form_8949_column_order() -> None:
    header = parse(form_8949_csv(tax_report(HISTORY, 2023, today=TODAY)))[0]
    assert header == [
        "Part",
        "(a) Description of property",
        "(b) Date acquired",
        "(c) Date sold or disposed of",
        "(d) Proceeds",
        "(e) Cost or other basis",
        "(f) Code(s)",
        "(g) Amount of adjustment",
        "(h) Gain or (loss)",
    ]
    assert tuple(header) == FORM_8949_COLUMNS


def test_csv_rows_short_term_first_with_us_dates() -> None:
    lines = parse(form_8949_csv(tax_report(HISTORY, None, today=TODAY)))
    assert lines[1:] == [
        ["I", "0.5 BTC", "05/03/2021", "02/01/2022", "149.00", "51.00", "", "", "98.00"],
        ["I", "0.5 BTC", "08/09/2022", "03/01/2023", "199.00", "102.00", "", "", "97.00"],
        ["II", "0.5 BTC", "05/03/2021", "03/01/2023", "199.00", "51.00", "", "", "148.00"],
    ]


def test_csv_rounds_half_even_and_gain_is_rounded_proceeds_minus_cost() -> None:
    history = [
        trade(1, "buy", "1", "0.135", "0", datetime(2023, 1, 1, tzinfo=UTC)),
        trade(2, "sell", "1", "0.125", "0", datetime(2023, 1, 2, tzinfo=UTC)),
        trade(3, "buy", "1", "0.001", "0", datetime(2023, 1, 3, tzinfo=UTC)),
        trade(4, "sell", "1", "0.004", "0", datetime(2023, 1, 4, tzinfo=UTC)),
    ]
    lines = parse(form_8949_csv(tax_report(history, 2023, today=TODAY)))
    assert [line[4:] for line in lines[1:]] == [
        ["0.12", "0.14", "", "", "-0.02"],  # 0.125 -> 0.12 and 0.135 -> 0.14 (half-even)
        ["0.00", "0.00", "", "", "0.00"],  # never "-0.00"
    ]


def test_csv_of_an_empty_report_is_the_header_only() -> None:
    lines = parse(form_8949_csv(tax_report(HISTORY, 2021, today=TODAY)))
    assert len(lines) == 1
