"""The Discord front-end on discord.py 2.x.

A thin transport, like the Telegram one: slash commands map their typed options onto
the shared commands (:class:`bot.commands.Commands`) or call a service directly, and
free text goes to the agent. This module owns the client's life cycle:

* ``start()`` logs in (HTTP), adds the cogs, syncs the commands when needed, and
  connects to the gateway in a background task; ``stop()`` closes everything.
* Syncing: with a test guild configured, the global commands are copied to it and
  synced there on every start (guild commands update at once). Otherwise the global
  commands are synced at start only when they differ from the last sync recorded in
  the data directory (a fingerprint file), so restarts do not spend Discord's
  command-write rate limit; ``cryptoguard discord sync`` syncs on purpose.
* Intents: the defaults, without the privileged message-content intent. Discord still
  delivers the content of DMs and of messages that mention the bot, which is all the
  agent needs; asking for the intent would make the gateway refuse the connection
  (close code 4014) unless it is enabled in the developer portal.
* Nobody is ever pinged (``AllowedMentions.none()`` on the client and on every send).
* Pushed messages (alerts, digests) go through :attr:`DiscordFrontEnd.notifier`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.notifier import MAX_RATELIMIT_TIMEOUT_S, DiscordNotifier
from bot.discord.respond import NO_MENTIONS
from bot.discord.tree import (
    CONTEXTS,
    INSTALLS,
    CryptoGuardTree,
    command_payload,
    load_cogs,
    payload_digest,
)
from tools.errors import ConfigurationError, CryptoGuardError, UpstreamError

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

#: Time ``stop()`` gives the gateway task to end after the client closed.
STOP_TIMEOUT_S = 10.0
#: File (in the data directory) holding the fingerprint of the last global sync.
SYNC_STATE_FILE = "discord-commands.sync"


def intents() -> discord.Intents:
    """Guilds, guild messages and DMs; no privileged intents (see the module docstring)."""
    wanted = discord.Intents.default()
    wanted.message_content = False
    wanted.members = False
    wanted.presences = False
    return wanted


class CryptoGuardBot(commands.Bot):
    """The discord.py client: slash commands only (no prefix commands).

    Args:
        app: The services.
    """

    def __init__(self, app: App) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            tree_cls=CryptoGuardTree,
            allowed_mentions=NO_MENTIONS,
            allowed_contexts=CONTEXTS,
            allowed_installs=INSTALLS,
            chunk_guilds_at_startup=False,
            max_messages=None,
            # longer rate-limit waits raise RateLimited (the notifier defers the message)
            max_ratelimit_timeout=MAX_RATELIMIT_TIMEOUT_S,
        )
        self.app = app

    async def setup_hook(self) -> None:
        """Called by ``login()``: add the cogs (their commands join the tree)."""
        await load_cogs(self, self.app)

    async def on_message(self, message: discord.Message, /) -> None:
        """Prefix commands are not used: messages reach the agent through the
        assistant cog's listener only."""


