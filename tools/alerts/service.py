"""``AlertService``: creating, listing, pausing and deleting users' alert rules.

The one service that slash commands and the agent's tools call for alerts (the market
tick reads the stored rules through the repository and :func:`~tools.alerts.rules.rule_spec`).
Every method takes the platform's :class:`~tools.identity.UserRef` first; alert ids
given by users are checked for ownership, and someone else's id gets the same
:class:`~tools.errors.NotFoundError` as a missing one.

``create`` validates everything before storing anything (:mod:`tools.alerts.rules` for
the request itself; here the coin, the stablecoin list, the saved formula, the
portfolio and the threshold against the current price), refuses a duplicate of an
existing active or paused alert, and enforces the per-user cap on active alerts. The
duplicate check and the cap hold under concurrency: both run in the writing transaction
after the user's row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
transactions start with ``BEGIN IMMEDIATE``). The reply says what was set, how far the
market is from the trigger now, and how often the rule would have fired over the last
30 days, replayed through the same engine that evaluates live rules.

Every change is written to the audit log.
"""

from __future__ import annotations

import builtins
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from storage import (
    AlertRepository,
    AuditLogRepository,
    Database,
    NewAlert,
    PortfolioRepository,
    SavedFormulaRepository,
    UserRepository,
)
from storage.models import Alert, User
from storage.repositories.portfolios import DEFAULT_PORTFOLIO_NAME
from tools.alerts.engine import RuleSpec
from tools.alerts.rules import (
    DEFAULT_COOLDOWN_S,
    RSI_PERIOD,
    AlertKind,
    AlertRequest,
    PctDirection,
    alert_params,
    engine_threshold,
    format_duration,
    metric_key,
    parse_request,
    rearm_level,
    replay_firings,
    rule_direction,
    window_seconds,
)
from tools.analysis.fetch import SETTLE_BARS, load_bars
from tools.analysis.formula import FormulaService, evaluate_formula, parse_formula
from tools.analysis.indicators import rsi
from tools.clock import Clock, SystemClock
from tools.errors import (
    CryptoGuardError,
    LimitError,
    NotFoundError,
    UserInputError,
)
from tools.identity import UserRef
from tools.market.format import format_money, format_pct
from tools.market.service import PriceService, data_notice
from tools.market.stablecoins import StablecoinHealth
from tools.market.types import INTERVALS, DataOrigin
from tools.portfolio.service import PortfolioService
from tools.users import UserService

logger = logging.getLogger(__name__)

__all__ = [
    "BACKTEST_DAYS",
    "NOISY_FIRINGS",
    "AlertCreated",
    "AlertList",
    "AlertService",
    "AlertView",
    "Backtest",
    "DeleteOutcome",
    "FiredAlert",
    "describe",
]

