"""Valuing trading fees paid in a third asset (BNB...) in the trade's currency.

Binance users often pay their fees in BNB; the export then shows ``0.00081438BNB`` next
to a BTC/USDT trade. Cost basis and proceeds need that fee in the trade's currency at
the time of the trade. :class:`FeeRates` values it at the fee asset's daily close on the
trade's UTC day, from :meth:`~tools.market.service.PriceService.get_history` (daily bars
in the trade's currency). One history request per asset and currency covers every day
asked for, and each closed day's price is kept in a bounded cache, so a dry run followed
by the real import asks the market once. Today's bar is still moving and is not cached.

:func:`convert_fees` applies it to import rows: each row with a
:attr:`~tools.portfolio.imports_formats.ImportRow.fee_asset` gets its fee in its own
currency and a note saying how it was valued, or a
:class:`~tools.portfolio.imports_formats.RowError` when there is no price for that day
(older than the available history, an unknown asset, the market unavailable). A caller
stores nothing while any row is in error.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date
from decimal import Decimal

from tools.clock import Clock, SystemClock
from tools.errors import MarketDataUnavailableError, UserInputError
from tools.market.format import format_money
from tools.market.service import PriceService
from tools.market.types import DataOrigin
from tools.portfolio.amounts import format_quantity, parse_amount
from tools.portfolio.imports_formats import ImportRow, RowError

__all__ = ["MAX_HISTORY_DAYS", "DailyPrice", "FeeConversion", "FeeRates", "convert_fees"]

#: The longest history asked for (the market's limit): older fees cannot be valued.
MAX_HISTORY_DAYS = 3650
#: Daily prices kept in memory (asset, currency and day each).
MAX_CACHED_DAYS = 20_000


@dataclass(frozen=True, slots=True)
class DailyPrice:
    """One asset's closing price on one UTC day.

    Attributes:
        day: The UTC day.
        price: Close of that day's bar (the latest price for today).
        origin: Live, simulated or replayed.
        source: The market source that answered.
    """

    day: date
    price: Decimal
    origin: DataOrigin
    source: str


@dataclass(frozen=True, slots=True)
class FeeConversion:
    """Import rows with every fee in the row's currency, or the rows that could not be.

    Attributes:
        rows: Every row that needs no conversion or was converted, in the given order.
        errors: Rows whose fee could not be valued (left out of ``rows``).
        converted: Rows converted, per fee asset.
        origins: Origins of the prices used.
    """

    rows: tuple[ImportRow, ...]
    errors: tuple[RowError, ...] = ()
    converted: dict[str, int] = field(default_factory=dict)
    origins: frozenset[DataOrigin] = frozenset()

    def summary(self) -> str | None:
        """``Fees paid in BNB (3 rows) were valued at each day's closing price.``"""
        if not self.converted:
            return None
        parts = ", ".join(
            f"{asset} ({n} row{'s' if n != 1 else ''})" for asset, n in self.converted.items()
        )
        return f"Fees paid in {parts} were valued at the asset's close on each trade's day."


