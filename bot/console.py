"""The console front-end: a local REPL over the same services as Telegram and Discord.

Slash commands give fast, deterministic answers (``/price``, ``/top``, ``/depeg``,
``/help``). Free text is meant for the agent; until the agent lands it says so
plainly instead of inventing an answer. Identity is the local OS user.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import queue
import shlex
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.console_format import render_prices, render_stablecoins, render_top
from bot.errors import render_error
from tools.attachments import Attachment
from tools.identity import ChatRef, UserRef
from tools.notify import (
    ConsoleNotifier,
    DeliveryResult,
    DeliveryStatus,
    Notifier,
    OutgoingMessage,
)

if TYPE_CHECKING:
    from agents.service import AgentReply
    from bot.app import App

logger = logging.getLogger(__name__)

HELP = """\
Commands:
  /price SYMBOL... [in CUR]   prices, e.g. /price btc eth sol   or   /price xrp in eur
  /top [N]                    the N largest coins with the day's gainers and losers (default 10)
  /depeg [SYMBOL...]          stablecoin peg health, e.g. /depeg   or   /depeg usdc dai
  /depeg chart SYMBOL [DAYS]  a stablecoin against its peg bands, saved as PNG
  /chart SYMBOL [DAYS] [INTERVAL]
                              a price chart saved as PNG, e.g. /chart btc 90
  /history SYMBOL [DAYS|DATE] price history summary, e.g. /history eth 90, /history btc 2025-01-01
  /ta SYMBOL [INTERVAL] [INDICATOR...]
                              technical analysis, e.g. /ta btc   or   /ta eth 4h rsi macd
  /formula SYMBOL EXPRESSION  a custom indicator, e.g. /formula eth RSI(7) - RSI(21)
  /formula save NAME EXPR     save it (then: /formula eth NAME); /formula list, /formula delete NAME
  /backtest SYMBOL STRATEGY [PERIOD]
                              backtest vs buy and hold, e.g. /backtest eth rsi 6m
                              (strategies: rsi, macd, sma_crossover, bollinger, dca, hold)
{portfolio}
{alerts}
{digest}
  /reset                      forget this conversation and start a new one
  /help                       this help
  /quit                       leave
Anything else is a question for the assistant, e.g. "how much is ethereum in euros?"."""

AGENT_NOT_WIRED = (
    "The conversational assistant is not running in this session, so free text "
    "cannot be answered. Use a command instead; /help lists them."
)


def local_user() -> UserRef:
    """The console's user: the local OS account."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry / no login name in some containers
        name = "local"
    return UserRef("console", name, display_name=name)