#: Days of history replayed to say how often a new rule would have fired.
BACKTEST_DAYS = 30
#: From this many firings in :data:`BACKTEST_DAYS` a rule is called noisy.
NOISY_FIRINGS = 6
#: A price threshold more than this factor away from the current price is a typo.
PRICE_SANITY_FACTOR = Decimal(1000)
#: Most ids one bulk delete may name; alerts listed in a confirmation prompt.
MAX_BULK_IDS = 100
PROMPT_ROWS = 10
MAX_HISTORY = 100
_QUOTE_BATCH = 25
_HOUR = 3600
_EPOCH = datetime(2009, 1, 1, tzinfo=UTC)
_LISTED = ("active", "paused")
NO_BACKTEST = "There is not enough history to say how often it would have fired."
ALREADY_BEYOND = (
    "The value is already past the trigger: the alert fires when it crosses the threshold "
    "again, not while it stays beyond."
)


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertView:
    """A stored alert, detached from the database.

    Attributes:
        id: Alert id (what users type to delete or pause it).
        kind: What it watches.
        symbol: Ticker (coin kinds) or ``None``.
        coin_id: Coin id (coin kinds) or ``None``.
        description: One line in words (``"BTC above $100,000"``).
        status: ``active``, ``paused``, ``triggered``, ``expired`` or ``deleted``.
        threshold: The user's threshold.
        params: Stored parameters.
        recurring: Re-arms after firing.
        cooldown_s: Seconds between firings of a recurring rule.
        created_at: When it was created.
        last_fired_at: Last firing, if any.
        fire_count: How many times it fired.
        expires_at: When it stops, if set.
        current: The watched value now (price, % move, RSI...), when known.
        distance: How far the value is from the trigger, in words, when known.
        gap_pct: For prices and portfolio values, the move still needed to fire, in
            percent of the current value (``0`` once beyond the trigger).
    """

    id: int
    kind: AlertKind
    symbol: str | None
    coin_id: str | None
    description: str
    status: str
    threshold: Decimal
    params: dict[str, Any]
    recurring: bool
    cooldown_s: int
    created_at: datetime
    last_fired_at: datetime | None
    fire_count: int
    expires_at: datetime | None
    current: Decimal | None = None
    distance: str | None = None
    gap_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Backtest:
    """How often a rule would have fired over recent history.

    Attributes:
        fired: Firings in the window (replayed with the rule's hysteresis and cooldown;
            a one-shot rule counts every crossing it would have fired on if recurring).
        days: Length of the window.
        basis: What was replayed (``"hourly closes"``, ``"daily RSI values"``...).
        last_fired: The latest firing, if any.
        noisy: ``fired`` is at least :data:`NOISY_FIRINGS`.
        note: Why there is no estimate, or a caveat.
    """

    fired: int | None
    days: int = BACKTEST_DAYS
    basis: str = ""
    last_fired: datetime | None = None
    noisy: bool = False
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AlertCreated:
    """The outcome of :meth:`AlertService.create`.

    Attributes:
        alert: The stored alert (with the current value and distance).
        message: One-line confirmation (``"Alert #12 set: BTC above $100,000 (one-shot)."``).
        backtest: The 30-day replay.
        notes: Caveats (ambiguous ticker, price unavailable, already beyond the trigger).
        notice: The simulated/replayed data notice when numbers are not live.
    """

    alert: AlertView
    message: str
    backtest: Backtest
    notes: tuple[str, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class AlertList:
    """The user's active and paused alerts, with the current distance to each trigger."""

    alerts: tuple[AlertView, ...]
    inactive: int = 0
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    """What a bulk delete did, or would do once confirmed.

    Attributes:
        deleted: Alerts deleted.
        pending: Alerts that would be deleted (when confirmation is needed).
        needs_confirmation: Nothing was deleted; ask the user to confirm.
        message: Plain text for the user.
    """

    deleted: tuple[AlertView, ...] = ()
    pending: tuple[AlertView, ...] = ()
    needs_confirmation: bool = False
    message: str = ""


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """One firing of one of the user's alerts."""

    alert_id: int
    description: str
    fired_at: datetime
    value: Decimal | None
    message: str
    alert_status: str


@dataclass
class _Reading:
    """A current value of a rule's metric, with provenance."""

    value: Decimal
    origin: DataOrigin = DataOrigin.LIVE
    extra: str | None = None  # e.g. the stablecoin's price in its peg


@dataclass
class _Readings:
    """Current values gathered for one request, so each is fetched once."""

    values: dict[str, _Reading | None] = field(default_factory=dict)
    origins: set[DataOrigin] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Target:
    """What a request resolved to."""

    symbol: str | None
    coin_id: str | None
    coin_name: str | None = None
    stable: StablecoinHealth | None = None
    notes: tuple[str, ...] = ()


# -- the service --------------------------------------------------------------------------


class AlertService:
    """Users' alert rules.

    Args:
        db: The database.
        prices: Quotes, history, stablecoins and the symbol resolver.
        users: Profiles (the default depeg threshold).
        portfolios: For portfolio alerts (``None``: portfolio alerts are refused).
        formulas: For formula alerts (``None``: formula alerts are refused).
        clock: Time source.
        max_active: Most active alerts per user.
        default_cooldown_s: Cooldown of recurring alerts when none is given.
    """

    def __init__(
        self,
        db: Database,
        prices: PriceService,
        users: UserService,
        *,
        portfolios: PortfolioService | None = None,
        formulas: FormulaService | None = None,
        clock: Clock | None = None,
        max_active: int = 100,
        default_cooldown_s: int = DEFAULT_COOLDOWN_S,
    ) -> None:
        self._db = db
        self._prices = prices
        self._users = users
        self._portfolios = portfolios
        self._formulas = formulas
        self._clock = clock or SystemClock()
        self.max_active = max_active
        self.default_cooldown_s = default_cooldown_s

    # -- create ---------------------------------------------------------------------------

    async def create(
        self,
        user: UserRef,
        kind: str,
        symbol: str | None = None,
        threshold: str | int | float | Decimal | None = None,
        window: str | None = None,
        direction: str | None = None,
        recurring: bool = False,
        formula: str | None = None,
        expires: str | datetime | None = None,
        interval: str | None = None,
        cooldown: str | None = None,
    ) -> AlertCreated:
        """Validate and store an alert rule; nothing is stored if anything is wrong.

        Args:
            user: Whose alert (from the platform).
            kind: One of :class:`~tools.alerts.rules.AlertKind`.
            symbol: Coin ticker or name; for portfolio kinds, the portfolio name
                (``None``: the default portfolio).
            threshold: Price or value (``95k``, ``$10,000``), percentage (``5``, ``"5%"``),
                RSI level or formula value; for depeg, ``None`` means the user's default
                depeg threshold.
            window: ``pct_change`` window, 5m to 30d (default 24h).
            direction: ``pct_change`` direction: up, down or any (default).
            recurring: Re-arm after firing (with cooldown and hysteresis).
            formula: Saved formula name (formula kinds).
            expires: Duration from now (``"7d"``), date or datetime.
            interval: Bar length of RSI and formula alerts (1h, 4h, 1d; default 1d).
            cooldown: Cooldown of a recurring alert (default :attr:`default_cooldown_s`).

        Raises:
            UserInputError: Invalid input, unknown coin, not a stablecoin, a threshold
                absurdly far from the price, or a duplicate (naming the existing alert).
            NotFoundError: No such saved formula or portfolio.
            LimitError: The user already has :attr:`max_active` active alerts.
        """
        now = self._clock.now()
        request = parse_request(
            kind,
            symbol,
            threshold,
            window,
            direction,
            recurring,
            formula,
            interval=interval,
            expires=expires,
            cooldown=cooldown,
            now=now,
            default_cooldown_s=self.default_cooldown_s,
        )
        notes: list[str] = []
        target = await self._target(request)
        notes += target.notes
        amount = request.threshold
        if amount is None:  # depeg with the user's default
            amount = await self._default_depeg(user)
            notes.append(f"Using your default depeg threshold of {amount}%.")
        portfolio_name = _portfolio_name(request.symbol) if request.kind.is_portfolio else None
        portfolio_id = formula_id = None
        currency = "USD"
        formula_text = None
        if request.kind.is_portfolio or request.kind.is_formula:
            async with self._db.transaction(readonly=True) as session:
                found = await _find_owner(session, user)
                if request.kind.is_portfolio:
                    portfolio_id, currency = await self._portfolio(session, found, portfolio_name)
                else:
                    formula_id, formula_text = await self._saved_formula(
                        session, found, request.formula
                    )
        params = alert_params(
            request,
            amount,
            portfolio_id=portfolio_id,
            portfolio=portfolio_name,
            formula_id=formula_id,
            base_currency=currency,
        )
        # the current value: a sanity check of price thresholds, and the distance
        probe = _Probe(request.kind, target.symbol, target.coin_id, params, currency)
        readings = _Readings()
        reading = await self._read(user, probe, readings, stable=target.stable)
        if reading is None:
            notes.append("The current value is not available right now.")
        elif request.kind.is_price:
            _check_price(amount, reading.value, target.symbol or "")
        async with self._db.transaction() as session:
            users = UserRepository(session)
            owner, _ = await users.get_or_create(
                user.platform, user.platform_user_id, display_name=user.display_name, now=now
            )
            await users.lock(owner.id)
            repo = AlertRepository(session)
            duplicate = await repo.find_active_duplicate(
                owner.id, request.kind.value, target.symbol, params
            )
            if duplicate is not None:
                raise UserInputError(
                    f"You already have this alert: #{duplicate.id} "
                    f"({describe(_kind(duplicate.kind), duplicate.symbol, duplicate.params)}, "
                    f"{duplicate.status}). Nothing new was created."
                )
            active = await repo.count_active(owner.id)
            if active >= self.max_active:
                raise LimitError(
                    f"You already have {active} active alerts, the most allowed. "
                    "Delete or pause one first."
                )
            row = await repo.add(
                NewAlert(
                    owner_id=owner.id,
                    kind=request.kind.value,
                    params=params,
                    symbol=target.symbol,
                    coin_id=target.coin_id,
                    recurring=request.recurring,
                    cooldown_seconds=request.cooldown_s,
                    expires_at=request.expires_at,
                ),
                now=now,
            )
            await AuditLogRepository(session).record(
                "alerts.create",
                user_id=owner.id,
                details={
                    "alert_id": row.id,
                    "kind": row.kind,
                    "symbol": row.symbol,
                    "threshold": params["threshold"],
                },
                now=now,
            )
            view = _view(row)
        view = _with_reading(view, reading, currency)
        if reading is not None and _beyond(view, reading.value):
            notes.append(ALREADY_BEYOND)
        backtest = await self._backtest(user, view, formula_text)
        message = f"Alert #{view.id} set: {view.description} ({_mode(view)})."
        notice = data_notice(self._prices.market, readings.origins)
        return AlertCreated(view, message, backtest, tuple(notes), notice)

    # -- list, history --------------------------------------------------------------------

    async def list(self, user: UserRef) -> builtins.list[AlertView]:
        """The user's active and paused alerts by id, with the distance to each trigger."""
        return list((await self.list_report(user)).alerts)

    async def list_report(self, user: UserRef) -> AlertList:
        """Like :meth:`list`, with the count of fired/expired alerts and the data notice."""
        async with self._db.transaction(readonly=True) as session:
            owner = await _find_owner(session, user)
            rows = [] if owner is None else await AlertRepository(session).list_for_owner(owner.id)
            views = [_view(r) for r in rows]
        listed = [v for v in views if v.status in _LISTED]
        readings = _Readings()
        await self._prefetch_prices(listed, readings)
        out: list[AlertView] = []
        for view in listed:
            currency = str(view.params.get("base_currency") or "USD")
            probe = _Probe(view.kind, view.symbol, view.coin_id, view.params, currency)
            reading = await self._read(user, probe, readings)
            out.append(_with_reading(view, reading, currency))
        notice = data_notice(self._prices.market, readings.origins)
        return AlertList(tuple(out), len(views) - len(listed), notice)

    async def history(self, user: UserRef, limit: int = 20) -> builtins.list[FiredAlert]:
        """The user's latest alert firings, newest first.

        Raises:
            UserInputError: ``limit`` outside 1 to 100.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY:
            raise UserInputError(f"The history shows 1 to {MAX_HISTORY} firings.")
        async with self._db.transaction(readonly=True) as session:
            owner = await _find_owner(session, user)
            if owner is None:
                return []
            pairs = await AlertRepository(session).events_since(_EPOCH, owner_ids=[owner.id])
        return [
            FiredAlert(
                alert_id=alert.id,
                description=describe(_kind(alert.kind), alert.symbol, alert.params),
                fired_at=event.fired_at,
                value=event.value,
                message=event.message,
                alert_status=alert.status,
            )
            for event, alert in pairs[:limit]
        ]

    # -- delete, pause, resume ------------------------------------------------------------

    async def delete(self, user: UserRef, alert_id: int | str) -> AlertView:
        """Delete one of the user's alerts.

        Raises:
            NotFoundError: No such alert among the user's (the same for someone else's).
        """
        wanted = parse_alert_id(alert_id)
        now = self._clock.now()
        async with self._db.transaction() as session:
            owner = await _find_owner(session, user)
            repo = AlertRepository(session)
            row = None if owner is None else await repo.get_owned(wanted, owner.id)
            if owner is None or row is None:
                raise _not_found(wanted)
            view = _view(row)
            await repo.update_status(row, "deleted", now=now)
            await AuditLogRepository(session).record(
                "alerts.delete", user_id=owner.id, details={"alert_id": wanted}, now=now
            )
        return view

    async def delete_many(
        self, user: UserRef, ids: Sequence[int | str] | Literal["all"], *, confirm: bool = False
    ) -> DeleteOutcome:
        """Delete several of the user's alerts, or all of them, once confirmed.

        Deleting more than one alert needs ``confirm=True``; without it nothing is
        deleted and the outcome lists what would be (the message shows the first
        :data:`PROMPT_ROWS`). One alert is deleted directly.

        Raises:
            UserInputError: No ids, or more than :data:`MAX_BULK_IDS`.
            NotFoundError: An id that is not one of the user's alerts (nothing deleted).
        """
        everything = isinstance(ids, str) and ids.strip().lower() == "all"
        wanted: list[int] = []
        if not everything:
            if isinstance(ids, str):
                ids = ids.replace(",", " ").split()
            for value in ids:
                number = parse_alert_id(value)
                if number not in wanted:
                    wanted.append(number)
            if not wanted:
                raise UserInputError("Name the alerts to delete by id, or say all.")
            if len(wanted) > MAX_BULK_IDS:
                raise UserInputError(f"At most {MAX_BULK_IDS} alerts can be deleted at once.")
        now = self._clock.now()
        async with self._db.transaction() as session:
            owner = await _find_owner(session, user)
            repo = AlertRepository(session)
            rows: list[Alert] = []
            if owner is not None and everything:
                rows = list(await repo.list_for_owner(owner.id))
            elif wanted:
                for number in wanted:
                    row = None if owner is None else await repo.get_owned(number, owner.id)
                    if row is None:
                        raise _not_found(number)
                    rows.append(row)
            views = tuple(_view(r) for r in rows)
            if owner is None or not rows:
                return DeleteOutcome(message="You have no alerts to delete.")
            if len(rows) > 1 and not confirm:
                return DeleteOutcome(pending=views, needs_confirmation=True, message=_prompt(views))
            for row in rows:
                await repo.update_status(row, "deleted", now=now)
            await AuditLogRepository(session).record(
                "alerts.delete_all" if everything else "alerts.delete_many",
                user_id=owner.id,
                details={"alert_ids": [v.id for v in views]},
                now=now,
            )
        if len(views) == 1:
            message = f"Deleted alert #{views[0].id}: {views[0].description}."
        else:
            message = f"Deleted {len(views)} alerts: " + ", ".join(f"#{v.id}" for v in views) + "."
        return DeleteOutcome(deleted=views, message=message)

    async def pause(self, user: UserRef, alert_id: int | str) -> AlertView:
        """Stop evaluating one of the user's active alerts until resumed.

        Raises:
            NotFoundError: No such alert among the user's.
            UserInputError: The alert already fired (one-shot) or expired.
        """
        return await self._set_paused(user, alert_id, paused=True)

    async def resume(self, user: UserRef, alert_id: int | str) -> AlertView:
        """Evaluate a paused alert again.

        Raises:
            NotFoundError: No such alert among the user's.
            UserInputError: The alert is not paused, expired meanwhile, or an identical
                alert is active.
            LimitError: The user already has :attr:`max_active` active alerts.
        """
        return await self._set_paused(user, alert_id, paused=False)

    async def _set_paused(self, user: UserRef, alert_id: int | str, *, paused: bool) -> AlertView:
        wanted = parse_alert_id(alert_id)
        now = self._clock.now()
        async with self._db.transaction() as session:
            owner = await _find_owner(session, user)
            if owner is None:
                raise _not_found(wanted)
            await UserRepository(session).lock(owner.id)
            repo = AlertRepository(session)
            row = await repo.get_owned(wanted, owner.id)
            if row is None:
                raise _not_found(wanted)
            target, source = ("paused", "active") if paused else ("active", "paused")
            if row.status == target:
                return _view(row)
            if row.status != source:
                raise UserInputError(
                    f"Alert #{wanted} has {_status_words(row.status)}; "
                    f"only {source} alerts can be {'paused' if paused else 'resumed'}."
                )
            expired = not paused and row.expires_at is not None and row.expires_at <= now
            if expired:
                await repo.update_status(row, "expired", now=now)
            elif not paused:
                for other in await repo.list_for_owner(owner.id, status="active"):
                    if _same_rule(other, row):
                        raise UserInputError(
                            f"Alert #{other.id} is the same rule and already active; "
                            f"alert #{wanted} stays paused."
                        )
                if await repo.count_active(owner.id) >= self.max_active:
                    raise LimitError(
                        f"You already have {self.max_active} active alerts, the most allowed. "
                        "Delete or pause one first."
                    )
            if not expired:
                await repo.update_status(row, target, now=now)
                await AuditLogRepository(session).record(
                    "alerts.pause" if paused else "alerts.resume",
                    user_id=owner.id,
                    details={"alert_id": wanted},
                    now=now,
                )
            view = _view(row)
        if expired:  # stored as expired; tell the user after the commit
            raise UserInputError(f"Alert #{wanted} has expired; create a new one.")
        return view

    # -- resolution and lookups -----------------------------------------------------------

    async def _target(self, request: AlertRequest) -> _Target:
        """The coin (or stablecoin) a request is about; portfolio kinds have none."""
        if not request.kind.needs_coin:
            return _Target(None, None)
        text = request.symbol or ""
        if request.kind is AlertKind.DEPEG:
            return await self._stablecoin(text)
        resolution = await self._prices.resolver.resolve(text)
        coin = resolution.coin
        notes = (resolution.note,) if resolution.note else ()
        return _Target(coin.symbol.upper(), coin.id, coin.name, notes=notes)

    async def _stablecoin(self, text: str) -> _Target:
        try:
            report = await self._prices.get_stablecoin_status([text])
        except UserInputError:
            resolution = await self._prices.resolver.resolve(text)  # unknown coin: say so
            raise UserInputError(
                f"{resolution.coin.symbol} is not a tracked stablecoin, so it cannot have a "
                "depeg alert. Stablecoin status lists the tracked ones."
            ) from None
        health = report.rows[0]
        if health.coin.peg_currency is None:
            raise UserInputError(
                f"{health.coin.symbol} has no fixed peg, so it cannot have a depeg alert."
            )
        coin_id = health.coin.coin_id
        if not coin_id:
            found = self._prices.resolver.lookup(health.coin.symbol)
            if found is None:
                raise UserInputError(f"{health.coin.symbol} cannot be watched for a depeg yet.")
            coin_id = found.coin.id
        return _Target(health.coin.symbol.upper(), coin_id, health.coin.name, stable=health)

    async def _default_depeg(self, user: UserRef) -> Decimal:
        profile = await self._users.get_profile(user)
        if profile is not None:
            return profile.depeg_threshold_pct
        return self._prices.thresholds.warn_pct

    async def _portfolio(
        self, session: Any, owner: User | None, name: str | None
    ) -> tuple[int, str]:
        if self._portfolios is None:
            raise UserInputError("Portfolio alerts are not available in this version.")
        chosen = name or DEFAULT_PORTFOLIO_NAME
        repo = PortfolioRepository(session)
        row = None if owner is None else await repo.get_by_name(owner.id, chosen)
        if row is None:
            names = [] if owner is None else [p.name for p in await repo.list_for_owner(owner.id)]
            if not names:
                raise NotFoundError(
                    "You have no portfolio yet; record a trade first, then set a portfolio alert."
                )
            raise NotFoundError(
                f'No portfolio named "{chosen}". Your portfolios: {", ".join(names)}.'
            )
        return row.id, row.base_currency.upper()

    async def _saved_formula(
        self, session: Any, owner: User | None, name: str | None
    ) -> tuple[int, str]:
        if self._formulas is None:
            raise UserInputError("Formula alerts are not available in this version.")
        repo = SavedFormulaRepository(session)
        row = None if owner is None else await repo.get(owner.id, (name or "")[:64])
        if row is None:
            shown = (name or "")[:32]
            raise NotFoundError(
                f'You have no saved formula called "{shown}". Save it first '
                "(/formula save NAME EXPRESSION)."
            )
        return row.id, row.formula

    # -- current values -------------------------------------------------------------------

    async def _prefetch_prices(self, views: Sequence[AlertView], readings: _Readings) -> None:
        """Quote every coin of the listed price alerts in a few batched requests."""
        coin_ids = sorted({v.coin_id for v in views if v.kind.is_price and v.coin_id})
        for start in range(0, len(coin_ids), _QUOTE_BATCH):
            batch = coin_ids[start : start + _QUOTE_BATCH]
            try:
                report = await self._prices.get_quotes(batch)
            except CryptoGuardError as exc:
                logger.info("alert list: quotes unavailable: %s", exc.user_message)
                continue
            for quote in report.quotes:
                readings.values[f"price:{quote.coin.id}"] = _Reading(quote.price, quote.origin)

    async def _read(
        self,
        user: UserRef,
        probe: _Probe,
        readings: _Readings,
        *,
        stable: StablecoinHealth | None = None,
    ) -> _Reading | None:
        """The current value of a rule's metric, or ``None`` when it cannot be had."""
        try:
            key = metric_key(probe.kind, probe.coin_id, probe.params)
        except (KeyError, TypeError, ValueError):
            return None
        if key in readings.values:
            return readings.values[key]
        try:
            reading = await self._measure(user, probe, stable)
        except CryptoGuardError as exc:
            logger.info("alert reading %s unavailable: %s", key, exc.user_message)
            reading = None
        readings.values[key] = reading
        if reading is not None:
            readings.origins.add(reading.origin)
        return reading

    async def _measure(
        self, user: UserRef, probe: _Probe, stable: StablecoinHealth | None
    ) -> _Reading | None:
        kind, coin_id, params = probe.kind, probe.coin_id or "", probe.params
        if kind.is_price:
            report = await self._prices.get_quotes([coin_id])
            if not report.quotes:
                return None
            quote = report.quotes[0]
            return _Reading(quote.price, quote.origin)
        if kind is AlertKind.PCT_CHANGE:
            seconds = window_seconds(str(params["window"]))
            days = max(2, math.ceil(seconds / 86400) + 1)
            _, history = await self._prices.get_history(coin_id, days=days, interval="1h")
            ends = np.array([c.ts.timestamp() + _HOUR for c in history.candles], np.float64)
            closes = np.array([c.close for c in history.candles], np.float64)
            now = self._clock.now().timestamp()
            series = _pct_series(ends, closes, seconds, upto=now)
            if not series.size or not math.isfinite(series[-1]):
                return None
            return _Reading(_dec(series[-1]), history.origin)
        if kind.is_rsi:
            interval = str(params.get("interval") or "1d")
            loaded = await load_bars(self._prices, coin_id, interval, RSI_PERIOD + 1 + SETTLE_BARS)
            values = rsi(loaded.bars.close, RSI_PERIOD)
            if not values.size or not math.isfinite(values[-1]):
                return None
            return _Reading(_dec(values[-1]), loaded.bars.origin)
        if kind is AlertKind.DEPEG:
            if stable is None:
                status = await self._prices.get_stablecoin_status([probe.symbol or coin_id])
                stable = status.rows[0]
            if stable.deviation_pct is None:
                return None
            extra = None
            if stable.price_in_peg is not None and stable.coin.peg_currency:
                extra = format_money(stable.price_in_peg, stable.coin.peg_currency, stable=True)
            return _Reading(abs(stable.deviation_pct), stable.coin.origin, extra)
        if kind.is_portfolio:
            if self._portfolios is None:
                return None
            summary = await self._portfolios.summary(
                user, params.get("portfolio"), params.get("base_currency")
            )
            origin = DataOrigin.SIMULATED if summary.notice else DataOrigin.LIVE
            return _Reading(summary.summary.total_value, origin)
        if kind.is_formula:
            if self._formulas is None:
                return None
            interval = str(params.get("interval") or "1d")
            evaluated = await self._formulas.evaluate(
                coin_id, str(params.get("formula") or ""), interval, user=user
            )
            if evaluated.latest is None:
                return None
            return _Reading(_dec(evaluated.latest), evaluated.origin)
        return None  # pragma: no cover - every kind is handled above

    # -- the 30-day replay ----------------------------------------------------------------

    async def _backtest(self, user: UserRef, view: AlertView, formula_text: str | None) -> Backtest:
        """How often the rule would have fired over the last :data:`BACKTEST_DAYS` days."""
        try:
            series = await self._past_series(user, view, formula_text)
        except CryptoGuardError as exc:
            logger.info("alert %s: no 30-day replay: %s", view.id, exc.user_message)
            series = None
        if series is None:
            return Backtest(None, note=NO_BACKTEST)
        times, values, basis = series
        direction = _pct_direction(view)
        threshold = engine_threshold(view.kind, view.threshold, direction)
        spec = RuleSpec(
            rule_id=view.id,
            metric="replay",
            direction=rule_direction(view.kind, direction),
            threshold=float(threshold),
            recurring=True,
            cooldown_s=float(view.cooldown_s or self.default_cooldown_s),
            rearm_level=float(rearm_level(view.kind, view.threshold, direction)),
        )
        fired = replay_firings(spec, times, values)
        last = datetime.fromtimestamp(fired[-1], UTC) if fired else None
        return Backtest(len(fired), BACKTEST_DAYS, basis, last, len(fired) >= NOISY_FIRINGS)

    async def _past_series(
        self, user: UserRef, view: AlertView, formula_text: str | None
    ) -> tuple[builtins.list[float], builtins.list[float], str] | None:
        """Times (epoch seconds, ascending) and values of the rule's metric, and their basis."""
        now = self._clock.now()
        start = (now - timedelta(days=BACKTEST_DAYS)).timestamp()
        kind, coin_id, params = view.kind, view.coin_id or "", view.params
        if kind.is_price or kind is AlertKind.PCT_CHANGE or kind is AlertKind.DEPEG:
            seconds = window_seconds(str(params["window"])) if kind is AlertKind.PCT_CHANGE else 0
            days = BACKTEST_DAYS + math.ceil(seconds / 86400) + 1
            vs = "usd"
            if kind is AlertKind.DEPEG:
                peg = await self._peg_currency(view)
                if peg is None:
                    return None
                vs = peg
            _, history = await self._prices.get_history(
                coin_id, days=days, interval="1h", vs_currency=vs
            )
            ends = np.array([c.ts.timestamp() + _HOUR for c in history.candles], np.float64)
            closes = np.array([c.close for c in history.candles], np.float64)
            ends = np.minimum(ends, now.timestamp())
            if kind is AlertKind.PCT_CHANGE:
                values = _pct_series(ends, closes, seconds)
                if _pct_direction(view) is PctDirection.ANY:
                    values = np.abs(values)
                basis = "hourly closes"
            elif kind is AlertKind.DEPEG:
                values = np.abs(closes - 1.0) * 100.0
                basis = "hourly prices against the peg"
            else:
                values, basis = closes, "hourly closes"
            return _window_of(ends, values, start, basis)
        if kind.is_rsi or kind.is_formula:
            interval = str(params.get("interval") or "1d")
            bars_in_window = math.ceil(BACKTEST_DAYS * 86400 / INTERVALS[interval]) + 1
            if kind.is_rsi:
                wanted = bars_in_window + RSI_PERIOD + 1 + SETTLE_BARS
                loaded = await load_bars(self._prices, coin_id, interval, wanted)
                values = rsi(loaded.bars.close, RSI_PERIOD)
                basis = f"{interval} RSI values"
            else:
                if not formula_text:
                    return None
                parsed = parse_formula(formula_text)
                wanted = bars_in_window + 3 * parsed.warmup + SETTLE_BARS
                loaded = await load_bars(self._prices, coin_id, interval, wanted)
                values = evaluate_formula(parsed, loaded.bars)
                basis = f"{interval} formula values"
            ends = loaded.bars.ts.astype(np.float64) + INTERVALS[interval]
            ends = np.minimum(ends, now.timestamp())
            return _window_of(ends, values, start, basis)
        if kind.is_portfolio and self._portfolios is not None:
            times, by_symbol, _, _ = await self._portfolios.value_history(
                user, params.get("portfolio"), days=BACKTEST_DAYS
            )
            if len(times) < 2:
                return None
            total = np.zeros(len(times), np.float64)
            for series in by_symbol.values():
                total += np.asarray(series, np.float64)
            return [float(t) for t in times], [float(v) for v in total], "daily values"
        return None

    async def _peg_currency(self, view: AlertView) -> str | None:
        report = await self._prices.get_stablecoin_status([view.symbol or view.coin_id or ""])
        peg = report.rows[0].coin.peg_currency
        if peg is None or peg.lower() not in ("usd", "eur", "gbp", "jpy", "chf"):
            return None
        return peg.lower()


