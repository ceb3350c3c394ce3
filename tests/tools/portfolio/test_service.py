"""PortfolioService on both SQL dialects with the offline (simulated) market."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from storage import Database
from tools.clock import FakeClock
from tools.errors import LimitError, NotFoundError, UnknownSymbolError, UserInputError
from tools.identity import UserRef
from tools.market.factory import MarketConfig, open_market
from tools.market.service import OFFLINE_LABEL, PriceService
from tools.market.symbols import SymbolResolver
from tools.portfolio import text
from tools.portfolio.service import EXPORT_COLUMNS, PortfolioService
from tools.portfolio.tax import FORM_8949_COLUMNS

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
ALICE = UserRef("telegram", "1001", "Alice")
BOB = UserRef("discord", "2002", "Bob")


def make(db: Database, *, max_trades: int = 100_000) -> tuple[PortfolioService, PriceService]:
    clock = FakeClock(NOW)
    handle = open_market(MarketConfig(mode="offline"), clock=clock)
    prices = PriceService(handle.market, SymbolResolver(handle.market, clock=clock), clock=clock)
    return PortfolioService(db, prices, clock=clock, max_trades=max_trades), prices


async def count_trades(service: PortfolioService, user: UserRef) -> int:
    return (await service.list_trades(user)).total


async def test_record_list_and_confirmation(db: Database) -> None:
    service, _ = make(db)
    first = await service.record_trade(ALICE, "bought", "bitcoin", "0.5", "60k", "2026-06-01")
    assert first.trade.symbol == "BTC" and first.trade.coin_id == "bitcoin"
    assert first.trade.quantity == Decimal("0.5") and first.trade.price == Decimal(60000)
    assert first.message.startswith(f"Recorded trade #{first.trade.id}: bought 0.5 BTC at $60,000")
    assert not first.used_current_price
    second = await service.record_trade(
        ALICE, "sell", "BTC", "0.1", price="$100,000", date="2026-10-01", fee="5"
    )
    page = await service.list_trades(ALICE)
    assert page.total == 2 and [t.id for t in page.trades] == [second.trade.id, first.trade.id]
    assert page.trades[0].fee == Decimal(5)
    assert "fee $5.00" in second.message
    rendered = text.render_trades(page)
    assert f"#{second.trade.id} 2026-10-01 sell 0.1 BTC" in rendered


async def test_pages(db: Database) -> None:
    service, _ = make(db)
    for day in range(1, 6):
        await service.record_trade(ALICE, "buy", "ETH", day, 2000, f"2026-01-0{day}")
    page = await service.list_trades(ALICE, page=2, per_page=2)
    assert page.total == 5 and page.pages == 3
    assert [t.quantity for t in page.trades] == [Decimal(3), Decimal(2)]
    with pytest.raises(UserInputError):
        await service.list_trades(ALICE, page=0)
    with pytest.raises(UserInputError):
        await service.list_trades(ALICE, per_page=1000)


async def test_default_price_is_current_price(db: Database) -> None:
    service, prices = make(db)
    quote = (await prices.get_quotes(["ETH"])).quotes[0]
    result = await service.record_trade(ALICE, "buy", "eth", 2)
    assert result.used_current_price
    assert result.trade.price == quote.price
    assert result.trade.executed_at == NOW
    assert "at the current price $" in result.message
    assert result.notice == OFFLINE_LABEL
    assert OFFLINE_LABEL in text.render_trade(result)


async def test_old_trade_without_price_is_refused(db: Database) -> None:
    service, _ = make(db)
    with pytest.raises(UserInputError, match="Give the price"):
        await service.record_trade(ALICE, "buy", "BTC", 1, date="2025-01-01")
    assert await count_trades(service, ALICE) == 0


async def test_validation_stores_nothing(db: Database) -> None:
    service, _ = make(db)
    with pytest.raises(UserInputError, match="quantity"):
        await service.record_trade(ALICE, "buy", "BTC", "1,5", 100)
    with pytest.raises(UserInputError, match="not buy or sell"):
        await service.record_trade(ALICE, "hold", "BTC", 1, 100)
    with pytest.raises(UnknownSymbolError):
        await service.record_trade(ALICE, "buy", "NOTACOINXYZ", 1, 100)
    with pytest.raises(UserInputError, match="future"):
        await service.record_trade(ALICE, "buy", "BTC", 1, 100, "2027-01-01")
    with pytest.raises(UserInputError, match="price"):
        await service.record_trade(ALICE, "buy", "BTC", 1, "-5")
    assert await count_trades(service, ALICE) == 0


async def test_oversell_refused_and_nothing_stored(db: Database) -> None:
    service, _ = make(db)
    await service.record_trade(ALICE, "buy", "BTC", 1, 50000, "2026-03-01")
    with pytest.raises(UserInputError) as info:
        await service.record_trade(ALICE, "sell", "BTC", "1.5", 60000, "2026-04-01")
    assert "only 1 BTC were held" in info.value.user_message
    # held 1 BTC only from March: a sell dated before it is refused too
    with pytest.raises(UserInputError, match="only 0 BTC"):
        await service.record_trade(ALICE, "sell", "BTC", "0.5", 60000, "2026-02-01")
    assert await count_trades(service, ALICE) == 1
    ok = await service.record_trade(ALICE, "sell", "BTC", 1, 60000, "2026-04-01")
    assert ok.trade.side == "sell"


async def test_ownership_isolation(db: Database) -> None:
    service, _ = make(db)
    mine = await service.record_trade(ALICE, "buy", "BTC", 1, 50000, "2026-03-01")
    assert (await service.list_trades(BOB)).total == 0
    for attempt in (
        service.delete_trade(BOB, mine.trade.id),
        service.edit_trade(BOB, mine.trade.id, quantity=2),
    ):
        with pytest.raises(NotFoundError) as stolen:
            await attempt
        assert stolen.value.user_message == f"No trade #{mine.trade.id} in your portfolios."
    with pytest.raises(NotFoundError) as missing:
        await service.delete_trade(ALICE, 999_999)
    assert missing.value.user_message == "No trade #999999 in your portfolios."
    assert await count_trades(service, ALICE) == 1
    deleted = await service.delete_trade(ALICE, f"#{mine.trade.id}")
    assert deleted.id == mine.trade.id
    assert await count_trades(service, ALICE) == 0


async def test_delete_buy_needed_by_later_sell_is_refused(db: Database) -> None:
    service, _ = make(db)
    buy = await service.record_trade(ALICE, "buy", "BTC", 1, 50000, "2026-03-01")
    sell = await service.record_trade(ALICE, "sell", "BTC", 1, 60000, "2026-04-01")
    with pytest.raises(UserInputError, match=f"trade #{sell.trade.id}"):
        await service.delete_trade(ALICE, buy.trade.id)
    assert await count_trades(service, ALICE) == 2
    await service.delete_trade(ALICE, sell.trade.id)
    await service.delete_trade(ALICE, buy.trade.id)


async def test_edit_trade(db: Database) -> None:
    service, _ = make(db)
    buy = await service.record_trade(ALICE, "buy", "BTC", 2, 50000, "2026-03-01")
    sell = await service.record_trade(ALICE, "sell", "BTC", "1.5", 60000, "2026-04-01")
    # shrinking the buy below the later sell is refused; nothing changes
    with pytest.raises(UserInputError, match=f"would leave trade #{sell.trade.id}"):
        await service.edit_trade(ALICE, buy.trade.id, quantity=1)
    # moving the buy after the sell is refused too
    with pytest.raises(UserInputError, match="selling more than was held"):
        await service.edit_trade(ALICE, buy.trade.id, date="2026-05-01")
    # growing the sell itself
    with pytest.raises(UserInputError, match=f"Trade #{sell.trade.id} would then sell 3 BTC"):
        await service.edit_trade(ALICE, sell.trade.id, quantity=3)
    with pytest.raises(UserInputError, match="Nothing to change"):
        await service.edit_trade(ALICE, buy.trade.id)
    with pytest.raises(UserInputError, match="fee"):
        await service.edit_trade(ALICE, buy.trade.id, fee="abc")
    edited = await service.edit_trade(ALICE, buy.trade.id, quantity="2.5", price="55k", fee=10)
    assert edited.message.startswith(f"Updated trade #{buy.trade.id}: bought 2.5 BTC at $55,000")
    page = await service.list_trades(ALICE)
    stored = {t.id: t for t in page.trades}[buy.trade.id]
    assert (stored.quantity, stored.price, stored.fee) == (Decimal("2.5"), Decimal(55000), 10)
    assert stored.executed_at == datetime(2026, 3, 1, tzinfo=UTC)
    moved = await service.edit_trade(ALICE, sell.trade.id, symbol="BTC", date="2026-06-01")
    assert moved.trade.executed_at == datetime(2026, 6, 1, tzinfo=UTC)


async def test_trade_limit(db: Database) -> None:
    service, _ = make(db, max_trades=2)
    await service.record_trade(ALICE, "buy", "BTC", 1, 100, "2026-01-01")
    await service.record_trade(ALICE, "buy", "BTC", 1, 100, "2026-01-02")
    with pytest.raises(LimitError):
        await service.record_trade(ALICE, "buy", "BTC", 1, 100, "2026-01-03")


async def test_named_portfolios(db: Database) -> None:
    service, _ = make(db)
    await service.record_trade(ALICE, "buy", "BTC", 1, 100, "2026-01-01", portfolio="long term")
    assert (await service.list_trades(ALICE, "long term")).total == 1
    assert (await service.list_trades(ALICE)).total == 0
    with pytest.raises(NotFoundError, match='No portfolio named "nope"'):
        await service.summary(ALICE, "nope")
    with pytest.raises(UserInputError, match="sell"):
        await service.record_trade(ALICE, "sell", "BTC", 1, 100, "2026-02-01")


async def test_summary_numbers(db: Database) -> None:
    service, prices = make(db)
    await service.record_trade(ALICE, "buy", "BTC", "0.5", 60000, "2026-06-01", fee=10)
    await service.record_trade(ALICE, "sell", "BTC", "0.1", 100000, "2026-10-01", fee=5)
    await service.record_trade(ALICE, "buy", "ETH", 2, 3000, "2026-07-01")
    await service.record_trade(ALICE, "buy", "SOL", 10, 100, "2026-07-01")
    await service.record_trade(ALICE, "sell", "SOL", 10, 150, "2026-08-01")
    report = await service.summary(ALICE)
    quotes = {q.coin.symbol: q for q in (await prices.get_quotes(["BTC", "ETH"])).quotes}
    s = report.summary
    btc = next(p for p in s.positions if p.symbol == "BTC")
    eth = next(p for p in s.positions if p.symbol == "ETH")
    assert btc.quantity == Decimal("0.4") and btc.price == quotes["BTC"].price
    # 0.4 of 0.5 BTC left: 4/5 of (30,000 + 10 fee)
    assert btc.cost_basis == Decimal("24008")
    assert btc.value == Decimal("0.4") * quotes["BTC"].price
    # realised: 0.1 * 100,000 - 5 - 1/5 * 30,010 = 3,993
    assert btc.realised_pnl == Decimal("3993")
    assert eth.value == 2 * quotes["ETH"].price
    assert s.total_value == btc.value + eth.value
    assert s.realised_pnl == Decimal("3993") + Decimal("500")
    assert [c.symbol for c in s.closed] == ["SOL"]
    change = quotes["ETH"].change_24h_pct
    assert change is not None and eth.change_24h_pct is not None
    assert abs(eth.change_24h_pct - change) < Decimal("1e-12")
    assert report.notice == OFFLINE_LABEL and report.sources == ("offline",)
    assert report.trade_count == 5
    rendered = text.render_summary(report)
    assert rendered.splitlines()[1].startswith("0.4 BTC @ $")
    assert "Closed: SOL $500.00" in rendered and "Best " in rendered
    with pytest.raises(UserInputError, match="in USD"):
        await service.summary(ALICE, base="EUR")


async def test_summary_of_nothing(db: Database) -> None:
    service, _ = make(db)
    report = await service.summary(BOB)
    assert report.summary.positions == () and report.trade_count == 0
    assert "empty" in text.render_summary(report)


async def test_risk_with_history(db: Database) -> None:
    service, _ = make(db)
    start = (NOW - timedelta(days=200)).date().isoformat()
    await service.record_trade(ALICE, "buy", "BTC", 1, 50000, start)
    await service.record_trade(ALICE, "buy", "ETH", 10, 2000, start)
    result = await service.risk(ALICE, days=90)
    report = result.report
    assert set(result.symbols) == {"BTC", "ETH"}
    assert report.days >= 80
    assert report.beta_btc is not None
    assert report.volatility.value > 0
    assert result.notice == OFFLINE_LABEL
    rendered = text.render_risk(result)
    assert "Annualised volatility" in rendered and "Beta to BTC" in rendered


async def test_risk_needs_history_and_bounds(db: Database) -> None:
    service, _ = make(db)
    with pytest.raises(UserInputError, match="held nothing"):
        await service.risk(ALICE)
    await service.record_trade(
        ALICE, "buy", "BTC", 1, 50000, (NOW - timedelta(days=5)).date().isoformat()
    )
    with pytest.raises(UserInputError, match="at least 21 days"):
        await service.risk(ALICE, days=90)
    with pytest.raises(UserInputError, match="21 to 365"):
        await service.risk(ALICE, days=5)


async def test_targets_and_rebalance_round_trip(db: Database) -> None:
    service, prices = make(db)
    with pytest.raises(UserInputError, match="Set one first"):
        await service.rebalance(ALICE)
    await service.record_trade(ALICE, "buy", "BTC", 1, 50000, "2026-01-01")
    stored = await service.set_targets(ALICE, {"bitcoin": "50%", "ETH": 40, "cash": 10})
    assert stored.targets == {"BTC": Decimal("0.5"), "ETH": Decimal("0.4"), "CASH": Decimal("0.1")}
    assert stored.message == 'Targets for portfolio "default": BTC 50%, ETH 40%, CASH 10%.'
    assert (await service.get_targets(ALICE)).targets == stored.targets
    result = await service.rebalance(ALICE)
    plan = result.plan
    btc_price = (await prices.get_quotes(["BTC"])).quotes[0].price
    assert plan.total_value == btc_price.quantize(Decimal("0.01"))
    assert plan.needed
    sides = {t.symbol: t.side for t in plan.trades}
    assert sides == {"BTC": "sell", "ETH": "buy"}
    assert result.notice == OFFLINE_LABEL
    rendered = text.render_rebalance(result)
    assert "BTC: 100% vs target 50%" in rendered and "Trades:" in rendered
    with pytest.raises(UserInputError, match="add up to"):
        await service.set_targets(ALICE, {"BTC": 50, "ETH": 20})
    with pytest.raises(UnknownSymbolError):
        await service.set_targets(ALICE, {"NOTACOINXYZ": 50, "BTC": 50})
    assert (await service.get_targets(ALICE)).targets == stored.targets


async def test_tax_report_and_csv(db: Database) -> None:
    service, _ = make(db)
    await service.record_trade(ALICE, "buy", "BTC", 1, 20000, "2024-01-10", fee=20)
    await service.record_trade(ALICE, "buy", "BTC", 1, 40000, "2026-01-10")
    await service.record_trade(ALICE, "sell", "BTC", "1.5", 60000, "2026-03-01", fee=30)
    fifo = await service.tax(ALICE, 2026)
    assert fifo.year == 2026 and fifo.method == "FIFO"
    assert fifo.long_term.count == 1 and fifo.short_term.count == 1
    # proceeds 90,000 - 30 = 89,970; cost 20,020 + 20,000
    assert fifo.total_gain == Decimal("89970") - Decimal("40020")
    hifo = await service.tax(ALICE, 2026, method="hifo")
    assert hifo.method == "HIFO" and hifo.total_gain == Decimal("89970") - Decimal("50010")
    assert (await service.tax(ALICE, 2025)).rows == ()
    with pytest.raises(UserInputError):
        await service.tax(ALICE, 2030)
    with pytest.raises(UserInputError, match="cost-basis method"):
        await service.tax(ALICE, method="AVG")
    rows = list(csv.reader(io.StringIO(await service.tax_csv(ALICE, 2026))))
    assert tuple(rows[0]) == tuple(FORM_8949_COLUMNS) and len(rows) == 3
    assert "Realised gains, 2026 (FIFO)" in text.render_tax(fifo)


async def test_export_csv(db: Database) -> None:
    service, _ = make(db)
    buy = await service.record_trade(ALICE, "buy", "ETH", "1.25", 2000, "2026-02-01T10:00", fee=1)
    rows = list(csv.reader(io.StringIO(await service.export_csv(ALICE))))
    assert (
        tuple(rows[0])
        == EXPORT_COLUMNS
        == ("date", "side", "symbol", "quantity", "price", "fee", "id", "currency")
    )
    assert rows[1] == [
        "2026-02-01T10:00:00Z",
        "buy",
        "ETH",
        "1.25",
        "2000",
        "1",
        str(buy.trade.id),
        "USD",
    ]
    assert len(list(csv.reader(io.StringIO(await service.export_csv(BOB))))) == 1
