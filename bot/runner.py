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
from typing import Any

from bot.app import App
from bot.console import Console
from bot.discord.bot import DiscordFrontEnd
from bot.jobs import BackgroundJobs
from bot.scheduler import build_scheduler
from bot.telegram.bot import TelegramFrontEnd, WebhookOptions
from tools.notify import Notifier
from tools.webhook import open_webhook_notifier

logger = logging.getLogger(__name__)


async def run_application(app: App) -> int:
    """Run until stopped; returns the process exit code."""
    settings = app.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    console: Console | None = None
    telegram: TelegramFrontEnd | None = None
    notifiers: dict[str, Notifier] = {}
    if settings.telegram.token is not None:
        telegram = open_telegram(app)
        notifiers[telegram.notifier.channel] = telegram.notifier
    discord: DiscordFrontEnd | None = None
    if settings.discord.token is not None:
        discord = DiscordFrontEnd(
            app,
            settings.discord.token.get_secret_value(),
            test_guild_id=settings.discord.test_guild_id,
        )
        notifiers[discord.notifier.channel] = discord.notifier
    if telegram is None and discord is None:
        console = Console(app, color=sys.stdout.isatty())
        notifier = console.notifier()
        notifiers[notifier.channel] = notifier
    secret = settings.delivery.webhook_secret
    if secret is not None:
        webhook, close = open_webhook_notifier(secret.get_secret_value(), clock=app.clock)
        notifiers[webhook.channel] = webhook
        app.closers.append(close)
    scheduler = build_scheduler()
    background: asyncio.Task[None] | None = None
    exit_code = 0
    try:
        if telegram is not None:
            await telegram.start()
        if discord is not None:
            await discord.start()
        if settings.scheduler_enabled:
            jobs = BackgroundJobs(app, scheduler, notifiers)
            background = asyncio.create_task(jobs.run(stop), name="background-jobs")
        waits: set[asyncio.Task[Any]] = {asyncio.create_task(stop.wait())}
        if telegram is not None:
            waits.add(asyncio.create_task(telegram.conflict.wait()))
        if discord is not None and discord.gateway is not None:
            waits.add(discord.gateway)
        console_task: asyncio.Task[bool] | None = None
        if console is not None:
            await app.users.ensure(console.user, console.chat)
            console_task = asyncio.create_task(console.run())
            waits.add(console_task)
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        ended = console_task is not None and console_task in done and not console_task.result()
        if ended and not sys.stdin.isatty():
            # Input ended without /quit: stdin is /dev/null or a closed pipe (a service).
            # Keep running the scheduler and delivery until SIGTERM.
            logger.info("Console input closed; running until stopped (SIGTERM)")
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            if discord is None or task is not discord.gateway:  # closed by discord.stop()
                task.cancel()
        if telegram is not None and telegram.conflict.is_set():
            exit_code = 3
        elif discord is not None and discord.gateway is not None and discord.gateway.done():
            exit_code = 4  # the gateway connection was given up: let a supervisor restart
    finally:
        stop.set()
        if background is not None:
            await background
        if telegram is not None:
            await telegram.stop()
        if discord is not None:
            await discord.stop()
        if scheduler.running:
            scheduler.shutdown(wait=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        logger.info("Stopped")
    return exit_code


def open_telegram(app: App) -> TelegramFrontEnd:
    """The Telegram front-end from the settings (long polling, or a webhook)."""
    config = app.settings.telegram
    assert config.token is not None  # noqa: S101 - only called with a token
    webhook = None
    if config.webhook_url:
        assert config.webhook_secret is not None  # noqa: S101 - the settings ensure it
        webhook = WebhookOptions(
            url=config.webhook_url,
            secret=config.webhook_secret.get_secret_value(),
            listen=config.webhook_listen,
            port=config.webhook_port,
            path=config.webhook_path,
        )
    base, files = api_urls(config.api_base_url) if config.api_base_url else (None, None)
    return TelegramFrontEnd(
        app,
        config.token.get_secret_value(),
        base_url=base,
        base_file_url=files,
        webhook=webhook,
        max_concurrent_updates=config.max_concurrent_updates,
    )


def api_urls(api_base_url: str) -> tuple[str, str]:
    """The Bot API base URL and file URL for a server: ``http://host:8081`` (the server's
    root) or ``http://host:8081/bot`` give ``.../bot`` and ``.../file/bot``."""
    base = api_base_url.rstrip("/")
    if not base.endswith("/bot"):
        base += "/bot"
    return base, base.removesuffix("/bot") + "/file/bot"
