"""The background work of ``cryptoguard run``: leader-gated scheduled jobs and delivery.

* The market tick (alerts and the depeg monitor) and the digest sweep run in exactly one
  process per database: the one holding the :class:`~storage.LeaderLock` (PostgreSQL
  advisory lock, SQLite lease). A standby process retries every ``leader_poll_s`` and
  takes over when the leader dies; a leader that loses its lock stops its jobs at once.
* Delivery runs in every process, for the channels that process can reach (its
  front-ends): rows are claimed with ``FOR UPDATE SKIP LOCKED``, so several dispatchers
  never send one message twice. A tick that queued messages wakes the dispatcher.

All due work is derived from the database, so a restart neither loses nor repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.scheduler import add_interval_job
from storage import LeaderLock
from tools.delivery import Dispatcher
from tools.notify import Notifier

logger = logging.getLogger(__name__)

LEADER_JOBS = ("market-tick", "digest-sweep")


def process_identity() -> str:
    """``host:pid``: who holds the scheduler lock, as operators read it."""
    return f"{socket.gethostname()}:{os.getpid()}"


class BackgroundJobs:
    """Runs the scheduler (when leading) and the dispatcher until stopped.

    Args:
        app: The application.
        scheduler: A started or not yet started ``AsyncIOScheduler``.
        notifiers: Delivery channels this process serves, by channel name.
    """

    def __init__(
        self, app: App, scheduler: AsyncIOScheduler, notifiers: Mapping[str, Notifier]
    ) -> None:
        self.app = app
        self.scheduler = scheduler
        settings = app.settings
        delivery = settings.delivery
        self.dispatcher = Dispatcher(
            app.db,
            notifiers,
            clock=app.clock,
            batch_size=delivery.batch_size,
            lease_s=delivery.lease_s,
            max_attempts=delivery.max_attempts,
            rate_limits={name: delivery.rate_per_s for name in notifiers},
        )
        self.lock = LeaderLock(
            app.db,
            holder=process_identity(),
            lease_s=max(30.0, 3 * settings.leader_poll_s),
        )
        app.watch.on_queued = self.dispatcher.wake
        self._running: set[asyncio.Task[Any]] = set()
        self._said_standby = False

    async def run(self, stop: asyncio.Event) -> None:
        """Lead when possible, deliver always; return once ``stop`` is set."""
        settings = self.app.settings
        if not self.scheduler.running:
            self.scheduler.start()
        dispatch = asyncio.create_task(
            self.dispatcher.run_forever(stop, settings.delivery.interval_s), name="dispatcher"
        )
        try:
            while not stop.is_set():
                await self._elect()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), settings.leader_poll_s)
        finally:
            await self._stop_jobs()
            await self.lock.release()
            await dispatch

    async def _elect(self) -> None:
        now = self.app.clock.now()
        if self.lock.leading:
            if not await self.lock.still_leading(now):
                logger.error("Lost the scheduler lock; stopping scheduled jobs (standby now)")
                await self._stop_jobs()
            return
        if await self.lock.try_acquire(now):
            logger.info("Scheduler leader: %s", self.lock.holder)
            self._start_jobs()
        elif not self._said_standby:
            self._said_standby = True
            logger.info(
                "Scheduler standby: another process leads; trying again every %.0f s",
                self.app.settings.leader_poll_s,
            )

    def _start_jobs(self) -> None:
        settings = self.app.settings
        add_interval_job(
            self.scheduler, "market-tick", self._tracked(self.app.market_tick),
            settings.market_refresh_s,
        )  # fmt: skip
        add_interval_job(
            self.scheduler, "digest-sweep", self._tracked(self.app.digests.sweep),
            settings.digest.sweep_s,
        )  # fmt: skip
        logger.info(
            "Scheduled: market tick every %.0f s, digest sweep every %.0f s, delivery every %.0f s",
            settings.market_refresh_s,
            settings.digest.sweep_s,
            settings.delivery.interval_s,
        )

    def _tracked(self, func: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """``func`` as a job whose running instance can be cancelled by :meth:`_stop_jobs`."""

        async def job() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await func()
            finally:
                if task is not None:
                    self._running.discard(task)

        return job

    async def _stop_jobs(self) -> None:
        """Unschedule the leader's jobs and cancel (and await) runs in progress, so that
        nothing a former leader started can commit after the lock is given up."""
        for job_id in LEADER_JOBS:
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
