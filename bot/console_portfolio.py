"""Portfolio slash commands: /portfolio /buy /sell /trades /edittrade /deltrade /risk
/target /rebalance /tax /import /export. Parsing only; the work is done by
PortfolioService. Files (charts, CSV) go to the front-end's ``attach`` callback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from tools.attachments import Attachment
from tools.identity import UserRef
from tools.portfolio.service import EXPORT_COLUMNS, PortfolioService
from tools.portfolio.tax import form_8949_csv
from tools.portfolio.text import (
    render_currency,
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
  /portfolio currency [USD|EUR]
                              the portfolio's currency (it can switch while it is empty)
  /trades [PAGE]              your trades, newest first; /deltrade ID removes one
  /edittrade ID FIELD=VALUE...
                              change a trade, e.g. /edittrade 12 price=48k date=2024-03-01
                              (fields: side, symbol, qty, price, date, fee, note="text")
  /risk                       volatility, Sharpe, drawdown, VaR, beta, concentration
  /target BTC 70 ETH 30       set a target mix; /rebalance plans the trades back to it
  /tax [YEAR] [FIFO|LIFO|HIFO]  realised gains, with a Form 8949 CSV saved
  /import FILE.csv [confirm]  import trades (CryptoGuard, Binance or Coinbase CSV; dry run first)
  /export                     all trades as CSV"""

#: Hands a file to the front-end; returns the line to show (the console: where it was saved).
Attach = Callable[[Attachment], Awaitable[str]]

EDIT_USAGE = (
    "Usage: /edittrade ID FIELD=VALUE..., e.g. /edittrade 12 price=48k qty=0.5\n"
    'Fields: side, symbol, qty, price, date, fee, note (quote text with spaces: note="dca buy").'
)
#: ``/edittrade`` field names (and aliases) -> ``PortfolioService.edit_trade`` arguments.
EDIT_FIELDS = {
    "side": "side",
    "symbol": "symbol",
    "coin": "symbol",
    "qty": "quantity",
    "quantity": "quantity",
    "amount": "quantity",
    "price": "price",
    "date": "date",
    "fee": "fee",
    "note": "note",
}


class EditArgsError(ValueError):
    """``/edittrade`` was typed wrongly; the message says how (plain text)."""


def parse_edit_args(args: list[str]) -> tuple[str, dict[str, str]]:
    """``["12", "price=48k", "note=dca buy"]`` -> ``("12", {"price": "48k", "note": ...})``.

    Raises:
        EditArgsError: No id, no change, a token without ``=``, an unknown or repeated
            field, or an empty value (only ``note=`` may be empty: it clears the note).
    """
    if len(args) < 2:
        raise EditArgsError(EDIT_USAGE)
    trade_id, changes = args[0], {}
    for token in args[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            raise EditArgsError(
                f'"{token[:30]}" is not FIELD=VALUE (quote a note with spaces: '
                f'note="dca buy").\n{EDIT_USAGE}'
            )
        field = EDIT_FIELDS.get(key.strip().lower())
        if field is None:
            raise EditArgsError(
                f'Unknown field "{key[:20]}"; use side, symbol, qty, price, date, fee or note.'
            )
        if field in changes:
            raise EditArgsError(f"{key.strip().lower()} is given twice; give each field once.")
        if not value.strip() and field != "note":
            raise EditArgsError(f'Give a value after "{key.strip().lower()}=".')
        changes[field] = value.strip()
    return trade_id, changes


class PortfolioCommands:
    """The portfolio slash commands, bound to one user.

    Args:
        portfolios: The service.
        user: Who types the commands (from the platform).
        attach: Hands a file a command produced to the front-end.
    """

    def __init__(self, portfolios: PortfolioService, user: UserRef, attach: Attach) -> None:
        self.portfolios = portfolios
        self.user = user
        self.attach = attach

    def commands(self) -> dict[str, Callable[[list[str]], Awaitable[str]]]:
        """Command name -> handler."""
        return {
            "buy": lambda args: self.trade("buy", args),
            "sell": lambda args: self.trade("sell", args),
            "portfolio": self.summary,
            "trades": self.trades,
            "edittrade": self.edit,
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
        if args and args[0].lower() == "currency":
            if len(args) > 2:
                return "Usage: /portfolio currency [USD|EUR], e.g. /portfolio currency EUR"
            if len(args) == 1:
                shown = await self.portfolios.currency(self.user)
                other = "EUR" if shown.currency == "USD" else "USD"
                hint = f"While it holds no trades it can switch: /portfolio currency {other}"
                return f"{render_currency(shown)} {hint}"
            return render_currency(await self.portfolios.set_currency(self.user, args[1]))
        if args and args[0].lower() == "chart":
            from tools.portfolio.charts import portfolio_charts

            charts = await portfolio_charts(self.portfolios, self.user, None)
            if not charts:
                return "Nothing to chart yet: record a trade first, e.g. /buy btc 0.1"
            return _lines(*[_lines(c.caption, await self.attach(c)) for c in charts])
        return render_summary(await self.portfolios.summary(self.user, args[0] if args else None))

    async def trades(self, args: list[str]) -> str:
        page = int(args[0]) if args and args[0].isdigit() else 1
        return render_trades(await self.portfolios.list_trades(self.user, page=page))

    async def edit(self, args: list[str]) -> str:
        try:
            trade_id, changes = parse_edit_args(args)
        except EditArgsError as exc:
            return str(exc)
        result = await self.portfolios.edit_trade(self.user, trade_id, **changes)
        return render_trade(result)

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
        data = form_8949_csv(report).encode()
        shown = await self.attach(Attachment(name, "text/csv", data, "Form 8949 rows (CSV)"))
        return _lines(render_tax(report), shown)

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
        caption = "Your trades as CSV"
        shown = await self.attach(Attachment("trades.csv", "text/csv", csv.encode(), caption))
        return _lines(f"{caption} ({','.join(EXPORT_COLUMNS)}).", shown)


def _lines(*parts: str) -> str:
    """Join the non-empty parts of a reply with newlines."""
    return "\n".join(p for p in parts if p)