# -- helpers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Probe:
    """What is needed to read a rule's metric now."""

    kind: AlertKind
    symbol: str | None
    coin_id: str | None
    params: dict[str, Any]
    currency: str


def _window_of(
    ends: np.ndarray, values: np.ndarray, start: float, basis: str = "hourly closes"
) -> tuple[builtins.list[float], builtins.list[float], str] | None:
    """The points at or after ``start`` plus the one before it (which seeds the replay)."""
    first = int(np.searchsorted(ends, start, side="left"))
    first = max(0, first - 1)
    times = [float(t) for t in ends[first:]]
    vals = [float(v) for v in values[first:]]
    if sum(1 for v in vals if math.isfinite(v)) < 2:
        return None
    return times, vals, basis


def _pct_series(
    ends: np.ndarray, closes: np.ndarray, seconds: int, *, upto: float | None = None
) -> np.ndarray:
    """Percent change of each close against the close ``seconds`` earlier (NaN before).

    ``ends`` are the bars' close times; the reference is the latest close at or before
    ``end - seconds`` (at least one bar back, so windows under an hour use the previous
    hourly close).
    """
    if upto is not None:
        ends = np.minimum(ends, upto)
    refs = np.searchsorted(ends, ends - seconds, side="right") - 1
    own = np.arange(len(ends))
    refs = np.minimum(refs, own - 1)
    out = np.full(len(ends), np.nan)
    ok = refs >= 0
    base = closes[refs[ok]]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[ok] = (closes[ok] / base - 1.0) * 100.0
    out[~np.isfinite(out)] = np.nan
    return out


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _kind(value: str) -> AlertKind:
    try:
        return AlertKind(value)
    except ValueError:
        return AlertKind.PRICE_ABOVE  # pragma: no cover - rows are validated on the way in


