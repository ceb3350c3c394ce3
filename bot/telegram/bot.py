"""The Telegram front-end on python-telegram-bot v22.

A thin transport: every command runs through :class:`bot.commands.Commands` (the same
code as the console) and free text goes to the agent; this module only maps Telegram
updates to identities, formats replies as Telegram HTML, and adds what only a chat app
has (inline buttons, documents, typing, groups).

* Private chats: commands, and any other text goes to the agent ("typing..." while it
  works). Groups: commands, and messages that mention the bot or reply to it; private
  data (portfolio, alerts, settings) is only shown in a group when the user adds
  ``here`` to the command. Group admins subscribe the group to depeg alerts and the
  daily market digest (``/subscribe depeg``).
* Updates of different chats run concurrently; one chat's updates run in order
  (:class:`~bot.telegram.processing.PerChatUpdateProcessor`).
* Long polling by default; webhook mode (behind a load balancer) with a secret token.
  A second instance polling the same token gets ``409 Conflict``: this instance then
  refuses to run and says why. The same update delivered twice is handled once.
* Only new messages run commands: an edited ``/buy`` is not a second buy.
* "typing..." is shown while the agent works (refreshed every few seconds in private
  chats; once per turn in groups, where python-telegram-bot's rate limiter counts chat
  actions against the group's 20 messages a minute). The last chat action always
  completes before the reply is sent, so the indicator never outlives the answer.
* Replies go through :class:`~bot.telegram.notifier.TelegramNotifier` (split at 4096
  characters, plain-text fallback on a parse error, spaced per chat); messages with
  inline buttons are split the same way with the buttons under the last part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shlex
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from telegram import (
    BotCommand,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.commands import PRIVATE_COMMANDS, Commands
from bot.errors import render_error
from bot.telegram.format import TEXT_LIMIT, escape, split_html, to_html, to_plain
from bot.telegram.notifier import TelegramNotifier, make_rate_limiter
from bot.telegram.processing import PerChatUpdateProcessor
from prompts import render
from tools.attachments import Attachment
from tools.errors import CryptoGuardError
from tools.identity import ChatRef, UserRef
from tools.notify import DeliveryStatus, OutgoingMessage
from tools.subscriptions import SubscriptionService

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

PLATFORM = "telegram"
#: Commands registered with setMyCommands (Telegram shows them in the menu).
MENU: tuple[tuple[str, str], ...] = (
    ("start", "Start and choose your timezone"),
    ("help", "Commands with examples"),
    ("price", "Prices, e.g. /price btc eth"),
    ("top", "Largest coins with gainers and losers"),
    ("depeg", "Stablecoin peg health"),
    ("chart", "Price chart, e.g. /chart btc 90"),
    ("ta", "Technical analysis, e.g. /ta eth 4h"),
    ("formula", "Custom indicator, e.g. /formula btc RSI(7)"),
    ("backtest", "Backtest, e.g. /backtest eth rsi 6m"),
    ("alert", "New alert, e.g. /alert btc above 100k"),
    ("alerts", "Your alerts"),
    ("delalert", "Delete alerts, e.g. /delalert 3"),
    ("portfolio", "Your portfolio"),
    ("buy", "Record a buy, e.g. /buy 0.5 btc at 48k"),
    ("sell", "Record a sell"),
    ("trades", "Your trades"),
    ("risk", "Portfolio risk"),
    ("target", "Target allocation"),
    ("rebalance", "Rebalancing plan"),
    ("tax", "Tax report as CSV"),
    ("import", "Import trades from a CSV file"),
    ("digest", "Daily digest: now, on, off, time HH:MM"),
    ("settings", "Your settings"),
    ("subscribe", "Group admins: depeg alerts or digest here"),
    ("reset", "Start a new conversation"),
)
#: Common zones offered as buttons by /start (others can be typed).
TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Singapore",
    "Asia/Tokyo",
)
#: Update ids remembered to drop duplicates (webhook redelivery).
SEEN_UPDATES = 10_000
#: How long a pending CSV import waits for its confirm button.
IMPORT_TTL_S = 900
#: Largest CSV file accepted for an import.
MAX_IMPORT_BYTES = 5_000_000
#: Most inline delete buttons under /alerts.
MAX_BUTTONS = 20
#: How often "typing..." is refreshed while the agent works (Telegram shows it ~5 s).
TYPING_EVERY_S = 4.0
#: Sends of one message tried before giving up on ``RetryAfter`` (flood control).
SEND_TRIES = 3
#: Longest ``RetryAfter`` waited out for an interactive reply.
MAX_REPLY_WAIT_S = 30.0
#: Only new messages run commands and reach the agent (not edits, not channel posts).
NEW_MESSAGES = filters.UpdateType.MESSAGE


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """Webhook mode: Telegram posts updates to ``url``; the bot listens locally."""

    url: str
    secret: str
    listen: str = "0.0.0.0"  # noqa: S104 - a webhook must accept outside connections
    port: int = 8443
    path: str = "telegram"


@dataclass
class _PendingImport:
    user: UserRef
    text: str
    expires: float


@dataclass
class _Collector:
    """Receives the files a command produces (sent after the text)."""

    files: list[Attachment] = field(default_factory=list)

    async def attach(self, attachment: Attachment) -> str:
        self.files.append(attachment)
        return ""


def user_ref(user: User) -> UserRef:
    """The identity of a Telegram user (from the platform, never from text)."""
    return UserRef(PLATFORM, str(user.id), display_name=user.full_name or user.username)


def chat_ref(chat: Chat) -> ChatRef:
    """The identity of a Telegram chat."""
    return ChatRef(PLATFORM, chat.id, private=chat.type == ChatType.PRIVATE)


class TelegramFrontEnd:
    """Runs the bot inside the application's event loop.

    Args:
        app: The application services (with the agent).
        token: The bot token.
        base_url: Bot API base URL (tests point it at a local server).
        base_file_url: Bot API file URL.
        webhook: Webhook mode instead of long polling.
        max_concurrent_updates: Updates processed at once across chats.
        poll_timeout_s: Long-polling timeout of one getUpdates request.
        part_interval_s: Least time between two messages to one chat (Telegram allows
            about one a second; tests pass 0).
    """

    def __init__(
        self,
        app: App,
        token: str,
        *,
        base_url: str | None = None,
        base_file_url: str | None = None,
        webhook: WebhookOptions | None = None,
        max_concurrent_updates: int = 256,
        poll_timeout_s: float = 30.0,
        part_interval_s: float = 1.0,
    ) -> None:
        self.app = app
        self.webhook = webhook
        self.poll_timeout_s = poll_timeout_s
        self.part_interval_s = part_interval_s
        builder = (
            ApplicationBuilder()
            .token(token)
            .job_queue(None)  # the scheduler lives in bot.jobs, not in PTB
            .rate_limiter(make_rate_limiter())
            .concurrent_updates(PerChatUpdateProcessor(max_concurrent_updates))
            .connect_timeout(5)
            .read_timeout(10)
            .write_timeout(15)
            .pool_timeout(5)
            .connection_pool_size(64)
            .get_updates_read_timeout(poll_timeout_s + 10)
        )
        if base_url is not None:
            builder = builder.base_url(base_url)
        if base_file_url is not None:
            builder = builder.base_file_url(base_file_url)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.notifier = TelegramNotifier(self.application.bot, part_interval_s=part_interval_s)
        self.subscriptions = SubscriptionService(app.db, clock=app.clock)
        #: Set when another instance polls the same token (this one must stop).
        self.conflict = asyncio.Event()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._imports: dict[str, _PendingImport] = {}
        self._username = ""
        self._register()

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, register the command menu, and start receiving updates."""
        application = self.application
        await application.initialize()
        me = await application.bot.get_me()
        self._username = (me.username or "").lower()
        await application.bot.set_my_commands([BotCommand(n, d) for n, d in MENU])
        await application.start()
        updater = application.updater
        if updater is None:  # pragma: no cover - built with an updater
            raise RuntimeError("the Telegram application has no updater")
        if self.webhook is None:
            await application.bot.delete_webhook()
            await updater.start_polling(
                poll_interval=0,
                timeout=int(self.poll_timeout_s),
                error_callback=self._polling_error,
            )
            logger.info("Telegram: @%s polling for updates", self._username)
        else:
            hook = self.webhook
            await updater.start_webhook(
                listen=hook.listen,
                port=hook.port,
                url_path=hook.path,
                webhook_url=hook.url,
                secret_token=hook.secret,
            )
            logger.info("Telegram: @%s receiving updates at %s", self._username, hook.url)

    async def stop(self) -> None:
        """Stop receiving, let running handlers finish, and close the connections."""
        application = self.application
        with contextlib.suppress(RuntimeError):  # not running (start failed half-way)
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
        await application.shutdown()
        logger.info("Telegram: stopped")

    def _polling_error(self, error: TelegramError) -> None:
        if isinstance(error, Conflict):
            if not self.conflict.is_set():
                if "webhook" in error.message.lower():
                    why = "a webhook is set for this bot token (another instance in webhook mode)"
                else:
                    why = "another instance is polling this bot token"
                logger.error(
                    "Telegram: %s (409 Conflict: %s). Only one instance may run per token; "
                    "this one refuses to run.",
                    why,
                    error.message,
                )
            self.conflict.set()
            return
        logger.warning("Telegram: polling error (%s); retrying", error)

    # -- handlers ----------------------------------------------------------------------------

    def _register(self) -> None:
        application = self.application
        application.add_handler(TypeHandler(Update, self._deduplicate), group=-1)
        application.add_handler(CallbackQueryHandler(self._on_button))
        application.add_handler(
            MessageHandler(NEW_MESSAGES & filters.Document.ALL, self._on_document)
        )
        application.add_handler(MessageHandler(NEW_MESSAGES & filters.COMMAND, self._on_command))
        application.add_handler(
            MessageHandler(NEW_MESSAGES & filters.TEXT & ~filters.COMMAND, self._on_text)
        )
        application.add_error_handler(self._on_error)

    async def _deduplicate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Drop an update seen before (Telegram redelivers webhooks it got no 200 for)."""
        if update.update_id in self._seen:
            raise ApplicationHandlerStop
        self._seen[update.update_id] = None
        while len(self._seen) > SEEN_UPDATES:
            self._seen.popitem(last=False)

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        name, args, addressed = self._parse_command(message.text)
        if name is None:
            return  # a command addressed to another bot in a group
        chat = chat_ref(message.chat)
        who = user_ref(user)
        collector = _Collector()
        commands = Commands(self.app, who, chat, collector.attach)
        if not chat.private and not addressed and name not in commands and name not in OWN:
            return  # in a group, an unknown bare command is probably another bot's
        await self.app.users.ensure(who, chat)
        if name == "start":
            await self._start(message, who, chat)
            return
        if name in ("subscribe", "unsubscribe"):
            await self._subscription(message, name, args, who, chat)
            return
        if name == "import":
            # never Commands' console /import, which reads a file of the server
            await self._reply(message, render("telegram_import_help"))
            return
        if not chat.private and name in PRIVATE_COMMANDS:
            if not args or args[-1].lower() != "here":
                await self._reply(message, render("telegram_private_in_group", command=name))
                return
            args = args[:-1]
        if name == "alerts" and not args:
            await self._alerts(message, who, chat)
            return
        text = await commands.run(name, args)
        if name == "help":
            text = telegram_help(text)
        await self._reply(message, text, collector.files)

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or not message.text:
            return
        chat = chat_ref(message.chat)
        text = message.text
        if not chat.private:
            if not self._addressed_to_me(message):
                return
            text = self._strip_mention(text)
        agent = self.app.agent
        if agent is None:
            await self._reply(message, "The assistant is not running; try /help for commands.")
            return
        async with self._typing(message.chat_id, repeat=chat.private):
            reply = await agent.reply(user_ref(user), chat, text)
        await self._reply(message, reply.text, reply.attachments)

    async def _on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A CSV sent with the caption /import (or any CSV in a private chat): dry run."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.document is None:
            return
        chat = chat_ref(message.chat)
        caption = (message.caption or "").strip().lower().split()
        wants_import = bool(caption) and self._is_my_command(caption[0], "import")
        if not wants_import and not chat.private:
            return
        if not chat.private and caption[-1] != "here":
            await self._reply(message, render("telegram_private_in_group", command="import"))
            return
        document = message.document
        if not (document.file_name or "").lower().endswith(".csv") and not wants_import:
            await self._reply(message, render("telegram_import_help"))
            return
        if (document.file_size or 0) > MAX_IMPORT_BYTES:
            await self._reply(message, "That file is too large to import (5 MB at most).")
            return
        who = user_ref(user)
        await self.app.users.ensure(who, chat)
        data = await (await document.get_file()).download_as_bytearray()
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError:
            await self._reply(message, "That file is not UTF-8 text; export it as CSV first.")
            return
        from tools.portfolio.imports import import_trades

        try:
            result = await import_trades(self.app.portfolios, who, text, dry_run=True)
        except Exception as exc:  # the edge: every error becomes a message
            await self._reply(message, render_error(exc))
            return
        if not result.ok or not result.new:
            await self._reply(message, result.message)
            return
        self._expire_imports()
        token = secrets.token_urlsafe(8)
        self._imports[token] = _PendingImport(who, text, time.monotonic() + IMPORT_TTL_S)
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Import", callback_data=f"imp:{token}"),
                    InlineKeyboardButton("Cancel", callback_data=f"impno:{token}"),
                ]
            ]
        )
        await self._reply(message, result.message, markup=buttons)

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.from_user is None or not query.data:
            return
        who = user_ref(query.from_user)
        action, _, value = query.data.partition(":")
        handlers: dict[str, Callable[[CallbackQuery, UserRef, str], Awaitable[str]]] = {
            "tz": self._set_timezone,
            "del": self._ask_delete,
            "delok": self._delete,
            "delno": self._cancel_delete,
            "imp": self._confirm_import,
            "impno": self._cancel_import,
        }
        handler = handlers.get(action)
        if handler is None:
            await query.answer("This button has expired.")
            return
        try:
            note = await handler(query, who, value)
        except Exception as exc:  # the edge: every error becomes a message
            note = render_error(exc)
            if isinstance(query.message, Message):
                await self._reply(query.message, note)
        await query.answer(note[:190] if note else None)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The last resort: log, and tell the user in plain words (never a traceback)."""
        error = context.error
        if isinstance(error, RetryAfter | Forbidden):
            logger.info("Telegram: reply not sent (%s)", error)
            return
        if isinstance(error, TelegramError) and not isinstance(error, BadRequest):
            logger.warning("Telegram: a reply failed (%s: %s)", type(error).__name__, error)
            return  # the network or Telegram itself: telling the user would fail as well
        # render_error logs unexpected errors with their traceback and an incident id
        text = render_error(error or RuntimeError("unknown error"))
        if not isinstance(error, CryptoGuardError):
            logger.error("Telegram: a handler failed; the user was told: %s", text)
        if isinstance(update, Update) and update.effective_message is not None:
            with contextlib.suppress(TelegramError):
                await self._reply(update.effective_message, text)

    # -- flows -------------------------------------------------------------------------------

    async def _start(self, message: Message, who: UserRef, chat: ChatRef) -> None:
        name = escape(who.display_name or "there")
        intro = render("telegram_start", who=name)
        if not chat.private:
            await self._send_html(message.chat_id, f"{intro}\n\n{render('telegram_start_group')}")
            return
        intro = f"{intro}\n\n{render('telegram_start_timezone')}"
        rows = [
            [
                InlineKeyboardButton(zone, callback_data=f"tz:{zone}")
                for zone in TIMEZONES[i : i + 2]
            ]
            for i in range(0, len(TIMEZONES), 2)
        ]
        await self._send_html(message.chat_id, intro, InlineKeyboardMarkup(rows))

    async def _set_timezone(self, query: CallbackQuery, who: UserRef, zone: str) -> str:
        _, changes = await self.app.users.update_settings(who, timezone=zone)
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramError):
                await query.message.edit_reply_markup(None)
            await self._reply(query.message, " ".join(changes))
        return changes[0]

    async def _alerts(self, message: Message, who: UserRef, chat: ChatRef) -> None:
        from tools.alerts.text import render_alert_list

        report = await self.app.alerts.list_report(who)
        text = render_alert_list(report)
        views = report.alerts[:MAX_BUTTONS]
        markup = None
        if views:
            markup = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(f"Delete #{v.id}", callback_data=f"del:{v.id}")]
                    for v in views
                ]
            )
        await self._reply(message, text, markup=markup)

    async def _ask_delete(self, query: CallbackQuery, who: UserRef, value: str) -> str:
        if not isinstance(query.message, Message):
            return "This button has expired."
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(f"Yes, delete #{value}", callback_data=f"delok:{value}"),
                    InlineKeyboardButton("Cancel", callback_data="delno:"),
                ]
            ]
        )
        await self._reply(query.message, f"Delete alert #{value}?", markup=markup)
        return ""

    async def _delete(self, query: CallbackQuery, who: UserRef, value: str) -> str:
        deleted = await self.app.alerts.delete(who, value)
        text = f"Deleted alert #{deleted.id}: {deleted.description}."
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramError):
                await query.message.edit_text(escape(text), parse_mode=ParseMode.HTML)
        return text

    async def _cancel_delete(self, query: CallbackQuery, who: UserRef, value: str) -> str:
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramError):
                await query.message.edit_text("Kept.")
        return "Nothing deleted."

    async def _confirm_import(self, query: CallbackQuery, who: UserRef, token: str) -> str:
        pending = self._imports.get(token)
        if pending is None or pending.expires < time.monotonic() or not _same(pending.user, who):
            return "This import has expired; send the file again."
        del self._imports[token]
        from tools.portfolio.imports import import_trades

        result = await import_trades(self.app.portfolios, who, pending.text, dry_run=False)
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramError):
                await query.message.edit_reply_markup(None)
            await self._reply(query.message, result.message)
        return "Imported." if result.ok else "Not imported."

    async def _cancel_import(self, query: CallbackQuery, who: UserRef, token: str) -> str:
        pending = self._imports.get(token)
        if pending is not None and _same(pending.user, who):
            del self._imports[token]
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramError):
                await query.message.edit_reply_markup(None)
        return "Import cancelled."

    def _expire_imports(self) -> None:
        now = time.monotonic()
        for token in [t for t, p in self._imports.items() if p.expires < now]:
            del self._imports[token]

    async def _subscription(
        self, message: Message, name: str, args: list[str], who: UserRef, chat: ChatRef
    ) -> None:
        if chat.private:
            await self._reply(message, render("telegram_subscribe_private"))
            return
        if len(args) != 1:
            await self._reply(message, f"Usage: /{name} depeg or /{name} digest")
            return
        if not await self._is_admin(message.chat_id, int(who.platform_user_id)):
            await self._reply(message, "Only the group's admins can change its subscriptions.")
            return
        try:
            if name == "subscribe":
                text = await self.subscriptions.subscribe(chat, args[0], who)
            else:
                text = await self.subscriptions.unsubscribe(chat, args[0], who)
        except Exception as exc:  # the edge: every error becomes a message
            text = render_error(exc)
        await self._reply(message, text)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        member = await self.application.bot.get_chat_member(chat_id, user_id)
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)

    # -- helpers -----------------------------------------------------------------------------

    def _parse_command(self, text: str) -> tuple[str | None, list[str], bool]:
        """``/name@bot args``: the name (``None`` if meant for another bot), the arguments,
        and whether the command named this bot explicitly."""
        try:
            parts = shlex.split(text[1:])
        except ValueError:
            parts = text[1:].split()
        if not parts:
            return None, [], False
        head, _, target = parts[0].partition("@")
        if target and self._username and target.lower() != self._username:
            return None, [], False
        return head.lower(), parts[1:], bool(target)

    def _is_my_command(self, word: str, name: str) -> bool:
        """Whether ``word`` is ``/name`` or ``/name@this_bot``."""
        head, _, target = word.lower().partition("@")
        return head == f"/{name}" and (not target or target == self._username)

    def _mention(self) -> re.Pattern[str] | None:
        """``@this_bot`` as a whole word, any case (not ``@this_bot2``)."""
        if not self._username:
            return None
        return re.compile(rf"(?<![\w@])@{re.escape(self._username)}(?!\w)", re.IGNORECASE)

    def _addressed_to_me(self, message: Message) -> bool:
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None:
            if reply.from_user.id == self.application.bot.id:
                return True
        mention = self._mention()
        return mention is not None and mention.search(message.text or "") is not None

    def _strip_mention(self, text: str) -> str:
        mention = self._mention()
        return text if mention is None else mention.sub("", text, count=1).strip()

    @contextlib.asynccontextmanager
    async def _typing(self, chat_id: int, *, repeat: bool) -> AsyncIterator[None]:
        """Show "typing..." in the chat while the block runs.

        On leaving, a chat action already on its way is let finish (never cut off), so
        that it cannot reach Telegram after the reply and show "typing..." under it.
        """
        done = asyncio.Event()
        task = asyncio.create_task(self._keep_typing(chat_id, done, repeat=repeat))
        try:
            yield
        finally:
            done.set()
            await task

    async def _keep_typing(self, chat_id: int, done: asyncio.Event, *, repeat: bool) -> None:
        while not done.is_set():
            try:
                await self.application.bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as exc:
                logger.debug("Telegram: chat action not sent (%s)", exc)
                return
            if not repeat:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), TYPING_EVERY_S)

    async def _reply(
        self,
        message: Message,
        text: str,
        files: list[Attachment] | None = None,
        *,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Send a plain-text answer (formatted as HTML), then its files.

        Text and files go through the notifier (split, paced, plain-text fallback); a
        ``RetryAfter`` on the first part is waited out and the message sent again.
        """
        files = _without_repeated_captions(text, files or [])
        if markup is not None:
            await self._send_html(message.chat_id, to_html(text), markup)
            text = ""
        if not text.strip() and not files:
            return
        outgoing = OutgoingMessage(kind="reply", text=text, attachments=tuple(files))
        for _ in range(SEND_TRIES):
            result = await self.notifier.send(str(message.chat_id), outgoing)
            if result.status is not DeliveryStatus.RETRY_AFTER:
                break
            await asyncio.sleep(min(result.retry_after_s or 1.0, MAX_REPLY_WAIT_S))
        if result.status is not DeliveryStatus.SENT:
            logger.warning(
                "Telegram: reply not delivered (%s: %s)", result.status.value, result.detail
            )

    async def _send_html(
        self, chat_id: int, html: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Send HTML with inline buttons: split at 4096 characters, the buttons under the
        last part, parts ``part_interval_s`` apart."""
        parts = split_html(html, TEXT_LIMIT) or [escape("…")]
        for index, part in enumerate(parts):
            if index:
                await asyncio.sleep(self.part_interval_s)
            last = index == len(parts) - 1
            await self._send_part(chat_id, part, markup if last else None)

    async def _send_part(
        self, chat_id: int, html: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        """One sendMessage: ``RetryAfter`` waited out, plain text if the HTML is refused."""
        plain = False
        for attempt in range(SEND_TRIES):
            try:
                await self.application.bot.send_message(
                    chat_id,
                    to_plain(html) if plain else html,
                    parse_mode=None if plain else ParseMode.HTML,
                    reply_markup=markup,
                )
                return
            except RetryAfter as exc:
                if attempt == SEND_TRIES - 1:
                    raise
                seconds = exc.retry_after
                wait = seconds.total_seconds() if hasattr(seconds, "total_seconds") else seconds
                await asyncio.sleep(min(float(wait), MAX_REPLY_WAIT_S))
            except BadRequest as exc:
                if plain or "parse" not in exc.message.lower():
                    raise
                logger.warning("Telegram: HTML refused (%s); sent as plain text", exc.message)
                plain = True


#: Commands this module answers itself (not through :class:`~bot.commands.Commands`).
OWN = frozenset({"start", "subscribe", "unsubscribe", "import"})


def _same(a: UserRef, b: UserRef) -> bool:
    """The same person (display names change; ids do not)."""
    return (a.platform, a.platform_user_id) == (b.platform, b.platform_user_id)


def _without_repeated_captions(text: str, files: list[Attachment]) -> list[Attachment]:
    """Drop a file's caption when the reply already says it (``/chart`` puts the chart's
    caption in its answer, which becomes the photo's caption): shown once, not twice."""
    return [
        replace(f, caption="") if f.caption.strip() and f.caption.strip() in text else f
        for f in files
    ]


def telegram_help(text: str) -> str:
    """The shared command list, adapted to Telegram: no console-only lines (``/quit``,
    ``/import FILE.csv``), plus what only a chat has (CSV files, groups)."""
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("/quit"):
            continue
        if stripped.startswith("/import "):
            line = line[: len(line) - len(stripped)] + render("telegram_help_import")
        lines.append(line)
    return "\n".join(lines) + "\n\n" + render("telegram_help_groups")