class Console:
    """Parses console input and renders answers.

    Args:
        prices: The market service.
        color: Emit ANSI colours.
    """

    def __init__(self, app: App, *, color: bool = False) -> None:
        self.app = app
        self.prices = app.prices
        self.agent = app.agent
        self.color = color
        self.user = local_user()
        self.chat = ChatRef("console", 0, private=True)
        self._commands: dict[str, Callable[[list[str]], Awaitable[str]]] = {
            "price": self._price,
            "p": self._price,
            "top": self._top,
            "depeg": self._depeg,
            "help": self._help,
            "start": self._help,
            "reset": self._reset,
            "backtest": self._backtest,
            "ta": self._ta,
            "chart": self._chart,
            "history": self._history,
            "formula": self._formula,
        }
        from bot.console_portfolio import PortfolioCommands

        portfolio = PortfolioCommands(app.portfolios, self.user, self._save)
        self._commands.update(portfolio.commands())
        from bot.console_alerts import AlertCommands

        self._commands.update(AlertCommands(app.alerts, self.user).commands())
        from bot.console_digest import DigestCommands

        digest = DigestCommands(app.digests, app.users, self.user, self._save)
        self._commands.update(digest.commands())

    async def handle(self, line: str) -> str:
        """Answer one line of input (never raises)."""
        text = line.strip()
        if not text:
            return ""
        if not text.startswith("/"):
            if self.agent is None:
                return AGENT_NOT_WIRED
            reply = await self.agent.reply(self.user, self.chat, text)
            saved = [await self._save(a) for a in reply.attachments]
            return render_agent_reply(reply, saved)
        try:
            parts = shlex.split(text[1:])
        except ValueError:
            parts = text[1:].split()
        if not parts:
            return "Type /help for the list of commands."
        name, args = parts[0].lower().split("@", 1)[0], parts[1:]
        command = self._commands.get(name)
        if command is None:
            return f"Unknown command /{name[:30]}. Type /help for the list of commands."
        try:
            return await command(args)
        except Exception as exc:  # the edge: every error becomes a message
            return render_error(exc)

    async def _price(self, args: list[str]) -> str:
        symbols, vs = split_currency(args)
        if not symbols:
            return "Usage: /price SYMBOL... [in CUR], e.g. /price btc eth"
        report = await self.prices.get_quotes(symbols, vs)
        return render_prices(report, color=self.color)

    async def _top(self, args: list[str]) -> str:
        limit = 10
        if args:
            if not args[0].isdigit():
                return f'"{args[0][:20]}" is not a number. Usage: /top [N], e.g. /top 20'
            limit = int(args[0])
        report = await self.prices.get_top(limit, "usd")
        return render_top(report, color=self.color)

    async def _depeg(self, args: list[str]) -> str:
        if args and args[0].lower() == "chart":
            if not 2 <= len(args) <= 3 or (len(args) == 3 and not args[2].isdigit()):
                return "Usage: /depeg chart SYMBOL [DAYS], e.g. /depeg chart usdc 30"
            from tools.analysis.peg_chart import peg_chart

            days = int(args[2]) if len(args) == 3 else 30
            chart = await peg_chart(self.prices, args[1], days=days)
            return f"{chart.caption}\nSaved to {await self._save(chart)}"
        report = await self.prices.get_stablecoin_status(args or None)
        return render_stablecoins(report, color=self.color)

    async def _backtest(self, args: list[str]) -> str:
        if len(args) < 2 or len(args) > 3:
            return "Usage: /backtest SYMBOL STRATEGY [PERIOD], e.g. /backtest eth rsi 6m"
        from tools.analysis.text_backtest import backtest_text

        period = args[2] if len(args) == 3 else "1y"
        return backtest_text(await self.app.backtests.run(args[0], args[1], period))

    async def _save(self, attachment: Attachment) -> Path:
        """Write an attachment under the data directory and return its path."""
        folder = self.app.settings.data_dir / "charts"
        path = folder / attachment.filename
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, attachment.data)
        return path

    async def _chart(self, args: list[str]) -> str:
        if not 1 <= len(args) <= 3:
            return "Usage: /chart SYMBOL [DAYS] [INTERVAL], e.g. /chart btc 90"
        if len(args) > 1 and not args[1].isdigit():
            return f'"{args[1][:20]}" is not a number of days. Usage: /chart SYMBOL [DAYS]'
        days = int(args[1]) if len(args) > 1 else 30
        interval = args[2] if len(args) > 2 else "1d"
        attachment = await self.app.charts.price_chart(
            args[0], days, interval, overlays=["bbands", "sma20"], panel="rsi"
        )
        path = await self._save(attachment)
        return f"{attachment.caption}\nSaved to {path}"

    async def _history(self, args: list[str]) -> str:
        from datetime import date

        from tools.analysis.text_history import history_text, point_text

        if not 1 <= len(args) <= 2:
            return "Usage: /history SYMBOL [DAYS | YYYY-MM-DD], e.g. /history eth 90"
        if len(args) == 2 and "-" in args[1]:
            try:
                day = date.fromisoformat(args[1])
            except ValueError:
                return f'"{args[1][:20]}" is not a date; use YYYY-MM-DD, e.g. 2024-01-01.'
            return point_text(await self.app.history.price_on(args[0], day))
        if len(args) == 2 and not args[1].isdigit():
            return f'"{args[1][:20]}" is not a number of days.'
        days = int(args[1]) if len(args) == 2 else 30
        return history_text(await self.app.history.summary(args[0], days))

    async def _ta(self, args: list[str]) -> str:
        if not args:
            return "Usage: /ta SYMBOL [INTERVAL] [INDICATOR...], e.g. /ta btc 4h rsi macd"
        from tools.analysis.text_ta import technical_text

        rest = args[1:]
        interval = "1d"
        if rest and rest[0].lower() in {"1h", "4h", "1d", "1w"}:
            interval, rest = rest[0].lower(), rest[1:]
        report = await self.app.technicals.analyse(args[0], rest or None, interval)
        return technical_text(report)

    async def _formula(self, args: list[str]) -> str:
        from tools.analysis.text_ta import formula_text, saved_formulas_text

        usage = (
            "Usage: /formula SYMBOL EXPRESSION, e.g. /formula eth RSI(7) - RSI(21)\n"
            "       /formula save NAME EXPRESSION | /formula list | /formula delete NAME"
        )
        formulas = self.app.formulas
        action = args[0].lower() if args else ""
        if action == "list":
            return saved_formulas_text(await formulas.list(self.user))
        if action == "save" and len(args) >= 3:
            saved = await formulas.save(self.user, args[1], " ".join(args[2:]))
            return f"Saved {saved.name}: {saved.formula}"
        if action == "delete" and len(args) == 2:
            await formulas.delete(self.user, args[1])
            return f"Deleted {args[1]}."
        if len(args) < 2:
            return usage
        from tools.analysis.formula_chart import formula_chart

        report = await formulas.evaluate(args[0], " ".join(args[1:]), user=self.user)
        chart = await formula_chart(report)
        text = formula_text(report)
        return text if chart is None else f"{text}\nChart saved to {await self._save(chart)}"

    async def _help(self, args: list[str]) -> str:
        from bot.console_alerts import HELP as ALERTS_HELP
        from bot.console_digest import HELP as DIGEST_HELP
        from bot.console_portfolio import HELP as PORTFOLIO_HELP

        return (
            HELP.replace("{portfolio}", PORTFOLIO_HELP)
            .replace("{alerts}", ALERTS_HELP)
            .replace("{digest}", DIGEST_HELP)
        )

    async def _reset(self, args: list[str]) -> str:
        if self.agent is None:
            return "There is no conversation to reset."
        await self.agent.reset(self.user, self.chat)
        return "Conversation cleared. What would you like to know?"

    def notifier(self) -> Notifier:
        """The delivery channel of this terminal: messages for its user are shown here;
        other console users (e.g. ``cryptoguard ask --batch``) are not at this terminal
        and are marked unreachable instead of being shown to the wrong person."""
        return LocalConsoleNotifier(self.user.platform_user_id, self.notify)

    def notify(self, text: str) -> None:
        """Show a pushed message (a fired alert, a digest) as it happens, above the prompt."""
        prompt = "> " if sys.stdin.isatty() else ""
        print(f"\r{text}\n{prompt}", end="", flush=True)

    async def run(self) -> None:
        """Read lines until EOF or /quit, answering each.

        Lines are read by a daemon thread, so a pending ``input()`` never keeps the
        process alive after a SIGTERM.
        """
        reader = LineReader("> " if sys.stdin.isatty() else "")
        print("CryptoGuard console. Type /help for commands, /quit to leave.", flush=True)
        while True:
            line = await reader.readline()
            if line is None or line.strip().lower() in {"/quit", "/exit", "quit", "exit"}:
                return
            answer = await self.handle(line)
            if answer:
                print(answer, flush=True)


