"""``cryptoguard run``: the scheduler plus every configured front-end in one event loop.

With no platform token the console front-end runs in this terminal. Stops cleanly on
SIGTERM/SIGINT (or when the console user quits).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.app import App
from bot.console import Console
from bot.scheduler import add_interval_job, build_scheduler

logger = logging.getLogger(__name__)


async def run_application(app: App) -> None:
    """Run until stopped."""
    settings = app.settings
    scheduler = build_scheduler()
    if settings.scheduler_enabled:
        add_interval_job(scheduler, "market-refresh", app.refresh_market, settings.market_refresh_s)
        scheduler.start()
        logger.info("Scheduler started (market refresh every %.0f s)", settings.market_refresh_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        platforms = [
            name
            for name, token in (
                ("Telegram", settings.telegram.token),
                ("Discord", settings.discord.token),
            )
            if token is not None
        ]
        if platforms:
            for name in platforms:
                logger.error(
                    "%s token is set, but the %s front-end is not part of this version yet; "
                    "running the scheduler only.",
                    name,
                    name,
                )
            await stop.wait()
            return
        console = Console(app, color=sys.stdout.isatty())
        await app.users.ensure(console.user)
        console_task = asyncio.create_task(console.run())
        stop_task = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({console_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        if console_task in done:
            console_task.result()
        else:
            console_task.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if scheduler.running:
            scheduler.shutdown(wait=False)
        logger.info("Stopped")
