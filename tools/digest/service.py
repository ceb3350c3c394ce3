"""``DigestService``: the daily digest on demand and the sweep that queues it for everyone.

``build_for(user)`` answers the ``daily_digest`` tool and ``/digest now``: the digest as
text plus the chart, not recorded anywhere. ``sweep()`` runs every minute from the
scheduler and queues the digests that are due:

1. Due work comes from the database: digest-enabled, reachable users whose local digest
   time has passed today (:func:`tools.digest.schedule.due_date`), whose account existed
   before that time, and who have no ``digest_log`` row for their local date; plus group
   chats subscribed to ``digest`` whose outbox key for the day does not exist yet.
2. The shared sections (market, stablecoins, chart) are built once per sweep, and only
   when something is due; the chart is written once under ``chart_dir`` and every
   payload refers to it by path.
3. Users are handled in batches (``batch_size``, default 200): the personal sections are
   read and computed in bulk, the summaries written (templated, or by the language model
   outside any transaction), then one transaction per batch records each user's
   ``digest_log`` row (``try_record``) and queues the outbox message with the key
   ``digest:{user_id}:{local_date}``. A user whose row another sweep recorded first is
   skipped, so concurrent sweeps and restarts never send twice; a failed batch rolls
   back and its users are due again on the next run.

Group chats get the market-only digest once per day at their own time (subscription
params ``{"time": "HH:MM", "timezone": ...}``, default 08:00 UTC); their once-per-day
guarantee is the outbox key ``digest-chat:{platform}:{chat_id}:{local_date}``.
"""

from __future__ import annotations

import asyncio
import logging
import time as timer
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from storage import (
    ChatSubscriptionRepository,
    Database,
    NewMessage,
    OutboxRepository,
    StorageError,
    UserRepository,
)
from storage.models import User
from tools.attachments import Attachment
from tools.clock import Clock
from tools.digest import text
from tools.digest.build import (
    DEFAULT_NEAR_PCT,
    PersonalDigest,
    PriceBook,
    as_mapping,
    build_personal,
)
from tools.digest.schedule import (
    DEFAULT_DIGEST_TIME,
    chat_schedule,
    due_date,
    local_date,
    recent_dates,
    zone,
)
from tools.digest.shared import SharedDigest, build_shared
from tools.digest.store import claim_digests, enqueue_all, recorded_digests
from tools.errors import CryptoGuardError
from tools.identity import UserRef
from tools.market.service import PriceService, data_notice
from tools.users import channel_of, chat_recipient, recipient_of

__all__ = ["Digest", "DigestService", "Summariser", "SweepStats"]

logger = logging.getLogger(__name__)

#: Writes one summary paragraph for a prompt (an OpenAI-compatible model, injected).
Summariser = Callable[[str], Awaitable[str]]
DIGEST_KIND = "digest"


@dataclass(frozen=True, slots=True)
class Digest:
    """A digest built on demand.

    Attributes:
        title: The title line.
        text: The whole digest, plain text (title included).
        attachments: The chart, when there is one.
        local_date: The recipient's local date.
        summary_by: ``"model"`` or ``"template"``.
    """

    title: str
    text: str
    attachments: tuple[Attachment, ...]
    local_date: date
    summary_by: str = "template"


@dataclass(frozen=True, slots=True)
class SweepStats:
    """What one sweep did.

    Attributes:
        candidates: Users with the digest on who can be reached.
        due: Users whose digest was due and not yet on record.
        queued: User digests recorded and queued by this sweep.
        skipped: Due users another sweep recorded first.
        failed: Due users left for the next run (their batch failed).
        chats_queued: Group-chat digests queued.
        error: Why the sweep stopped early (no market data), or ``None``.
        seconds: Wall time of the sweep.
    """

    candidates: int = 0
    due: int = 0
    queued: int = 0
    skipped: int = 0
    failed: int = 0
    chats_queued: int = 0
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _Recipient:
    user_id: int
    channel: str
    address: str
    tz: ZoneInfo
    local_date: date


@dataclass(frozen=True, slots=True)
class _ChatDue:
    channel: str
    chat_id: int
    tz: ZoneInfo
    local_date: date

    @property
    def key(self) -> str:
        return f"digest-chat:{self.channel}:{self.chat_id}:{self.local_date.isoformat()}"


@dataclass
class _Counts:
    queued: int = 0
    skipped: int = 0
    failed: int = 0
    chats: int = 0


