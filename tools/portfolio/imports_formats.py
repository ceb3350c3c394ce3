"""Reading trade-history CSV files (pure: no I/O, no prices, no database).

Four layouts are recognised by their header row (searched among the first lines, so a
preamble above it is fine):

* ``cryptoguard``: ``date,side,symbol,quantity,price,fee[,id][,currency]``, what
  :meth:`PortfolioService.export_csv` writes. Without a ``currency`` column, prices and
  fees are in the portfolio's currency.
* ``binance``, the Spot "Trade History" export: ``Date(UTC),Pair,Side,Price,Executed,
  Amount,Fee``, where ``Executed``/``Amount``/``Fee`` carry their asset (``0.5BTC``,
  ``24000USDT``, ``0.00081438BNB``).
* ``binance``, the older "Trade History" export: ``Date(UTC),Market,Type,Price,Amount,
  Total,Fee,Fee Coin``, plain numbers (``Amount`` in the coin traded, ``Total`` in the
  quote asset) and the fee's asset in its own column.

  Binance pairs quoted in a US-dollar asset (USDT, BUSD, USDC, FDUSD, TUSD, USD) are
  priced in USD, pairs quoted in EUR in EUR; other quotes (BTC, ETH, BNB) are refused.
  A fee paid in the quote asset (or another dollar stablecoin for a dollar pair) is taken
  as is. A fee paid in the coin traded is valued at the trade's own price and changes
  the coins that moved (a buy receives ``Executed - Fee``, a sell hands over ``Executed +
  Fee``), so cost and holdings match the account. A fee paid in a third asset (BNB)
  is left in that asset (:attr:`ImportRow.fee_asset`): the service converts it with the
  asset's price on the trade's day (:mod:`tools.portfolio.fees`).
* ``coinbase``: the "Transaction history" export (``Timestamp,Transaction Type,Asset,
  Quantity Transacted,Spot Price Currency,Spot Price at Transaction,Subtotal,Total
  (inclusive of fees and/or spread),Fees and/or Spread,Notes``); Buy/Sell and Advanced
  Trade Buy/Sell rows are trades, other types (Send, Receive, Convert, Rewards
  Income...) are skipped with a reason. Prices in USD or EUR are read.

Each data row becomes an :class:`ImportRow` (time in UTC, prices and fees in the row's
``currency``, a stable ``external_id``) or a :class:`RowError` naming its line (1-based,
as an editor shows it). ``external_id`` is the exchange's id when the file has one, else
a hash of the raw row (a repeated identical row gets ``-2``, ``-3``... so it stays
distinct and stable across imports of the same file).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from tools.errors import LimitError, UserInputError
from tools.portfolio.amounts import format_quantity, parse_amount, parse_trade_date

__all__ = [
    "FORMAT_LABELS",
    "MAX_IMPORT_CHARS",
    "MAX_IMPORT_ROWS",
    "ImportPreview",
    "ImportRow",
    "RowError",
    "SkippedRow",
    "parse_trades_csv",
]

#: Largest file accepted (characters).
MAX_IMPORT_CHARS = 5_000_000
#: Most data rows accepted in one file.
MAX_IMPORT_ROWS = 20_000
#: Lines searched for the header row.
HEADER_SCAN_LINES = 30
#: Human names of the formats, for summaries.
FORMAT_LABELS = {
    "cryptoguard": "CryptoGuard export",
    "binance": "Binance export",
    "coinbase": "Coinbase export",
}

#: Quote assets read as US dollars.
USD_LIKE = frozenset({"USD", "USDT", "BUSD", "USDC", "FDUSD", "TUSD"})
#: Currencies import rows can be priced in (those a portfolio can be kept in).
IMPORT_CURRENCIES = ("USD", "EUR")
#: Quote assets recognised when splitting a Binance pair, longest first (FDUSD before USD).
BINANCE_QUOTES = ("FDUSD", "USDT", "BUSD", "USDC", "TUSD", "EUR", "BTC", "ETH", "BNB", "USD")

Side = Literal["buy", "sell"]
_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}$")
_PLAIN_NUMBER = re.compile(r"^(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)$")
_ASSET_AMOUNT = re.compile(
    r"^(?P<num>[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)(?P<asset>[A-Z][A-Z0-9]*)$"
)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One trade read from a file, normalised.

    Attributes:
        line: Line of the file it came from (1-based).
        side: ``"buy"`` or ``"sell"``.
        symbol: Upper-case ticker as written in the file.
        quantity: Coins traded, > 0.
        price: Price per coin in ``currency``, >= 0.
        fee: Fee in ``currency`` (or in ``fee_asset`` units when that is set), >= 0.
        executed_at: When (aware, UTC).
        external_id: Stable id used to skip rows already imported.
        currency: ``"USD"`` or ``"EUR"``; ``None`` means the portfolio's currency (a
            CryptoGuard export without a currency column).
        fee_asset: Set when the fee was paid in another asset (``"BNB"``): ``fee`` is
            then in that asset and must be converted before storing.
        note: Provenance kept with the stored trade (how the fee was valued).
    """

    line: int
    side: Side
    symbol: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    executed_at: datetime
    external_id: str
    currency: str | None = None
    fee_asset: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that cannot be imported; ``line`` 0 means the file as a whole."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row that is not a trade (a transfer, reward...), left out on purpose."""

    line: int
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """What a file contains: trades, rows in error and rows skipped."""

    format: str
    rows: tuple[ImportRow, ...]
    errors: tuple[RowError, ...] = ()
    skipped: tuple[SkippedRow, ...] = ()

    @property
    def label(self) -> str:
        """The format's human name (``Binance export``)."""
        return FORMAT_LABELS.get(self.format, self.format)

    def with_errors(self, errors: Sequence[RowError]) -> ImportPreview:
        """The same preview with more errors (sorted by line)."""
        merged = sorted([*self.errors, *errors], key=lambda e: e.line)
        return replace(self, errors=tuple(merged))

    def summary(self) -> str:
        """One sentence: ``Binance export: 42 trades (BTC 30, ETH 12), 2 rows with errors,
        3 non-trade rows skipped (Send 2, Receive 1).``"""
        counts = Counter(r.symbol for r in self.rows)
        n = len(self.rows)
        text = f"{self.label}: {n} trade{'s' if n != 1 else ''}"
        if counts:
            text += " (" + ", ".join(f"{s} {c}" for s, c in counts.most_common()) + ")"
        if self.errors:
            e = len(self.errors)
            text += f", {e} row{'s' if e != 1 else ''} with errors"
        if self.skipped:
            k = len(self.skipped)
            kinds = Counter(s.kind for s in self.skipped)
            shown = ", ".join(f"{kind} {c}" for kind, c in kinds.most_common())
            text += f", {k} non-trade row{'s' if k != 1 else ''} skipped ({shown})"
        return text + "."


