"""Console commands for the portfolio: /portfolio /buy /sell /trades /deltrade /risk
/target /rebalance /tax /export. Parsing only; the work is done by PortfolioService."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from tools.attachments import Attachment
from tools.identity import UserRef
from tools.portfolio.service import PortfolioService
from tools.portfolio.tax import form_8949_csv
from tools.portfolio.text import (
    render_rebalance,
    render_risk,
    render_summary,
    render_targets,
    render_tax,
    render_trade,
    render_trades,
)

HELP = """\
  /buy SYMBOL QTY [at PRICE] [on DATE]   record a buy, e.g. /buy btc 0.5 at 48k on 2024-03-01
  /sell SYMBOL QTY [at PRICE] [on DATE]  record a sell (price defaults to the current one)
  /portfolio [chart]          holdings, value, P&L, allocation (chart: donut + value PNGs)
  /trades [PAGE]              your trades, newest first; /deltrade ID removes one
  /risk                       volatility, Sharpe, drawdown, VaR, beta, concentration
  /target BTC 70 ETH 30       set a target mix; /rebalance plans the trades back to it
  /tax [YEAR] [FIFO|LIFO|HIFO]  realised gains, with a Form 8949 CSV saved
  /import FILE.csv [confirm]  import trades (CryptoGuard, Binance or Coinbase CSV; dry run first)
  /export                     all trades as CSV"""

Save = Callable[[Attachment], Awaitable[Path]]


class PortfolioCommands:
    """The portfolio slash commands of the console.

    Args:
        portfolios: The service.
        user: The console user.
        save: Writes an attachment and returns its path.
    """

    def __init__(self, portfolios: PortfolioService, user: UserRef, save: Save) -> None:
        self.portfolios = portfolios
        self.user = user
        self.save = save

    def commands(self) -> dict[str, Callable[[list[str]], Awaitable[str]]]:
        """Command name -> handler."""
        return {
            "buy": lambda args: self.trade("buy", args),
            "sell": lambda args: self.trade("sell", args),
            "portfolio": self.summary,
            "trades": self.trades,
            "deltrade": self.delete,
            "risk": self.risk,
            "target": self.target,
            "rebalance": self.rebalance,
            "tax": self.tax,
            "export": self.export,
            "import": self.import_csv,
        }

    async def trade(self, side: str, args: list[str]) -> str:
        usage = f"Usage: /{side} SYMBOL QUANTITY [at PRICE] [on DATE], e.g. /{side} btc 0.5 at 48k"
        if len(args) < 2:
            return usage
        symbol, quantity, rest = args[0], args[1], [a.lower() for a in args[2:]]
        price = date = None
        while rest:
            if len(rest) >= 2 and rest[0] in {"at", "@"}:
                price, rest = rest[1], rest[2:]
            elif len(rest) >= 2 and rest[0] == "on":
                date, rest = rest[1], rest[2:]
            else:
                return f'Unexpected "{rest[0][:20]}". {usage}'
        result = await self.portfolios.record_trade(self.user, side, symbol, quantity, price, date)
        return render_trade(result)

    async def summary(self, args: list[str]) -> str:
        if args and args[0].lower() == "chart":
            from tools.portfolio.charts import portfolio_charts

            charts = await portfolio_charts(self.portfolios, self.user, None)
            if not charts:
                return "Nothing to chart yet: record a trade first, e.g. /buy btc 0.1"
            lines = [f"{c.caption}\nSaved to {await self.save(c)}" for c in charts]
            return "\n".join(lines)
        return render_summary(await self.portfolios.summary(self.user, args[0] if args else None))

    async def trades(self, args: list[str]) -> str:
        page = int(args[0]) if args and args[0].isdigit() else 1
        return render_trades(await self.portfolios.list_trades(self.user, page=page))

    async def delete(self, args: list[str]) -> str:
        if len(args) != 1:
            return "Usage: /deltrade ID, e.g. /deltrade 12"
        trade = await self.portfolios.delete_trade(self.user, args[0])
        return f"Deleted trade #{trade.id}."

    async def risk(self, args: list[str]) -> str:
        return render_risk(await self.portfolios.risk(self.user))

    async def target(self, args: list[str]) -> str:
        if not args:
            return render_targets(await self.portfolios.get_targets(self.user))
        if len(args) % 2:
            return "Usage: /target SYMBOL WEIGHT [SYMBOL WEIGHT...], e.g. /target btc 70 eth 30"
        targets = {args[i]: args[i + 1] for i in range(0, len(args), 2)}
        return render_targets(await self.portfolios.set_targets(self.user, targets))

    async def rebalance(self, args: list[str]) -> str:
        return render_rebalance(await self.portfolios.rebalance(self.user))

    async def tax(self, args: list[str]) -> str:
        year = next((int(a) for a in args if a.isdigit()), None)
        method = next((a.upper() for a in args if not a.isdigit()), "FIFO")
        report = await self.portfolios.tax(self.user, year, method)
        name = f"form-8949-{year or 'all'}-{method.lower()}.csv"
        path = await self.save(Attachment(name, "text/csv", form_8949_csv(report).encode()))
        return f"{render_tax(report)}\nForm 8949 CSV saved to {path}"

    async def import_csv(self, args: list[str]) -> str:
        if not args or len(args) > 2 or (len(args) == 2 and args[1] != "confirm"):
            return "Usage: /import FILE.csv (a dry run), then /import FILE.csv confirm"
        import asyncio

        from tools.portfolio.imports import import_trades

        try:
            text = await asyncio.to_thread(Path(args[0]).read_text, encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            return f"Cannot read {args[0][:80]}: {getattr(exc, 'strerror', None) or exc}"
        dry_run = len(args) == 1
        result = await import_trades(self.portfolios, self.user, text, dry_run=dry_run)
        if dry_run and result.ok:
            return f"{result.message}\nTo import: /import {args[0]} confirm"
        return result.message

    async def export(self, args: list[str]) -> str:
        csv = await self.portfolios.export_csv(self.user)
        path = await self.save(Attachment("trades.csv", "text/csv", csv.encode()))
        return f"Trades exported to {path}"