class DiscordFrontEnd:
    """Runs the Discord bot inside the application's event loop.

    Args:
        app: The application services (with the agent).
        token: The bot token.
        test_guild_id: Sync the commands to this server at every start (development).
        api_base: Discord API base URL, e.g. ``http://127.0.0.1:8080/api/v10`` (tests
            point it at a local fake). discord.py keeps this in a class attribute, so it
            applies to every client of the process.
        sync_state: Fingerprint file of the last global sync (default: in the data
            directory); ``None`` with ``auto_sync=False`` never syncs at start.
        auto_sync: Sync the global commands at start when they changed.
    """

    def __init__(
        self,
        app: App,
        token: str,
        *,
        test_guild_id: int | None = None,
        api_base: str | None = None,
        sync_state: Path | None = None,
        auto_sync: bool = True,
    ) -> None:
        if api_base is not None:
            discord.http.Route.BASE = api_base.rstrip("/")
        self.app = app
        self.test_guild_id = test_guild_id
        self.auto_sync = auto_sync
        self.sync_state = sync_state or app.settings.data_dir / SYNC_STATE_FILE
        self.bot = CryptoGuardBot(app)
        self.notifier = DiscordNotifier(self.bot)
        self._token = token
        self._gateway: asyncio.Task[None] | None = None

    @property
    def tree(self) -> app_commands.CommandTree:
        """The slash-command tree."""
        return self.bot.tree

    # -- life cycle --------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in over HTTP and build the command tree (no gateway connection)."""
        if self.bot.user is None:
            await self.bot.login(self._token)

    async def start(self, *, connect: bool = True) -> None:
        """Log in, sync the commands when needed, and connect to the gateway.

        Args:
            connect: ``False`` stops after the login and sync (tests, tools): the bot then
                answers only interactions handed to it.

        Raises:
            ConfigurationError: The token was refused.
        """
        try:
            await self.login()
        except discord.LoginFailure as exc:
            raise ConfigurationError("Discord refused the bot token.") from exc
        await self._sync_at_start()
        if connect:
            self._gateway = asyncio.create_task(self._connect(), name="discord-gateway")
        logger.info("Discord: logged in as %s", self.bot.user)

    async def _connect(self) -> None:
        try:
            await self.bot.connect(reconnect=True)
        except asyncio.CancelledError:
            raise
        except discord.PrivilegedIntentsRequired:
            logger.error("Discord: the gateway refused a privileged intent; the bot is offline")
        except Exception:
            logger.exception("Discord: the gateway connection ended; the bot is offline")

    @property
    def gateway(self) -> asyncio.Task[None] | None:
        """The gateway connection's task (it ends when the connection is given up)."""
        return self._gateway

    async def stop(self) -> None:
        """Close the gateway connection and the HTTP session."""
        await self.bot.close()
        task, self._gateway = self._gateway, None
        if task is not None:
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT_S)
            except TimeoutError:
                logger.warning("Discord: the gateway did not close in time")
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
        logger.info("Discord: stopped")

    # -- command sync -----------------------------------------------------------------------

    async def sync(self, guild_id: int | None = None) -> list[app_commands.AppCommand]:
        """Sync the commands: to one server (a copy of the global ones), or globally.

        Raises:
            ConfigurationError: The token was refused, the bot may not add commands to
                that server, or Discord rejected the commands.
            UpstreamError: Discord failed otherwise.
        """
        try:
            await self.login()
            if guild_id is None:
                synced = await self.tree.sync()
                self._record_sync()
            else:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
        except discord.LoginFailure as exc:
            raise ConfigurationError("Discord refused the bot token.") from exc
        except discord.Forbidden as exc:
            raise ConfigurationError(
                f"The bot may not add commands to server {guild_id}: invite it there with "
                "the applications.commands scope.",
                detail=exc.text,
            ) from exc
        except app_commands.CommandSyncFailure as exc:
            raise ConfigurationError(
                "Discord rejected the slash commands.", detail=str(exc)
            ) from exc
        except discord.HTTPException as exc:
            raise UpstreamError(
                f"Discord did not accept the request (HTTP {exc.status}); try again later.",
                detail=exc.text,
            ) from exc
        where = "globally" if guild_id is None else f"to server {guild_id}"
        logger.info("Discord: %d commands synced %s", len(synced), where)
        return synced

    async def _sync_at_start(self) -> None:
        if not self.auto_sync:
            return
        try:
            if self.test_guild_id is not None:
                await self.sync(self.test_guild_id)
            elif self._global_digest() != self._recorded_digest():
                await self.sync()
            else:
                logger.info("Discord: commands unchanged since the last sync")
        except CryptoGuardError as exc:
            # the bot still answers the commands Discord already has
            logger.error("Discord: commands not synced: %s", exc)

    def _global_digest(self) -> str:
        app_id = self.bot.application_id
        return f"{app_id}:{payload_digest(command_payload(self.tree))}"

    def _recorded_digest(self) -> str | None:
        try:
            return self.sync_state.read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def _record_sync(self) -> None:
        with contextlib.suppress(OSError):
            self.sync_state.parent.mkdir(parents=True, exist_ok=True)
            self.sync_state.write_text(self._global_digest() + "\n", encoding="utf-8")