def _pct_direction(view: AlertView) -> PctDirection | None:
    if view.kind is not AlertKind.PCT_CHANGE:
        return None
    return PctDirection(view.params.get("direction") or "any")


def _portfolio_name(symbol: str | None) -> str | None:
    """The portfolio a portfolio alert names (as the portfolio service spells names)."""
    name = " ".join(str(symbol or "").split())
    if name.lower() in ("", "portfolio", "my portfolio", "default"):
        return DEFAULT_PORTFOLIO_NAME
    return name[:64]


def parse_alert_id(value: object) -> int:
    """Read an alert id (``12``, ``"12"``, ``"#12"``).

    Raises:
        UserInputError: Not a positive whole number.
    """
    if isinstance(value, bool):
        raise UserInputError("An alert id is a number like 12.")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().lstrip("#")
        if not text.isdigit() or len(text) > 18:
            shown = str(value).strip()[:20]
            raise UserInputError(f'"{shown}" is not an alert id; ids are numbers like 12.')
        number = int(text)
    if number <= 0:
        raise UserInputError("Alert ids are positive numbers like 12.")
    return number


def _not_found(alert_id: int) -> NotFoundError:
    return NotFoundError(f"You have no alert #{alert_id}.")


async def _find_owner(session: Any, user: UserRef) -> User | None:
    return await UserRepository(session).get_by_platform_id(user.platform, user.platform_user_id)


