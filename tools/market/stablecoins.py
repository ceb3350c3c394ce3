"""Stablecoin peg health: deviation from each coin's own peg, severity, supply trend.

Pure functions over :class:`Stablecoin` values, shared by ``stablecoin_status``,
``/depeg`` and (later) the depeg monitor. A EUR stablecoin is measured against EUR,
not against the dollar. Prices whose sources disagree beyond a tolerance are
flagged as disputed; stale prices are flagged with their age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tools.market.types import DataOrigin, Stablecoin

HUNDRED = Decimal(100)


class PegSeverity(StrEnum):
    """How far a stablecoin is from its peg, in words users read."""

    OK = "ok"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PegThresholds:
    """Absolute deviation (percent) at which each severity starts."""

    warn_pct: Decimal = Decimal("0.5")
    high_pct: Decimal = Decimal("2")
    critical_pct: Decimal = Decimal("5")

    def classify(self, deviation_pct: Decimal | None) -> PegSeverity:
        """Map a signed deviation in percent to a severity."""
        if deviation_pct is None:
            return PegSeverity.UNKNOWN
        size = abs(deviation_pct)
        if size >= self.critical_pct:
            return PegSeverity.CRITICAL
        if size >= self.high_pct:
            return PegSeverity.HIGH
        if size >= self.warn_pct:
            return PegSeverity.WARNING
        return PegSeverity.OK


@dataclass(frozen=True, slots=True)
class StablecoinHealth:
    """One stablecoin's peg health.

    Attributes:
        coin: The underlying stablecoin data.
        peg_usd: USD value of one unit of the peg currency (``None`` for variable pegs).
        price_in_peg: Price expressed in the peg currency (``0.9987`` EUR for a EUR coin).
        deviation_pct: Signed deviation from the peg in percent.
        severity: Severity of the deviation.
        supply_change_1d_pct: Circulating supply change over one day, percent.
        supply_change_7d_pct: Circulating supply change over seven days, percent.
        dispersion_pct: Spread between the highest and lowest source price, percent.
        disputed: Sources disagree beyond the tolerance.
    """

    coin: Stablecoin
    peg_usd: Decimal | None
    price_in_peg: Decimal | None
    deviation_pct: Decimal | None
    severity: PegSeverity
    supply_change_1d_pct: Decimal | None
    supply_change_7d_pct: Decimal | None
    dispersion_pct: Decimal | None
    disputed: bool

    @property
    def simulated(self) -> bool:
        """True when the data is not live."""
        return self.coin.origin is not DataOrigin.LIVE


def assess(
    coin: Stablecoin,
    fx_usd: dict[str, Decimal],
    thresholds: PegThresholds,
    *,
    disagreement_pct: Decimal = Decimal("0.5"),
) -> StablecoinHealth:
    """Measure a stablecoin against its own peg.

    Args:
        coin: Stablecoin data (price in USD).
        fx_usd: USD value of one unit of each fiat currency.
        thresholds: Severity thresholds.
        disagreement_pct: Source spread (percent) above which the price is disputed.
    """
    peg_usd = fx_usd.get(coin.peg_currency) if coin.peg_currency else None
    if coin.peg_currency == "USD":
        peg_usd = Decimal(1)
    price_in_peg = deviation = None
    if coin.price_usd is not None and peg_usd:
        price_in_peg = coin.price_usd / peg_usd
        deviation = (price_in_peg - 1) * HUNDRED
    prices = [p for p in coin.price_sources.values() if p > 0]
    dispersion = None
    if len(prices) >= 2:
        dispersion = (max(prices) - min(prices)) / min(prices) * HUNDRED
    disputed = dispersion is not None and dispersion > disagreement_pct
    return StablecoinHealth(
        coin=coin,
        peg_usd=peg_usd,
        price_in_peg=price_in_peg,
        deviation_pct=deviation,
        severity=thresholds.classify(deviation),
        supply_change_1d_pct=_change(coin.circulating, coin.circulating_prev_day),
        supply_change_7d_pct=_change(coin.circulating, coin.circulating_prev_week),
        dispersion_pct=dispersion,
        disputed=disputed,
    )


def _change(now: Decimal | None, before: Decimal | None) -> Decimal | None:
    if now is None or before is None or before <= 0:
        return None
    return (now / before - 1) * HUNDRED


def age_seconds(coin: Stablecoin, now: datetime) -> float:
    """Seconds since the stablecoin data was fetched."""
    return max(0.0, (now - coin.fetched_at).total_seconds())
