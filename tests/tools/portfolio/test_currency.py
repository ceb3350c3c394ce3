"""Portfolios kept in euros: switching, trades at EUR quotes, and every report in EUR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from storage import Database
from tools.clock import FakeClock
from tools.errors import NotFoundError, UserInputError
from tools.identity import UserRef
from tools.market.factory import MarketConfig, open_market
from tools.market.service import PriceService
from tools.market.symbols import SymbolResolver
from tools.portfolio import text
from tools.portfolio.service import PortfolioService

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
ALICE = UserRef("telegram", "1001", "Alice")
BOB = UserRef("discord", "2002", "Bob")


def make(db: Database) -> tuple[PortfolioService, PriceService]:
    clock = FakeClock(NOW)
    handle = open_market(MarketConfig(mode="offline"), clock=clock)
    prices = PriceService(handle.market, SymbolResolver(handle.market, clock=clock), clock=clock)
    return PortfolioService(db, prices, clock=clock), prices


async def quote(prices: PriceService, symbol: str, vs: str) -> Decimal:
    return (await prices.get_quotes([symbol], vs)).quotes[0].price


async def test_switch_an_empty_portfolio(db: Database) -> None:
    service, _ = make(db)
    shown = await service.currency(ALICE)
    assert (shown.currency, shown.changed) == ("USD", False)
    created = await service.set_currency(ALICE, "eur")
    assert (created.currency, created.changed) == ("EUR", True)
    assert created.message == 'Created portfolio "default", kept in EUR.'
    same = await service.set_currency(ALICE, "€")
    assert not same.changed and same.message == 'Portfolio "default" is already kept in EUR.'
    back = await service.set_currency(ALICE, "USD")
    assert back.message == 'Portfolio "default" is now kept in USD (was EUR).'
    assert (await service.currency(ALICE)).currency == "USD"
    with pytest.raises(UserInputError, match='USD or EUR; "GBP"'):
        await service.set_currency(ALICE, "GBP")
    with pytest.raises(NotFoundError):
        await service.currency(ALICE, "nope")
    # other users and other portfolios are untouched
    await service.set_currency(ALICE, "EUR", "euro")
    assert (await service.currency(ALICE)).currency == "USD"
    assert (await service.currency(ALICE, "euro")).currency == "EUR"
    assert (await service.currency(BOB)).currency == "USD"


async def test_switch_with_trades_is_refused(db: Database) -> None:
    service, _ = make(db)
    buy = await service.record_trade(ALICE, "buy", "BTC", 1, 50000, "2026-03-01")
    with pytest.raises(UserInputError) as refused:
        await service.set_currency(ALICE, "EUR")
    assert refused.value.user_message == (
        'Portfolio "default" holds 1 trade priced in USD; switching it to EUR would change '
        "what those amounts mean. Keep EUR trades in a new portfolio, or delete these "
        "trades first."
    )
    assert (await service.currency(ALICE)).currency == "USD"
    await service.delete_trade(ALICE, buy.trade.id)
    assert (await service.set_currency(ALICE, "EUR")).changed


async def test_euro_trades_and_reports(db: Database) -> None:
    service, prices = make(db)
    await service.set_currency(ALICE, "EUR")
    start = (NOW - timedelta(days=200)).date().isoformat()
    await service.record_trade(ALICE, "buy", "BTC", 1, "€40,000", start, fee="10 eur")
    current = await service.record_trade(ALICE, "buy", "ETH", 2)
    eth_eur = await quote(prices, "ETH", "eur")
    assert current.used_current_price and current.trade.price == eth_eur
    assert current.trade.currency == "EUR"
    assert current.trade.price != await quote(prices, "ETH", "usd")
    assert "at the current price €" in current.message
    # an amount in dollars is refused, nothing is stored
    for attempt in (
        service.record_trade(ALICE, "buy", "BTC", 1, "$40k", start),
        service.record_trade(ALICE, "buy", "BTC", 1, 40000, start, fee="$5"),
        service.edit_trade(ALICE, current.trade.id, price="45k usd"),
    ):
        with pytest.raises(UserInputError, match="is in USD, but this portfolio is kept in EUR"):
            await attempt
    assert (await service.list_trades(ALICE)).total == 2

    summary = await service.summary(ALICE)
    assert summary.currency == "EUR"
    btc_eur = await quote(prices, "BTC", "eur")
    btc = next(p for p in summary.summary.positions if p.symbol == "BTC")
    assert btc.price == btc_eur and btc.cost_basis == Decimal(40010)
    rendered = text.render_summary(summary)
    assert "1 BTC @ €" in rendered and "$" not in rendered
    with pytest.raises(UserInputError, match="in EUR"):
        await service.summary(ALICE, base="USD")
    assert (await service.summary(ALICE, base="eur")).currency == "EUR"

    # value history and risk use EUR closes
    times, values, _, _ = await service.value_history(ALICE, days=30)
    _, history = await prices.get_history("BTC", days=30, interval="1d", vs_currency="eur")
    closes = {int(c.ts.timestamp()): c.close for c in history.candles}
    assert values["BTC"][0] == pytest.approx(closes[times[0]])
    risk = await service.risk(ALICE, days=90)
    assert risk.report.currency == "EUR"
    assert "EUR" in text.render_risk(risk)

    # rebalancing at EUR prices
    await service.set_targets(ALICE, {"BTC": 50, "ETH": 50})
    plan = await service.rebalance(ALICE)
    assert plan.currency == "EUR"
    assert plan.plan.total_value == (btc_eur + 2 * eth_eur).quantize(Decimal("0.01"))
    assert "EUR" in plan.plan.explanation

    # tax in EUR
    await service.record_trade(ALICE, "sell", "BTC", "0.5", "€60k", NOW.date().isoformat())
    report = await service.tax(ALICE, NOW.year)
    assert report.currency == "EUR"
    assert report.total_gain == Decimal(30000) - Decimal(20005)
    rendered_tax = text.render_tax(report)
    assert "€9,995.00" in rendered_tax and "Amounts are in EUR" in rendered_tax
