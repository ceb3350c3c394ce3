"""Depeg risk score: 0-100 per stablecoin, with the factors behind it.

A pure function of the coin's current peg health and a short list of recent
``(time, price_in_peg)`` samples. Every factor contributes whole points, the score is
their sum clamped to 0-100, and the factors are returned so users see *why*.

Weights (maximum points per factor, 100 in total):

=================  =====  ==============================================================
factor             max    points
=================  =====  ==============================================================
deviation          40     ``|deviation|`` from the peg, piecewise linear through
                          0 % -> 0, 0.5 % -> 10, 2 % -> 25, 5 % -> 35, 10 % and more -> 40
trend              15     widening of ``|deviation|`` versus its mean over the latest six
                          recent samples: 5 points per percentage point, capped
                          (narrowing scores 0)
volatility         15     standard deviation of the sample-to-sample change of the price
                          in peg over the recent samples: 7.5 points per percent, capped
supply (1 day)     10     circulating-supply outflow over one day: 2 points per percent
supply (7 days)     5     outflow over seven days: 1 point per 3 percent
dispersion          5     spread between sources: 5 points per percent
mechanism          10     fiat-backed 0, crypto-backed 5, algorithmic 10 (unknown 0,
                          reported as unknown)
=================  =====  ==============================================================

The score is non-decreasing in ``|deviation|`` when everything else is fixed (the
deviation and trend factors both grow with it; volatility is computed from the recent
samples only). Levels: ``low`` below 20, ``moderate`` below 45, ``high`` below 70,
``severe`` from 70.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tools.market.stablecoins import StablecoinHealth

#: ``(|deviation| %, points)`` knots of the deviation factor, interpolated linearly.
DEVIATION_KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.5, 10.0),
    (2.0, 25.0),
    (5.0, 35.0),
    (10.0, 40.0),
)
TREND_MAX, TREND_PER_PCT = 15.0, 5.0
#: The trend compares with the mean ``|deviation|`` of this many latest recent samples.
TREND_SAMPLES = 6
VOLATILITY_MAX, VOLATILITY_PER_PCT = 15.0, 7.5
SUPPLY_1D_MAX, SUPPLY_1D_PER_PCT = 10.0, 2.0
SUPPLY_7D_MAX, SUPPLY_7D_PER_PCT = 5.0, 1.0 / 3.0
DISPERSION_MAX, DISPERSION_PER_PCT = 5.0, 5.0
MECHANISM_POINTS: dict[str, int] = {"fiat-backed": 0, "crypto-backed": 5, "algorithmic": 10}
#: ``(lower bound, level)``, highest first.
LEVELS: tuple[tuple[int, str], ...] = ((70, "severe"), (45, "high"), (20, "moderate"), (0, "low"))


@dataclass(frozen=True, slots=True)
class RiskFactor:
    """One contribution to the risk score.

    Attributes:
        name: ``deviation``, ``trend``, ``volatility``, ``supply_1d``, ``supply_7d``,
            ``dispersion`` or ``mechanism``.
        points: Whole points this factor adds (0 when it adds nothing).
        detail: Plain text for users (``"price 0.9479, 5.21% off peg"``).
    """

    name: str
    points: int
    detail: str


@dataclass(frozen=True, slots=True)
class RiskScore:
    """A depeg risk score.

    Attributes:
        score: 0 (no risk) to 100.
        level: ``low``, ``moderate``, ``high`` or ``severe``.
        factors: Every factor considered, highest points first.
    """

    score: int
    level: str
    factors: list[RiskFactor]

    def top(self, n: int = 3) -> list[RiskFactor]:
        """The ``n`` factors that add the most points (factors adding nothing are left out)."""
        return [f for f in self.factors if f.points > 0][:n]

    def summary(self, n: int = 3) -> str:
        """``"risk 62/100 (high): deviation 11.7% off peg +40, ..."`` in plain text."""
        head = f"risk {self.score}/100 ({self.level})"
        top = self.top(n)
        if not top:
            return head
        return head + ": " + ", ".join(f"{f.detail} +{f.points}" for f in top)


def level_of(score: int) -> str:
    """The word for a score (``low``, ``moderate``, ``high``, ``severe``)."""
    return next(word for bound, word in LEVELS if score >= bound)


def score_deviation(
    deviation_pct: Decimal | float,
    recent: Sequence[tuple[datetime, Decimal]] = (),
    *,
    supply_change_1d_pct: Decimal | None = None,
    supply_change_7d_pct: Decimal | None = None,
    dispersion_pct: Decimal | None = None,
    peg_mechanism: str | None = None,
) -> RiskScore:
    """Score the depeg risk of a coin at ``deviation_pct`` from its peg.

    Args:
        deviation_pct: Current signed deviation from the peg, percent.
        recent: Earlier ``(time, price_in_peg)`` samples, oldest first (a few hours' worth
            is enough). Used for the trend and the volatility; the current sample may be
            the last element.
        supply_change_1d_pct: Circulating-supply change over one day, percent.
        supply_change_7d_pct: Circulating-supply change over seven days, percent.
        dispersion_pct: Spread between price sources, percent.
        peg_mechanism: ``fiat-backed``, ``crypto-backed`` or ``algorithmic``.
    """
    size = abs(float(deviation_pct))
    if not math.isfinite(size):
        raise ValueError(f"deviation must be finite, got {deviation_pct!r}")
    prices = [float(p) for _, p in recent if p is not None and p > 0]
    factors = [
        _deviation_factor(size),
        _trend_factor(size, prices),
        _volatility_factor(prices),
        _supply_factor(
            "supply_1d", "1 day", supply_change_1d_pct, SUPPLY_1D_PER_PCT, SUPPLY_1D_MAX
        ),
        _supply_factor(
            "supply_7d", "7 days", supply_change_7d_pct, SUPPLY_7D_PER_PCT, SUPPLY_7D_MAX
        ),
        _dispersion_factor(dispersion_pct),
        _mechanism_factor(peg_mechanism),
    ]
    score = max(0, min(100, sum(f.points for f in factors)))
    ordered = sorted(factors, key=lambda f: -f.points)  # stable: weight order on ties
    return RiskScore(score=score, level=level_of(score), factors=ordered)


def score_health(
    health: StablecoinHealth, recent: Sequence[tuple[datetime, Decimal]] = ()
) -> RiskScore | None:
    """Score a coin from its :class:`StablecoinHealth` (``None`` when its deviation is unknown).

    Args:
        health: The coin's current peg health (``assess``).
        recent: Earlier ``(time, price_in_peg)`` samples, oldest first.
    """
    if health.deviation_pct is None:
        return None
    return score_deviation(
        health.deviation_pct,
        recent,
        supply_change_1d_pct=health.supply_change_1d_pct,
        supply_change_7d_pct=health.supply_change_7d_pct,
        dispersion_pct=health.dispersion_pct,
        peg_mechanism=health.coin.peg_mechanism,
    )


# -- factors --------------------------------------------------------------------------------


def _points(value: float, cap: float) -> int:
    return int(round(max(0.0, min(cap, value))))


def _deviation_factor(size: float) -> RiskFactor:
    points = DEVIATION_KNOTS[-1][1]
    for (x0, y0), (x1, y1) in zip(DEVIATION_KNOTS, DEVIATION_KNOTS[1:], strict=False):
        if size <= x1:
            points = y0 + (y1 - y0) * (size - x0) / (x1 - x0)
            break
    return RiskFactor("deviation", _points(points, DEVIATION_KNOTS[-1][1]), f"{size:.2f}% off peg")


def _trend_factor(size: float, prices: list[float]) -> RiskFactor:
    window = prices[-TREND_SAMPLES:]
    if not window:
        return RiskFactor("trend", 0, "no recent samples")
    before = statistics.fmean(abs(p - 1.0) * 100.0 for p in window)
    widening = size - before
    if widening <= 0:
        return RiskFactor("trend", 0, f"deviation narrowing or flat (averaged {before:.2f}%)")
    points = _points(widening * TREND_PER_PCT, TREND_MAX)
    return RiskFactor("trend", points, f"deviation widening from {before:.2f}%")


def _volatility_factor(prices: list[float]) -> RiskFactor:
    if len(prices) < 3:
        return RiskFactor("volatility", 0, "too few recent samples")
    changes = [(b / a - 1.0) * 100.0 for a, b in zip(prices, prices[1:], strict=False)]
    vol = statistics.pstdev(changes)
    points = _points(vol * VOLATILITY_PER_PCT, VOLATILITY_MAX)
    return RiskFactor("volatility", points, f"volatility {vol:.2f}% per sample")


def _supply_factor(
    name: str, span: str, change: Decimal | None, per_pct: float, cap: float
) -> RiskFactor:
    if change is None:
        return RiskFactor(name, 0, f"supply change over {span} unknown")
    value = float(change)
    if not math.isfinite(value) or value >= 0:
        return RiskFactor(name, 0, f"supply {value:+.1f}% over {span}")
    return RiskFactor(name, _points(-value * per_pct, cap), f"supply {value:+.1f}% over {span}")


def _dispersion_factor(dispersion: Decimal | None) -> RiskFactor:
    if dispersion is None:
        return RiskFactor("dispersion", 0, "single price source")
    value = float(dispersion)
    points = _points(value * DISPERSION_PER_PCT, DISPERSION_MAX) if math.isfinite(value) else 0
    return RiskFactor("dispersion", points, f"sources {value:.2f}% apart")


def _mechanism_factor(mechanism: str | None) -> RiskFactor:
    key = (mechanism or "").strip().lower()
    if key not in MECHANISM_POINTS:
        return RiskFactor("mechanism", 0, "peg mechanism unknown")
    return RiskFactor("mechanism", MECHANISM_POINTS[key], f"{key} peg")