# -- detection ----------------------------------------------------------------------------


def _norm(cell: str) -> str:
    return " ".join(cell.replace("\ufeff", "").strip().lower().split())


@dataclass(frozen=True, slots=True)
class _Format:
    name: str
    #: Canonical column -> accepted header spellings (normalised).
    columns: Mapping[str, tuple[str, ...]]
    optional: Mapping[str, tuple[str, ...]]
    parse: Callable[[Mapping[str, str], datetime], ImportRow | SkippedRow]
    id_column: str | None = None

    def match(self, header: Sequence[str]) -> dict[str, int] | None:
        names = [_norm(c) for c in header]
        found: dict[str, int] = {}
        for key, spellings in [*self.columns.items(), *self.optional.items()]:
            for spelling in spellings:
                if spelling in names:
                    found[key] = names.index(spelling)
                    break
            else:
                if key in self.columns:
                    return None
        return found


# -- row parsers (raise UserInputError for a bad row) -------------------------------------

_GENERIC_SIDES: dict[str, Side] = {"buy": "buy", "sell": "sell", "bought": "buy", "sold": "sell"}


def _side_of(value: str, sides: Mapping[str, Side]) -> Side:
    side = sides.get(_norm(value))
    if side is None:
        raise UserInputError(f'the side "{value[:20]}" is not buy or sell.')
    return side


def _symbol_of(value: str) -> str:
    symbol = value.strip().upper()
    if not _SYMBOL.match(symbol):
        raise UserInputError(f'"{value[:20]}" is not a coin ticker.')
    return symbol


def _unsigned(value: str) -> str:
    """Coinbase writes sells as negative amounts; the side is given by the type."""
    text = value.strip()
    return text[1:] if text.startswith("-") else text


def _row(
    side: Side,
    symbol: str,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    when: datetime,
    currency: str | None,
) -> ImportRow:
    # line and external_id are filled in by the caller
    return ImportRow(0, side, symbol, qty, price, fee, when, "", currency)


