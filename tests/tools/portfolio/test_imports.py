"""Trade-history CSV imports: the parsers (pure) and import_trades on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from storage import Database
from tools.clock import FakeClock
from tools.errors import UserInputError
from tools.identity import UserRef
from tools.market.factory import MarketConfig, open_market
from tools.market.service import PriceService
from tools.market.symbols import SymbolResolver
from tools.portfolio.imports import import_trades, parse_trades_csv
from tools.portfolio.imports_formats import split_pair
from tools.portfolio.service import PortfolioService

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
ALICE = UserRef("telegram", "1001", "Alice")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def make(db: Database) -> PortfolioService:
    clock = FakeClock(NOW)
    handle = open_market(MarketConfig(mode="offline"), clock=clock)
    prices = PriceService(handle.market, SymbolResolver(handle.market, clock=clock), clock=clock)
    return PortfolioService(db, prices, clock=clock)


async def count_trades(service: PortfolioService, portfolio: str | None = None) -> int:
    return (await service.list_trades(ALICE, portfolio)).total


# -- parsers ------------------------------------------------------------------------------


def test_cryptoguard_format() -> None:
    preview = parse_trades_csv(fixture("cryptoguard.csv"), now=NOW)
    assert preview.format == "cryptoguard" and not preview.errors and not preview.skipped
    first = preview.rows[0]
    assert (first.line, first.side, first.symbol) == (2, "buy", "BTC")
    assert (first.quantity, first.price, first.fee) == (Decimal("0.5"), Decimal(40000), 10)
    assert first.executed_at == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert first.external_id.startswith("cryptoguard:")
    assert preview.summary() == "CryptoGuard export: 3 trades (BTC 2, ETH 1)."


def test_binance_format() -> None:
    preview = parse_trades_csv(fixture("binance.csv"), now=NOW)
    assert preview.format == "binance" and not preview.errors
    by_line = {r.line: r for r in preview.rows}
    sell = by_line[3]
    assert (sell.side, sell.symbol, sell.quantity, sell.price, sell.fee) == (
        "sell",
        "BTC",
        Decimal("0.1"),
        Decimal(50000),
        Decimal(5),
    )
    assert sell.executed_at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    fdusd = by_line[5]
    assert (fdusd.symbol, fdusd.quantity, fdusd.fee) == ("BTC", Decimal("0.5"), 0)
    assert preview.summary() == "Binance export: 4 trades (ETH 2, BTC 2)."


def test_binance_bad_rows_are_reported_by_line() -> None:
    preview = parse_trades_csv(fixture("binance_bad.csv"), now=NOW)
    assert [e.line for e in preview.errors] == [3, 4]
    messages = [e.message for e in preview.errors]
    assert "ETH/BTC" in messages[0] and "US dollars" in messages[0]
    assert "0.5BTC" in messages[1] and "executed quantity" in messages[1]
    # line 2's fee is paid in BNB: read, and left in BNB for the service to convert
    assert [r.line for r in preview.rows] == [2, 5]
    bnb = preview.rows[0]
    assert (bnb.fee, bnb.fee_asset, bnb.currency) == (Decimal("0.0005"), "BNB", "USD")
    assert "2 rows with errors" in preview.summary()
    assert str(preview.errors[0]).startswith("line 3: ")


def test_split_pair() -> None:
    assert split_pair("BTCUSDT") == ("BTC", "USDT")
    assert split_pair("BTCFDUSD") == ("BTC", "FDUSD")
    assert split_pair("ETHBTC") == ("ETH", "BTC")
    assert split_pair("eth/eur") == ("ETH", "EUR")
    with pytest.raises(UserInputError):
        split_pair("FOOBAR")


def test_coinbase_format_with_preamble() -> None:
    preview = parse_trades_csv(fixture("coinbase.csv"), now=NOW)
    assert preview.format == "coinbase" and not preview.errors
    assert [(r.line, r.side, r.symbol) for r in preview.rows] == [
        (6, "buy", "BTC"),
        (8, "buy", "ETH"),
        (10, "sell", "BTC"),
    ]
    buy, adv, sell = preview.rows
    assert (buy.price, buy.fee, buy.quantity) == (Decimal(40000), Decimal(100), Decimal("0.5"))
    assert adv.executed_at == datetime(2026, 1, 20, 12, tzinfo=UTC)
    assert (sell.quantity, sell.price, sell.fee) == (Decimal("0.2"), Decimal(50000), 50)
    assert [(s.line, s.kind) for s in preview.skipped] == [
        (7, "Send"),
        (9, "Rewards Income"),
        (11, "Receive"),
    ]
    assert preview.summary() == (
        "Coinbase export: 3 trades (BTC 2, ETH 1), 3 non-trade rows skipped "
        "(Send 1, Rewards Income 1, Receive 1)."
    )


def test_coinbase_price_currencies() -> None:
    text = fixture("coinbase.csv").replace(",Buy,BTC,0.5,USD,", ",Buy,BTC,0.5,GBP,")
    preview = parse_trades_csv(text, now=NOW)
    assert [e.line for e in preview.errors] == [6]
    assert "GBP" in preview.errors[0].message and "euros" in preview.errors[0].message
    euro = fixture("coinbase.csv").replace(",USD,", ",EUR,")
    assert {r.currency for r in parse_trades_csv(euro, now=NOW).rows} == {"EUR"}
    assert {r.currency for r in parse_trades_csv(fixture("coinbase.csv"), now=NOW).rows} == {"USD"}


def test_external_ids_are_stable_and_distinct() -> None:
    text = "date,side,symbol,quantity,price,fee\n" + "2026-01-01,buy,BTC,1,100,0\n" * 2
    first = parse_trades_csv(text, now=NOW)
    again = parse_trades_csv(text, now=NOW)
    ids = [r.external_id for r in first.rows]
    assert len(set(ids)) == 2 and ids == [r.external_id for r in again.rows]
    assert ids[1] == ids[0] + "-2"


def test_generic_bad_rows_and_future_date() -> None:
    text = (
        "date,side,symbol,quantity,price,fee\n"
        "2026-01-01,hold,BTC,1,100,0\n"
        "2026-01-01,buy,BTC,1,5\n"
        "2027-01-01,buy,BTC,1,100,0\n"
        "2026-01-01,buy,BTC,1,5,0\n"
        "2026-01-01,buy,BTC,1,5\n"
    )
    preview = parse_trades_csv(text, now=NOW)
    assert [e.line for e in preview.errors] == [2, 3, 4, 6]
    assert "future" in preview.errors[2].message
    assert len(preview.rows) == 1


def test_unknown_and_empty_files() -> None:
    with pytest.raises(UserInputError, match="recognise"):
        parse_trades_csv("a,b,c\n1,2,3\n", now=NOW)
    with pytest.raises(UserInputError, match="empty"):
        parse_trades_csv("", now=NOW)


# -- import_trades on both dialects -------------------------------------------------------


async def test_dry_run_stores_nothing(db: Database) -> None:
    service = make(db)
    result = await import_trades(service, ALICE, fixture("binance.csv"))
    assert result.ok and result.dry_run and not result.stored
    assert result.new == 4 and result.duplicates == 0
    assert "Preview only" in result.message
    assert await count_trades(service) == 0


async def test_import_and_reimport_dedup(db: Database) -> None:
    service = make(db)
    text = fixture("coinbase.csv")
    result = await import_trades(service, ALICE, text, dry_run=False)
    assert result.ok and result.stored and result.new == 3
    page = await service.list_trades(ALICE)
    assert page.total == 3
    assert {(t.symbol, t.coin_id) for t in page.trades} == {("BTC", "bitcoin"), ("ETH", "ethereum")}
    again = await import_trades(service, ALICE, text, dry_run=False)
    assert again.ok and again.new == 0 and again.duplicates == 3
    assert "3 already imported" in again.message
    assert await count_trades(service) == 3
    preview_again = await import_trades(service, ALICE, text)
    assert preview_again.new == 0 and preview_again.duplicates == 3


async def test_import_each_format_stores_values(db: Database) -> None:
    service = make(db)
    for name, portfolio in (("cryptoguard.csv", "cg"), ("binance.csv", "bn")):
        result = await import_trades(
            service, ALICE, fixture(name), dry_run=False, portfolio=portfolio
        )
        assert result.ok and result.stored, result.message
    exported = await service.export_csv(ALICE, "bn")
    assert "2026-03-01T12:00:00Z,sell,BTC,0.1,50000,5," in exported
    # the CryptoGuard export round-trips into a new portfolio
    back = await import_trades(service, ALICE, exported, dry_run=False, portfolio="copy")
    assert back.ok and back.new == 4
    assert await count_trades(service, "copy") == 4


async def test_bad_rows_store_nothing(db: Database) -> None:
    service = make(db)
    result = await import_trades(service, ALICE, fixture("binance_bad.csv"), dry_run=False)
    assert not result.ok and not result.stored and result.new == 0
    assert [e.line for e in result.errors] == [3, 4]
    assert "Nothing was imported" in result.message and "line 3:" in result.message
    assert await count_trades(service) == 0


async def test_unknown_coin_is_a_row_error(db: Database) -> None:
    service = make(db)
    text = "date,side,symbol,quantity,price,fee\n2026-01-01,buy,BTC,1,100,0\n" + (
        "2026-01-02,buy,NOTACOINXYZ,1,1,0\n"
    )
    result = await import_trades(service, ALICE, text, dry_run=False)
    assert [e.line for e in result.errors] == [3]
    assert await count_trades(service) == 0


async def test_oversell_across_the_file(db: Database) -> None:
    service = make(db)
    for dry_run in (True, False):
        result = await import_trades(service, ALICE, fixture("oversell.csv"), dry_run=dry_run)
        assert not result.ok and not result.stored
        assert [e.line for e in result.errors] == [4]
        assert "0.4 BTC held then" in result.errors[0].message
    assert await count_trades(service) == 0


async def test_oversell_against_existing_history(db: Database) -> None:
    service = make(db)
    await service.record_trade(ALICE, "buy", "BTC", "0.5", 40000, "2026-01-01")
    text = "date,side,symbol,quantity,price,fee\n2026-02-01,sell,BTC,0.6,45000,0\n"
    result = await import_trades(service, ALICE, text, dry_run=False)
    assert [e.line for e in result.errors] == [2]
    assert "0.5 BTC held then" in result.errors[0].message
    ok = "date,side,symbol,quantity,price,fee\n2026-02-01,sell,BTC,0.5,45000,0\n"
    assert (await import_trades(service, ALICE, ok, dry_run=False)).new == 1
    assert await count_trades(service) == 2


async def test_same_instant_buy_before_sell(db: Database) -> None:
    service = make(db)
    # newest first, as Binance writes it: the sell is listed before its buy
    text = (
        "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n"
        "2026-01-15 10:30:00,BTCUSDT,SELL,48100,0.5BTC,24050USDT,0USDT\n"
        "2026-01-15 10:30:00,BTCUSDT,BUY,48000,0.5BTC,24000USDT,0USDT\n"
    )
    result = await import_trades(service, ALICE, text, dry_run=False)
    assert result.ok and result.new == 2, result.message
