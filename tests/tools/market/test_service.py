"""PriceService: validation, provenance notes, stablecoin health."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tools.clock import FakeClock
from tools.errors import LimitError, UnknownSymbolError, UnsupportedCurrencyError, UserInputError
from tools.market.service import OFFLINE_LABEL, PriceService
from tools.market.stablecoins import PegSeverity, PegThresholds, assess
from tools.market.symbols import SymbolResolver
from tools.market.types import DataOrigin

from .fakes import BTC, ETH, NOW, UNI, UNI_CLONE, FakeMarket, quote, stable


def service(market: FakeMarket) -> PriceService:
    clock = FakeClock(NOW)
    return PriceService(market, SymbolResolver(market, clock=clock), clock=clock)


async def test_quotes_in_order_asked() -> None:
    market = FakeMarket([quote(BTC, "95000"), quote(ETH, "3400")])
    report = await service(market).get_quotes(["eth", "btc"])
    assert [q.coin.symbol for q in report.quotes] == ["ETH", "BTC"]
    assert report.notice is None
    assert report.notes == []


async def test_ambiguous_symbol_is_explained() -> None:
    market = FakeMarket([quote(UNI, "8")])
    svc = service(market)
    svc.resolver.add([UNI_CLONE])
    report = await svc.get_quotes(["UNI"])
    assert report.quotes[0].coin == UNI
    assert any("ambiguous" in n for n in report.notes)


async def test_missing_price_is_reported_not_invented() -> None:
    report = await service(FakeMarket([quote(BTC, "95000")])).get_quotes(["btc", "eth"])
    assert [q.coin.symbol for q in report.quotes] == ["BTC"]
    assert report.notes == ["No USD price is available for Ethereum."]


async def test_cached_and_stale_prices_are_labelled_with_age() -> None:
    cached = quote(BTC, "95000", cached_age_seconds=600.0)
    stale = quote(ETH, "3400", last_updated=NOW - timedelta(hours=3))
    report = await service(FakeMarket([cached, stale])).get_quotes(["btc", "eth"])
    assert "BTC: providers unavailable, showing the price from 10 min ago." in report.notes
    assert "ETH: price is stale, last updated 3 h ago." in report.notes


async def test_simulated_prices_carry_a_notice() -> None:
    market = FakeMarket([quote(BTC, "95000", origin=DataOrigin.SIMULATED)])
    report = await service(market).get_quotes(["btc"])
    assert report.notice == OFFLINE_LABEL


@pytest.mark.parametrize("symbols", [[], ["", "  "]])
async def test_no_symbols(symbols: list[str]) -> None:
    with pytest.raises(UserInputError, match="at least one coin"):
        await service(FakeMarket()).get_quotes(symbols)


async def test_too_many_symbols() -> None:
    with pytest.raises(LimitError, match="At most 25"):
        await service(FakeMarket()).get_quotes(["btc"] * 26)


async def test_unknown_currency() -> None:
    with pytest.raises(UnsupportedCurrencyError, match='"doge"'):
        await service(FakeMarket()).get_quotes(["btc"], "doge")


async def test_unknown_symbol_propagates_before_any_price_request() -> None:
    market = FakeMarket([quote(BTC, "95000")])
    with pytest.raises(UnknownSymbolError):
        await service(market).get_quotes(["btc", "nosuchcoin"])
    assert "get_quotes" not in market.calls


async def test_top_with_movers() -> None:
    market = FakeMarket([quote(BTC, "95000", "2"), quote(ETH, "3400", "-4"), quote(UNI, "8", None)])
    report = await service(market).get_top(3)
    assert [q.coin.symbol for q in report.quotes] == ["BTC", "ETH", "UNI"]
    assert [q.coin.symbol for q in report.gainers] == ["BTC"]
    assert [q.coin.symbol for q in report.losers] == ["ETH"]


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_top_limits(limit: int) -> None:
    with pytest.raises(UserInputError, match="1 to 100"):
        await service(FakeMarket()).get_top(limit)


def test_eur_stablecoin_measured_against_eur() -> None:
    fx = {"EUR": Decimal("1.08")}
    health = assess(stable("EURC", "1.0746", "peggedEUR"), fx, PegThresholds())
    assert health.price_in_peg == Decimal("0.995")
    assert health.deviation_pct == Decimal("-0.500")
    assert health.severity is PegSeverity.WARNING


@pytest.mark.parametrize(
    ("price", "severity"),
    [("1.0", "ok"), ("0.996", "ok"), ("0.995", "warning"), ("1.021", "high"), ("0.88", "critical")],
)
def test_severity_tiers(price: str, severity: str) -> None:
    health = assess(stable("USDC", price), {}, PegThresholds())
    assert health.severity.value == severity


def test_variable_peg_and_missing_price_are_unknown() -> None:
    assert (
        assess(stable("XYZ", "1.2", "peggedVAR"), {}, PegThresholds()).severity.value == "unknown"
    )
    assert assess(stable("USDC", None), {}, PegThresholds()).severity.value == "unknown"


def test_supply_changes_and_dispersion() -> None:
    coin = stable(
        "USDC", "0.999", price_sources={"defillama": Decimal("0.99"), "coingecko": Decimal("1.00")}
    )
    health = assess(coin, {}, PegThresholds(), disagreement_pct=Decimal("0.5"))
    assert health.supply_change_1d_pct is not None
    assert round(health.supply_change_1d_pct, 4) == Decimal("1.0101")
    assert round(health.supply_change_7d_pct or 0, 4) == Decimal("-9.0909")
    assert health.disputed
    assert round(health.dispersion_pct or 0, 4) == Decimal("1.0101")


async def test_stablecoin_status_default_view_and_filter() -> None:
    coins = [stable(f"S{i}", "1.0", circulating=Decimal(10**9 - i)) for i in range(12)]
    coins.append(stable("DEPEG", "0.90", circulating=Decimal(20_000_000)))
    coins.append(stable("TINY", "0.50", circulating=Decimal(1000)))
    svc = service(FakeMarket(stablecoins=coins))
    report = await svc.get_stablecoin_status()
    symbols = [r.coin.symbol for r in report.rows]
    assert symbols[:10] == [f"S{i}" for i in range(10)]
    assert "DEPEG" in symbols and "TINY" not in symbols
    assert report.tracked == 14
    picked = await svc.get_stablecoin_status(["depeg", "s3"])
    assert [r.coin.symbol for r in picked.rows] == ["DEPEG", "S3"]


async def test_stablecoin_status_rejects_non_stablecoins() -> None:
    svc = service(FakeMarket(stablecoins=[stable("USDC", "1")]))
    with pytest.raises(UserInputError, match="not a tracked stablecoin"):
        await svc.get_stablecoin_status(["btc"])


async def test_stablecoin_report_scores_depeg_risk_with_recent_samples() -> None:
    market = FakeMarket(stablecoins=[stable("USDC", "0.97"), stable("USDT", "1.0")])
    service = PriceService(market, SymbolResolver(market), clock=FakeClock(NOW))  # type: ignore[arg-type]
    calm = await service.get_stablecoin_status()
    assert set(calm.risk) == {"USDC", "USDT"}
    assert calm.risk["USDC"].score > calm.risk["USDT"].score
    falling = [(NOW - timedelta(minutes=10 * i), Decimal(1) - Decimal(i) / 1000) for i in range(6)]
    service.peg_history = lambda symbol: list(reversed(falling)) if symbol == "USDC" else []
    trending = await service.get_stablecoin_status(["USDC"])
    assert trending.risk["USDC"].score >= calm.risk["USDC"].score
    assert any(f.name == "deviation" and f.points > 0 for f in trending.risk["USDC"].factors)