def _currency_of(value: str, what: str) -> str:
    """``"usd"``/``"USDT"`` -> ``"USD"``, ``"eur"`` -> ``"EUR"``; others are refused."""
    code = value.strip().upper()
    if code in USD_LIKE:
        return "USD"
    if code in IMPORT_CURRENCIES:
        return code
    raise UserInputError(
        f"the {what} is in {code[:10] or 'no currency'}; only prices in US dollars or "
        "euros can be imported."
    )


def _parse_generic(r: Mapping[str, str], now: datetime) -> ImportRow:
    side = _side_of(r["side"], _GENERIC_SIDES)
    symbol = _symbol_of(r["symbol"])
    qty = parse_amount(r["quantity"], what="quantity")
    price = parse_amount(r["price"], what="price", allow_zero=True)
    fee = parse_amount(r["fee"] or "0", what="fee", allow_zero=True)
    when = parse_trade_date(r["date"] or _missing("date"), now=now)
    currency = _currency_of(r["currency"], "price") if r.get("currency") else None
    return _row(side, symbol, qty, price, fee, when, currency)


def _missing(what: str) -> str:
    raise UserInputError(f"the {what} is missing.")


def split_pair(pair: str) -> tuple[str, str]:
    """``BTCUSDT`` -> ``("BTC", "USDT")`` using the known quote assets (``BTC/USDT`` too)."""
    text = pair.strip().upper().replace("-", "/").replace("_", "/")
    if "/" in text:
        base, _, quote = text.partition("/")
        if _SYMBOL.match(base) and _SYMBOL.match(quote):
            return base, quote
    else:
        for quote in BINANCE_QUOTES:
            base = text[: -len(quote)]
            if text.endswith(quote) and base and _SYMBOL.match(base):
                return base, quote
    raise UserInputError(f'the pair "{pair[:20]}" has no known quote asset.')


def _asset_amount(
    value: str, expected: Sequence[str], what: str, *, implied: str | None = None
) -> tuple[Decimal, str]:
    """``"0.5BTC"`` -> ``(0.5, "BTC")``; expected assets are tried first (``1INCH``).

    A plain number is in ``implied`` when given (the asset is in another column).
    """
    text = value.strip().upper().replace(" ", "")
    if not text:
        raise UserInputError(f"the {what} is missing.")
    if implied is not None and _PLAIN_NUMBER.match(text):
        return parse_amount(text, what=what, allow_zero=True), implied
    for asset in expected:
        number = text[: -len(asset)]
        if text.endswith(asset) and number and (number[0].isdigit() or number[0] == "."):
            return parse_amount(number, what=what, allow_zero=True), asset
    match = _ASSET_AMOUNT.match(text)
    if match is None:
        raise UserInputError(f'the {what} "{value[:30]}" is not an amount with its asset (0.5BTC).')
    return parse_amount(match["num"], what=what, allow_zero=True), match["asset"]


def _binance_pair(pair: str) -> tuple[str, str, str]:
    """The base and quote assets of a pair, and the currency its prices are in."""
    base, quote = split_pair(pair)
    if quote in USD_LIKE:
        return base, quote, "USD"
    if quote == "EUR":
        return base, quote, "EUR"
    raise UserInputError(
        f"{base}/{quote} is quoted in {quote}; only pairs quoted in US dollars (USDT, USDC, "
        "BUSD, FDUSD) or in euros can be imported."
    )


def _binance_row(
    side: Side,
    pair: tuple[str, str, str],
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    fee_asset: str,
    when: datetime,
) -> ImportRow:
    """A Binance trade with its fee in the row's currency, in the coin traded, or left in
    a third asset for the service to convert (see the module docstring)."""
    base, quote, currency = pair
    if qty == 0:
        raise UserInputError("the quantity traded must be above 0.")
    in_quote = fee_asset in (quote, currency) or (currency == "USD" and fee_asset in USD_LIKE)
    if not fee or in_quote:
        return _row(side, base, qty, price, fee, when, currency)
    if fee_asset == base:
        coins = qty - fee if side == "buy" else qty + fee
        if coins <= 0:
            raise UserInputError(
                f"the fee {format_quantity(fee)} {base} is not less than the "
                f"{format_quantity(qty)} {base} bought."
            )
        value = parse_amount(fee * price, what="fee", allow_zero=True)
        note = (
            f"Binance fee {format_quantity(fee)} {base}, valued at the trade price; "
            f"executed {format_quantity(qty)} {base}."
        )
        return ImportRow(0, side, base, coins, price, value, when, "", currency, None, note)
    if not _SYMBOL.match(fee_asset):
        raise UserInputError(f'the fee asset "{fee_asset[:20]}" is not a coin ticker.')
    return ImportRow(0, side, base, qty, price, fee, when, "", currency, fee_asset)


