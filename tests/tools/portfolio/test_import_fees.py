"""Binance fees paid in another asset: reading both Binance layouts, valuing BNB fees at
the day's close (cached per day), and refusing rows whose fee cannot be valued."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from storage import Database
from tools.clock import FakeClock
from tools.errors import MarketDataUnavailableError
from tools.identity import UserRef
from tools.market.factory import MarketConfig, open_market
from tools.market.service import OFFLINE_LABEL, PriceService
from tools.market.symbols import SymbolResolver
from tools.portfolio.amounts import parse_amount
from tools.portfolio.imports import import_trades, parse_trades_csv
from tools.portfolio.service import PortfolioService

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
ALICE = UserRef("telegram", "1001", "Alice")

#: The current Spot "Trade History" export: amounts carry their asset.
PAIR_LAYOUT = (
    "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n"
    "2026-03-02 08:15:00,BTCUSDT,SELL,50000,0.1BTC,5000USDT,0.004BNB\n"
    "2026-02-01 12:00:00,ETHUSDT,BUY,2500,2ETH,5000USDT,0.5USDC\n"
    "2026-01-15 10:30:00,BTCUSDT,BUY,48000,0.5BTC,24000USDT,0.0005BTC\n"
    "2026-01-10 09:00:00,BTCUSDT,BUY,47000,0.2BTC,9400USDT,0.01BNB\n"
)

#: The older "Trade History" export: plain numbers and a Fee Coin column.
CLASSIC_LAYOUT = (
    "Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin\n"
    "2026-04-01 10:00:00,ETHEUR,SELL,3000,1,3000,3,EUR\n"
    "2026-03-01 10:00:00,ETHEUR,BUY,2800,2,5600,0.002,ETH\n"
    "2026-02-01 10:00:00,BTCUSDT,BUY,40000,0.1,4000,0.003,BNB\n"
)


def make(db: Database) -> tuple[PortfolioService, PriceService]:
    clock = FakeClock(NOW)
    handle = open_market(MarketConfig(mode="offline"), clock=clock)
    prices = PriceService(handle.market, SymbolResolver(handle.market, clock=clock), clock=clock)
    return PortfolioService(db, prices, clock=clock), prices


def count_history_calls(prices: PriceService) -> list[tuple[str, str]]:
    """Record every history request made through ``prices`` (symbol, currency)."""
    calls: list[tuple[str, str]] = []
    original = prices.get_history

    async def counting(symbol: str, **kwargs: Any) -> Any:
        calls.append((symbol, kwargs.get("vs_currency", "usd")))
        return await original(symbol, **kwargs)

    prices.get_history = counting  # type: ignore[method-assign]
    return calls


async def close_on(prices: PriceService, symbol: str, day: date, vs: str = "usd") -> Decimal:
    days = (NOW.date() - day).days + 1
    _, history = await prices.get_history(symbol, days=days, interval="1d", vs_currency=vs)
    return next(Decimal(str(c.close)) for c in history.candles if c.ts.date() == day)


# -- parsing --------------------------------------------------------------------------------


def test_pair_layout_fees() -> None:
    preview = parse_trades_csv(PAIR_LAYOUT, now=NOW)
    assert preview.format == "binance" and not preview.errors
    rows = {r.line: r for r in preview.rows}
    # a fee in BNB stays in BNB until the service values it
    assert (rows[2].fee, rows[2].fee_asset, rows[2].currency) == (Decimal("0.004"), "BNB", "USD")
    assert rows[2].quantity == Decimal("0.1")
    # another dollar stablecoin counts as dollars
    assert (rows[3].fee, rows[3].fee_asset) == (Decimal("0.5"), None)
    # a fee taken from the coins bought: fewer coins arrive, the fee is valued at the price
    btc = rows[4]
    assert (btc.quantity, btc.fee, btc.fee_asset) == (Decimal("0.4995"), Decimal(24), None)
    assert btc.quantity * btc.price + btc.fee == Decimal(24000)  # the cost paid
    assert btc.note is not None and "0.0005 BTC" in btc.note


def test_fee_in_the_coin_sold_adds_to_the_coins_sold() -> None:
    text = (
        "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n"
        "2026-01-15 10:30:00,BNBUSDT,SELL,600,2BNB,1200USDT,0.001BNB\n"
        "2026-01-16 10:30:00,BTCUSDT,BUY,48000,0.001BTC,48USDT,0.001BTC\n"
    )
    preview = parse_trades_csv(text, now=NOW)
    sell = preview.rows[0]
    assert (sell.quantity, sell.fee) == (Decimal("2.001"), Decimal("0.6"))
    assert sell.quantity * sell.price - sell.fee == Decimal(1200)  # the proceeds received
    assert [e.line for e in preview.errors] == [3]
    assert "not less than" in preview.errors[0].message


def test_classic_layout_with_fee_coin_column() -> None:
    preview = parse_trades_csv(CLASSIC_LAYOUT, now=NOW)
    assert preview.format == "binance" and not preview.errors, preview.errors
    sell, buy, bnb = preview.rows
    assert (sell.side, sell.symbol, sell.quantity, sell.price, sell.fee, sell.currency) == (
        "sell",
        "ETH",
        Decimal(1),
        Decimal(3000),
        Decimal(3),
        "EUR",
    )
    assert (buy.quantity, buy.fee, buy.currency) == (Decimal("1.998"), Decimal("5.6"), "EUR")
    assert (bnb.symbol, bnb.quantity, bnb.fee, bnb.fee_asset, bnb.currency) == (
        "BTC",
        Decimal("0.1"),
        Decimal("0.003"),
        "BNB",
        "USD",
    )
    assert bnb.executed_at == datetime(2026, 2, 1, 10, tzinfo=UTC)


def test_classic_layout_bad_rows() -> None:
    text = (
        "Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin\n"
        "2026-02-01 10:00:00,BTCUSDT,BUY,40000,0.1,4000,0.003,\n"
        "2026-02-01 10:00:00,ETHBTC,BUY,0.05,1,0.05,0.001,ETH\n"
        "2026-02-01 10:00:00,BTCUSDT,BUY,40000,0,0,0,USDT\n"
    )
    preview = parse_trades_csv(text, now=NOW)
    assert [e.line for e in preview.errors] == [2, 3, 4]
    assert "fee coin is missing" in preview.errors[0].message
    assert "quoted in BTC" in preview.errors[1].message
    assert "above 0" in preview.errors[2].message


def test_pair_layout_with_a_fee_coin_column_reads_plain_numbers() -> None:
    text = (
        "Date(UTC),Pair,Side,Price,Executed,Amount,Fee,Fee Coin\n"
        "2026-01-01 00:00:00,BTCUSDT,BUY,42000,0.1,4200,1,USDT\n"
        "2026-01-02 00:00:00,BTCUSDT,BUY,42000,0.1,4200,0.002,BNB\n"
    )
    preview = parse_trades_csv(text, now=NOW)
    assert not preview.errors
    assert [(r.quantity, r.fee, r.fee_asset) for r in preview.rows] == [
        (Decimal("0.1"), Decimal(1), None),
        (Decimal("0.1"), Decimal("0.002"), "BNB"),
    ]


# -- conversion on both dialects ------------------------------------------------------------


async def test_bnb_fees_are_valued_at_the_days_close(db: Database) -> None:
    service, prices = make(db)
    expected = {
        day: parse_amount(fee * await close_on(prices, "BNB", day), what="fee")
        for day, fee in ((date(2026, 3, 2), Decimal("0.004")), (date(2026, 1, 10), Decimal("0.01")))
    }
    calls = count_history_calls(prices)
    dry = await import_trades(service, ALICE, PAIR_LAYOUT)
    assert dry.ok and dry.new == 4, dry.message
    assert "Fees paid in BNB (2 rows) were valued" in dry.message
    assert dry.notice == OFFLINE_LABEL and OFFLINE_LABEL in dry.message
    done = await import_trades(service, ALICE, PAIR_LAYOUT, dry_run=False)
    assert done.ok and done.stored and done.new == 4, done.message
    # one history request for BNB served both runs: closed days are cached
    assert calls == [("BNB", "usd")]
    trades = {t.executed_at.date(): t for t in (await service.list_trades(ALICE)).trades}
    for day, fee in expected.items():
        assert trades[day].fee == fee
        note = trades[day].note
        assert note is not None and "BNB" in note
    assert trades[date(2026, 1, 15)].quantity == Decimal("0.4995")
    # the converted fee is in the cost basis and comes off the proceeds
    report = await service.tax(ALICE, 2026)
    (row,) = report.rows
    assert row.cost_basis == Decimal("0.1") * (
        Decimal(9400) + expected[date(2026, 1, 10)]
    ) / Decimal("0.2")
    assert row.proceeds == Decimal(5000) - expected[date(2026, 3, 2)]


async def test_fee_without_a_price_is_a_row_error(db: Database) -> None:
    service, _ = make(db)
    text = (
        "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n"
        "2026-01-10 09:00:00,BTCUSDT,BUY,47000,0.2BTC,9400USDT,0.01BNB\n"
        "2015-06-01 09:00:00,BTCUSDT,BUY,230,1BTC,230USDT,0.01BNB\n"
        "2026-01-11 09:00:00,BTCUSDT,BUY,47000,0.2BTC,9400USDT,3NOTACOINXYZ\n"
    )
    for dry_run in (True, False):
        result = await import_trades(service, ALICE, text, dry_run=dry_run)
        assert not result.ok and not result.stored and result.new == 0
        assert [e.line for e in result.errors] == [3, 4]
        assert "no BNB price for 2015-06-01" in result.errors[0].message
        assert "NOTACOINXYZ" in result.errors[1].message
        assert "Nothing was imported" in result.message
    assert (await service.list_trades(ALICE)).total == 0


async def test_market_down_is_a_row_error(db: Database) -> None:
    service, prices = make(db)

    async def down(symbol: str, **kwargs: Any) -> Any:
        raise MarketDataUnavailableError(detail="test: no source answers")

    prices.get_history = down  # type: ignore[method-assign]
    result = await import_trades(service, ALICE, PAIR_LAYOUT, dry_run=False)
    assert [e.line for e in result.errors] == [2, 5]
    assert all("cannot be converted to USD" in e.message for e in result.errors)
    assert (await service.list_trades(ALICE)).total == 0


async def test_euro_rows_need_a_euro_portfolio(db: Database) -> None:
    service, _ = make(db)
    euro = "\n".join(CLASSIC_LAYOUT.splitlines()[:3]) + "\n"  # the two ETHEUR rows
    refused = await import_trades(service, ALICE, euro, dry_run=False)
    assert not refused.ok and [e.line for e in refused.errors] == [0]
    assert 'priced in EUR, but portfolio "default" is kept in USD' in refused.message
    await service.set_currency(ALICE, "EUR")
    done = await import_trades(service, ALICE, euro, dry_run=False)
    assert done.ok and done.new == 2, done.message
    page = await service.list_trades(ALICE)
    assert {t.currency for t in page.trades} == {"EUR"}
    # a file in dollars is refused by the euro portfolio in turn
    dollars = await import_trades(service, ALICE, PAIR_LAYOUT)
    assert not dollars.ok and "priced in USD" in dollars.message


async def test_export_carries_the_currency(db: Database) -> None:
    service, _ = make(db)
    await service.set_currency(ALICE, "EUR", "euro")
    await service.record_trade(ALICE, "buy", "BTC", 1, "€40k", "2026-01-01", portfolio="euro")
    exported = await service.export_csv(ALICE, "euro")
    assert exported.splitlines()[1].endswith(",EUR")
    # importing it into a dollar portfolio would change what the prices mean
    result = await import_trades(service, ALICE, exported, dry_run=False, portfolio="dollars")
    assert not result.ok and "priced in EUR" in result.message
    back = await import_trades(service, ALICE, exported, dry_run=False, portfolio="euro")
    assert back.ok and back.new == 0 and back.duplicates == 1


@pytest.mark.parametrize("vs", ["usd", "eur"])
async def test_conversion_uses_the_rows_currency(db: Database, vs: str) -> None:
    service, prices = make(db)
    if vs == "eur":
        await service.set_currency(ALICE, "EUR")
    text = (
        "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n"
        f"2026-01-10 09:00:00,BTC{vs.upper()},BUY,47000,0.2BTC,9400{vs.upper()},0.01BNB\n"
    )
    result = await import_trades(service, ALICE, text, dry_run=False)
    assert result.ok, result.message
    (trade,) = (await service.list_trades(ALICE)).trades
    close = await close_on(prices, "BNB", date(2026, 1, 10), vs)
    assert trade.fee == parse_amount(Decimal("0.01") * close, what="fee")
