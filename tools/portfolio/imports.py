"""Importing trade-history CSV files into a portfolio.

:func:`parse_trades_csv` (pure, in :mod:`tools.portfolio.imports_formats`) reads a
CryptoGuard, Binance or Coinbase file into an :class:`ImportPreview`;
:func:`import_trades` checks it against the portfolio and stores it all or nothing:

* any row in error (unreadable, unknown coin, priced in another currency than the
  portfolio's, a fee in another asset with no price for its day, a sell of more than was
  held at its time, counting the portfolio and the rest of the file) -> nothing is
  stored, the errors name their lines;
* ``dry_run`` (the default) -> the same checks, nothing stored;
* otherwise the new rows are written in one transaction; rows already imported (same
  ``external_id``) are skipped, so importing a file twice adds nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.identity import UserRef
from tools.portfolio.imports_formats import (
    ImportPreview,
    ImportRow,
    RowError,
    SkippedRow,
    parse_trades_csv,
)
from tools.portfolio.service import PortfolioService, _portfolio_name

__all__ = [
    "ImportPreview",
    "ImportResult",
    "ImportRow",
    "RowError",
    "SkippedRow",
    "import_trades",
    "parse_trades_csv",
]

#: Errors listed in a message (all are in :attr:`ImportResult.errors`).
MAX_ERRORS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The outcome of an import (or its dry run).

    Attributes:
        preview: What the file contains (its ``errors`` include the portfolio checks).
        portfolio: Portfolio name.
        dry_run: Nothing was meant to be stored.
        stored: The new trades were written.
        new: Trades not imported before (added, or that would be on a real import).
        duplicates: Trades already in the portfolio from an earlier import.
        message: Plain-text report for the user (notes and data notice included).
        notes: How fees paid in another asset were valued.
        notice: The simulated/replayed data notice when such fees used non-live prices.
    """

    preview: ImportPreview
    portfolio: str
    dry_run: bool
    stored: bool
    new: int
    duplicates: int
    message: str
    notes: tuple[str, ...] = ()
    notice: str | None = None

    @property
    def errors(self) -> tuple[RowError, ...]:
        """Every row refused; non-empty means nothing was stored."""
        return self.preview.errors

    @property
    def ok(self) -> bool:
        """No errors: the file was (or can be) imported."""
        return not self.preview.errors


async def import_trades(
    service: PortfolioService,
    user: UserRef,
    text: str,
    *,
    dry_run: bool = True,
    portfolio: str | None = None,
) -> ImportResult:
    """Import a trade-history CSV file into ``portfolio``, all or nothing.

    Args:
        service: The portfolio service (its clock, prices and database are used).
        user: Who imports.
        text: The file's content.
        dry_run: Only preview and check (the default); ``False`` stores.
        portfolio: Portfolio name; ``None`` for the default one.

    Returns:
        The preview, the errors by line, and how many trades are new.

    Raises:
        UserInputError: Unrecognised or empty file.
        LimitError: A file or portfolio too large.
    """
    name = _portfolio_name(portfolio)
    preview = parse_trades_csv(text, now=service._clock.now())  # noqa: SLF001 - same package
    if preview.errors:
        return _result(preview, name, dry_run, stored=False, new=0, duplicates=0)
    if not preview.rows:
        return ImportResult(
            preview, name, dry_run, False, 0, 0, f"{preview.summary()} Nothing to import."
        )
    outcome = await service.add_imported(
        user, preview.rows, name, source=f"import:{preview.format}", dry_run=dry_run
    )
    checked = preview.with_errors(outcome.errors)
    return _result(
        checked,
        outcome.portfolio,
        dry_run,
        stored=outcome.stored,
        new=outcome.new,
        duplicates=outcome.duplicates,
        notes=outcome.notes,
        notice=outcome.notice,
    )


def _result(
    preview: ImportPreview,
    name: str,
    dry_run: bool,
    *,
    stored: bool,
    new: int,
    duplicates: int,
    notes: tuple[str, ...] = (),
    notice: str | None = None,
) -> ImportResult:
    summary = preview.summary()
    already = f", {duplicates} already imported" if duplicates else ""
    if preview.errors:
        shown = "; ".join(str(e) for e in preview.errors[:MAX_ERRORS_SHOWN])
        more = len(preview.errors) - MAX_ERRORS_SHOWN
        extra = f" (and {more} more)" if more > 0 else ""
        message = f"{summary} Nothing was imported; fix these rows: {shown}{extra}."
        return ImportResult(preview, name, dry_run, False, 0, 0, message)
    if dry_run:
        message = (
            f'{summary} Preview only, nothing stored: {new} new trade{_s(new)} for portfolio "'
            f'{name}"{already}.'
        )
    else:
        message = f'{summary} Imported {new} new trade{_s(new)} into portfolio "{name}"{already}.'
    message = "\n".join([message, *notes, *([notice] if notice else [])])
    return ImportResult(preview, name, dry_run, stored, new, duplicates, message, notes, notice)


def _s(n: int) -> str:
    return "" if n == 1 else "s"
