"""OHLCV bars as numpy arrays: the input of every analysis.

``Bars.from_history`` converts the market layer's candles once; indicators, formulas,
backtests and charts then work on contiguous ``float64`` arrays. Times are UTC epoch
seconds (``int64``), which keeps the hot paths free of timezone-aware pandas indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from tools.market.types import DataOrigin, PriceHistory

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Bars:
    """OHLCV bars, oldest first.

    Attributes:
        symbol: Upper-case ticker.
        interval: Bar length (``1h``, ``4h``, ``1d``...).
        ts: Bar open times, UTC epoch seconds.
        open, high, low, close, volume: Prices and volume per bar.
        source: Where the data came from.
        origin: Live, simulated or replayed.
        vs_currency: Quote currency.
    """

    symbol: str
    interval: str
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    source: str = "unknown"
    origin: DataOrigin = DataOrigin.LIVE
    vs_currency: str = "usd"

    def __len__(self) -> int:
        return int(self.close.shape[0])

    @classmethod
    def from_history(cls, history: PriceHistory) -> Bars:
        """Convert a market-layer history."""
        candles = history.candles
        return cls(
            symbol=history.coin.symbol,
            interval=history.interval,
            ts=np.fromiter((int(c.ts.timestamp()) for c in candles), np.int64, len(candles)),
            open=np.fromiter((c.open for c in candles), np.float64, len(candles)),
            high=np.fromiter((c.high for c in candles), np.float64, len(candles)),
            low=np.fromiter((c.low for c in candles), np.float64, len(candles)),
            close=np.fromiter((c.close for c in candles), np.float64, len(candles)),
            volume=np.fromiter((c.volume for c in candles), np.float64, len(candles)),
            source=history.source,
            origin=history.origin,
            vs_currency=history.vs_currency,
        )

    def time(self, index: int) -> datetime:
        """The open time of bar ``index`` as an aware UTC datetime."""
        return datetime.fromtimestamp(int(self.ts[index]), UTC)

    def tail(self, n: int) -> Bars:
        """The last ``n`` bars."""
        return Bars(
            self.symbol, self.interval, self.ts[-n:], self.open[-n:], self.high[-n:],
            self.low[-n:], self.close[-n:], self.volume[-n:], self.source, self.origin,
            self.vs_currency,
        )  # fmt: skip
