"""``PortfolioService``: trades in, holdings, risk, targets, rebalancing and tax out.

The one service that slash commands, the scheduler and the agent's tools call for
portfolios. Every method takes the platform's :class:`~tools.identity.UserRef` first
(never an id from message text) and a portfolio name (``None`` means ``"default"``,
created on first use). Trade ids given by users are checked for ownership: someone
else's id gets the same :class:`~tools.errors.NotFoundError` as a missing one.

Writes validate everything before storing anything: amounts and dates
(:mod:`tools.portfolio.amounts`), the coin (through the price service's resolver), and
the whole trade history with the change applied (:func:`match_lots`), so that no sell
ever exceeds what was held at its time, whether the change is a new sell, an edit or
the deletion of a buy. Prices come from :class:`~tools.market.service.PriceService`;
every report carries its sources, notes and the simulated-data notice.

Concurrency: every write that checks the history (record, edit, delete, import, currency
switch) first locks the owner's user row in its own transaction
(:meth:`storage.UserRepository.lock`: ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers) and only then reads the trades. Two
concurrent sells of the whole position are therefore checked one after the other: the
second sees the first and is refused.

Currency: each portfolio is kept in one currency (:data:`PORTFOLIO_CURRENCIES`, USD by
default, or the user's base currency for a new portfolio). Prices and fees of its
trades are in that currency, and current quotes and history are asked for in it, so
summaries, risk, value history, rebalancing and tax reports are all in it.
:meth:`PortfolioService.set_currency` switches a portfolio only while it holds no
trades: the stored amounts would otherwise change meaning.

Storage errors are translated here: :class:`storage.DuplicateError` and
:class:`storage.ConstraintError` become :class:`~tools.errors.UserInputError`.
"""

from __future__ import annotations

import bisect
import csv
import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from storage import (
    ConstraintError,
    Database,
    DuplicateError,
    NewTrade,
    PortfolioRepository,
    TradeRepository,
    UserRepository,
)
from storage.models import Portfolio, Trade, User
from storage.repositories.portfolios import DEFAULT_PORTFOLIO_NAME
from tools.clock import Clock, SystemClock
from tools.errors import (
    LimitError,
    MarketDataUnavailableError,
    NotFoundError,
    UserInputError,
)
from tools.identity import UserRef
from tools.market.format import format_money
from tools.market.service import PriceService, data_notice
from tools.market.types import DataOrigin, Quote
from tools.portfolio.amounts import (
    format_cash,
    format_quantity,
    money_currency,
    parse_amount,
    parse_trade_date,
)
from tools.portfolio.fees import FeeRates, convert_fees
from tools.portfolio.holdings import PortfolioSummary, holdings
from tools.portfolio.imports_formats import ImportRow, RowError
from tools.portfolio.lots import TradeRecord, match_lots, parse_method
from tools.portfolio.rebalance import RebalancePlan, rebalance_plan
from tools.portfolio.risk import MIN_RETURNS, RiskReport, portfolio_risk
from tools.portfolio.targets import CASH, parse_targets
from tools.portfolio.tax import TaxReport, form_8949_csv, tax_report

logger = logging.getLogger(__name__)

__all__ = [
    "EXPORT_COLUMNS",
    "PORTFOLIO_CURRENCIES",
    "CurrencyResult",
    "ImportOutcome",
    "PortfolioService",
    "RebalanceResult",
    "RiskResult",
    "SummaryReport",
    "TargetsResult",
    "TradePage",
    "TradeResult",
    "TradeView",
]

#: Columns of :meth:`PortfolioService.export_csv`.
EXPORT_COLUMNS = ("date", "side", "symbol", "quantity", "price", "fee", "id", "currency")
#: Currencies a portfolio can be kept in (the market quotes and has history in each).
PORTFOLIO_CURRENCIES = ("USD", "EUR")
_CURRENCY_SIGNS = {"$": "USD", "€": "EUR"}
MAX_PER_PAGE = 100
MAX_RISK_DAYS = 365
MAX_RISK_SYMBOLS = 25
#: A trade older than this needs an explicit price (the current one would be wrong).
CURRENT_PRICE_WINDOW = timedelta(days=1)
_QUOTE_BATCH = 25
_SIDES: dict[str, Literal["buy", "sell"]] = {
    "buy": "buy",
    "bought": "buy",
    "b": "buy",
    "sell": "sell",
    "sold": "sell",
    "s": "sell",
}