def _same_rule(a: Alert, b: Alert) -> bool:
    return a.id != b.id and a.kind == b.kind and a.symbol == b.symbol and a.params == b.params


def _status_words(status: str) -> str:
    return {
        "triggered": "already fired",
        "expired": "expired",
        "deleted": "been deleted",
        "paused": "been paused",
        "active": "is active",
    }.get(status, status)


def _view(row: Alert) -> AlertView:
    kind = _kind(row.kind)
    params = dict(row.params or {})
    return AlertView(
        id=row.id,
        kind=kind,
        symbol=row.symbol,
        coin_id=row.coin_id,
        description=describe(kind, row.symbol, params),
        status=row.status,
        threshold=Decimal(str(params.get("threshold", "0"))),
        params=params,
        recurring=row.recurring,
        cooldown_s=row.cooldown_seconds,
        created_at=row.created_at,
        last_fired_at=row.last_fired_at,
        fire_count=row.fire_count,
        expires_at=row.expires_at,
    )


def _mode(view: AlertView) -> str:
    parts = [
        f"recurring, at most once per {format_duration(view.cooldown_s)}"
        if view.recurring and view.cooldown_s
        else "recurring"
        if view.recurring
        else "one-shot"
    ]
    if view.expires_at is not None:
        parts.append(f"expires {view.expires_at:%Y-%m-%d %H:%M} UTC")
    return ", ".join(parts)