class FeeRates:
    """Daily closing prices of fee assets, fetched once per asset and cached per day.

    Args:
        prices: The price service (symbol resolution and history).
        clock: Time source (what "today" is).
        max_cached: Most daily prices kept.
    """

    def __init__(
        self, prices: PriceService, *, clock: Clock | None = None, max_cached: int = MAX_CACHED_DAYS
    ) -> None:
        self._prices = prices
        self._clock = clock or SystemClock()
        self._max_cached = max_cached
        self._cache: OrderedDict[tuple[str, str, date], DailyPrice] = OrderedDict()
        #: History requests made so far (the cache's effect is visible in tests).
        self.requests = 0

    async def daily_closes(
        self, asset: str, currency: str, days: Iterable[date]
    ) -> dict[date, DailyPrice]:
        """The close of ``asset`` in ``currency`` on each of ``days`` that history covers.

        Days without a bar (before the available history, or before the asset existed)
        are left out of the result.

        Raises:
            UserInputError: An unknown asset or currency (``UnknownSymbolError``...).
            MarketDataUnavailableError: No history source answered.
        """
        symbol, vs = asset.strip().upper(), currency.strip().lower()
        today = self._clock.now().astimezone(UTC).date()
        found: dict[date, DailyPrice] = {}
        missing: list[date] = []
        for day in sorted(set(days)):
            hit = self._cache.get((symbol, vs, day))
            if hit is None:
                missing.append(day)
            else:
                self._cache.move_to_end((symbol, vs, day))
                found[day] = hit
        missing = [d for d in missing if d <= today]
        if not missing:
            return found
        span = min(MAX_HISTORY_DAYS, max(1, (today - missing[0]).days + 1))
        self.requests += 1
        _, history = await self._prices.get_history(
            symbol, days=span, interval="1d", vs_currency=vs
        )
        closes = {c.ts.astimezone(UTC).date(): c.close for c in history.candles}
        for day in missing:
            close = closes.get(day)
            if close is None or not math.isfinite(close) or close <= 0:
                continue
            price = DailyPrice(day, Decimal(str(close)), history.origin, history.source)
            found[day] = price
            if day < today:
                self._remember((symbol, vs, day), price)
        return found

    def _remember(self, key: tuple[str, str, date], price: DailyPrice) -> None:
        self._cache[key] = price
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)


async def convert_fees(rates: FeeRates, rows: Sequence[ImportRow]) -> FeeConversion:
    """Value every fee paid in a third asset in its row's currency.

    Args:
        rates: Where daily prices come from.
        rows: Parsed rows; those without ``fee_asset`` pass through unchanged.

    Returns:
        The rows ready to store and, separately, the rows whose fee has no price.
    """
    pending = [r for r in rows if r.fee_asset]
    if not pending:
        return FeeConversion(tuple(rows))
    groups: dict[tuple[str, str], list[ImportRow]] = {}
    for row in pending:
        groups.setdefault((str(row.fee_asset), row.currency or "USD"), []).append(row)
    prices: dict[tuple[str, str], dict[date, DailyPrice]] = {}
    errors: list[RowError] = []
    for key, members in groups.items():
        asset, currency = key
        try:
            prices[key] = await rates.daily_closes(asset, currency, (_day(r) for r in members))
        except (UserInputError, MarketDataUnavailableError) as exc:
            reason = exc.user_message.rstrip(".")
            errors.extend(
                RowError(r.line, f"{_fee_text(r)} cannot be converted to {currency}: {reason}.")
                for r in members
            )
    kept: list[ImportRow] = []
    converted: Counter[str] = Counter()
    origins: set[DataOrigin] = set()
    for row in rows:
        if not row.fee_asset:
            kept.append(row)
            continue
        key = (row.fee_asset, row.currency or "USD")
        if key not in prices:
            continue  # reported above
        currency, day = key[1], _day(row)
        daily = prices[key].get(day)
        if daily is None:
            errors.append(
                RowError(
                    row.line,
                    f"{_fee_text(row)} cannot be converted to {currency}: there is no "
                    f"{row.fee_asset} price for {day:%Y-%m-%d}. Record this trade by hand "
                    f"with its fee in {currency}.",
                )
            )
            continue
        try:
            value = parse_amount(row.fee * daily.price, what="fee", allow_zero=True)
        except UserInputError as exc:
            errors.append(RowError(row.line, exc.user_message))
            continue
        note = (
            f"{_fee_text(row).capitalize()} valued at {format_money(daily.price, currency)} per "
            f"{row.fee_asset} ({day:%Y-%m-%d} close, {daily.source})."
        )
        kept.append(replace(row, fee=value, fee_asset=None, note=note))
        converted[row.fee_asset] += 1
        origins.add(daily.origin)
    return FeeConversion(
        tuple(kept),
        tuple(sorted(errors, key=lambda e: e.line)),
        dict(converted),
        frozenset(origins),
    )


def _day(row: ImportRow) -> date:
    return row.executed_at.astimezone(UTC).date()


def _fee_text(row: ImportRow) -> str:
    return f"the fee {format_quantity(row.fee)} {row.fee_asset}"
