"""The random-walk engine behind the offline market: seeded, lazy, random-access paths.

A :class:`SimPath` is one simulated quantity (a coin's log price, a stablecoin's peg
deviation, an FX rate, a supply multiplier) on an hourly grid counted from
:data:`EPOCH`. It is built so that any hour can be computed without simulating
everything before it, and so that the same seed always gives the same numbers, in
any process:

* The grid is split into chunks of :data:`CHUNK_HOURS`. Chunk boundaries are *anchors*
  drawn from the stationary distribution with a generator seeded by
  ``(seed, path key, chunk)``. Inside a chunk the log value follows an AR(1)
  (discrete Ornstein-Uhlenbeck) process around ``mu`` with optional rare jumps, tied
  to both anchors by the exact AR(1) bridge correction. Chunks are generated with
  numpy on first use and kept in a shared LRU cache.
* Each hourly bar's high and low are drawn from the exact distribution of the
  extremes of a Brownian bridge between its open and close.
* Within an hour, the value follows a seeded Brownian bridge at 10-second knots
  (linear between knots) that starts at the open, touches the bar's high and low and
  ends at the close. So the live value moves between ticks, the in-progress bar's
  high and low are those of the path seen so far, and a closed bar never changes.

Path keys come from :func:`stable_key` (CRC-32), never from ``hash()``, which is
salted per process. numpy's ``Generator`` streams are stable for a given numpy
version; a numpy upgrade may change the simulated numbers (but not their statistics).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Hour 0 of every simulated grid (a Monday, so weekly bars align to Mondays).
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
HOUR_S = 3600
HOURS_PER_YEAR = 8760
#: Hours per generated chunk (about 85 days).
CHUNK_HOURS = 2048
#: Seconds between intra-hour knots.
KNOT_S = 10
KNOTS = HOUR_S // KNOT_S

_TAG_CHUNK, _TAG_ANCHOR, _TAG_INTRA = 1, 2, 3
_OFFSET = 2**40  # keeps seed words non-negative for hours/chunks before the epoch
_US_PER_HOUR = HOUR_S * 1_000_000


def stable_key(text: str) -> int:
    """A process-independent 32-bit key for a name (``hash()`` is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def hour_position(when: datetime) -> tuple[int, float]:
    """Split a time into its grid hour and the seconds elapsed within that hour."""
    delta = when - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    hour = micros // _US_PER_HOUR
    return hour, (micros - hour * _US_PER_HOUR) / 1e6


def hour_start(hour: int) -> datetime:
    """The UTC time at which grid hour ``hour`` starts."""
    return EPOCH + timedelta(hours=hour)


@dataclass(frozen=True, slots=True)
class PathParams:
    """Parameters of one simulated path (all in log units, per hour).

    Attributes:
        mu: Long-run mean of the log value.
        sigma_h: Hourly standard deviation of the diffusion part.
        half_life_h: Mean-reversion half-life in hours.
        jump_prob: Probability of a jump in any hour.
        jump_sigma: Jump size standard deviation, in units of ``sigma_h``.
        intra_hour: Simulate a Brownian bridge within hours (else interpolate linearly).
    """

    mu: float
    sigma_h: float
    half_life_h: float
    jump_prob: float = 0.0
    jump_sigma: float = 0.0
    intra_hour: bool = True

    @property
    def phi(self) -> float:
        """Hourly AR(1) coefficient."""
        return float(2.0 ** (-1.0 / self.half_life_h))

    @property
    def stationary_std(self) -> float:
        """Standard deviation of the stationary distribution around ``mu``."""
        variance = self.sigma_h**2 * (1.0 + self.jump_prob * self.jump_sigma**2)
        return math.sqrt(variance / (1.0 - self.phi**2))


@dataclass(frozen=True, slots=True)
class _Chunk:
    x: FloatArray  # log value at grid points 0..CHUNK_HOURS (inclusive)
    hi: FloatArray  # log high of each hour
    lo: FloatArray  # log low of each hour
    vol: FloatArray  # relative volume of each hour (mean about 1)


@dataclass(frozen=True, slots=True)
class HourBars:
    """Hourly bars of one path in log units (or prices, after :meth:`exp`)."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def exp(self) -> HourBars:
        """The same bars with ``exp`` applied to the prices (volume unchanged)."""
        return HourBars(
            np.exp(self.open),
            np.exp(self.high),
            np.exp(self.low),
            np.exp(self.close),
            self.volume,
        )


class ChunkCache:
    """A least-recently-used store of generated chunks shared by all paths.

    Args:
        capacity: Chunks kept (each is about 65 KB).
    """

    def __init__(self, capacity: int = 384) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int], _Chunk] = OrderedDict()

    def get(self, key: tuple[str, int]) -> _Chunk | None:
        """Return a cached chunk and mark it recently used."""
        chunk = self._items.get(key)
        if chunk is not None:
            self._items.move_to_end(key)
        return chunk

    def put(self, key: tuple[str, int], chunk: _Chunk) -> None:
        """Store a chunk, evicting the least recently used beyond capacity."""
        self._items[key] = chunk
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class SimPath:
    """One seeded, lazily generated path on the hourly grid.

    Args:
        name: Unique name of the path; its CRC-32 keys the random streams.
        params: Model parameters.
        seed: Market seed.
        cache: Chunk cache shared by the market's paths.
    """

    def __init__(self, name: str, params: PathParams, *, seed: int, cache: ChunkCache) -> None:
        self.name = name
        self.params = params
        self._words = (seed % 2**64, stable_key(name))
        self._cache = cache
        self._intra: OrderedDict[int, FloatArray] = OrderedDict()
        self._bridge = _bridge_weights(params.phi)

    # -- chunks ----------------------------------------------------------------------------

    def _rng(self, tag: int, index: int) -> np.random.Generator:
        return np.random.default_rng([*self._words, tag, index + _OFFSET])

    def _anchor(self, chunk: int) -> float:
        z = float(self._rng(_TAG_ANCHOR, chunk).standard_normal())
        return self.params.mu + self.params.stationary_std * z

    def _chunk(self, chunk: int) -> _Chunk:
        key = (self.name, chunk)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        p = self.params
        n = CHUNK_HOURS
        rng = self._rng(_TAG_CHUNK, chunk)
        shocks = p.sigma_h * rng.standard_normal(n)
        jump_u = rng.random(n)
        jump_z = rng.standard_normal(n)
        if p.jump_prob > 0:
            shocks += np.where(jump_u < p.jump_prob, jump_z * p.jump_sigma * p.sigma_h, 0.0)
        high_u = 1.0 - rng.random(n)  # in (0, 1]: log() stays finite
        low_u = 1.0 - rng.random(n)
        volume_z = rng.standard_normal(n)
        start, end = self._anchor(chunk) - p.mu, self._anchor(chunk + 1) - p.mu
        dev = _ar1(start, shocks, p.phi)
        dev += (end - dev[-1]) * self._bridge
        dev[0], dev[-1] = start, end
        x = p.mu + dev
        a, b = x[:-1], x[1:]
        mid, gap2, s2 = a + b, (b - a) ** 2, p.sigma_h**2
        hi = np.maximum(0.5 * (mid + np.sqrt(gap2 - 2.0 * s2 * np.log(high_u))), np.maximum(a, b))
        lo = np.minimum(0.5 * (mid - np.sqrt(gap2 - 2.0 * s2 * np.log(low_u))), np.minimum(a, b))
        # Volume: log-normal noise, higher in hours that move more; mean about 1.
        vol = np.exp(0.4 * volume_z - 0.08) * (1.0 + 0.5 * np.abs(b - a) / p.sigma_h) / 1.4
        made = _Chunk(x, hi, lo, vol)
        self._cache.put(key, made)
        return made

    def _gather(self, field: str, h0: int, h1: int, *, points: bool = False) -> FloatArray:
        """Concatenate a chunk field over hours ``h0..h1-1`` (grid points with ``points``)."""
        parts: list[FloatArray] = []
        hour = h0
        while hour < h1:
            c = hour // CHUNK_HOURS
            i = hour - c * CHUNK_HOURS
            take = min(h1 - hour, CHUNK_HOURS - i)
            parts.append(getattr(self._chunk(c), field)[i : i + take])
            hour += take
        if points:
            c = h1 // CHUNK_HOURS
            parts.append(self._chunk(c).x[h1 - c * CHUNK_HOURS : h1 - c * CHUNK_HOURS + 1])
        if not parts:
            return np.empty(0)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    # -- public ----------------------------------------------------------------------------

    def grid(self, h0: int, h1: int) -> FloatArray:
        """Log values at grid points ``h0..h1`` inclusive (hour boundaries)."""
        return self._gather("x", h0, h1, points=True)

    def bars(self, h0: int, h1: int) -> HourBars:
        """Closed hourly bars for hours ``h0..h1-1`` (log prices, relative volume)."""
        x = self.grid(h0, h1)
        return HourBars(
            x[:-1],
            self._gather("hi", h0, h1),
            self._gather("lo", h0, h1),
            x[1:],
            self._gather("vol", h0, h1),
        )

    def bars_until(self, h0: int, now: datetime) -> HourBars:
        """Hourly bars from hour ``h0`` to the one containing ``now`` (log prices).

        The last bar is in progress: it ends at the value at ``now`` and its volume is
        pro rata of the hour elapsed.
        """
        hour, seconds = hour_position(now)
        closed = self.bars(h0, hour)
        o, h, low, c = self.partial_bar(now)
        volume = float(self._gather("vol", hour, hour + 1)[0]) * seconds / HOUR_S
        return HourBars(
            np.append(closed.open, o),
            np.append(closed.high, h),
            np.append(closed.low, low),
            np.append(closed.close, c),
            np.append(closed.volume, volume),
        )

    def intra(self, hour: int) -> FloatArray:
        """The hour's path at 10-second knots (``KNOTS + 1`` log values)."""
        cached = self._intra.get(hour)
        if cached is not None:
            return cached
        c = hour // CHUNK_HOURS
        i = hour - c * CHUNK_HOURS
        chunk = self._chunk(c)
        a, b = float(chunk.x[i]), float(chunk.x[i + 1])
        high, low = float(chunk.hi[i]), float(chunk.lo[i])
        rng = self._rng(_TAG_INTRA, hour)
        t_high = int(rng.integers(1, KNOTS))
        t_low = int(rng.integers(1, KNOTS - 1))
        if t_low >= t_high:
            t_low += 1
        steps = rng.standard_normal(KNOTS) * (self.params.sigma_h / math.sqrt(KNOTS))
        walk = np.concatenate(([0.0], np.cumsum(steps)))
        path = np.empty(KNOTS + 1)
        knots = sorted([(0, a), (t_high, high), (t_low, low), (KNOTS, b)])
        for (t0, v0), (t1, v1) in pairwise(knots):
            seg = walk[t0 : t1 + 1] - walk[t0]
            frac = np.arange(t1 - t0 + 1) / (t1 - t0)
            path[t0 : t1 + 1] = v0 + (v1 - v0) * frac + seg - frac * seg[-1]
        # Keep inside [low, high]: reflect excursions, then clip what reflection overshoots.
        path = np.where(path > high, 2.0 * high - path, path)
        path = np.where(path < low, 2.0 * low - path, path)
        np.clip(path, low, high, out=path)
        path[0], path[t_high], path[t_low], path[KNOTS] = a, high, low, b
        self._intra[hour] = path
        if len(self._intra) > 8:
            self._intra.popitem(last=False)
        return path

    def value(self, when: datetime) -> float:
        """Log value at ``when``."""
        hour, seconds = hour_position(when)
        if not self.params.intra_hour:
            x = self.grid(hour, hour + 1)
            return float(x[0] + (x[1] - x[0]) * seconds / HOUR_S)
        path = self.intra(hour)
        pos = seconds / KNOT_S
        i = min(int(pos), KNOTS - 1)
        return float(path[i] + (path[i + 1] - path[i]) * (pos - i))

    def partial_bar(self, when: datetime) -> tuple[float, float, float, float]:
        """Log open, high, low and close of the hour containing ``when``, up to ``when``."""
        hour, seconds = hour_position(when)
        path = self.intra(hour)
        current = self.value(when)
        seen = path[: min(int(seconds / KNOT_S), KNOTS) + 1]
        return (
            float(path[0]),
            max(float(seen.max()), current),
            min(float(seen.min()), current),
            current,
        )

    def volume_window(self, when: datetime, hours: int = 24) -> float:
        """Sum of relative hourly volumes over the ``hours`` before ``when`` (pro rata)."""
        hour, seconds = hour_position(when)
        frac = seconds / HOUR_S
        vol = self._gather("vol", hour - hours, hour + 1)
        return float(vol[0] * (1.0 - frac) + vol[1:-1].sum() + vol[-1] * frac)


@functools.lru_cache(maxsize=32)
def _bridge_weights(phi: float) -> FloatArray:
    """Weights tying a free AR(1) chunk to its end anchor: ``Cov(d_t, d_C) / Var(d_C)``.

    The returned array is shared between paths and must not be modified.
    """
    t = np.arange(CHUNK_HOURS + 1, dtype=np.float64)
    with np.errstate(under="ignore"):
        denominator = 1.0 - phi ** (2 * CHUNK_HOURS)
        weights: FloatArray = phi ** (CHUNK_HOURS - t) * (1.0 - phi ** (2 * t)) / denominator
    weights.flags.writeable = False
    return weights


def _ar1(start: float, shocks: FloatArray, phi: float) -> FloatArray:
    """``d[0] = start``, ``d[t] = phi * d[t-1] + shocks[t-1]``, vectorised in blocks.

    Uses ``d[t] = phi**t * (start + cumsum(shocks[j] * phi**-j))`` over blocks short
    enough that ``phi**-block`` stays far from overflow.
    """
    n = len(shocks)
    out = np.empty(n + 1)
    out[0] = start
    block = max(1, min(n, int(500.0 / -math.log2(phi)))) if phi < 1.0 else n
    powers = phi ** np.arange(1, block + 1, dtype=np.float64)
    pos, current = 0, start
    while pos < n:
        m = min(block, n - pos)
        pw = powers[:m]
        seg = pw * (current + np.cumsum(shocks[pos : pos + m] / pw))
        out[pos + 1 : pos + m + 1] = seg
        current = float(seg[-1])
        pos += m
    return out