def _check_price(threshold: Decimal, price: Decimal, symbol: str) -> None:
    if price <= 0:
        return
    ratio = threshold / price
    if ratio > PRICE_SANITY_FACTOR or ratio < 1 / PRICE_SANITY_FACTOR:
        raise UserInputError(
            f"{money(threshold, 'USD')} is more than {PRICE_SANITY_FACTOR:,}x away from "
            f"{symbol}'s current price ({money(price, 'USD', exact=True)}); "
            "check the threshold for a typo."
        )


def money(value: Decimal, currency: str, *, exact: bool = False) -> str:
    """A threshold or value with its currency: whole amounts without cents (``$100,000``)."""
    if not exact and value == value.to_integral_value() and abs(value) >= 1:
        text = format_money(value, currency)
        return text[:-3] if text.endswith(".00") else text
    return format_money(value, currency)


def _number(value: Decimal) -> str:
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def describe(kind: AlertKind, symbol: str | None, params: dict[str, Any]) -> str:
    """An alert rule in words: ``"BTC above $100,000"``, ``"SOL moves 5% either way in 1h"``."""
    threshold = Decimal(str(params.get("threshold", "0")))
    currency = str(params.get("base_currency") or "USD")
    coin = symbol or "?"
    if kind.is_price:
        side = "above" if kind is AlertKind.PRICE_ABOVE else "below"
        return f"{coin} {side} {money(threshold, currency)}"
    if kind is AlertKind.PCT_CHANGE:
        window = params.get("window") or "24h"
        direction = params.get("direction") or "any"
        verb = {"up": "rises", "down": "falls"}.get(direction, "moves")
        way = " either way" if direction == "any" else ""
        return f"{coin} {verb} {_number(threshold)}%{way} within {window}"
    if kind.is_rsi:
        side = "above" if kind is AlertKind.RSI_ABOVE else "below"
        interval = params.get("interval") or "1d"
        return f"{coin} RSI({RSI_PERIOD}, {interval}) {side} {_number(threshold)}"
    if kind is AlertKind.DEPEG:
        return f"{coin} off its peg by {_number(threshold)}% or more"
    if kind.is_portfolio:
        side = "above" if kind is AlertKind.PORTFOLIO_ABOVE else "below"
        name = params.get("portfolio") or DEFAULT_PORTFOLIO_NAME
        return f'portfolio "{name}" worth {side} {money(threshold, currency)}'
    side = "above" if kind is AlertKind.FORMULA_ABOVE else "below"
    interval = params.get("interval") or "1d"
    name = params.get("formula") or "?"
    return f"formula {name} on {coin} ({interval}) {side} {_number(threshold)}"


