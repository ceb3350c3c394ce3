"""CSV scenario replays for the offline market: a recorded price series on wall-clock time.

A :class:`Replay` maps the file's time axis onto wall-clock time: the first data
point is shown when the market is created (``started``), and data time advances
``speed`` times faster than real time (``speed=3600`` plays one hour of data per
second). At the end of the file the replay starts again from the first point when
``loop`` is set (the last point is held for one typical step first), else it keeps
showing the last value. Before ``started`` the first value is shown. Prices are a
step function: the last data point at or before the mapped data time, which is how
oracle feeds such as Chainlink behave.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tools.market.offline_sim import HOUR_S, FloatArray, HourBars, hour_position, hour_start
from tools.market.series import PriceSeries

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """A CSV file to replay as a coin's price.

    Attributes:
        path: The CSV file (see :func:`tools.market.series.load_price_series`).
        symbol: Ticker the replay drives (``"USDC"``); an unknown ticker becomes a new coin
            with id ``replay-<symbol>``.
        speed: Data seconds played per wall-clock second.
        loop: Start again at the end of the file (else hold the last value).
        time_column: Header of the time column, when it cannot be found by name.
        price_column: Header of the price column, when it cannot be found by name.
        scale: Factor applied to the file's prices (e.g. ``Decimal("1e-8")``).
    """

    path: Path | str
    symbol: str
    speed: float = 1.0
    loop: bool = True
    time_column: str | None = None
    price_column: str | None = None
    scale: Decimal | None = None


class Replay:
    """A loaded series mapped onto wall-clock time.

    Args:
        spec: What to replay and how fast.
        series: The loaded series.
        started: Wall-clock time at which the first data point is shown.
    """

    def __init__(self, spec: ReplaySpec, series: PriceSeries, started: datetime) -> None:
        self.spec = spec
        self.series = series
        self.started = started
        self.speed = float(spec.speed)
        first = series.start
        self._offsets = np.array(
            [(t - first).total_seconds() for t, _ in series.points], dtype=np.float64
        )
        self._decimals = [p for _, p in series.points]
        self._prices = np.array([float(p) for p in self._decimals], dtype=np.float64)
        last = float(self._offsets[-1])
        gaps = np.diff(self._offsets).tolist()
        step = float(statistics.median(gaps)) if gaps else float(HOUR_S)
        #: Length of one loop in data seconds (the last point is held for one typical step).
        self.period = last + max(step, 1.0)
        self._last = last
        self._max_table = _sparse_table(self._prices, np.maximum)
        self._min_table = _sparse_table(self._prices, np.minimum)

    @property
    def file_name(self) -> str:
        """The replayed file's name."""
        return Path(self.spec.path).name

    # -- mapping ---------------------------------------------------------------------------

    def _data_offset(self, when: datetime) -> float:
        """Unwrapped data seconds since the first point shown at ``when`` (>= 0)."""
        return max(0.0, (when - self.started).total_seconds() * self.speed)

    def _index(self, offsets: FloatArray) -> IntArray:
        """Index of the point shown at each unwrapped data offset."""
        if self.spec.loop:
            wrapped = np.mod(offsets, self.period)
        else:
            wrapped = np.minimum(offsets, self._last)
        return np.searchsorted(self._offsets, wrapped, side="right").astype(np.int64) - 1

    def index_at(self, when: datetime) -> int:
        """Index of the data point shown at ``when``."""
        return int(self._index(np.array([self._data_offset(when)]))[0])

    def ended(self, when: datetime) -> bool:
        """True once a non-looping replay has reached its last point."""
        return not self.spec.loop and self._data_offset(when) >= self._last

    def price_at(self, when: datetime) -> Decimal:
        """The recorded price shown at ``when``, exactly as in the file (scaled)."""
        return self._decimals[self.index_at(when)]

    def value_at(self, when: datetime) -> float:
        """The price shown at ``when`` as a float."""
        return float(self._prices[self.index_at(when)])

    def data_time(self, when: datetime) -> datetime:
        """Timestamp (in the file) of the point shown at ``when``."""
        return self.series.points[self.index_at(when)][0]

    def note(self, when: datetime) -> str:
        """Provenance for users: the file and the data time being shown."""
        shown = self.data_time(when).strftime("%Y-%m-%d %H:%M")
        end = "; end of the recording, holding the last value" if self.ended(when) else ""
        return f"replayed from {self.file_name} (data time {shown} UTC{end})"

    # -- bars ------------------------------------------------------------------------------

    def hour_bars(self, h0: int, now: datetime) -> HourBars:
        """Hourly OHLC of the replayed price for hours ``h0`` up to the one containing ``now``.

        The last bar is in progress and ends at the price shown at ``now``. Volume is zero.
        """
        h_now, _ = hour_position(now)
        count = h_now - h0 + 1
        base = (hour_start(h0) - self.started).total_seconds()
        bounds = base + HOUR_S * np.arange(count + 1, dtype=np.float64)
        bounds[-1] = (now - self.started).total_seconds()
        offsets = np.maximum(bounds * self.speed, 0.0)
        idx = self._index(offsets)
        ia, ib = idx[:-1], idx[1:]
        ua, ub = offsets[:-1], offsets[1:]
        opens, closes = self._prices[ia], self._prices[ib]
        if self.spec.loop:
            full = (ub - ua) >= self.period
            wrapped = ~full & (np.floor(ua / self.period) != np.floor(ub / self.period))
        else:
            full = wrapped = np.zeros(count, dtype=bool)
        highs, lows = self._ranges(ia, ib, wrapped)
        highs[full] = self._prices.max()
        lows[full] = self._prices.min()
        highs = np.maximum(highs, np.maximum(opens, closes))
        lows = np.minimum(lows, np.minimum(opens, closes))
        return HourBars(opens, highs, lows, closes, np.zeros(count))

    def _ranges(
        self, ia: IntArray, ib: IntArray, wrapped: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        """Max and min of the points shown over each window (wrapping past the end)."""
        last = len(self._prices) - 1
        lo_idx = np.where(wrapped, ia, np.minimum(ia, ib))
        hi_idx = np.where(wrapped, last, np.maximum(ia, ib))
        highs = _query(self._max_table, lo_idx, hi_idx, np.maximum)
        lows = _query(self._min_table, lo_idx, hi_idx, np.minimum)
        if wrapped.any():
            zeros = np.zeros_like(ib)
            head_high = _query(self._max_table, zeros, ib, np.maximum)
            head_low = _query(self._min_table, zeros, ib, np.minimum)
            highs = np.where(wrapped, np.maximum(highs, head_high), highs)
            lows = np.where(wrapped, np.minimum(lows, head_low), lows)
        return highs, lows


def _sparse_table(values: FloatArray, op: np.ufunc) -> FloatArray:
    """Sparse table for O(1) range max/min queries: ``table[k, i] = op(values[i:i+2**k])``."""
    n = len(values)
    levels = max(1, math.floor(math.log2(n)) + 1)
    table = np.empty((levels, n))
    table[0] = values
    for k in range(1, levels):
        width = 1 << (k - 1)
        table[k] = table[k - 1]
        table[k, : n - width] = op(table[k - 1, : n - width], table[k - 1, width:])
    return table


def _query(table: FloatArray, lo: IntArray, hi: IntArray, op: np.ufunc) -> FloatArray:
    """``op`` over ``values[lo..hi]`` inclusive, vectorised."""
    length = hi - lo + 1
    k = np.floor(np.log2(length)).astype(np.int64)
    result: FloatArray = op(table[k, lo], table[k, hi - (1 << k) + 1])
    return result
