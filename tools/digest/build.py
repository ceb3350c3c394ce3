"""The personal part of the daily digest, computed in bulk for a batch of users.

For a batch (typically 200 users) :func:`build_personal` reads, in a few queries, every
portfolio with its trades, the alerts fired in the last 24 hours and the active alerts,
then computes without further I/O:

* each portfolio's value and 24h change (:func:`tools.portfolio.holdings.holdings`, the
  same pure function ``/portfolio`` uses), priced from the sweep's shared price book;
  coins outside the shared top 100 are quoted once per sweep in batched requests;
* the alerts that fired (newest first, with the text the user got);
* active price and portfolio alerts within ``near_pct`` percent of their threshold.

A portfolio whose history cannot be valued (a malformed trade) is listed with the reason
instead of stopping the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from storage import AlertRepository, Database
from storage.models import Alert, AlertEvent
from tools.digest.shared import SharedDigest
from tools.digest.store import PortfolioTrades, load_portfolios
from tools.errors import CryptoGuardError, UserInputError
from tools.market.service import MAX_SYMBOLS, PriceService
from tools.market.types import DataOrigin, Quote
from tools.portfolio.holdings import holdings

__all__ = [
    "DEFAULT_NEAR_PCT",
    "FiredAlert",
    "NearAlert",
    "PersonalDigest",
    "PortfolioLine",
    "PriceBook",
    "build_personal",
]

logger = logging.getLogger(__name__)

#: Active alerts this close (percent of the current value) to their threshold are listed.
DEFAULT_NEAR_PCT = Decimal(3)
#: Fired alerts listed per digest (the rest are counted).
MAX_FIRED = 5
#: Near-trigger alerts listed per digest.
MAX_NEAR = 5
_PRICE_KINDS = {"price_above": "above", "price_below": "below"}
_PORTFOLIO_KINDS = {"portfolio_above": "above", "portfolio_below": "below"}
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class PortfolioLine:
    """One portfolio's value in the digest.

    Attributes:
        portfolio_id: The portfolio.
        name: Its name.
        currency: Quote currency of its values.
        value: Value of the priced holdings.
        change_24h_value: Value change over 24 h, or ``None`` when unknown.
        change_24h_pct: That change in percent, or ``None``.
        holdings: Coins held.
        unpriced: Held coins without a price (left out of the value).
        error: Why the portfolio could not be valued, or ``None``.
    """

    portfolio_id: int
    name: str
    currency: str
    value: Decimal
    change_24h_value: Decimal | None
    change_24h_pct: Decimal | None
    holdings: int
    unpriced: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """An alert firing of the last 24 hours."""

    alert_id: int
    kind: str
    symbol: str | None
    fired_at: datetime
    message: str


@dataclass(frozen=True, slots=True)
class NearAlert:
    """An active alert close to its threshold.

    Attributes:
        alert_id: The alert.
        kind: Its kind (``price_above``...).
        subject: What it watches (``BTC``, ``portfolio "default"``).
        direction: ``above`` or ``below``.
        threshold: The trigger level.
        current: The current value.
        currency: Unit of both.
        distance_pct: How far (percent of the current value) the value must still move.
    """

    alert_id: int
    kind: str
    subject: str
    direction: str
    threshold: Decimal
    current: Decimal
    currency: str
    distance_pct: Decimal


@dataclass(frozen=True, slots=True)
class PersonalDigest:
    """What one user's digest says about them."""

    user_id: int
    portfolios: tuple[PortfolioLine, ...] = ()
    fired: tuple[FiredAlert, ...] = ()
    fired_total: int = 0
    near: tuple[NearAlert, ...] = ()
    origins: frozenset[DataOrigin] = frozenset()