def _parse_binance(r: Mapping[str, str], now: datetime) -> ImportRow:
    pair = _binance_pair(r["pair"])
    base, quote, _ = pair
    side = _side_of(r["side"], _GENERIC_SIDES)
    price = parse_amount(r["price"], what="price", allow_zero=True)
    fee_coin = r.get("fee_coin", "").strip().upper() or None
    # with a Fee Coin column, the amounts may be plain numbers
    qty, asset = _asset_amount(
        r["executed"], (base,), "executed quantity", implied=base if fee_coin else None
    )
    if asset != base:
        raise UserInputError(f"the executed quantity is in {asset}, not {base}.")
    if r.get("amount"):
        _, paid_in = _asset_amount(
            r["amount"], (quote,), "amount", implied=quote if fee_coin else None
        )
        if paid_in != quote:
            raise UserInputError(f"the amount is in {paid_in}, not {quote}.")
    fee, fee_asset = Decimal(0), quote
    if r.get("fee"):
        fee, fee_asset = _asset_amount(r["fee"], (quote, base), "fee", implied=fee_coin)
    when = parse_trade_date(r["date"] or _missing("date"), now=now)
    return _binance_row(side, pair, qty, price, fee, fee_asset, when)


def _parse_binance_classic(r: Mapping[str, str], now: datetime) -> ImportRow:
    """The older export: ``Amount`` in the coin, ``Total`` in the quote, ``Fee Coin``."""
    pair = _binance_pair(r["pair"])
    side = _side_of(r["side"], _GENERIC_SIDES)
    price = parse_amount(r["price"], what="price", allow_zero=True)
    qty = parse_amount(r["quantity"], what="amount", allow_zero=True)
    parse_amount(r["total"] or "0", what="total", allow_zero=True)
    fee = parse_amount(r.get("fee") or "0", what="fee", allow_zero=True)
    fee_asset = r.get("fee_coin", "").strip().upper()
    if fee and not fee_asset:
        raise UserInputError("the fee coin is missing.")
    when = parse_trade_date(r["date"] or _missing("date"), now=now)
    return _binance_row(side, pair, qty, price, fee, fee_asset or pair[1], when)


_COINBASE_TRADES: dict[str, Side] = {
    "buy": "buy",
    "sell": "sell",
    "advanced trade buy": "buy",
    "advanced trade sell": "sell",
}


def _coinbase_time(value: str) -> str:
    text = value.strip()
    if text.upper().endswith(" UTC"):
        text = text[:-4].strip() + "Z"
    return text


def _parse_coinbase(r: Mapping[str, str], now: datetime) -> ImportRow | SkippedRow:
    kind = r["type"].strip()
    side = _COINBASE_TRADES.get(_norm(kind))
    if side is None:
        if not kind:
            raise UserInputError("the transaction type is missing.")
        return SkippedRow(0, kind[:40], f"{kind[:40]} is not a buy or sell")
    symbol = _symbol_of(r["asset"])
    currency = _currency_of(r.get("currency", "") or "USD", "price")
    qty = parse_amount(_unsigned(r["quantity"]), what="quantity")
    price = parse_amount(_unsigned(r["price"]), what="price", allow_zero=True)
    fee = parse_amount(_unsigned(r.get("fee", "")) or "0", what="fee", allow_zero=True)
    when = parse_trade_date(_coinbase_time(r["date"]) or _missing("timestamp"), now=now)
    return _row(side, symbol, qty, price, fee, when, currency)


