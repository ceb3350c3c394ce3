"""Deterministic bars for the backtest tests: hand-made, a seeded random walk, offline history."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from tools.analysis.bars import Bars
from tools.clock import FakeClock
from tools.market.offline import OfflineMarket
from tools.market.service import PriceService
from tools.market.symbols import SymbolResolver
from tools.market.types import CoinRef

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MONDAY = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())  # 2024-01-01 was a Monday
BTC = CoinRef("bitcoin", "BTC", "Bitcoin")


def hand_bars(opens: list[float], closes: list[float] | None = None, step: int = 86400) -> Bars:
    """Bars from explicit opens (and closes, default: the next open; the last one repeats)."""
    o = np.asarray(opens, dtype=np.float64)
    c = np.asarray(closes if closes is not None else opens[1:] + opens[-1:], dtype=np.float64)
    ts = MONDAY + step * np.arange(o.shape[0], dtype=np.int64)
    label = {86400: "1d", 3600: "1h", 60: "1m"}.get(step, f"{step}s")
    return Bars("TEST", label, ts, o, np.maximum(o, c), np.minimum(o, c), c, np.zeros(o.shape[0]))


def random_walk(n: int, seed: int = 1, step: int = 86400, vol: float = 0.02) -> Bars:
    """A seeded geometric random walk with gaps between close and next open."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, vol / 10, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, vol / 2, n)))
    ts = MONDAY + step * np.arange(n, dtype=np.int64)
    label = {86400: "1d", 14400: "4h", 3600: "1h", 60: "1m"}[step]
    return Bars("WALK", label, ts, open_, high, low, close, rng.uniform(1, 10, n))


def offline_market() -> tuple[OfflineMarket, FakeClock]:
    clock = FakeClock(NOW)
    return OfflineMarket(seed=7, clock=clock), clock


def offline_prices() -> PriceService:
    market, clock = offline_market()
    return PriceService(market, SymbolResolver(market, clock=clock), clock=clock)


async def offline_bars(days: int, interval: str, coin: CoinRef = BTC) -> Bars:
    market, _ = offline_market()
    return Bars.from_history(await market.get_history(coin, "usd", days, interval))
