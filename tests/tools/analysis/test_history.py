"""HistoryService: summaries against hand computation, point lookups, range errors, text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.tools.market.fakes import BTC, FakeMarket
from tools.analysis.history import HistoryService, annualised_volatility
from tools.analysis.text_history import history_text, point_text
from tools.clock import FakeClock
from tools.errors import LimitError, MarketDataUnavailableError, UserInputError
from tools.market.offline import OfflineMarket
from tools.market.service import OFFLINE_LABEL, REPLAY_LABEL, PriceService
from tools.market.symbols import SymbolResolver
from tools.market.types import Candle, CoinRef, DataOrigin, PriceHistory

NOW = datetime(2025, 11, 20, 12, 34, 56, tzinfo=UTC)
BITCOIN = CoinRef("bitcoin", "BTC", "Bitcoin")


def offline() -> tuple[HistoryService, OfflineMarket]:
    clock = FakeClock(NOW)
    market = OfflineMarket(seed=7, clock=clock)
    prices = PriceService(market, SymbolResolver(market, clock=clock), clock=clock)
    return HistoryService(prices, clock=clock), market


class CandleMarket(FakeMarket):
    """A FakeMarket whose history is a fixed list of candles; records what was asked."""

    def __init__(
        self,
        candles: Sequence[Candle],
        origin: DataOrigin = DataOrigin.LIVE,
        note: str | None = None,
    ) -> None:
        super().__init__(searchable=[BTC])
        self.candles = list(candles)
        self.origin = origin
        self.note = note
        self.asked: list[tuple[int, str]] = []

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        self._check("get_history")
        self.asked.append((days, interval))
        return PriceHistory(
            coin, vs_currency, interval, self.candles, "fake", self.origin, NOW, self.note
        )


def fake(candles: Sequence[Candle], **kw: object) -> tuple[HistoryService, CandleMarket]:
    clock = FakeClock(NOW)
    market = CandleMarket(candles, **kw)  # type: ignore[arg-type]
    prices = PriceService(market, SymbolResolver(market, clock=clock), clock=clock)
    return HistoryService(prices, clock=clock), market


def daily(closes: Sequence[float], start: date) -> list[Candle]:
    """Daily candles from ``start``: open = previous close, high/low 2 % around."""
    out = []
    previous = closes[0]
    for i, close in enumerate(closes):
        ts = datetime.combine(start + timedelta(days=i), datetime.min.time(), UTC)
        high, low = max(previous, close) * 1.02, min(previous, close) * 0.98
        out.append(Candle(ts, previous, high, low, close, 10.0 + i))
        previous = close
    return out


# -- summary -----------------------------------------------------------------------------------


async def test_summary_of_four_bars_by_hand() -> None:
    candles = daily([100.0, 110.0, 99.0, 120.0], date(2025, 11, 17))
    svc, market = fake(candles)
    report = await svc.summary("btc", days=4)
    assert market.asked == [(4, "1d")]
    assert report.bars == 4
    assert report.first_close == Decimal("100") and report.last_close == Decimal("120")
    assert report.first_time == datetime(2025, 11, 17, tzinfo=UTC)
    assert report.last_time == datetime(2025, 11, 20, tzinfo=UTC)
    assert report.return_pct == Decimal("20.0000")
    # high: bar 4 (open 99, close 120) -> 120 * 1.02; low: bar 3 (110 -> 99) -> 99 * 0.98
    assert report.high == Decimal("122.4") and report.high_time == candles[3].ts
    assert report.low == Decimal("97.02") and report.low_time == candles[2].ts
    # log returns ln(1.1), ln(0.9), ln(120/99): sample std 0.151841, times sqrt(365)
    assert report.volatility_pct is not None
    assert float(report.volatility_pct) == pytest.approx(290.09, abs=0.01)
    assert report.source == "fake" and report.origin is DataOrigin.LIVE
    assert report.notice is None


@pytest.mark.parametrize(("days", "interval"), [(30, "1d"), (7, "4h"), (2, "1h"), (365, "1w")])
async def test_summary_matches_hand_computation_on_offline_data(days: int, interval: str) -> None:
    svc, market = offline()
    report = await svc.summary("BTC", days=days, interval=interval)
    candles = (await market.get_history(BITCOIN, "usd", days, interval)).candles

    closes = [c.close for c in candles]
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    bars_per_year = {"1h": 365 * 24, "4h": 365 * 6, "1d": 365, "1w": 365 / 7}[interval]
    high = max(candles, key=lambda c: c.high)
    low = min(candles, key=lambda c: c.low)

    assert report.bars == len(candles)
    assert float(report.first_close) == pytest.approx(closes[0], rel=1e-9)
    assert float(report.last_close) == pytest.approx(closes[-1], rel=1e-9)
    assert report.first_time == candles[0].ts and report.last_time == candles[-1].ts
    assert float(report.high) == pytest.approx(high.high, rel=1e-9)
    assert report.high_time == high.ts
    assert float(report.low) == pytest.approx(low.low, rel=1e-9)
    assert report.low_time == low.ts
    assert float(report.return_pct) == pytest.approx((closes[-1] / closes[0] - 1) * 100, abs=1e-4)
    assert report.volatility_pct is not None
    expected_vol = math.sqrt(variance * bars_per_year) * 100
    assert float(report.volatility_pct) == pytest.approx(expected_vol, abs=1e-4)
    assert report.origin is DataOrigin.SIMULATED and report.notice == OFFLINE_LABEL
    assert report.source == "offline"
    assert report.notes == []  # "simulated" is the notice, not repeated as a note


async def test_volatility_needs_three_bars() -> None:
    svc, _ = fake(daily([100.0, 105.0], date(2025, 11, 19)))
    report = await svc.summary("btc", days=2)
    assert report.volatility_pct is None
    assert "Volatility n/a" in history_text(report)


def test_annualised_volatility_of_a_constant_series_is_zero() -> None:
    import numpy as np

    assert annualised_volatility(np.full(10, 5.0), 86400) == 0.0


async def test_summary_notes_a_history_shorter_than_asked_and_provider_notes() -> None:
    candles = daily([10.0, 11.0, 12.0], date(2025, 11, 18))
    svc, _ = fake(candles, note="CoinGecko free history covers 365 days (asked 400)")
    report = await svc.summary("btc", days=400)
    assert "CoinGecko free history covers 365 days (asked 400)." in report.notes
    assert "History starts 2025-11-18, later than the 400 days asked for." in report.notes


async def test_replayed_history_carries_the_replay_notice() -> None:
    svc, _ = fake(daily([1.0, 0.97, 0.9], date(2025, 11, 18)), origin=DataOrigin.REPLAYED,
                  note="replayed from usdc.csv (data time 2023-03-11 07:00 UTC)")  # fmt: skip
    report = await svc.summary("btc", days=3)
    assert report.notice == REPLAY_LABEL
    assert report.notes == ["Replayed from usdc.csv (data time 2023-03-11 07:00 UTC)."]


async def test_empty_history_is_unavailable_not_a_crash() -> None:
    svc, _ = fake([])
    with pytest.raises(MarketDataUnavailableError, match="No price history"):
        await svc.summary("btc")


@pytest.mark.parametrize("days", [0, -3, 3651, True, 2.5, "30"])
async def test_days_are_validated_before_fetching(days: object) -> None:
    svc, market = fake(daily([1.0], date(2025, 11, 20)))
    with pytest.raises(UserInputError, match="1 to 3650 days"):
        await svc.summary("btc", days=days)  # type: ignore[arg-type]
    assert market.calls == []


@pytest.mark.parametrize("interval", ["2h", "1m", "", "daily"])
async def test_interval_is_validated(interval: str) -> None:
    svc, market = fake(daily([1.0], date(2025, 11, 20)))
    with pytest.raises(UserInputError, match="1h, 4h, 1d, 1w"):
        await svc.summary("btc", interval=interval)
    assert market.calls == []


async def test_too_many_bars_is_a_limit() -> None:
    svc, _ = fake(daily([1.0], date(2025, 11, 20)))
    with pytest.raises(LimitError, match="at most 10,000"):
        await svc.summary("btc", days=3650, interval="1h")


# -- price_on ----------------------------------------------------------------------------------


async def test_price_on_a_date_is_that_days_close() -> None:
    svc, market = offline()
    day = date(2025, 11, 1)
    point = await svc.price_on("btc", day)
    candles = (await market.get_history(BITCOIN, "usd", 30, "1d")).candles
    bar = next(c for c in candles if c.ts.date() == day)
    assert point.interval == "1d"
    assert point.bar_start == bar.ts and point.bar_end == bar.ts + timedelta(days=1)
    assert float(point.close) == pytest.approx(bar.close, rel=1e-9)
    assert float(point.open) == pytest.approx(bar.open, rel=1e-9)
    assert float(point.high) == pytest.approx(bar.high, rel=1e-9)
    assert float(point.low) == pytest.approx(bar.low, rel=1e-9)
    assert not point.in_progress
    assert point.requested == day
    assert point.notice == OFFLINE_LABEL


async def test_price_on_a_recent_moment_uses_the_hourly_bar() -> None:
    svc, market = offline()
    point = await svc.price_on("btc", datetime(2025, 11, 15, 13, 30))  # naive means UTC
    candles = (await market.get_history(BITCOIN, "usd", 7, "1h")).candles
    bar = next(c for c in candles if c.ts == datetime(2025, 11, 15, 13, tzinfo=UTC))
    assert point.interval == "1h"
    assert point.bar_start == bar.ts
    assert float(point.close) == pytest.approx(bar.close, rel=1e-9)
    assert point.requested == datetime(2025, 11, 15, 13, 30, tzinfo=UTC)
    assert point.notes == []


async def test_price_on_converts_other_time_zones_to_utc() -> None:
    svc, _ = offline()
    tokyo = timezone(timedelta(hours=9))
    point = await svc.price_on("btc", datetime(2025, 11, 15, 22, 30, tzinfo=tokyo))
    assert point.bar_start == datetime(2025, 11, 15, 13, tzinfo=UTC)


async def test_price_on_an_old_moment_falls_back_to_the_daily_bar() -> None:
    svc, market = offline()
    point = await svc.price_on("btc", datetime(2025, 3, 15, 13, 30, tzinfo=UTC))
    candles = (await market.get_history(BITCOIN, "usd", 300, "1d")).candles
    bar = next(c for c in candles if c.ts.date() == date(2025, 3, 15))
    assert point.interval == "1d"
    assert float(point.close) == pytest.approx(bar.close, rel=1e-9)
    assert point.notes == ["Hourly prices cover the last 30 days; this is the daily bar."]


async def test_price_today_is_the_latest_price_of_a_bar_in_progress() -> None:
    svc, market = offline()
    point = await svc.price_on("btc", NOW.date())
    quote = (await market.get_quotes([BITCOIN], "usd"))["bitcoin"]
    assert point.in_progress
    assert float(point.close) == pytest.approx(float(quote.price), rel=1e-7)
    assert "bar in progress" in point_text(point)


async def test_price_on_the_first_available_day_works() -> None:
    svc, _ = offline()
    point = await svc.price_on("btc", date(2024, 11, 20))  # NOW minus 365 days
    assert point.bar_start == datetime(2024, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    "when", [date(2025, 11, 21), datetime(2025, 11, 20, 13, 0, tzinfo=UTC), date(2030, 1, 1)]
)
async def test_future_dates_are_refused_with_the_available_range(when: date) -> None:
    svc, market = offline()
    with pytest.raises(UserInputError, match="is in the future") as info:
        await svc.price_on("btc", when)
    assert "from 2024-11-20 to 2025-11-20 (UTC)" in info.value.user_message


@pytest.mark.parametrize("when", [date(2024, 11, 19), datetime(2020, 5, 1, 12, 0)])
async def test_dates_before_the_available_history_are_refused(when: date) -> None:
    svc, _ = offline()
    with pytest.raises(UserInputError, match="before the available history") as info:
        await svc.price_on("btc", when)
    message = info.value.user_message
    assert "from 2024-11-20 to 2025-11-20" in message
    assert "365 days" in message


async def test_a_longer_lookback_can_be_configured() -> None:
    clock = FakeClock(NOW)
    market = OfflineMarket(seed=7, clock=clock)
    prices = PriceService(market, SymbolResolver(market, clock=clock), clock=clock)
    svc = HistoryService(prices, clock=clock, max_lookback_days=3650)
    point = await svc.price_on("btc", date(2020, 5, 1))
    assert point.bar_start == datetime(2020, 5, 1, tzinfo=UTC)


async def test_a_date_the_source_does_not_cover_names_the_range_it_has() -> None:
    svc, _ = fake(daily([10.0, 11.0, 12.0], date(2025, 11, 18)))
    with pytest.raises(UserInputError) as info:
        await svc.price_on("btc", date(2025, 11, 10))
    assert info.value.user_message == (
        "No BTC price for 2025-11-10: fake has 1d bars from 2025-11-18 to 2025-11-20."
    )


async def test_price_on_rejects_other_types() -> None:
    svc, _ = offline()
    with pytest.raises(UserInputError, match="Give a date"):
        await svc.price_on("btc", "2025-11-01")  # type: ignore[arg-type]


async def test_price_on_asks_for_just_enough_history() -> None:
    svc, market = fake(daily([10.0, 11.0, 12.0], date(2025, 11, 18)))
    await svc.price_on("btc", date(2025, 11, 18))
    hours = [
        Candle(datetime(2025, 11, 19, 6, tzinfo=UTC) + timedelta(hours=i), 1, 1, 1, 1, 0)
        for i in range(31)
    ]
    svc_hourly, market_hourly = fake(hours)
    point = await svc_hourly.price_on("btc", datetime(2025, 11, 19, 6, 0, tzinfo=UTC))
    assert point.bar_start == hours[0].ts
    assert market.asked == [(4, "1d")]
    assert market_hourly.asked == [(3, "1h")]


# -- text --------------------------------------------------------------------------------------


async def test_history_text_is_compact_and_keeps_the_notice_first() -> None:
    svc, _ = fake(daily([100.0, 110.0, 99.0, 120.0], date(2025, 11, 17)),
                  origin=DataOrigin.SIMULATED)  # fmt: skip
    text = history_text(await svc.summary("btc", days=4))
    assert text.splitlines() == [
        OFFLINE_LABEL,
        "BTC (Bitcoin), last 4 days, 4 daily bars, in USD:",
        "$100.00 on 2025-11-17 -> $120.00 on 2025-11-20 (+20.00%)",
        "High $122.40 on 2025-11-20; low $97.0200 on 2025-11-19",
        "Volatility 290.1% a year (daily log returns). Source: fake.",
    ]


async def test_history_text_shows_times_for_intraday_bars() -> None:
    svc, _ = offline()
    text = history_text(await svc.summary("eth", days=2, interval="4h"))
    assert "4-hour bars" in text
    assert " UTC ->" in text


async def test_point_text() -> None:
    svc, _ = fake(daily([10.0, 11.0, 12.0], date(2025, 11, 18)))
    text = point_text(await svc.price_on("btc", date(2025, 11, 19)))
    assert text.splitlines() == [
        "BTC (Bitcoin) on 2025-11-19: $11.0000 (daily close)",
        "Bar 2025-11-19 00:00 to 2025-11-20 00:00 UTC: open $10.0000, high $11.2200, "
        "low $9.8000. Source: fake.",
    ]