class DigestService:
    """Daily digests: built on demand, swept and queued on schedule.

    Args:
        db: The database.
        prices: The market capability (quotes, top list, stablecoins, history).
        clock: Time source.
        chart_dir: Where sweep charts are written (payloads refer to them by path).
        summarise: Writes the summary paragraph from a prompt (an LLM); ``None`` uses
            the template. Any error falls back to the template and is logged.
        batch_size: Users per batch (one read and one write transaction each).
        near_pct: Alerts this close (percent) to their threshold are listed.
        shared_max_age: The shared sections are rebuilt when older than this.
        chart_retention: Sweep charts older than this are deleted.
        chart: Draw the chart (off in schedule tests, for speed).
        summary_concurrency: Model calls in flight at once.
        summary_timeout_s: Time allowed for one model call before falling back.
    """

    def __init__(
        self,
        db: Database,
        prices: PriceService,
        *,
        clock: Clock,
        chart_dir: Path,
        summarise: Summariser | None = None,
        batch_size: int = 200,
        near_pct: Decimal = DEFAULT_NEAR_PCT,
        shared_max_age: timedelta = timedelta(minutes=5),
        chart_retention: timedelta = timedelta(days=3),
        chart: bool = True,
        summary_concurrency: int = 8,
        summary_timeout_s: float = 30.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._db = db
        self._prices = prices
        self._clock = clock
        self.chart_dir = Path(chart_dir)
        self._summarise = summarise
        self._batch_size = batch_size
        self._near_pct = near_pct
        self._shared_max_age = shared_max_age
        self._chart_retention = chart_retention
        self._draw_chart = chart
        self._summary_slots = asyncio.Semaphore(max(1, summary_concurrency))
        self._summary_timeout_s = summary_timeout_s
        self._shared: tuple[SharedDigest, text.MarketText, Path | None] | None = None
        self._shared_lock = asyncio.Lock()
        #: (user id, local date) pairs known to be on record: skipped without a query.
        self._done: set[tuple[int, date]] = set()
        #: Chat outbox keys known to exist.
        self._done_chats: set[str] = set()

    # -- on demand -------------------------------------------------------------------------

    async def build_for(self, user: UserRef) -> Digest:
        """The user's digest right now (for ``daily_digest`` and ``/digest now``).

        Not recorded in ``digest_log``: the scheduled digest still comes.

        Raises:
            MarketDataUnavailableError: No market prices at all are available.
        """
        now = self._clock.now()
        async with self._db.transaction(readonly=True) as session:
            row = await UserRepository(session).get_by_platform_id(
                user.platform, user.platform_user_id
            )
        shared, market, _ = await self._shared_for(now)
        tz = zone(row.timezone if row is not None else None)
        day = local_date(now, tz)
        personal: PersonalDigest | None = None
        if row is not None:
            book = PriceBook(self._prices, shared)
            found = await build_personal(self._db, book, [row.id], now, near_pct=self._near_pct)
            personal = found[row.id]
        head = text.title(day)
        body, summary_by = await self._write(shared, market, head, personal, tz, group=False)
        attachments: tuple[Attachment, ...] = ()
        if shared.chart is not None:
            chart = shared.chart
            attachments = (
                Attachment(chart.filename, chart.content_type, chart.data, chart.caption),
            )
        return Digest(head, body, attachments, day, summary_by)

    # -- the sweep -------------------------------------------------------------------------

    async def sweep(self, now: datetime | None = None) -> SweepStats:
        """Queue every digest that is due (see the module docstring). Never raises for
        market or storage trouble: it is logged, and the work stays due for the next run."""
        started = timer.perf_counter()
        now = (now or self._clock.now()).astimezone(UTC)
        self._forget_before(recent_dates(now)[0] - timedelta(days=1))
        try:
            async with self._db.transaction(readonly=True) as session:
                users = await UserRepository(session).list_digest_candidates()
                subscriptions = await ChatSubscriptionRepository(session).list_by_kind(DIGEST_KIND)
            due = self._due_users(users, now)
            if due:
                async with self._db.transaction(readonly=True) as session:
                    recorded = await recorded_digests(
                        session, [(r.user_id, r.local_date) for r in due]
                    )
                self._done |= recorded
                due = [r for r in due if (r.user_id, r.local_date) not in recorded]
            chats = await self._due_chats(subscriptions, now)
        except StorageError as exc:
            logger.warning("digest sweep: cannot read what is due: %s", exc)
            return SweepStats(error="database unavailable", seconds=_since(started))
        if not due and not chats:
            return SweepStats(candidates=len(users), seconds=_since(started))
        try:
            shared, market, chart_path = await self._shared_for(now)
        except CryptoGuardError as exc:
            logger.warning("digest sweep postponed: %s", exc)
            return SweepStats(candidates=len(users), due=len(due), failed=len(due),
                              error=exc.user_message, seconds=_since(started))  # fmt: skip
        counts = _Counts()
        book = PriceBook(self._prices, shared)
        for start in range(0, len(due), self._batch_size):
            batch = due[start : start + self._batch_size]
            await self._run_batch(batch, shared, market, chart_path, book, now, counts)
        for chat in chats:
            await self._queue_chat(chat, shared, market, chart_path, now, counts)
        stats = SweepStats(
            candidates=len(users),
            due=len(due),
            queued=counts.queued,
            skipped=counts.skipped,
            failed=counts.failed,
            chats_queued=counts.chats,
            seconds=_since(started),
        )
        logger.info(
            "digest sweep: %d due, %d queued, %d skipped, %d failed, %d chats, %.2f s",
            stats.due, stats.queued, stats.skipped, stats.failed, stats.chats_queued,
            stats.seconds,
        )  # fmt: skip
        return stats

    def _due_users(self, users: Sequence[User], now: datetime) -> list[_Recipient]:
        due: list[_Recipient] = []
        for user in users:
            tz = zone(user.timezone)
            at = user.digest_time or DEFAULT_DIGEST_TIME
            day = due_date(now, tz, at, created_at=user.created_at)
            if day is None or (user.id, day) in self._done:
                continue
            due.append(_Recipient(user.id, channel_of(user), recipient_of(user), tz, day))
        return due

    async def _due_chats(self, subscriptions: Sequence[Any], now: datetime) -> list[_ChatDue]:
        due: list[_ChatDue] = []
        for sub in subscriptions:
            schedule = chat_schedule(sub.params)
            day = due_date(now, schedule.tz, schedule.at, created_at=sub.created_at)
            if day is None:
                continue
            chat = _ChatDue(sub.platform, sub.chat_id, schedule.tz, day)
            if chat.key not in self._done_chats:
                due.append(chat)
        if not due:
            return []
        async with self._db.transaction(readonly=True) as session:
            outbox = OutboxRepository(session)
            pending = []
            for chat in due:
                if await outbox.get_by_key(chat.key) is None:
                    pending.append(chat)
                else:
                    self._done_chats.add(chat.key)
        return pending

    async def _run_batch(
        self,
        batch: Sequence[_Recipient],
        shared: SharedDigest,
        market: text.MarketText,
        chart_path: Path | None,
        book: PriceBook,
        now: datetime,
        counts: _Counts,
    ) -> None:
        try:
            personal = await build_personal(
                self._db, book, [r.user_id for r in batch], now, near_pct=self._near_pct
            )
            bodies = await asyncio.gather(
                *(
                    self._write(shared, market, text.title(r.local_date), personal[r.user_id],
                                r.tz, group=False)
                    for r in batch
                )
            )  # fmt: skip
            messages: dict[tuple[int, date], NewMessage] = {}
            for recipient, (body, summary_by) in zip(batch, bodies, strict=True):
                claim = (recipient.user_id, recipient.local_date)
                data = {
                    "local_date": recipient.local_date.isoformat(),
                    "summary_by": summary_by,
                    **as_mapping(personal[recipient.user_id]),
                }
                messages[claim] = NewMessage(
                    recipient.channel,
                    recipient.address,
                    _payload(text.title(recipient.local_date), body, shared, chart_path, data),
                    f"digest:{recipient.user_id}:{recipient.local_date.isoformat()}",
                    user_id=recipient.user_id,
                )
            async with self._db.transaction() as session:
                claimed = await claim_digests(session, list(messages), now=now)
                await enqueue_all(
                    session, [m for c, m in sorted(messages.items()) if c in claimed], now=now
                )
        except (StorageError, CryptoGuardError) as exc:
            logger.warning("digest batch of %d users failed, retried next run: %s", len(batch), exc)
            counts.failed += len(batch)
            return
        self._done |= set(messages)
        counts.queued += len(claimed)
        counts.skipped += len(messages) - len(claimed)

    async def _queue_chat(
        self,
        chat: _ChatDue,
        shared: SharedDigest,
        market: text.MarketText,
        chart_path: Path | None,
        now: datetime,
        counts: _Counts,
    ) -> None:
        head = text.title(chat.local_date)
        body, summary_by = await self._write(shared, market, head, None, chat.tz, group=True)
        data = {"local_date": chat.local_date.isoformat(), "summary_by": summary_by,
                "scope": "chat"}  # fmt: skip
        try:
            message = NewMessage(
                chat.channel,
                chat_recipient(chat.channel, chat.chat_id),
                _payload(head, body, shared, chart_path, data),
                chat.key,
            )
            async with self._db.transaction() as session:
                created = await enqueue_all(session, [message], now=now)
        except StorageError as exc:
            logger.warning("digest for chat %s:%s not queued: %s", chat.channel, chat.chat_id, exc)
            return
        self._done_chats.add(chat.key)
        counts.chats += created

    # -- text ------------------------------------------------------------------------------

    async def _write(
        self,
        shared: SharedDigest,
        market: text.MarketText,
        head: str,
        personal: PersonalDigest | None,
        tz: ZoneInfo,
        *,
        group: bool,
    ) -> tuple[str, str]:
        """The digest text and who wrote its summary (``"model"`` or ``"template"``)."""
        sections: list[str] = []
        notice = None
        if personal is not None:
            sections = text.personal_sections(personal, tz)
            notice = data_notice(self._prices.market, personal.origins)
        summary, by = None, "template"
        if self._summarise is not None:
            body = text.compose(head, "", market, sections, notice=notice)
            summary = await self._model_summary(body, group=group)
            by = "model" if summary else by
        if not summary:
            summary = text.templated_summary(shared, personal)
        return text.compose(head, summary, market, sections, notice=notice), by

    async def _model_summary(self, body: str, *, group: bool) -> str | None:
        summarise = self._summarise
        if summarise is None:
            return None
        prompt = text.summary_prompt(body, group=group)
        try:
            async with self._summary_slots:
                raw = await asyncio.wait_for(summarise(prompt), self._summary_timeout_s)
        except Exception as exc:  # any model failure falls back to the template
            logger.warning("digest summary by the model failed (%s); using the template",
                           type(exc).__name__)  # fmt: skip
            return None
        summary = text.tidy_summary(raw) if isinstance(raw, str) else ""
        if not summary:
            logger.warning("digest summary by the model was empty; using the template")
            return None
        return summary

    # -- shared sections -------------------------------------------------------------------

    async def _shared_for(self, now: datetime) -> tuple[SharedDigest, text.MarketText, Path | None]:
        """The shared sections, rebuilt when older than ``shared_max_age``."""
        async with self._shared_lock:
            cached = self._shared
            if cached is not None and timedelta(0) <= now - cached[0].at < self._shared_max_age:
                return cached
            shared = await build_shared(self._prices, now, chart=self._draw_chart)
            path = await self._store_chart(shared, now)
            self._shared = (shared, text.market_text(shared), path)
            return self._shared

    async def _store_chart(self, shared: SharedDigest, now: datetime) -> Path | None:
        if shared.chart is None:
            return None
        path = self.chart_dir / shared.chart.filename
        try:
            await asyncio.to_thread(_write_file, path, shared.chart.data)
            await asyncio.to_thread(_prune_charts, self.chart_dir, now - self._chart_retention)
        except OSError as exc:
            logger.warning("digest chart not written to %s: %s", path, exc)
            return None
        return path

    def _forget_before(self, day: date) -> None:
        self._done = {claim for claim in self._done if claim[1] >= day}
        self._done_chats = {k for k in self._done_chats if k.rsplit(":", 1)[-1] >= day.isoformat()}


def _payload(
    head: str,
    body: str,
    shared: SharedDigest,
    chart_path: Path | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    attachments = []
    if shared.chart is not None and chart_path is not None:
        attachments.append(
            {
                "path": str(chart_path),
                "filename": shared.chart.filename,
                "content_type": shared.chart.content_type,
                "caption": shared.chart.caption,
            }
        )
    return {
        "kind": DIGEST_KIND,
        "text": body,
        "title": head,
        "severity": "info",
        "attachments": attachments,
        "data": data,
    }


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _prune_charts(folder: Path, before: datetime) -> None:
    """Delete ``digest-YYYYMMDD-HHMM.png`` files named for a time before ``before``."""
    cutoff = f"digest-{before:%Y%m%d-%H%M}.png"
    for path in folder.glob("digest-*.png"):
        if len(path.name) == len(cutoff) and path.name < cutoff:
            path.unlink(missing_ok=True)


def _since(started: float) -> float:
    return timer.perf_counter() - started