@dataclass(frozen=True, slots=True)
class TradeView:
    """A stored trade, detached from the database."""

    id: int
    side: str
    symbol: str
    coin_id: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    executed_at: datetime
    currency: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TradeResult:
    """The outcome of recording or editing a trade.

    Attributes:
        trade: The stored trade.
        portfolio: Portfolio name.
        message: One-line confirmation, plain text.
        used_current_price: The price was not given: the current market price was used.
        notes: Provenance notes (ambiguous ticker, cached price).
        notice: The simulated/replayed data notice when the price is not live.
    """

    trade: TradeView
    portfolio: str
    message: str
    used_current_price: bool = False
    notes: tuple[str, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class TradePage:
    """One page of a portfolio's trades, newest first."""

    portfolio: str
    trades: tuple[TradeView, ...]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class SummaryReport:
    """Holdings and P&L at current prices, with provenance."""

    portfolio: str
    currency: str
    summary: PortfolioSummary
    trade_count: int
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class RiskResult:
    """Risk figures of a portfolio, with provenance."""

    portfolio: str
    report: RiskReport
    symbols: tuple[str, ...]
    notes: tuple[str, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class TargetsResult:
    """The target allocation stored for a portfolio."""

    portfolio: str
    targets: dict[str, Decimal]
    message: str


@dataclass(frozen=True, slots=True)
class RebalanceResult:
    """A rebalancing plan at current prices, with provenance."""

    portfolio: str
    currency: str
    plan: RebalancePlan
    targets: dict[str, Decimal]
    notes: tuple[str, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class CurrencyResult:
    """A portfolio's currency, after :meth:`PortfolioService.set_currency` or as it is.

    Attributes:
        portfolio: Portfolio name.
        currency: ``"USD"`` or ``"EUR"``.
        changed: The call switched (or created) the portfolio.
        message: One plain-text sentence for the user.
    """

    portfolio: str
    currency: str
    changed: bool
    message: str


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What :meth:`PortfolioService.add_imported` did (or would do, on a dry run).

    Attributes:
        portfolio: Portfolio name.
        new: Rows not imported before (stored unless ``dry_run`` or ``errors``).
        duplicates: Rows whose external id the portfolio already holds (left out).
        errors: Rows refused (unknown coin, oversell...); nothing is stored then.
        stored: Whether the new rows were written.
        notes: How fees paid in another asset were valued.
        notice: The simulated/replayed data notice when such a fee used non-live prices.
    """

    portfolio: str
    new: int
    duplicates: int
    errors: tuple[RowError, ...] = ()
    stored: bool = False
    notes: tuple[str, ...] = ()
    notice: str | None = None


class _ImportRefused(Exception):
    """Raised inside the import transaction to roll it back."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("import refused")
        self.errors = errors


@dataclass
class _Prices:
    """Quotes gathered for a set of coins."""

    by_symbol: dict[str, Decimal] = field(default_factory=dict)
    previous: dict[str, Decimal] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    origins: set[DataOrigin] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _ValueSeries:
    """Daily values per coin over a window, as :meth:`PortfolioService.risk` measures."""

    currency: str
    times: list[int]
    values: dict[str, list[float]]
    notes: list[str]
    origins: set[DataOrigin]
    btc_returns: list[float] | None


class PortfolioService:
    """Portfolios of trades for users identified by their platform.

    Args:
        db: The database.
        prices: The price service (quotes, history, symbol resolver).
        clock: Time source.
        max_trades: Most trades one portfolio may hold.
    """

    def __init__(
        self,
        db: Database,
        prices: PriceService,
        *,
        clock: Clock | None = None,
        max_trades: int = 100_000,
    ) -> None:
        self._db = db
        self._prices = prices
        self._clock = clock or SystemClock()
        self._max_trades = max_trades
        self._fee_rates = FeeRates(prices, clock=self._clock)

    # -- trades ---------------------------------------------------------------------------

    async def record_trade(
        self,
        user: UserRef,
        side: str,
        symbol: str,
        quantity: str | int | float | Decimal,
        price: str | int | float | Decimal | None = None,
        date: str | datetime | None = None,
        fee: str | int | float | Decimal | None = None,
        portfolio: str | None = None,
        *,
        note: str | None = None,
    ) -> TradeResult:
        """Validate and store one buy or sell; nothing is stored if anything is wrong.

        Args:
            user: Who trades (from the platform).
            side: ``buy``/``bought`` or ``sell``/``sold``.
            symbol: Coin ticker or name (``BTC``, ``ethereum``).
            quantity: Coins traded (``0.5``, ``"1.5k"``).
            price: Price per coin in the portfolio's currency (``"48k"``, ``"€45,000"``;
                an amount naming another currency is refused); the current price in
                that currency when omitted (only for trades of the last 24 hours).
            date: When (``None`` is now; ISO date/datetime, ``today``, ``yesterday``).
            fee: Fee paid in the portfolio's currency (default 0).
            portfolio: Portfolio name; ``None`` for the default one.
            note: Free text kept with the trade.

        Raises:
            UserInputError: Invalid input, unknown coin, a sell of more than was held,
                or a price or fee in another currency than the portfolio's.
            LimitError: The portfolio is full.
            MarketDataUnavailableError: No price given and none available.
        """
        now = self._clock.now()
        name = _portfolio_name(portfolio)
        chosen = _side(side)
        qty = parse_amount(quantity, what="quantity")
        fee_amount = Decimal(0) if fee is None else parse_amount(fee, what="fee", allow_zero=True)
        when = parse_trade_date(date, now=now)
        coin_notes: list[str] = []
        resolution = await self._prices.resolver.resolve(_symbol_text(symbol))
        if resolution.note:
            coin_notes.append(resolution.note)
        coin = resolution.coin
        currency = await self._currency_for(user, name)
        _check_money(price, "price", currency)
        _check_money(fee, "fee", currency)
        used_current = price is None
        notice = None
        if price is None:
            if now - when > CURRENT_PRICE_WINDOW:
                raise UserInputError(
                    f"Give the price per coin for this trade: it is dated {when:%Y-%m-%d}, "
                    "and today's price would give it the wrong cost."
                )
            quote = await self._current_quote(coin.id, currency)
            unit_price = quote.price
            notice = data_notice(self._prices.market, [quote.origin])
            if quote.cached_age_seconds is not None:
                coin_notes.append(f"{coin.symbol}: the price used is cached, not live.")
        else:
            unit_price = parse_amount(price, what="price", allow_zero=True)
        clean_note = None if note is None else str(note).strip()[:500] or None

        async with self._db.transaction() as session:
            owner = await self._locked_owner(session, user, now)
            repo = PortfolioRepository(session)
            row = await repo.get_or_create_default(owner.id, currency, now=now, name=name)
            _same_currency(row, currency)
            trades = TradeRepository(session)
            count = await trades.count(row.id)
            if count >= self._max_trades:
                raise LimitError(
                    f'Portfolio "{name}" already holds {count} trades, the most allowed. '
                    "Delete old trades or use another portfolio."
                )
            existing = [_record(t) for t in await trades.list_all(row.id)]
            new_id = max((t.id for t in existing), default=0) + 1
            candidate = TradeRecord(
                new_id, chosen, coin.symbol.upper(), qty, unit_price, fee_amount, when
            )
            problem = _oversell([*existing, candidate])
            if problem is not None:
                bad, held = problem
                if bad.id == new_id:
                    raise UserInputError(
                        f"You cannot sell {format_quantity(qty)} {candidate.symbol} on "
                        f"{when:%Y-%m-%d %H:%M} UTC: only {format_quantity(held)} "
                        f'{candidate.symbol} were held then in portfolio "{name}".'
                    )
                raise UserInputError(_later_sell_message("This buy", bad, held))
            try:
                stored = await trades.add(
                    NewTrade(
                        portfolio_id=row.id,
                        side=chosen,
                        symbol=coin.symbol.upper(),
                        coin_id=coin.id,
                        quantity=qty,
                        price=unit_price,
                        executed_at=when,
                        fee=fee_amount,
                        note=clean_note,
                    ),
                    now=now,
                )
            except (DuplicateError, ConstraintError) as exc:
                raise UserInputError("That trade could not be stored; check its values.") from exc
            view = _view(stored, row.base_currency)
        message = _confirmation("Recorded", view, name, used_current)
        return TradeResult(view, name, message, used_current, tuple(coin_notes), notice)

    async def list_trades(
        self, user: UserRef, portfolio: str | None = None, page: int = 1, per_page: int = 20
    ) -> TradePage:
        """A page of the portfolio's trades, newest first.

        Raises:
            UserInputError: A page below 1 or a page size outside 1 to 100.
            NotFoundError: A named portfolio that does not exist.
        """
        name = _portfolio_name(portfolio)
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise UserInputError("The page number must be 1 or more.")
        if isinstance(per_page, bool) or not isinstance(per_page, int):
            raise UserInputError(f"Trades per page must be a number from 1 to {MAX_PER_PAGE}.")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise UserInputError(f"Trades per page must be from 1 to {MAX_PER_PAGE}.")
        async with self._db.transaction(readonly=True) as session:
            row = await self._find_portfolio(session, user, name)
            if row is None:
                return TradePage(name, (), page, per_page, 0)
            repo = TradeRepository(session)
            total = await repo.count(row.id)
            rows = await repo.list_for_portfolio(
                row.id, limit=per_page, offset=(page - 1) * per_page
            )
            return TradePage(
                name, tuple(_view(t, row.base_currency) for t in rows), page, per_page, total
            )

    async def delete_trade(self, user: UserRef, trade_id: int | str) -> TradeView:
        """Delete one of the user's trades.

        Refused when a later sell would then exceed what was held (delete or edit that
        sell first).

        Raises:
            NotFoundError: No such trade among the user's (same for someone else's).
            UserInputError: The deletion would leave a later sell without coins.
        """
        wanted = _trade_id(trade_id)
        async with self._db.transaction() as session:
            repo = TradeRepository(session)
            row = await _owned_trade(UserRepository(session), repo, user, wanted)
            remaining = [
                _record(t) for t in await repo.list_all(row.portfolio_id) if t.id != row.id
            ]
            problem = _oversell(remaining)
            if problem is not None:
                raise UserInputError(_later_sell_message(f"Deleting trade #{wanted}", *problem))
            portfolio = await PortfolioRepository(session).get(row.portfolio_id)
            view = _view(row, portfolio.base_currency if portfolio is not None else "USD")
            await repo.delete(row)
            return view

    async def edit_trade(
        self,
        user: UserRef,
        trade_id: int | str,
        *,
        side: str | None = None,
        symbol: str | None = None,
        quantity: str | int | float | Decimal | None = None,
        price: str | int | float | Decimal | None = None,
        date: str | datetime | None = None,
        fee: str | int | float | Decimal | None = None,
        note: str | None = None,
    ) -> TradeResult:
        """Change fields of one of the user's trades, re-validating the whole history.

        Nothing is changed when anything is wrong. Price and fee are in the portfolio's
        currency (an amount naming another currency is refused).

        Raises:
            NotFoundError: No such trade among the user's.
            UserInputError: Nothing to change, an invalid value, or a change that makes
                this or a later sell exceed what was held.
        """
        wanted = _trade_id(trade_id)
        now = self._clock.now()
        changes: dict[str, object] = {}
        new_side = None if side is None else _side(side)
        new_qty = None if quantity is None else parse_amount(quantity, what="quantity")
        new_price = None if price is None else parse_amount(price, what="price", allow_zero=True)
        new_fee = None if fee is None else parse_amount(fee, what="fee", allow_zero=True)
        new_when = None if date is None else parse_trade_date(date, now=now)
        new_symbol = None
        for key, value in (
            ("side", new_side),
            ("quantity", new_qty),
            ("price", new_price),
            ("fee", new_fee),
            ("executed_at", new_when),
        ):
            if value is not None:
                changes[key] = value
        if note is not None:
            changes["note"] = str(note).strip()[:500] or None
        notes: list[str] = []
        if symbol is not None:
            resolution = await self._prices.resolver.resolve(_symbol_text(symbol))
            changes["symbol"] = new_symbol = resolution.coin.symbol.upper()
            changes["coin_id"] = resolution.coin.id
            if resolution.note:
                notes.append(resolution.note)
        if not changes:
            raise UserInputError(
                "Nothing to change: give a new side, coin, quantity, price, date, fee or note."
            )
        async with self._db.transaction() as session:
            repo = TradeRepository(session)
            row = await _owned_trade(UserRepository(session), repo, user, wanted)
            portfolio = await PortfolioRepository(session).get(row.portfolio_id)
            currency = portfolio.base_currency.upper() if portfolio is not None else "USD"
            name = portfolio.name if portfolio is not None else DEFAULT_PORTFOLIO_NAME
            _check_money(price, "price", currency)
            _check_money(fee, "fee", currency)
            before = _record(row)
            after = TradeRecord(
                row.id,
                new_side or before.side,
                new_symbol or before.symbol,
                before.quantity if new_qty is None else new_qty,
                before.price if new_price is None else new_price,
                before.fee if new_fee is None else new_fee,
                new_when or before.executed_at,
            )
            history = [_record(t) for t in await repo.list_all(row.portfolio_id) if t.id != row.id]
            problem = _oversell([*history, after])
            if problem is not None:
                bad, held = problem
                if bad.id == wanted:
                    raise UserInputError(
                        f"Trade #{wanted} would then sell {format_quantity(bad.quantity)} "
                        f"{bad.symbol} on {bad.executed_at:%Y-%m-%d %H:%M} UTC, but only "
                        f"{format_quantity(held)} {bad.symbol} were held then."
                    )
                raise UserInputError(
                    _later_sell_message(f"That change to trade #{wanted}", *problem)
                )
            for field_name, new_value in changes.items():
                setattr(row, field_name, new_value)
            await session.flush()
            view = _view(row, currency)
        return TradeResult(
            view, name, _confirmation("Updated", view, name, False), notes=tuple(notes)
        )

    # -- currency -------------------------------------------------------------------------

    async def currency(self, user: UserRef, portfolio: str | None = None) -> CurrencyResult:
        """The currency a portfolio is kept in (a default portfolio not created yet: the
        one it would get).

        Raises:
            NotFoundError: A named portfolio that does not exist.
        """
        name = _portfolio_name(portfolio)
        _, currency, _ = await self._load(user, name)
        return CurrencyResult(name, currency, False, f'Portfolio "{name}" is kept in {currency}.')

    async def set_currency(
        self, user: UserRef, currency: str, portfolio: str | None = None
    ) -> CurrencyResult:
        """Keep a portfolio in ``currency`` (USD or EUR), creating it if it does not exist.

        A portfolio that holds trades is not switched: their prices and fees were given
        in its currency and would change meaning.

        Args:
            user: Whose portfolio.
            currency: ``"USD"``/``"EUR"`` (case-insensitive; ``$`` and ``€`` too).
            portfolio: Portfolio name; ``None`` for the default one.

        Raises:
            UserInputError: A currency other than USD or EUR, or a portfolio with trades
                in another currency.
        """
        name = _portfolio_name(portfolio)
        code = _currency_code(currency)
        now = self._clock.now()
        async with self._db.transaction() as session:
            owner = await self._locked_owner(session, user, now)
            repo = PortfolioRepository(session)
            row = await repo.get_by_name(owner.id, name)
            if row is None:
                await repo.get_or_create_default(owner.id, code, now=now, name=name)
                return CurrencyResult(
                    name, code, True, f'Created portfolio "{name}", kept in {code}.'
                )
            old = row.base_currency.upper()
            if old == code:
                return CurrencyResult(
                    name, code, False, f'Portfolio "{name}" is already kept in {code}.'
                )
            count = await TradeRepository(session).count(row.id)
            if count:
                raise UserInputError(
                    f'Portfolio "{name}" holds {count} trade{"s" if count != 1 else ""} '
                    f"priced in {old}; switching it to {code} would change what those "
                    f"amounts mean. Keep {code} trades in a new portfolio, or delete these "
                    "trades first."
                )
            await PortfolioRepository(session).set_base_currency(row, code)
        return CurrencyResult(
            name, code, True, f'Portfolio "{name}" is now kept in {code} (was {old}).'
        )

    # -- holdings -------------------------------------------------------------------------

    async def summary(
        self,
        user: UserRef,
        portfolio: str | None = None,
        base: str | None = None,
        *,
        method: str = "FIFO",
    ) -> SummaryReport:
        """Holdings, value and P&L at current prices in the portfolio's currency (one
        batched quote request).

        Args:
            user: Whose portfolio.
            portfolio: Portfolio name; ``None`` for the default one.
            base: The currency the caller expects (``None``: the portfolio's); another
                currency than the portfolio's is refused rather than mislabelled.
            method: Cost-basis method for realised P&L.

        Raises:
            UserInputError: A base currency other than the portfolio's, or a bad method.
            NotFoundError: A named portfolio that does not exist.
        """
        name = _portfolio_name(portfolio)
        chosen = parse_method(method)
        records, currency, coin_ids = await self._load(user, name)
        if base is not None:
            _check_base(base, currency)
        held = _held_symbols(records)
        prices = await self._quote_symbols({s: coin_ids[s] for s in held}, currency)
        summary = holdings(records, prices.by_symbol, prev_prices=prices.previous, method=chosen)
        return SummaryReport(
            name,
            currency,
            summary,
            len(records),
            tuple(sorted(prices.sources)),
            tuple(prices.notes),
            data_notice(self._prices.market, prices.origins),
        )

    async def risk(self, user: UserRef, portfolio: str | None = None, days: int = 90) -> RiskResult:
        """Risk figures from daily portfolio values (trades x daily closes) over ``days``.

        Raises:
            UserInputError: A window outside 21 to 365 days, nothing held, or too
                little history.
            NotFoundError: A named portfolio that does not exist.
        """
        name = _portfolio_name(portfolio)
        if isinstance(days, bool) or not isinstance(days, int):
            raise UserInputError(
                "The risk window must be a whole number of days "
                f"({MIN_RETURNS + 1} to {MAX_RISK_DAYS})."
            )
        if not MIN_RETURNS + 1 <= days <= MAX_RISK_DAYS:
            raise UserInputError(
                f"The risk window goes from {MIN_RETURNS + 1} to {MAX_RISK_DAYS} days; "
                f"you asked for {days}."
            )
        series = await self._daily_values(user, name, days, with_btc=True)
        report = portfolio_risk(
            series.values, series.times, btc_returns=series.btc_returns, currency=series.currency
        )
        return RiskResult(
            name,
            report,
            tuple(series.values),
            tuple(series.notes),
            data_notice(self._prices.market, series.origins),
        )

    async def value_history(
        self, user: UserRef, portfolio: str | None = None, days: int = 90
    ) -> tuple[list[int], dict[str, list[float]], tuple[str, ...], DataOrigin]:
        """Daily value of each coin held (trades x daily closes) over the last ``days``.

        The same series :meth:`risk` measures: one point per day on which every coin
        held in the window has a close, valued with the quantity held at the end of
        that day.

        Returns:
            ``(times, values_by_symbol, notes, origin)``: epoch seconds per day, the
            value per symbol and day in the portfolio's currency (coins never held in
            the window left out), provenance notes, and the least live origin seen.

        Raises:
            UserInputError: A window outside 2 to 365 days, or nothing held in it.
            LimitError: More coins than risk covers.
            NotFoundError: A named portfolio that does not exist.
        """
        name = _portfolio_name(portfolio)
        if isinstance(days, bool) or not isinstance(days, int) or not 2 <= days <= MAX_RISK_DAYS:
            raise UserInputError(f"The value history goes from 2 to {MAX_RISK_DAYS} days.")
        series = await self._daily_values(user, name, days, with_btc=False)
        return series.times, series.values, tuple(series.notes), _least_live(series.origins)

    # -- targets and rebalancing ----------------------------------------------------------

    async def set_targets(
        self,
        user: UserRef,
        targets: Mapping[str, float | int | str | Decimal],
        portfolio: str | None = None,
    ) -> TargetsResult:
        """Validate and store a target allocation (fractions or percents; CASH allowed).

        Coin names are accepted and stored as tickers (``bitcoin`` -> ``BTC``).

        Raises:
            UserInputError: As :func:`~tools.portfolio.targets.parse_targets`.
        """
        name = _portfolio_name(portfolio)
        now = self._clock.now()
        records, currency, _ = await self._load(user, name, missing_ok=True)
        known = {c.symbol.upper() for c in self._prices.resolver.coins()}
        known |= {t.symbol for t in records}
        mapped: dict[str, float | int | str | Decimal] = {}
        for key, value in targets.items():
            ticker = str(key).strip().lstrip("$").upper()
            if ticker not in known and ticker != CASH:
                found = self._prices.resolver.lookup(str(key))
                if found is not None:
                    ticker = found.coin.symbol.upper()
            if ticker in mapped:
                ticker = str(key)  # let parse_targets report the duplicate
            mapped[ticker] = value
        fractions = parse_targets(mapped, known)
        async with self._db.transaction() as session:
            owner = await self._owner(session, user, now)
            repo = PortfolioRepository(session)
            row = await repo.get_or_create_default(owner.id, currency, now=now, name=name)
            await repo.set_targets(row, fractions)
        shown = ", ".join(f"{s} {_pct_text(w)}" for s, w in fractions.items())
        return TargetsResult(name, fractions, f'Targets for portfolio "{name}": {shown}.')

    async def get_targets(self, user: UserRef, portfolio: str | None = None) -> TargetsResult:
        """The stored targets (empty when none are set)."""
        name = _portfolio_name(portfolio)
        async with self._db.transaction(readonly=True) as session:
            row = await self._find_portfolio(session, user, name)
            targets = row.targets if row is not None else {}
        if not targets:
            return TargetsResult(name, {}, f'Portfolio "{name}" has no targets. {_HOW_TO_TARGET}')
        shown = ", ".join(f"{s} {_pct_text(w)}" for s, w in targets.items())
        return TargetsResult(name, targets, f'Targets for portfolio "{name}": {shown}.')

    async def rebalance(self, user: UserRef, portfolio: str | None = None) -> RebalanceResult:
        """Drift from the targets and the trades that restore them, at current prices.

        Raises:
            UserInputError: No targets set (says how to set them), or nothing held.
            NotFoundError: A named portfolio that does not exist.
        """
        name = _portfolio_name(portfolio)
        async with self._db.transaction(readonly=True) as session:
            row = await self._find_portfolio(session, user, name)
            targets = row.targets if row is not None else {}
        if not targets:
            raise UserInputError(
                f'Portfolio "{name}" has no target allocation yet. {_HOW_TO_TARGET}'
            )
        records, currency, coin_ids = await self._load(user, name)
        held = _held_symbols(records)
        wanted = {s: coin_ids[s] for s in held}
        for symbol in targets:
            if symbol != CASH and symbol not in wanted:
                wanted[symbol] = symbol
        prices = await self._quote_symbols(wanted, currency)
        summary = holdings(records, prices.by_symbol)
        if summary.unpriced:
            raise UserInputError(
                "Cannot rebalance without current prices for: " + ", ".join(summary.unpriced) + "."
            )
        missing = [s for s in targets if s != CASH and s not in prices.by_symbol]
        if missing:
            raise UserInputError(
                "No current price for the target coins: " + ", ".join(missing) + "."
            )
        values = {p.symbol: p.value or Decimal(0) for p in summary.positions}
        plan = rebalance_plan(values, prices.by_symbol, targets, currency=currency)
        return RebalanceResult(
            name,
            currency,
            plan,
            targets,
            tuple(prices.notes),
            data_notice(self._prices.market, prices.origins),
        )

    # -- tax and export -------------------------------------------------------------------

    async def tax(
        self,
        user: UserRef,
        year: int | None = None,
        method: str = "FIFO",
        portfolio: str | None = None,
    ) -> TaxReport:
        """Realised gains per lot for ``year`` (all years when ``None``), in the
        portfolio's currency (:attr:`TaxReport.currency`).

        Raises:
            UserInputError: A year outside 2009 to this year, or a bad method.
        """
        name = _portfolio_name(portfolio)
        chosen = parse_method(method)
        records, currency, _ = await self._load(user, name)
        return tax_report(records, year, chosen, today=self._clock.now().date(), currency=currency)

    async def tax_csv(
        self,
        user: UserRef,
        year: int | None = None,
        method: str = "FIFO",
        portfolio: str | None = None,
    ) -> str:
        """The tax report as Form 8949 CSV (header included)."""
        return form_8949_csv(await self.tax(user, year, method, portfolio))

    async def export_csv(self, user: UserRef, portfolio: str | None = None) -> str:
        """Every trade as CSV, oldest first:
        ``date,side,symbol,quantity,price,fee,id,currency`` (:data:`EXPORT_COLUMNS`)."""
        name = _portfolio_name(portfolio)
        records, currency, _ = await self._load(user, name)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for t in records:
            writer.writerow(
                (
                    t.executed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                    t.side,
                    t.symbol,
                    f"{t.quantity:f}",
                    f"{t.price:f}",
                    f"{t.fee:f}",
                    t.id,
                    currency,
                )
            )
        return out.getvalue()

    # -- imports --------------------------------------------------------------------------

    async def add_imported(
        self,
        user: UserRef,
        rows: Sequence[ImportRow],
        portfolio: str | None = None,
        *,
        source: str = "import",
        dry_run: bool = False,
    ) -> ImportOutcome:
        """Validate imported trades against the portfolio and store them all, or none.

        Rows whose ``external_id`` the portfolio already holds are left out (so
        importing a file twice adds nothing). Coins are resolved, rows priced in another
        currency than the portfolio's are refused, fees paid in a third asset are valued
        at that asset's close on the trade's day (:mod:`tools.portfolio.fees`; a fee
        without a price is a row error), then the history with the new rows is checked
        with :func:`match_lots`: every sell exceeding what was held is reported with its
        line. Any error means nothing is stored.

        Args:
            user: Who imports.
            rows: Parsed rows (prices and fees in each row's currency).
            portfolio: Portfolio name (created on a real import if missing).
            source: Importer's name, kept with each trade.
            dry_run: Only check; store nothing (and create nothing).

        Raises:
            LimitError: The portfolio would hold more trades than allowed.
        """
        now = self._clock.now()
        name = _portfolio_name(portfolio)
        errors: list[RowError] = []
        coins: dict[str, tuple[str, str]] = {}
        for symbol in dict.fromkeys(r.symbol for r in rows):
            try:
                coin = (await self._prices.resolver.resolve(symbol)).coin
            except UserInputError as exc:
                errors.extend(
                    RowError(r.line, exc.user_message) for r in rows if r.symbol == symbol
                )
                continue
            coins[symbol] = (coin.symbol.upper(), coin.id)
        currency = await self._currency_for(user, name)
        errors.extend(_currency_errors(rows, currency, name))
        if errors:
            return ImportOutcome(name, 0, 0, tuple(sorted(errors, key=lambda e: e.line)))
        conversion = await convert_fees(self._fee_rates, rows)
        if conversion.errors:
            return ImportOutcome(name, 0, 0, conversion.errors)
        rows = conversion.rows
        fee_note = conversion.summary()
        notes = (fee_note,) if fee_note else ()
        notice = data_notice(self._prices.market, conversion.origins)
        if dry_run:
            async with self._db.transaction(readonly=True) as session:
                try:
                    row = await self._find_portfolio(session, user, name)
                except NotFoundError:
                    row = None
                repo = TradeRepository(session)
                stored = [] if row is None else list(await repo.list_all(row.id))
                problems, fresh, dupes = self._check_import(stored, rows, coins, name)
                self._check_room(name, len(stored), len(fresh))
            return ImportOutcome(
                name, len(fresh), dupes, tuple(problems), notes=notes, notice=notice
            )
        try:
            async with self._db.transaction() as session:
                owner = await self._locked_owner(session, user, now)
                row = await PortfolioRepository(session).get_or_create_default(
                    owner.id, currency, now=now, name=name
                )
                _same_currency(row, currency)
                trades = TradeRepository(session)
                stored = list(await trades.list_all(row.id))
                problems, fresh, dupes = self._check_import(stored, rows, coins, name)
                if problems:
                    raise _ImportRefused(problems)
                self._check_room(name, len(stored), len(fresh))
                new_trades = [
                    NewTrade(
                        portfolio_id=row.id,
                        side=r.side,
                        symbol=coins[r.symbol][0],
                        coin_id=coins[r.symbol][1],
                        quantity=r.quantity,
                        price=r.price,
                        executed_at=r.executed_at,
                        fee=r.fee,
                        note=r.note,
                        source=source[:32],
                        external_id=r.external_id,
                    )
                    for r in fresh
                ]
                try:
                    added = await trades.add_many(new_trades, now=now)
                except (DuplicateError, ConstraintError) as exc:
                    raise UserInputError(
                        "Those trades could not be stored; check the file's values."
                    ) from exc
        except _ImportRefused as refused:
            return ImportOutcome(name, 0, 0, tuple(refused.errors))
        return ImportOutcome(
            name, added, dupes + len(fresh) - added, (), True, notes=notes, notice=notice
        )

    def _check_room(self, name: str, held: int, adding: int) -> None:
        if held + adding > self._max_trades:
            raise LimitError(
                f'Portfolio "{name}" holds {held} trades; adding {adding} would exceed the '
                f"{self._max_trades} allowed."
            )

    @staticmethod
    def _check_import(
        stored: Sequence[Trade],
        rows: Sequence[ImportRow],
        coins: Mapping[str, tuple[str, str]],
        name: str,
    ) -> tuple[list[RowError], list[ImportRow], int]:
        """Errors (oversells), the rows not imported before (in storage order), duplicates."""
        known = {t.external_id for t in stored if t.external_id}
        # Rows of a CryptoGuard export carry the trade ids (unique across all users), so
        # re-importing an export into the portfolio it came from adds nothing.
        known |= {f"cryptoguard:{t.id}" for t in stored}
        fresh: list[ImportRow] = []
        for r in rows:
            if r.external_id not in known:
                known.add(r.external_id)
                fresh.append(r)
        # same instant: buys first, then file order; stored ids follow this order too
        fresh.sort(key=lambda r: (r.executed_at, r.side == "sell", r.line))
        records = [_record(t) for t in stored]
        first_id = max((t.id for t in records), default=0) + 1
        lines: dict[int, int] = {}
        for offset, r in enumerate(fresh):
            lines[first_id + offset] = r.line
            records.append(
                TradeRecord(
                    first_id + offset,
                    r.side,
                    coins[r.symbol][0],
                    r.quantity,
                    r.price,
                    r.fee,
                    r.executed_at,
                )
            )
        errors: list[RowError] = []
        for _ in range(20):  # report up to 20 oversells, each against what was held then
            problem = _oversell(records)
            if problem is None:
                break
            bad, held = problem
            if bad.id in lines:
                errors.append(
                    RowError(
                        lines[bad.id],
                        f"selling {format_quantity(bad.quantity)} {bad.symbol} on "
                        f"{bad.executed_at:%Y-%m-%d %H:%M} UTC is more than the "
                        f"{format_quantity(held)} {bad.symbol} held then (this file and "
                        f'portfolio "{name}").',
                    )
                )
            else:
                errors.append(RowError(0, _later_sell_message("This import", bad, held)))
            records.remove(bad)
        return sorted(errors, key=lambda e: e.line), fresh, len(rows) - len(fresh)

    # -- helpers --------------------------------------------------------------------------

    async def _owner(self, session: Any, user: UserRef, now: datetime) -> User:
        repo = UserRepository(session)
        row, _ = await repo.get_or_create(
            user.platform, user.platform_user_id, display_name=user.display_name, now=now
        )
        return row

    async def _locked_owner(self, session: Any, user: UserRef, now: datetime) -> User:
        """The user's row (created on first use), locked until the transaction ends.

        Taken before reading the trades a write will check, so concurrent writes of one
        user are checked one after the other (see the module docstring).
        """
        owner = await self._owner(session, user, now)
        return await UserRepository(session).lock(owner.id) or owner

    async def _find_portfolio(self, session: Any, user: UserRef, name: str) -> Portfolio | None:
        """The user's portfolio ``name``; ``None`` when the default one is not created yet.

        Raises:
            NotFoundError: A named (non-default) portfolio that does not exist.
        """
        owner = await UserRepository(session).get_by_platform_id(
            user.platform, user.platform_user_id
        )
        repo = PortfolioRepository(session)
        row = None if owner is None else await repo.get_by_name(owner.id, name)
        if row is None and name != DEFAULT_PORTFOLIO_NAME:
            others = [] if owner is None else [p.name for p in await repo.list_for_owner(owner.id)]
            listed = ", ".join(others) if others else "none yet"
            raise NotFoundError(f'No portfolio named "{name}". Your portfolios: {listed}.')
        return row

    async def _load(
        self, user: UserRef, name: str, *, missing_ok: bool = False
    ) -> tuple[list[TradeRecord], str, dict[str, str]]:
        """The portfolio's trades (oldest first), its currency and coin id per symbol."""
        async with self._db.transaction(readonly=True) as session:
            try:
                row = await self._find_portfolio(session, user, name)
            except NotFoundError:
                if not missing_ok:
                    raise
                row = None
            if row is None:
                owner = await UserRepository(session).get_by_platform_id(
                    user.platform, user.platform_user_id
                )
                return [], (owner.base_currency if owner is not None else "USD").upper(), {}
            rows = await TradeRepository(session).list_all(row.id)
            coin_ids = {t.symbol.upper(): t.coin_id for t in rows}
            return [_record(t) for t in rows], row.base_currency.upper(), coin_ids

    async def _daily_values(
        self, user: UserRef, name: str, days: int, *, with_btc: bool
    ) -> _ValueSeries:
        """Daily values per coin over ``days`` (and BTC returns on the same days for beta)."""
        records, currency, coin_ids = await self._load(user, name)
        window_start = self._clock.now() - timedelta(days=days)
        held_at = _HeldOverTime(records)
        symbols = sorted(
            s
            for s in coin_ids
            if held_at.quantity(s, window_start) > 0
            or any(t.symbol == s and t.executed_at >= window_start for t in records)
        )
        if not symbols:
            raise UserInputError(
                "The portfolio held nothing in this window, so there is no risk to measure."
            )
        if len(symbols) > MAX_RISK_SYMBOLS:
            raise LimitError(
                f"Risk covers at most {MAX_RISK_SYMBOLS} coins; this portfolio has {len(symbols)}."
            )
        vs = currency.lower()
        closes: dict[str, dict[datetime, float]] = {}
        origins: set[DataOrigin] = set()
        notes: list[str] = []
        for symbol in symbols:
            _, history = await self._prices.get_history(
                coin_ids[symbol], days=days, interval="1d", vs_currency=vs
            )
            origins.add(history.origin)
            closes[symbol] = {c.ts: c.close for c in history.candles}
        btc: dict[datetime, float] | None = None
        if with_btc:
            try:
                _, btc_history = await self._prices.get_history(
                    "bitcoin", days=days, interval="1d", vs_currency=vs
                )
                btc = {c.ts: c.close for c in btc_history.candles}
                origins.add(btc_history.origin)
            except (UserInputError, MarketDataUnavailableError) as exc:
                notes.append("Beta to BTC is left out: no BTC history is available.")
                logger.info("no BTC history for beta: %s", exc)
        grid = sorted(set.intersection(*(set(c) for c in closes.values())))
        if btc is not None:
            covered = [d for d in grid if d in btc]
            if len(covered) == len(grid):
                grid = covered
            else:
                btc = None
                notes.append("Beta to BTC is left out: BTC history does not cover the window.")
        now = self._clock.now()
        values: dict[str, list[float]] = {}
        for symbol in symbols:
            series = closes[symbol]
            values[symbol] = [
                float(held_at.quantity(symbol, min(day + timedelta(days=1), now))) * series[day]
                for day in grid
            ]
        values = {s: v for s, v in values.items() if any(x > 0 for x in v)}
        if not values:
            raise UserInputError("The portfolio held nothing during this window.")
        times = [int(day.timestamp()) for day in grid]
        btc_returns = None
        if btc is not None and len(grid) > 1:
            series_btc = [btc[day] for day in grid]
            btc_returns = [b / a - 1.0 for a, b in zip(series_btc, series_btc[1:], strict=False)]
        return _ValueSeries(currency, times, values, notes, origins, btc_returns)

    async def _currency_for(self, user: UserRef, name: str) -> str:
        _, currency, _ = await self._load(user, name, missing_ok=True)
        return currency

    async def _current_quote(self, coin_id: str, currency: str) -> Quote:
        report = await self._prices.get_quotes([coin_id], currency.lower())
        if not report.quotes:
            raise MarketDataUnavailableError(
                f"No current {currency.upper()} price is available for {coin_id}; "
                "give the price you paid."
            )
        return report.quotes[0]

    async def _quote_symbols(self, coins: Mapping[str, str], currency: str) -> _Prices:
        """Quote symbol -> coin id (or ticker), in batches of 25; unknown coins are noted."""
        result = _Prices()
        items = list(coins.items())
        for start in range(0, len(items), _QUOTE_BATCH):
            batch = items[start : start + _QUOTE_BATCH]
            try:
                report = await self._prices.get_quotes([c for _, c in batch], currency.lower())
                quotes = list(report.quotes)
                result.notes.extend(report.notes)
            except UserInputError:  # one coin no longer resolves: quote the rest one by one
                quotes = []
                for symbol, coin in batch:
                    try:
                        single = await self._prices.get_quotes([coin], currency.lower())
                    except UserInputError:
                        result.notes.append(f"No current price for {symbol}.")
                        continue
                    quotes.extend(single.quotes)
            by_id = {q.coin.id: q for q in quotes}
            by_ticker = {q.coin.symbol.upper(): q for q in quotes}
            for symbol, coin in batch:
                quote = by_id.get(coin) or by_ticker.get(symbol)
                if quote is None:
                    continue
                result.by_symbol[symbol] = quote.price
                if quote.change_24h_pct is not None and quote.change_24h_pct > -100:
                    result.previous[symbol] = quote.price / (1 + quote.change_24h_pct / 100)
                result.sources.add(quote.source)
                result.origins.add(quote.origin)
        return result


_HOW_TO_TARGET = "Set one first, for example: targets BTC 60%, ETH 30%, CASH 10%."


def _portfolio_name(portfolio: str | None) -> str:
    if portfolio is None:
        return DEFAULT_PORTFOLIO_NAME
    name = " ".join(str(portfolio).split())
    if not name:
        return DEFAULT_PORTFOLIO_NAME
    if len(name) > 64:
        raise UserInputError("Portfolio names can be at most 64 characters long.")
    return name


def _side(side: str) -> Literal["buy", "sell"]:
    chosen = _SIDES.get(str(side).strip().lower())
    if chosen is None:
        raise UserInputError(f'The side "{str(side)[:20]}" is not buy or sell.')
    return chosen


def _symbol_text(symbol: str) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        raise UserInputError("Name the coin traded, for example BTC.")
    return symbol


def _trade_id(trade_id: int | str) -> int:
    if isinstance(trade_id, bool):
        raise UserInputError("A trade id is a number like 12.")
    if isinstance(trade_id, int):
        value = trade_id
    else:
        text = str(trade_id).strip().lstrip("#")
        if not text.isdigit() or len(text) > 18:
            raise UserInputError(
                f'"{str(trade_id)[:20]}" is not a trade id; ids are numbers like 12.'
            )
        value = int(text)
    if value < 1 or value > 2**63 - 1:
        raise _not_found(value)
    return value


def _not_found(trade_id: int) -> NotFoundError:
    return NotFoundError(f"No trade #{trade_id} in your portfolios.")


def _currency_code(currency: str) -> str:
    text = str(currency).strip()
    code = _CURRENCY_SIGNS.get(text, text.upper())
    if code not in PORTFOLIO_CURRENCIES:
        listed = " or ".join(PORTFOLIO_CURRENCIES)
        raise UserInputError(
            f'A portfolio can be kept in {listed}; "{text[:10]}" is not one of them.'
        )
    return code


def _check_money(value: object, what: str, currency: str) -> None:
    """Refuse an amount typed in another currency than the portfolio's (``$10`` for EUR)."""
    named = money_currency(value)
    if named is not None and named != currency.upper():
        raise UserInputError(
            f'The {what} "{str(value).strip()[:30]}" is in {named}, but this portfolio is '
            f"kept in {currency.upper()}; give the {what} in {currency.upper()}."
        )


def _same_currency(row: Portfolio, currency: str) -> None:
    """Refuse a write prepared for ``currency`` when the portfolio was switched meanwhile."""
    if row.base_currency.upper() != currency.upper():
        raise UserInputError(
            f'Portfolio "{row.name}" was just switched to {row.base_currency.upper()}; '
            "please try again."
        )


def _currency_errors(rows: Sequence[ImportRow], currency: str, name: str) -> list[RowError]:
    """One file-level error per currency in the file that is not the portfolio's."""
    other: dict[str, int] = {}
    for r in rows:
        if r.currency is not None and r.currency != currency:
            other[r.currency] = other.get(r.currency, 0) + 1
    return [
        RowError(
            0,
            f"{n} row{'s are' if n != 1 else ' is'} priced in {code}, but portfolio "
            f'"{name}" is kept in {currency}; import {"them" if n != 1 else "it"} into a '
            f"{code} portfolio (an empty portfolio can be switched to {code}).",
        )
        for code, n in other.items()
    ]


def _check_base(base: str, currency: str) -> None:
    if str(base).strip().upper() != currency.upper():
        raise UserInputError(
            f"This portfolio's trades are in {currency.upper()}; its summary is shown in "
            f"{currency.upper()} only."
        )


def _record(row: Trade) -> TradeRecord:
    side: Literal["buy", "sell"] = "sell" if row.side == "sell" else "buy"
    return TradeRecord(
        row.id, side, row.symbol.upper(), row.quantity, row.price, row.fee, row.executed_at
    )


def _view(row: Trade, currency: str) -> TradeView:
    return TradeView(
        id=row.id,
        side=row.side,
        symbol=row.symbol.upper(),
        coin_id=row.coin_id,
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        executed_at=row.executed_at.astimezone(UTC),
        currency=currency.upper(),
        note=row.note,
    )


def _least_live(origins: Iterable[DataOrigin]) -> DataOrigin:
    """``SIMULATED`` if any number was simulated, else ``REPLAYED`` if any was, else live."""
    seen = set(origins)
    for origin in (DataOrigin.SIMULATED, DataOrigin.REPLAYED):
        if origin in seen:
            return origin
    return DataOrigin.LIVE


def _held_symbols(records: Sequence[TradeRecord]) -> list[str]:
    """Symbols with a positive net quantity, in first-trade order."""
    net: dict[str, Decimal] = {}
    for t in records:
        net[t.symbol] = net.get(t.symbol, Decimal(0)) + (
            t.quantity if t.side == "buy" else -t.quantity
        )
    return [s for s, q in net.items() if q > 0]


class _HeldOverTime:
    """Quantity held of each symbol at any time (cumulative sums, binary search)."""

    def __init__(self, records: Sequence[TradeRecord]) -> None:
        ordered = sorted(records, key=lambda t: (t.executed_at, t.id))
        self._times: dict[str, list[datetime]] = {}
        self._totals: dict[str, list[Decimal]] = {}
        for t in ordered:
            totals = self._totals.setdefault(t.symbol, [])
            before = totals[-1] if totals else Decimal(0)
            totals.append(before + (t.quantity if t.side == "buy" else -t.quantity))
            self._times.setdefault(t.symbol, []).append(t.executed_at)

    def quantity(self, symbol: str, at: datetime) -> Decimal:
        """Coins of ``symbol`` held at ``at`` (trades up to and including ``at``)."""
        upto = bisect.bisect_right(self._times.get(symbol, []), at)
        return max(self._totals[symbol][upto - 1], Decimal(0)) if upto else Decimal(0)


def _oversell(records: Iterable[TradeRecord]) -> tuple[TradeRecord, Decimal] | None:
    """The first sell exceeding what was held, with the quantity held; ``None`` if none.

    The history is checked with :func:`match_lots` (held quantities do not depend on
    the method); a refusal is located again here to phrase it for the change at hand.
    """
    ordered = sorted(records, key=lambda t: (t.executed_at, t.id))
    try:
        match_lots(ordered, "FIFO")
    except UserInputError:
        held: dict[str, Decimal] = {}
        for t in ordered:
            have = held.get(t.symbol, Decimal(0))
            if t.side == "buy":
                held[t.symbol] = have + t.quantity
            elif t.quantity > have:
                return t, have
            else:
                held[t.symbol] = have - t.quantity
        raise
    return None


def _later_sell_message(change: str, bad: TradeRecord, held: Decimal) -> str:
    return (
        f"{change} would leave trade #{bad.id} (sell {format_quantity(bad.quantity)} "
        f"{bad.symbol} on {bad.executed_at:%Y-%m-%d}) selling more than was held: only "
        f"{format_quantity(held)} {bad.symbol} then. Edit or delete that sell first."
    )


def _confirmation(verb: str, view: TradeView, portfolio: str, current: bool) -> str:
    action = "bought" if view.side == "buy" else "sold"
    at = format_money(view.price, view.currency)
    price_text = f"at the current price {at}" if current else f"at {at}"
    total = format_cash(view.quantity * view.price, view.currency)
    fee = f", fee {format_cash(view.fee, view.currency)}" if view.fee else ""
    return (
        f"{verb} trade #{view.id}: {action} {format_quantity(view.quantity)} {view.symbol} "
        f"{price_text} (total {total}{fee}) on {view.executed_at:%Y-%m-%d %H:%M} UTC, "
        f'portfolio "{portfolio}".'
    )


def _pct_text(weight: Decimal) -> str:
    pct = (weight * 100).quantize(Decimal("0.1"))
    text = f"{pct:f}".rstrip("0").rstrip(".")
    return f"{text}%"


async def _owned_trade(
    users: UserRepository, repo: TradeRepository, user: UserRef, trade_id: int
) -> Trade:
    """The trade ``trade_id`` if ``user`` owns it; the same NotFoundError otherwise.

    The owner's row is locked first (until the transaction ends), so the history read
    next cannot change under the caller's check.
    """
    owner = await users.get_by_platform_id(user.platform, user.platform_user_id)
    if owner is None:
        raise _not_found(trade_id)
    await users.lock(owner.id)
    row = await repo.get_owned(trade_id, owner.id)
    if row is None:
        raise _not_found(trade_id)
    return row
