"""Capital-gains reports from a trade history, and their IRS Form 8949 CSV export.

:func:`tax_report` matches lots (:func:`~tools.portfolio.lots.match_lots`) and
keeps the disposals sold in the requested year (UTC dates), one row per lot used
by a sale, split into short-term (held one year or less) and long-term (held more
than one year; see :mod:`tools.portfolio.lots` for the calendar rule). Amounts in
the report are exact ``Decimal``; only the CSV export rounds.

:func:`form_8949_csv` writes the rows with the columns of Form 8949 in the form's
order, after a ``Part`` column (``I`` short-term, ``II`` long-term), short-term
rows first. Dates are ``MM/DD/YYYY``. Proceeds and cost are rounded to cents with
``ROUND_HALF_EVEN`` (banker's rounding, the ``decimal`` default), and the gain
column is the rounded proceeds minus the rounded cost, so every row satisfies
(h) = (d) - (e) as the form requires; a row's rounded gain can therefore differ by
a cent from the exact gain rounded. Losses are negative numbers (``-12.34``), not
parenthesised. Columns (f) and (g) are left empty: no adjustments are computed.

This is arithmetic, not tax advice: whether LIFO or HIFO is allowed, and which
box of Form 8949 applies, depends on the user's jurisdiction and broker reporting.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from tools.errors import UserInputError
from tools.portfolio.lots import EXACT_CONTEXT, LotResult, TradeRecord, gc_paused, match_lots

FIRST_TAX_YEAR = 2009
"""The first year with a sale of a cryptocurrency (Bitcoin's launch)."""

FORM_8949_COLUMNS: tuple[str, ...] = (
    "Part",
    "(a) Description of property",
    "(b) Date acquired",
    "(c) Date sold or disposed of",
    "(d) Proceeds",
    "(e) Cost or other basis",
    "(f) Code(s)",
    "(g) Amount of adjustment",
    "(h) Gain or (loss)",
)
"""Header of :func:`form_8949_csv`: a Part column, then Form 8949's (a) to (h)."""

METHOD_EXPLANATIONS: dict[str, str] = {
    "FIFO": (
        "FIFO (first in, first out) matches each sale with the oldest coins you still held, "
        "with buy fees added to the cost and sell fees taken off the proceeds."
    ),
    "LIFO": (
        "LIFO (last in, first out) matches each sale with the most recently bought coins you "
        "still held, with buy fees added to the cost and sell fees taken off the proceeds."
    ),
    "HIFO": (
        "HIFO (highest in, first out) matches each sale with the coins you still held that "
        "cost the most per coin, with buy fees added to the cost and sell fees taken off the "
        "proceeds."
    ),
}

_ZERO = Decimal(0)
_CENT = Decimal("0.01")


@dataclass(slots=True)
class TaxRow:
    """One sale of coins from one lot (treat as read-only; not frozen for speed).

    Attributes:
        asset: Ticker.
        quantity: Coins sold from the lot.
        date_acquired: UTC date of the buy.
        date_sold: UTC date of the sale.
        proceeds: Share of the sale's proceeds, sell fee deducted.
        cost_basis: Share of the lot's cost, buy fee included.
        gain: ``proceeds - cost_basis``; negative for a loss.
        long_term: Held more than one year.
        lot_id: Id of the buy trade.
        sell_id: Id of the sell trade.
    """

    asset: str
    quantity: Decimal
    date_acquired: date
    date_sold: date
    proceeds: Decimal
    cost_basis: Decimal
    gain: Decimal
    long_term: bool
    lot_id: int
    sell_id: int


@dataclass(frozen=True, slots=True)
class TermTotals:
    """Sums over the rows of one holding term.

    Attributes:
        count: Number of rows.
        proceeds: Sum of proceeds.
        cost_basis: Sum of cost bases.
        gain: Sum of gains (net; losses reduce it).
    """

    count: int
    proceeds: Decimal
    cost_basis: Decimal
    gain: Decimal


@dataclass(frozen=True, slots=True)
class YearTotals:
    """Short- and long-term totals of one tax year.

    Attributes:
        year: Calendar year of the sales (UTC).
        short_term: Totals of sales held one year or less.
        long_term: Totals of sales held more than one year.
        gain: Net gain of the year, both terms.
    """

    year: int
    short_term: TermTotals
    long_term: TermTotals
    gain: Decimal


@dataclass(frozen=True, slots=True)
class TaxReport:
    """Realised gains of a trade history, for one year or for all years.

    Attributes:
        year: The year reported, or ``None`` for every year.
        method: Cost-basis method used.
        explanation: The method in one plain sentence, safe to show.
        rows: One row per lot used by a sale, in order of sale.
        years: Totals per year with sales, oldest first.
        short_term: Totals of all short-term rows.
        long_term: Totals of all long-term rows.
        total_gain: Net gain of all rows.
        currency: Currency of every amount (the trades').
    """

    year: int | None
    method: str
    explanation: str
    rows: tuple[TaxRow, ...]
    years: tuple[YearTotals, ...]
    short_term: TermTotals
    long_term: TermTotals
    total_gain: Decimal
    currency: str = "USD"


def check_tax_year(year: int, today: date | None = None) -> int:
    """Validate a tax year: 2009 (Bitcoin's first year) to the current year.

    Args:
        year: The year asked for.
        today: The current date (UTC today when omitted); injectable for tests.

    Raises:
        UserInputError: Not an integer year in that range.
    """
    current = (today or datetime.now(UTC).date()).year
    if isinstance(year, bool) or not isinstance(year, int):
        raise UserInputError(f"The tax year must be a year like {current}.")
    if not FIRST_TAX_YEAR <= year <= current:
        raise UserInputError(
            f"No tax report for {year}: choose a year from {FIRST_TAX_YEAR} to {current}."
        )
    return year


class _Sums:
    """Running totals of one term."""

    __slots__ = ("cost", "count", "gain", "proceeds")

    def __init__(self) -> None:
        self.count = 0
        self.proceeds = self.cost = self.gain = _ZERO

    def add(self, row: TaxRow) -> None:
        self.count += 1
        self.proceeds += row.proceeds
        self.cost += row.cost_basis
        self.gain += row.gain

    def freeze(self) -> TermTotals:
        return TermTotals(self.count, self.proceeds, self.cost, self.gain)


def tax_report(
    trades: Iterable[TradeRecord],
    year: int | None = None,
    method: str = "FIFO",
    *,
    today: date | None = None,
    currency: str = "USD",
) -> TaxReport:
    """Compute the realised gains of a trade history.

    Args:
        trades: The user's whole trade history, in any order (earlier years are
            needed to know what each sale used up).
        year: Report only sales in this calendar year (UTC); ``None`` for all.
        method: Cost-basis method, ``"FIFO"``, ``"LIFO"`` or ``"HIFO"``.
        today: The current date, for validating ``year``; UTC today when omitted.
        currency: Currency of the trades' prices and fees, carried to the report.

    Returns:
        The rows, per-year and per-term totals, and a one-sentence explanation.

    Raises:
        UserInputError: A year outside 2009 to the current year, or as
            :func:`~tools.portfolio.lots.match_lots` (bad method, malformed trade,
            selling more than held).
    """
    if year is not None:
        check_tax_year(year, today)
    with gc_paused():
        result = match_lots(trades, method)
        with localcontext(EXACT_CONTEXT):
            return _report(result, year, currency.upper())


def _report(result: LotResult, year: int | None, currency: str) -> TaxReport:
    rows: list[TaxRow] = []
    per_year: dict[int, tuple[_Sums, _Sums]] = {}
    for d in result.disposals:
        sold = d.sold_at.date()
        if year is not None and sold.year != year:
            continue
        row = TaxRow(
            d.symbol,
            d.quantity,
            d.acquired_at.date(),
            sold,
            d.proceeds,
            d.cost_basis,
            d.gain,
            d.long_term,
            d.lot_id,
            d.sell_id,
        )
        rows.append(row)
        sums = per_year.get(sold.year)
        if sums is None:
            sums = per_year[sold.year] = (_Sums(), _Sums())
        sums[row.long_term].add(row)
    years = tuple(
        YearTotals(y, short.freeze(), long.freeze(), short.gain + long.gain)
        for y, (short, long) in sorted(per_year.items())
    )
    short_term = _combine(t.short_term for t in years)
    long_term = _combine(t.long_term for t in years)
    return TaxReport(
        year=year,
        method=result.method,
        explanation=METHOD_EXPLANATIONS[result.method],
        rows=tuple(rows),
        years=years,
        short_term=short_term,
        long_term=long_term,
        total_gain=short_term.gain + long_term.gain,
        currency=currency,
    )


def _combine(totals: Iterable[TermTotals]) -> TermTotals:
    count, proceeds, cost, gain = 0, _ZERO, _ZERO, _ZERO
    for t in totals:
        count += t.count
        proceeds += t.proceeds
        cost += t.cost_basis
        gain += t.gain
    return TermTotals(count, proceeds, cost, gain)


def _cents(amount: Decimal) -> Decimal:
    """Round to cents, half-even; never ``-0.00``."""
    rounded = amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def _plain(quantity: Decimal) -> str:
    text = f"{quantity:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def form_8949_csv(report: TaxReport) -> str:
    """Write a report's rows as CSV in the column order of IRS Form 8949.

    Columns: ``Part`` (``I`` short-term, ``II`` long-term), then (a) description
    (``"0.5 BTC"``), (b) date acquired, (c) date sold (``MM/DD/YYYY``), (d)
    proceeds, (e) cost basis (cents, half-even), (f) code, (g) adjustment (both
    empty), (h) gain = (d) - (e). Short-term rows come first, each part in order
    of sale.

    Args:
        report: A report from :func:`tax_report`.

    Returns:
        The CSV text, header included (``\\r\\n`` line ends, as RFC 4180).
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FORM_8949_COLUMNS)
    for part, long_term in (("I", False), ("II", True)):
        for row in report.rows:
            if row.long_term is not long_term:
                continue
            proceeds, cost = _cents(row.proceeds), _cents(row.cost_basis)
            writer.writerow(
                (
                    part,
                    f"{_plain(row.quantity)} {row.asset}",
                    f"{row.date_acquired:%m/%d/%Y}",
                    f"{row.date_sold:%m/%d/%Y}",
                    f"{proceeds:f}",
                    f"{cost:f}",
                    "",
                    "",
                    f"{_cents(proceeds - cost):f}",
                )
            )
    return out.getvalue()