@dataclass
class PriceBook:
    """Prices for one sweep: the shared USD quotes plus anything quoted on demand.

    Coins (or currencies) the shared top list lacks are quoted once per sweep, in
    requests of up to 25 coins; coins that cannot be priced are remembered as such.
    """

    prices: PriceService
    shared: SharedDigest
    _extra: dict[tuple[str, str], Quote | None] = field(default_factory=dict)

    def quote(self, coin_id: str, currency: str = "USD") -> Quote | None:
        """The quote of ``coin_id`` in ``currency`` if known."""
        vs = currency.lower()
        if vs == "usd":
            found = self.shared.quote(coin_id)
            if found is not None:
                return found
        return self._extra.get((vs, coin_id))

    async def ensure(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Quote every ``(coin id, currency)`` not known yet, batched per currency."""
        missing: dict[str, list[str]] = {}
        for coin_id, currency in wanted:
            vs = currency.lower()
            if (vs, coin_id) in self._extra or (vs == "usd" and self.shared.quote(coin_id)):
                continue
            self._extra[(vs, coin_id)] = None
            missing.setdefault(vs, []).append(coin_id)
        for vs, coin_ids in missing.items():
            for start in range(0, len(coin_ids), MAX_SYMBOLS):
                await self._fetch(coin_ids[start : start + MAX_SYMBOLS], vs)

    async def _fetch(self, coin_ids: list[str], vs: str) -> None:
        try:
            quotes = list((await self.prices.get_quotes(coin_ids, vs)).quotes)
        except UserInputError:  # one id no longer resolves: the rest one by one
            quotes = []
            for coin_id in coin_ids:
                try:
                    quotes.extend((await self.prices.get_quotes([coin_id], vs)).quotes)
                except CryptoGuardError as exc:
                    logger.info("digest: no %s price for %s: %s", vs, coin_id, exc)
        except CryptoGuardError as exc:
            logger.warning("digest: %d %s prices unavailable: %s", len(coin_ids), vs, exc)
            return
        for quote in quotes:
            self._extra[(vs, quote.coin.id)] = quote


async def build_personal(
    db: Database,
    book: PriceBook,
    user_ids: Sequence[int],
    now: datetime,
    *,
    near_pct: Decimal = DEFAULT_NEAR_PCT,
) -> dict[int, PersonalDigest]:
    """The personal sections of a batch of users (three reads, then pure computation)."""
    if not user_ids:
        return {}
    ids = list(user_ids)
    async with db.transaction(readonly=True) as session:
        portfolios = await load_portfolios(session, ids)
        alerts = AlertRepository(session)
        events = await alerts.events_since(now - timedelta(hours=24), ids)
        active = await alerts.active_for_owners(ids)
    await book.ensure(_wanted(portfolios.values(), active))
    fired: dict[int, list[tuple[AlertEvent, Alert]]] = {}
    for event, alert in events:
        fired.setdefault(alert.owner_id, []).append((event, alert))
    watching: dict[int, list[Alert]] = {}
    for alert in active:
        watching.setdefault(alert.owner_id, []).append(alert)
    out: dict[int, PersonalDigest] = {}
    for user_id in ids:
        origins: set[DataOrigin] = set()
        lines = tuple(_value(p, book, origins) for p in portfolios.get(user_id, []))
        user_events = fired.get(user_id, [])
        out[user_id] = PersonalDigest(
            user_id=user_id,
            portfolios=lines,
            fired=tuple(_fired(e, a) for e, a in user_events[:MAX_FIRED]),
            fired_total=len(user_events),
            near=_near(watching.get(user_id, []), lines, book, near_pct),
            origins=frozenset(origins),
        )
    return out


def _wanted(
    portfolios: Iterable[list[PortfolioTrades]], active: Sequence[Alert]
) -> list[tuple[str, str]]:
    wanted: list[tuple[str, str]] = []
    for owned in portfolios:
        for p in owned:
            wanted.extend((coin_id, p.currency) for coin_id in p.coin_ids.values())
    for alert in active:
        if alert.kind in _PRICE_KINDS and alert.coin_id:
            wanted.append((alert.coin_id, str(alert.params.get("base_currency") or "USD")))
    return wanted


def _value(p: PortfolioTrades, book: PriceBook, origins: set[DataOrigin]) -> PortfolioLine:
    prices: dict[str, Decimal] = {}
    previous: dict[str, Decimal] = {}
    for symbol, coin_id in p.coin_ids.items():
        quote = book.quote(coin_id, p.currency)
        if quote is None:
            continue
        prices[symbol] = quote.price
        origins.add(quote.origin)
        if quote.change_24h_pct is not None and quote.change_24h_pct > -100:
            previous[symbol] = quote.price / (1 + quote.change_24h_pct / _HUNDRED)
    try:
        summary = holdings(p.trades, prices, prev_prices=previous)
    except UserInputError as exc:
        logger.warning("digest: portfolio %d cannot be valued: %s", p.portfolio_id, exc)
        return PortfolioLine(p.portfolio_id, p.name, p.currency, Decimal(0), None, None, 0,
                             error=exc.user_message)  # fmt: skip
    return PortfolioLine(
        portfolio_id=p.portfolio_id,
        name=p.name,
        currency=p.currency,
        value=summary.total_value,
        change_24h_value=summary.change_24h_value,
        change_24h_pct=summary.change_24h_pct,
        holdings=len(summary.positions),
        unpriced=summary.unpriced,
    )


def _fired(event: AlertEvent, alert: Alert) -> FiredAlert:
    first_line = (event.message or "").strip().splitlines()
    return FiredAlert(
        alert_id=alert.id,
        kind=alert.kind,
        symbol=alert.symbol,
        fired_at=event.fired_at,
        message=first_line[0][:160] if first_line else f"Alert #{alert.id} fired.",
    )


def _near(
    alerts: Sequence[Alert],
    portfolios: Sequence[PortfolioLine],
    book: PriceBook,
    near_pct: Decimal,
) -> tuple[NearAlert, ...]:
    by_portfolio = {p.portfolio_id: p for p in portfolios if p.error is None}
    found: list[NearAlert] = []
    for alert in alerts:
        threshold = _decimal(alert.params.get("threshold"))
        if threshold is None or threshold <= 0:
            continue
        if alert.kind in _PRICE_KINDS and alert.coin_id:
            currency = str(alert.params.get("base_currency") or "USD").upper()
            quote = book.quote(alert.coin_id, currency)
            if quote is None:
                continue
            subject = alert.symbol or quote.coin.symbol
            current, direction = quote.price, _PRICE_KINDS[alert.kind]
        elif alert.kind in _PORTFOLIO_KINDS:
            line = by_portfolio.get(_int(alert.params.get("portfolio_id")) or -1)
            if line is None:
                continue
            subject = f'portfolio "{line.name}"'
            current, direction, currency = line.value, _PORTFOLIO_KINDS[alert.kind], line.currency
        else:
            continue
        if current <= 0:
            continue
        gap = (threshold - current) if direction == "above" else (current - threshold)
        distance = gap / current * _HUNDRED
        if 0 < distance <= near_pct:
            found.append(NearAlert(alert.id, alert.kind, subject, direction, threshold,
                                   current, currency, distance))  # fmt: skip
    found.sort(key=lambda n: (n.distance_pct, n.alert_id))
    return tuple(found[:MAX_NEAR])


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_mapping(digest: PersonalDigest) -> Mapping[str, object]:
    """Structured figures of a personal digest for the outbox payload's ``data``."""
    return {
        "portfolios": [
            {"name": p.name, "currency": p.currency, "value": str(p.value),
             "change_24h_pct": None if p.change_24h_pct is None else str(p.change_24h_pct)}
            for p in digest.portfolios
            if p.error is None
        ],
        "alerts_fired": digest.fired_total,
        "alerts_near": [n.alert_id for n in digest.near],
    }  # fmt: skip
