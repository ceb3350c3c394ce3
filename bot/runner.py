"""``cryptoguard run``: the scheduler, delivery and every configured front-end in one
event loop.

With no platform token the console front-end runs in this terminal, and fired alerts
and digests appear in it as they happen. Stops cleanly on SIGTERM/SIGINT (or when the
console user quits): running jobs are cancelled, messages being sent are settled or
left in the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from bot.app import App
from bot.console import Console
from bot.jobs import BackgroundJobs
from bot.scheduler import build_scheduler
from tools.notify import Notifier
from tools.webhook import open_webhook_notifier

logger = logging.getLogger(__name__)


async def run_application(app: App) -> None:
    """Run until stopped."""
    settings = app.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    platforms = [
        name
        for name, token in (
            ("Telegram", settings.telegram.token),
            ("Discord", settings.discord.token),
        )
        if token is not None
    ]
    console: Console | None = None
    notifiers: dict[str, Notifier] = {}
    if not platforms:
        console = Console(app, color=sys.stdout.isatty())
        notifiers["console"] = console.notifier()
    for name in platforms:
        logger.error(
            "%s token is set, but the %s front-end is not part of this version yet; "
            "running the scheduler only.",
            name,
            name,
        )
    secret = settings.delivery.webhook_secret
    if secret is not None:
        webhook, close = open_webhook_notifier(secret.get_secret_value(), clock=app.clock)
        notifiers[webhook.channel] = webhook
        app.closers.append(close)
    scheduler = build_scheduler()
    background: asyncio.Task[None] | None = None
    if settings.scheduler_enabled:
        jobs = BackgroundJobs(app, scheduler, notifiers)
        background = asyncio.create_task(jobs.run(stop), name="background-jobs")
    try:
        if console is None:
            await stop.wait()
            return
        await app.users.ensure(console.user, console.chat)
        console_task = asyncio.create_task(console.run())
        stop_task = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({console_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        if console_task in done:
            console_task.result()
        else:
            console_task.cancel()
    finally:
        stop.set()
        if background is not None:
            await background
        if scheduler.running:
            scheduler.shutdown(wait=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        logger.info("Stopped")