def _with_reading(view: AlertView, reading: _Reading | None, currency: str) -> AlertView:
    """The view with the current value and the distance to its trigger in words."""
    if reading is None:
        return view
    value = reading.value
    text, gap_pct = _distance(view, value, currency, reading.extra)
    return replace(view, current=value, distance=text, gap_pct=gap_pct)


def _distance(
    view: AlertView, value: Decimal, currency: str, extra: str | None
) -> tuple[str, Decimal | None]:
    kind, t = view.kind, view.threshold
    coin = view.symbol or ""
    if kind.is_price or kind.is_portfolio:
        who = coin if kind.is_price else f'Portfolio "{view.params.get("portfolio")}"'
        verb = "is" if kind.is_price else "is worth"
        now = money(value, currency, exact=True)
        if value <= 0:
            return f"{who} {verb} {now} now.", None
        gap = (t - value) / value * 100
        move = "rise" if gap > 0 else "fall"
        gap_pct = max(gap, Decimal(0)) if kind.upward else max(-gap, Decimal(0))
        gap_pct = gap_pct.quantize(Decimal("0.01"))
        trigger = money(t, currency)
        if gap == 0:
            return f"{who} {verb} {now} now, exactly at your {trigger} trigger.", gap_pct
        return (
            f"{who} {verb} {now} now; a {abs(gap):.1f}% {move} reaches your {trigger} trigger.",
            gap_pct,
        )
    if kind is AlertKind.PCT_CHANGE:
        window = view.params.get("window") or "24h"
        direction = view.params.get("direction") or "any"
        level = {"up": f"+{_number(t)}%", "down": f"-{_number(t)}%"}.get(
            direction, f"{_number(t)}% either way"
        )
        return (
            f"{coin} moved {format_pct(value)} over the last {window}; the trigger is {level}.",
            None,
        )
    if kind.is_rsi:
        interval = view.params.get("interval") or "1d"
        gap = t - value
        side = "below" if gap > 0 else "above"
        return (
            f"{coin} RSI({RSI_PERIOD}, {interval}) is {value:.1f} now, "
            f"{abs(gap):.1f} points {side} your {_number(t)} trigger.",
            None,
        )
    if kind is AlertKind.DEPEG:
        price = f" ({extra})" if extra else ""
        return (
            f"{coin} is {value:.2f}% off its peg now{price}; your trigger is {_number(t)}%.",
            None,
        )
    interval = view.params.get("interval") or "1d"
    gap = t - value
    side = "below" if gap > 0 else "above"
    return (
        f"{view.params.get('formula')} on {coin} ({interval}) is {_short(value)} now, "
        f"{_short(abs(gap))} {side} your {_number(t)} trigger.",
        None,
    )


def _short(value: Decimal) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def _beyond(view: AlertView, value: Decimal) -> bool:
    """The metric is already past the trigger (the rule fires on the next crossing)."""
    if view.kind is AlertKind.PCT_CHANGE:
        direction = _pct_direction(view)
        level = engine_threshold(view.kind, view.threshold, direction)
        if direction is PctDirection.ANY:
            return abs(value) >= view.threshold
        return value >= level if direction is PctDirection.UP else value <= level
    if view.kind.upward:
        return value >= view.threshold
    return value <= view.threshold


def _prompt(views: Sequence[AlertView]) -> str:
    lines = [f"This deletes {len(views)} alerts:"]
    lines += [f"#{v.id} {v.description} ({v.status})" for v in views[:PROMPT_ROWS]]
    if len(views) > PROMPT_ROWS:
        lines.append(f"... and {len(views) - PROMPT_ROWS} more.")
    lines.append("Confirm to delete them.")
    return "\n".join(lines)