_FORMATS = (
    _Format(
        "cryptoguard",
        {
            "date": ("date",),
            "side": ("side",),
            "symbol": ("symbol",),
            "quantity": ("quantity",),
            "price": ("price",),
            "fee": ("fee",),
        },
        {"id": ("id",), "currency": ("currency",)},
        _parse_generic,
        id_column="id",
    ),
    _Format(
        "binance",
        {
            "date": ("date(utc)", "date (utc)", "date"),
            "pair": ("pair", "market"),
            "side": ("side", "type"),
            "price": ("price",),
            "executed": ("executed", "filled"),
        },
        {"amount": ("amount", "total"), "fee": ("fee",), "fee_coin": ("fee coin", "fee asset")},
        _parse_binance,
    ),
    _Format(
        "binance",
        {
            "date": ("date(utc)", "date (utc)", "date"),
            "pair": ("market", "pair"),
            "side": ("type", "side"),
            "price": ("price",),
            "quantity": ("amount",),
            "total": ("total",),
        },
        {"fee": ("fee",), "fee_coin": ("fee coin", "fee asset")},
        _parse_binance_classic,
    ),
    _Format(
        "coinbase",
        {
            "date": ("timestamp",),
            "type": ("transaction type",),
            "asset": ("asset",),
            "quantity": ("quantity transacted",),
            "price": ("spot price at transaction", "usd spot price at transaction"),
        },
        {
            "currency": ("spot price currency",),
            "fee": ("fees and/or spread", "usd fees"),
            "id": ("id",),
        },
        _parse_coinbase,
        id_column="id",
    ),
)


def _detect(cells: Sequence[str]) -> tuple[_Format, dict[str, int]] | None:
    for fmt in _FORMATS:
        columns = fmt.match(cells)
        if columns is not None:
            return fmt, columns
    return None


# -- the parser ---------------------------------------------------------------------------


def parse_trades_csv(text: str, *, now: datetime) -> ImportPreview:
    """Read a trade-history CSV file in one of the known formats.

    Args:
        text: The file's content.
        now: The current time (aware), to refuse dates in the future.

    Returns:
        The trades read, the rows in error (with line numbers) and the rows skipped.

    Raises:
        UserInputError: Empty file or no known header row among the first 30 lines.
        LimitError: A file above 5,000,000 characters or 20,000 rows.
    """
    if len(text) > MAX_IMPORT_CHARS:
        raise LimitError("That file is too large to import (5 MB at most); split it by year.")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    found: tuple[_Format, dict[str, int]] | None = None
    try:
        for cells in reader:
            found = _detect(cells)
            if found is not None or reader.line_num >= HEADER_SCAN_LINES:
                break
    except csv.Error as exc:
        raise UserInputError(f"The file is not readable CSV: {exc}.") from None
    if found is None:
        if not text.strip():
            raise UserInputError("The file is empty.")
        raise UserInputError(
            "I do not recognise this file. Import a CryptoGuard export "
            "(date,side,symbol,quantity,price,fee), a Binance trade history or a Coinbase "
            "transaction history, as CSV."
        )
    fmt, columns = found
    width = max(columns.values()) + 1
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    skipped: list[SkippedRow] = []
    seen: Counter[str] = Counter()
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(reader.line_num, f"not readable CSV ({exc})."))
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(rows) + len(errors) + len(skipped) >= MAX_IMPORT_ROWS:
            raise LimitError(f"That file has more than {MAX_IMPORT_ROWS:,} rows; split it by year.")
        if len(cells) < width:
            errors.append(
                RowError(line, f"has {len(cells)} columns, the header has at least {width}.")
            )
            continue
        record = {key: cells[i].strip() for key, i in columns.items()}
        try:
            parsed = fmt.parse(record, now)
        except UserInputError as exc:
            errors.append(RowError(line, _sentence(exc.user_message)))
            continue
        if isinstance(parsed, SkippedRow):
            skipped.append(replace(parsed, line=line))
            continue
        rows.append(replace(parsed, line=line, external_id=_external_id(fmt, record, cells, seen)))
    return ImportPreview(fmt.name, tuple(rows), tuple(errors), tuple(skipped))


def _sentence(message: str) -> str:
    return message[:1].lower() + message[1:] if message[:4] == "The " else message


def _external_id(
    fmt: _Format, record: Mapping[str, str], cells: Sequence[str], seen: Counter[str]
) -> str:
    if fmt.id_column and record.get(fmt.id_column):
        key = f"{fmt.name}:{record[fmt.id_column][:100]}"
    else:
        raw = "\x1f".join(c.strip() for c in cells)
        key = f"{fmt.name}:" + hashlib.sha256(raw.encode()).hexdigest()[:40]
    seen[key] += 1
    return key if seen[key] == 1 else f"{key}-{seen[key]}"
