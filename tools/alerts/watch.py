"""The market tick: evaluate every alert rule and the depeg monitor, and queue the
messages, in one transaction.

Each tick:

1. expires alerts whose time is up and syncs the in-memory :class:`RuleBook` with the
   alerts any process changed since the last tick (``alerts.updated_at``);
2. samples every tracked stablecoin (DefiLlama's list) against its own peg and feeds
   the depeg monitors: one per distinct user threshold (the user's threshold is the
   warning tier; high and critical come from the settings). Stale and disputed prices
   never fire;
3. reads the metrics the active rules watch (one batched quote request, one RSI per
   coin and interval...) and evaluates all rules at once (vectorised crossings);
4. in ONE transaction: records each firing (event, fire count, one-shot rules become
   ``triggered``, recurring ones store their disarmed state), queues one outbox row per
   firing and per depeg message recipient (idempotency keys make a retried tick
   harmless), and saves the monitors' state and the last metric values, so a restart
   neither repeats nor loses a crossing.

Then the dispatcher is woken to deliver at once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from storage import (
    AlertRepository,
    ChatSubscriptionRepository,
    Database,
    FiringRecord,
    MonitorStateRepository,
    NewMessage,
    OutboxRepository,
    UserRepository,
)
from storage.models import Alert, User
from tools.alerts.depeg import DepegEvent, DepegMonitor, PegSample
from tools.alerts.engine import Firing, RuleBook
from tools.alerts.metrics import MetricContext, MetricReader
from tools.alerts.rules import rule_spec
from tools.clock import Clock, SystemClock
from tools.errors import CryptoGuardError
from tools.identity import UserRef
from tools.market.service import PriceService
from tools.market.stablecoins import PegThresholds, StablecoinHealth, assess
from tools.users import channel_of, chat_recipient, recipient_of, webhook_of

logger = logging.getLogger(__name__)

#: monitor_state keys.
LAST_VALUES_KEY = "watch:last-values"
DEPEG_KEY_PREFIX = "depeg:"
#: Changes committed within this many seconds before the last sync are re-read, so a
#: transaction that committed late with an earlier timestamp is never missed.
SYNC_OVERLAP_S = 5.0


@dataclass(frozen=True, slots=True)
class DepegPolicy:
    """How the depeg monitor decides and whom it tells.

    Attributes:
        thresholds: Default tiers (the warning tier is replaced by each user's threshold).
        persist_samples: Usable samples a new tier must hold for.
        persist_minutes: Minutes a new tier must hold for.
        major_min_supply: Circulating supply (peg units) from which a stablecoin is
            "major": users get its depeg alerts by default.
        stale_after_s: Stablecoin data older than this never fires.
        disagreement_pct: Source spread above which a price is disputed.
    """

    thresholds: PegThresholds = field(default_factory=PegThresholds)
    persist_samples: int = 2
    persist_minutes: float = 0.0
    major_min_supply: Decimal = Decimal(1_000_000_000)
    stale_after_s: float = 900.0
    disagreement_pct: Decimal = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did (logged, returned to tests and benchmarks)."""

    rules: int
    metrics: int
    firings: int
    depeg_events: int
    queued: int
    seconds: float


def threshold_key(pct: Decimal) -> str:
    """Canonical text of a threshold (``0.500`` and ``0.5`` are one monitor)."""
    text = format(Decimal(pct).normalize(), "f")
    return text


class MarketWatch:
    """Runs market ticks for the scheduler.

    Args:
        db: The database.
        prices: Market data.
        reader: Reads the metrics rules watch.
        policy: Depeg monitor settings.
        clock: Time source.
        on_queued: Called after a tick queued messages (wakes the dispatcher).
    """

    def __init__(
        self,
        db: Database,
        prices: PriceService,
        reader: MetricReader,
        *,
        policy: DepegPolicy | None = None,
        clock: Clock | None = None,
        on_queued: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.prices = prices
        self.reader = reader
        self.policy = policy or DepegPolicy()
        self.clock = clock or SystemClock()
        self.on_queued = on_queued
        self.book = RuleBook()
        self._synced_at: datetime | None = None
        self._seen: dict[int, datetime] = {}
        self._max_id = 0
        #: The metric values of the last tick (for "close to triggering" lists).
        self.last_values: dict[str, float] = {}
        self._contexts: dict[str, MetricContext] = {}
        self._monitors: dict[str, DepegMonitor] = {}
        self._started = False

    # -- start-up --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the monitors' state and the last metric values (once per process)."""
        async with self.db.transaction(readonly=True) as session:
            repo = MonitorStateRepository(session)
            states = await repo.get_many(DEPEG_KEY_PREFIX)
            last = await repo.get(LAST_VALUES_KEY) or {}
        for key, state in states.items():
            pct = Decimal(key[len(DEPEG_KEY_PREFIX) :])
            try:
                self._monitors[threshold_key(pct)] = DepegMonitor.load_state(
                    state, self._thresholds(pct), **self._monitor_options()
                )
            except (ValueError, TypeError, KeyError) as exc:
                logger.error("depeg monitor state %s unreadable, starting afresh: %s", key, exc)
        self.book.seed({k: float(v) for k, v in last.items() if _finite(v)})
        self._started = True

    # -- the tick --------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """One evaluation of every rule and stablecoin; see the module docstring."""
        started = time.perf_counter()
        if not self._started:
            await self.start()
        now = self.clock.now()
        thresholds = await self._sync(now)
        healths = await self._stablecoins()
        depeg_events = self._observe_depeg(healths, thresholds, now)
        known = self._depeg_values(healths)
        values = await self.reader.read(
            self.book.metrics(), now, contexts=self._contexts, known=known
        )
        firings = self.book.evaluate(values, now.timestamp())
        self.last_values = values
        queued = await self._commit(firings, depeg_events, healths, values, now)
        if queued and self.on_queued is not None:
            self.on_queued()
        report = TickReport(
            rules=len(self.book),
            metrics=len(values),
            firings=len(firings),
            depeg_events=sum(len(e) for e in depeg_events.values()),
            queued=queued,
            seconds=time.perf_counter() - started,
        )
        logger.debug("market tick: %s", report)
        return report

    async def _sync(self, now: datetime) -> list[Decimal | None]:
        """Expire due alerts, follow alert changes, and list the users' depeg thresholds."""
        since = self._synced_at
        overlap = None if since is None else since - timedelta(seconds=SYNC_OVERLAP_S)
        async with self.db.transaction() as session:
            repo = AlertRepository(session)
            expired = await repo.expire_due(now)
            changed = await repo.changed_since(overlap, after_id=self._max_id)
            thresholds = await UserRepository(session).depeg_thresholds()
        if expired:
            logger.info("%d alerts expired", expired)
        upserts, removals = [], []
        for alert in changed:
            self._max_id = max(self._max_id, alert.id)
            if self._seen.get(alert.id) == alert.updated_at:
                continue
            self._seen[alert.id] = alert.updated_at
            if alert.status != "active":
                removals.append(alert.id)
                continue
            try:
                spec = rule_spec(alert)
            except (ValueError, KeyError) as exc:
                logger.error("alert %d cannot be evaluated (%s); skipped", alert.id, exc)
                removals.append(alert.id)
                continue
            upserts.append(spec)
            context = _context(alert)
            if context is not None:
                self._contexts[spec.metric] = context
        self.book.remove(removals)
        self.book.upsert(upserts)
        self._synced_at = now
        return thresholds

    async def _stablecoins(self) -> list[StablecoinHealth]:
        try:
            coins = await self.prices.market.get_stablecoins()
            fx = await self.prices.market.get_fx_usd()
        except CryptoGuardError as exc:
            logger.warning("market tick: no stablecoin data (%s)", exc.user_message)
            return []
        policy = self.policy
        return [
            assess(c, fx, policy.thresholds, disagreement_pct=policy.disagreement_pct)
            for c in coins
        ]

    def _observe_depeg(
        self,
        healths: Sequence[StablecoinHealth],
        thresholds: Sequence[Decimal | None],
        now: datetime,
    ) -> dict[str, list[DepegEvent]]:
        """Feed every monitor; events by monitor key."""
        wanted = {threshold_key(self.policy.thresholds.warn_pct)}
        wanted |= {threshold_key(t) for t in thresholds if t is not None and t > 0}
        for key in wanted - self._monitors.keys():
            self._monitors[key] = DepegMonitor(
                self._thresholds(Decimal(key)), **self._monitor_options()
            )
        samples = [self._sample(h, now) for h in healths if h.coin.peg_currency]
        events: dict[str, list[DepegEvent]] = {}
        for key, monitor in self._monitors.items():
            found = [e for sample in samples for e in monitor.observe(sample)]
            if found:
                events[key] = found
        return events

    def _sample(self, health: StablecoinHealth, now: datetime) -> PegSample:
        age = (now - health.coin.fetched_at).total_seconds()
        return PegSample(
            symbol=health.coin.symbol,
            at=health.coin.fetched_at,
            price_in_peg=health.price_in_peg,
            peg_currency=health.coin.peg_currency,
            disputed=health.disputed,
            stale=age > self.policy.stale_after_s,
            health=health,
        )

    def _depeg_values(self, healths: Sequence[StablecoinHealth]) -> dict[str, float]:
        """Confirmed deviations for users' own ``depeg`` rules (default monitor)."""
        monitor = self._monitors.get(threshold_key(self.policy.thresholds.warn_pct))
        if monitor is None:
            return {}
        values: dict[str, float] = {}
        for health in healths:
            deviation = monitor.confirmed_deviation(health.coin.symbol)
            if health.coin.coin_id and deviation is not None:
                values["depeg:" + health.coin.coin_id] = float(deviation)
        return values

    async def _commit(
        self,
        firings: Sequence[Firing],
        depeg_events: Mapping[str, list[DepegEvent]],
        healths: Sequence[StablecoinHealth],
        values: Mapping[str, float],
        now: datetime,
    ) -> int:
        """Record firings, queue messages and save state, all in one transaction."""
        majors = {
            h.coin.symbol.upper()
            for h in healths
            if (h.coin.circulating or Decimal(0)) >= self.policy.major_min_supply
        }
        async with self.db.transaction() as session:
            alerts = AlertRepository(session)
            rows = await alerts.get_many([f.rule_id for f in firings])
            records: list[FiringRecord] = []
            messages: list[NewMessage] = []
            for firing in firings:
                alert = rows.get(firing.rule_id)
                if alert is None or alert.status != "active":
                    continue  # deleted or paused since the last sync
                record, queued_for = self._firing(alert, firing, now)
                records.append(record)
                messages += queued_for
            await alerts.record_firings(records)
            if depeg_events:
                messages += await self._depeg_messages(session, depeg_events, majors)
            queued = await OutboxRepository(session).enqueue_many(messages, now=now)
            states = MonitorStateRepository(session)
            for key, monitor in self._monitors.items():
                await states.put(DEPEG_KEY_PREFIX + key, monitor.dump_state(), now=now)
            await states.put(LAST_VALUES_KEY, dict(values), now=now)
        return queued

    def _firing(
        self, alert: Alert, firing: Firing, now: datetime
    ) -> tuple[FiringRecord, list[NewMessage]]:
        """The event of a firing and its messages (none for an unreachable owner; a copy
        for the owner's webhook when they set one)."""
        text = firing_text(alert, firing)
        state = None
        if alert.recurring:
            armed, cooldown_until = self.book.state(alert.id)
            state = {"armed": armed, "cooldown_until": cooldown_until}
        record = FiringRecord(
            alert,
            fired_at=now,
            message=text,
            value=Decimal(repr(firing.value)),
            payload={"metric": firing.metric, "previous": firing.previous},
            state=state,
            status=None if alert.recurring else "triggered",
        )
        self._seen[alert.id] = now
        owner = alert.owner
        payload = {
            "kind": "alert",
            "title": f"Alert #{alert.id}",
            "text": text,
            "severity": "info",
            "data": {"alert_id": alert.id, "value": firing.value, "metric": firing.metric},
        }
        key = f"alert:{alert.id}:{now.isoformat()}"
        messages = []
        if owner.reachable:
            messages.append(
                NewMessage(channel_of(owner), recipient_of(owner), payload, key, user_id=owner.id)
            )
        webhook = webhook_of(owner)
        if webhook is not None:
            messages.append(NewMessage("webhook", webhook, payload, key + ":webhook", owner.id))
        return record, messages

    async def _depeg_messages(
        self, session: Any, events: Mapping[str, list[DepegEvent]], majors: set[str]
    ) -> list[NewMessage]:
        """Depeg messages for users (major coins, at their threshold) and subscribed chats."""
        messages: list[NewMessage] = []
        users = await UserRepository(session).list_depeg_recipients()
        by_threshold: dict[str, list[User]] = {}
        for user in users:
            own = user.depeg_threshold_pct
            pct = own if own is not None else self.policy.thresholds.warn_pct
            by_threshold.setdefault(threshold_key(pct), []).append(user)
        default_key = threshold_key(self.policy.thresholds.warn_pct)
        chats = await ChatSubscriptionRepository(session).list_by_kind("depeg")
        for key, found in events.items():
            for event in found:
                payload = _depeg_payload(event)
                stamp = f"{key}:{event.symbol}:{event.kind.value}:{event.at.isoformat()}"
                if event.symbol.upper() not in majors:
                    continue  # minor coins: only users' own depeg rules watch them
                messages += [
                    NewMessage(
                        channel_of(user),
                        recipient_of(user),
                        payload,
                        f"depeg:{stamp}:{user.id}",
                        user_id=user.id,
                    )
                    for user in by_threshold.get(key, [])
                ]
                if key == default_key:
                    messages += [
                        NewMessage(
                            chat.platform,
                            chat_recipient(chat.platform, chat.chat_id),
                            payload,
                            f"depeg:{stamp}:chat:{chat.platform}:{chat.chat_id}",
                        )
                        for chat in chats
                    ]
        return messages

    # -- helpers ---------------------------------------------------------------------------

    def _thresholds(self, warn_pct: Decimal) -> PegThresholds:
        """Tiers for a user threshold: theirs for the warning, the settings' above it
        (pushed up when a user's threshold reaches them)."""
        base = self.policy.thresholds
        warn = Decimal(warn_pct)
        high = base.high_pct if warn < base.high_pct else warn * 2
        critical = base.critical_pct if high < base.critical_pct else high * 2
        return PegThresholds(warn, high, critical)

    def _monitor_options(self) -> dict[str, Any]:
        return {
            "persist_samples": self.policy.persist_samples,
            "persist_minutes": self.policy.persist_minutes,
        }

    def monitor(self, warn_pct: Decimal | None = None) -> DepegMonitor | None:
        """The depeg monitor for a threshold (the default one when omitted)."""
        return self._monitors.get(threshold_key(warn_pct or self.policy.thresholds.warn_pct))


_WORDS = {
    "price": "price",
    "pct": "change",
    "abspct": "move",
    "rsi": "RSI",
    "depeg": "deviation from its peg",
    "portfolio": "portfolio value",
    "formula": "formula value",
}


def firing_text(alert: Alert, firing: Firing) -> str:
    """The plain-text message of a firing (front-ends add their own formatting)."""
    family = firing.metric.split(":", 1)[0]
    subject = alert.symbol or (alert.params or {}).get("portfolio") or "Your portfolio"
    what = _WORDS.get(family, family)
    verb = "rose above" if firing.direction.value == "up" else "fell below"
    unit = _unit(family)
    currency = str((alert.params or {}).get("base_currency") or "USD").upper()
    if unit == "$" and currency != "USD":
        unit = currency
    window = (alert.params or {}).get("window")
    span = f" over {window}" if window and family in ("pct", "abspct") else ""
    text = (
        f"{subject} {what}{span} {verb} {_fmt(firing.threshold, unit)}: "
        f"now {_fmt(firing.value, unit)}."
    )
    if family == "formula":
        text = f"{subject} {(alert.params or {}).get('formula', 'formula')} {verb} " + (
            f"{_fmt(firing.threshold, '')}: now {_fmt(firing.value, '')}."
        )
    tail = (
        " It stays on and re-arms after a pullback." if alert.recurring else " One-shot: now off."
    )
    return f"Alert #{alert.id}: {text}{tail}"


def _unit(family: str) -> str:
    if family in ("pct", "abspct", "depeg"):
        return "%"
    if family in ("price", "portfolio"):
        return "$"
    return ""


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:+.2f}%" if value < 0 else f"{value:.2f}%"
    digits = 2 if abs(value) >= 1 else 6
    if unit == "$":
        return f"${value:,.{digits}f}"
    if unit:  # a currency code
        return f"{value:,.{digits}f} {unit}"
    return f"{value:,.2f}"


def _depeg_payload(event: DepegEvent) -> dict[str, Any]:
    return {
        "kind": "depeg",
        "title": f"{event.symbol} {event.kind.value}",
        "text": event.message,
        "severity": event.kind.value,
        "data": {
            "symbol": event.symbol,
            "deviation_pct": str(event.deviation_pct),
            "price_in_peg": str(event.price_in_peg),
            "peg": event.peg_currency,
            "risk": event.risk.score if event.risk is not None else None,
        },
    }


def _context(alert: Alert) -> MetricContext | None:
    if not alert.kind.startswith(("portfolio_", "formula_")):
        return None
    params = alert.params or {}
    owner = alert.owner
    return MetricContext(
        owner=UserRef(owner.platform, owner.platform_user_id, display_name=owner.display_name),
        symbol=alert.symbol,
        portfolio=params.get("portfolio"),
        formula=params.get("formula"),
        base_currency=params.get("base_currency"),
    )


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