class LocalConsoleNotifier:
    """Console delivery for one local user (see :meth:`Console.notifier`)."""

    channel = "console"

    def __init__(self, user_id: str, write: Callable[[str], None]) -> None:
        self.user_id = user_id
        self._inner = ConsoleNotifier(write)

    async def send(self, recipient: str, message: OutgoingMessage) -> DeliveryResult:
        """Show the message if it is for this terminal's user."""
        if recipient != self.user_id:
            return DeliveryResult(DeliveryStatus.UNREACHABLE, "console user not at this terminal")
        return await self._inner.send(recipient, message)


class LineReader:
    """Reads stdin lines on a daemon thread, one line per request.

    Asking for the next line only when the previous answer is printed keeps the prompt
    after the answer; ``None`` marks the end of input.
    """

    def __init__(self, prompt: str) -> None:
        self._prompt = prompt
        self._requests: queue.SimpleQueue[asyncio.Future[str | None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._read, name="console-input", daemon=True)
        self._thread.start()

    async def readline(self) -> str | None:
        """The next line of input, or ``None`` at end of input."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._requests.put(future)
        return await future

    def _read(self) -> None:
        while True:
            future = self._requests.get()
            try:
                line: str | None = input(self._prompt)
            except (EOFError, KeyboardInterrupt, OSError, ValueError):
                line = None
            loop = future.get_loop()
            loop.call_soon_threadsafe(_resolve, future, line)
            if line is None:
                return


def _resolve(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


def render_agent_reply(reply: AgentReply, saved: Sequence[Path] = ()) -> str:
    """The assistant's answer, with attachments listed by name (or saved path)."""
    lines = [reply.text]
    for i, attachment in enumerate(reply.attachments):
        where = str(saved[i]) if i < len(saved) else attachment.filename
        lines.append(f"[attachment saved to {where}]" if saved else f"[attachment: {where}]")
    return "\n".join(lines)


def split_currency(args: list[str]) -> tuple[list[str], str]:
    """Split ``["btc", "eth", "in", "eur"]`` into symbols and a quote currency."""
    symbols = [a.strip(",") for a in args if a.strip(",")]
    vs = "usd"
    if len(symbols) >= 2 and symbols[-2].lower() in {"in", "vs"}:
        vs = symbols[-1]
        symbols = symbols[:-2]
    return symbols, vs


def stdout_is_terminal() -> bool:
    """True when stdout is an interactive terminal (enables colour)."""
    return sys.stdout.isatty()
