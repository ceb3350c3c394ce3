"""Scheduler wiring: one APScheduler 3.x ``AsyncIOScheduler`` per process.

Job defaults are set explicitly because APScheduler's own defaults are unsafe for us
(``misfire_grace_time`` is 1 s): runs that were missed are coalesced into one, a job
never overlaps itself (the skipped run is logged by APScheduler), and a run that
starts up to ``misfire_grace_time`` late still runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

logger = logging.getLogger(__name__)

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}


def build_scheduler() -> AsyncIOScheduler:
    """A scheduler in UTC with CryptoGuard's job defaults (not started)."""
    return AsyncIOScheduler(timezone=UTC, job_defaults=dict(JOB_DEFAULTS))


def add_interval_job(
    scheduler: AsyncIOScheduler,
    job_id: str,
    func: Callable[[], Awaitable[object]],
    seconds: float,
    *,
    run_now: bool = True,
) -> None:
    """Run ``func`` every ``seconds`` (and once right away when ``run_now``)."""

    async def guarded() -> None:
        try:
            await func()
        except asyncio.CancelledError:
            # Only the scheduler's shutdown cancels a run; the next start runs it again.
            logger.info("scheduled job %s interrupted by shutdown", job_id)
        except Exception:  # a failing run must not kill the schedule; it is logged
            logger.exception("scheduled job %s failed", job_id)

    kwargs: dict[str, object] = {}
    if run_now:
        from datetime import datetime

        kwargs["next_run_time"] = datetime.now(UTC)
    scheduler.add_job(
        guarded,
        "interval",
        seconds=seconds,
        id=job_id,
        name=job_id,
        replace_existing=True,
        **kwargs,
    )
