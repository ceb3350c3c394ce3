"""The slash commands every front-end offers, bound to one user and chat.

The console, Telegram and Discord all answer ``/price``, ``/alert``, ``/portfolio``...
through :class:`Commands`, which calls the same services as the agent's tools. Replies
are plain text (tables aligned with spaces); each front-end formats them its own way
(ANSI colours, Telegram HTML, Discord embeds). Files a command produces (charts, CSV
reports) go to the front-end's ``attach`` callback, which returns the line to show in
the reply: the console saves the file and says where, a chat front-end sends it along
and returns nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.console_format import render_prices, render_stablecoins, render_top
from bot.errors import render_error
from tools.attachments import Attachment
from tools.identity import ChatRef, UserRef

if TYPE_CHECKING:
    from bot.app import App

logger = logging.getLogger(__name__)

#: Hands a file produced by a command to the front-end; returns the line to show.
Attach = Callable[[Attachment], Awaitable[str]]
Handler = Callable[[list[str]], Awaitable[str]]

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

#: Commands whose answers show the user's private data (never shown in a group chat
#: unless the user asks there explicitly).
PRIVATE_COMMANDS = frozenset(
    {
        "portfolio", "buy", "sell", "trades", "deltrade", "edittrade", "risk", "target",
        "rebalance", "tax", "export", "import", "alerts", "alert", "delalert", "pause",
        "resume", "digest", "settings", "formula",
    }
)  # fmt: skip


class Commands:
    """The commands of one user in one chat.

    Args:
        app: The application services.
        user: Who is asking (from the platform).
        chat: Where they are asking.
        attach: Receives files the commands produce (see the module docstring).
        color: ANSI colours in tables (console only).
    """

    def __init__(
        self, app: App, user: UserRef, chat: ChatRef, attach: Attach, *, color: bool = False
    ) -> None:
        self.app = app
        self.prices = app.prices
        self.agent = app.agent
        self.user = user
        self.chat = chat
        self.attach = attach
        self.color = color
        self._handlers: dict[str, Handler] = {
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
        from bot.console_alerts import AlertCommands
        from bot.console_digest import DigestCommands
        from bot.console_portfolio import PortfolioCommands

        self._handlers.update(PortfolioCommands(app.portfolios, user, attach).commands())
        self._handlers.update(AlertCommands(app.alerts, user).commands())
        self._handlers.update(DigestCommands(app.digests, app.users, user, attach).commands())
        if chat.platform != "console":
            # /import FILE reads a path on this machine: only for its local (console) user.
            # Chat front-ends import an uploaded file instead.
            self._handlers.pop("import", None)

    def names(self) -> list[str]:
        """Every command name, sorted."""
        return sorted(self._handlers)

    def __contains__(self, name: str) -> bool:
        return name in self._handlers

    async def run(self, name: str, args: list[str]) -> str:
        """Answer ``/name args`` (never raises: errors become messages)."""
        handler = self._handlers.get(name)
        if handler is None:
            return f"Unknown command /{name[:30]}. Type /help for the list of commands."
        try:
            return await handler(args)
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
            return _lines(chart.caption, await self.attach(chart))
        report = await self.prices.get_stablecoin_status(args or None)
        return render_stablecoins(report, color=self.color)

    async def _backtest(self, args: list[str]) -> str:
        if len(args) < 2 or len(args) > 3:
            return "Usage: /backtest SYMBOL STRATEGY [PERIOD], e.g. /backtest eth rsi 6m"
        from tools.analysis.text_backtest import backtest_text

        period = args[2] if len(args) == 3 else "1y"
        return backtest_text(await self.app.backtests.run(args[0], args[1], period))

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
        return _lines(attachment.caption, await self.attach(attachment))

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
        return text if chart is None else _lines(text, await self.attach(chart))

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


def _lines(*parts: str) -> str:
    """Join the non-empty parts of a reply with newlines."""
    return "\n".join(p for p in parts if p)


def split_currency(args: list[str]) -> tuple[list[str], str]:
    """Split ``["btc", "eth", "in", "eur"]`` into symbols and a quote currency."""
    symbols = [a.strip(",") for a in args if a.strip(",")]
    vs = "usd"
    if len(symbols) >= 2 and symbols[-2].lower() in {"in", "vs"}:
        vs = symbols[-1]
        symbols = symbols[:-2]
    return symbols, vs
