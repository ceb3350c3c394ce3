"""Crafted price series and a market serving them, for the technical and formula tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from tools.analysis.bars import Bars
from tools.clock import FakeClock
from tools.market.offline import OfflineMarket
from tools.market.service import PriceService
from tools.market.symbols import SymbolResolver
from tools.market.types import (
    INTERVALS,
    Candle,
    CoinRef,
    DataOrigin,
    PriceHistory,
    Quote,
    Stablecoin,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def trending(n: int, drift: float, seed: int = 3, noise: float = 0.004) -> np.ndarray:
    """A geometric series moving ``drift`` per bar with small seeded noise."""
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(drift + rng.normal(0.0, noise, n)))


def walk(n: int, seed: int = 11, vol: float = 0.02) -> np.ndarray:
    """A seeded geometric random walk."""
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))


def candles(closes: Sequence[float], interval: str = "1d", end: datetime = NOW) -> list[Candle]:
    """Candles ending with the bar that contains ``end``: open = previous close,
    high/low 1% around the larger/smaller of open and close, volume varies."""
    step = INTERVALS[interval]
    last_open = int(end.timestamp()) // step * step
    out: list[Candle] = []
    previous = float(closes[0]) if len(closes) else 0.0
    for i, close in enumerate(closes):
        ts = last_open - (len(closes) - 1 - i) * step
        c = float(close)
        out.append(
            Candle(
                ts=datetime.fromtimestamp(ts, UTC),
                open=previous,
                high=max(previous, c) * 1.01,
                low=min(previous, c) * 0.99,
                close=c,
                volume=1000.0 + (i % 7) * 100.0,
            )
        )
        previous = c
    return out


class SeriesMarket:
    """A ``MarketData`` whose history is a fixed series, whatever the days asked.

    Records the ``(days, interval)`` of each history request.
    """

    name = "series"

    def __init__(
        self,
        closes: Sequence[float],
        *,
        origin: DataOrigin = DataOrigin.LIVE,
        source: str = "testfeed",
        note: str | None = None,
    ) -> None:
        self.closes = list(closes)
        self.origin = origin
        self.source = source
        self.note = note
        self.requests: list[tuple[int, str]] = []

    def history(self, coin: CoinRef, interval: str) -> PriceHistory:
        return PriceHistory(
            coin, "usd", interval, candles(self.closes, interval), self.source, self.origin, NOW,
            self.note,
        )  # fmt: skip

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        self.requests.append((days, interval))
        return self.history(coin, interval)

    async def get_quotes(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        return {}

    async def get_top(self, limit: int, vs_currency: str) -> list[Quote]:
        return []

    async def get_stablecoins(self) -> list[Stablecoin]:
        return []

    async def get_fx_usd(self) -> dict[str, Decimal]:
        return {"USD": Decimal(1)}

    async def search(self, query: str) -> list[CoinRef]:
        return []


def series_prices(market: SeriesMarket) -> PriceService:
    clock = FakeClock(NOW)
    return PriceService(market, SymbolResolver(market, clock=clock), clock=clock)


def offline_prices() -> PriceService:
    clock = FakeClock(NOW)
    market = OfflineMarket(seed=7, clock=clock)
    return PriceService(market, SymbolResolver(market, clock=clock), clock=clock)


def bars_of(closes: Sequence[float], interval: str = "1d") -> Bars:
    """The bars ``SeriesMarket(closes)`` serves."""
    market = SeriesMarket(closes)
    return Bars.from_history(market.history(CoinRef("bitcoin", "BTC", "Bitcoin"), interval))
