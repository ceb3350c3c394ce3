"""The depeg risk score: weights, clamping, monotonicity, factors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.market.peg_risk import (
    RiskFactor,
    RiskScore,
    level_of,
    score_deviation,
    score_health,
)
from tools.market.stablecoins import PegThresholds, assess
from tools.market.types import DataOrigin, Stablecoin

T0 = datetime(2023, 3, 11, tzinfo=UTC)


def history(*prices: str) -> list[tuple[datetime, Decimal]]:
    return [(T0 + timedelta(hours=i), Decimal(p)) for i, p in enumerate(prices)]


def points(score: RiskScore, name: str) -> int:
    return next(f.points for f in score.factors if f.name == name)


def coin(**overrides: object) -> Stablecoin:
    values: dict[str, object] = {
        "symbol": "USDC",
        "name": "USD Coin",
        "coin_id": "usd-coin",
        "peg_type": "peggedUSD",
        "peg_currency": "USD",
        "peg_mechanism": "fiat-backed",
        "price_usd": Decimal("0.95"),
        "circulating": Decimal(100),
        "circulating_prev_day": Decimal(100),
        "circulating_prev_week": Decimal(100),
        "source": "test",
        "origin": DataOrigin.SIMULATED,
        "fetched_at": T0,
    }
    values.update(overrides)
    return Stablecoin(**values)  # type: ignore[arg-type]


def test_on_peg_with_no_history_is_zero() -> None:
    score = score_deviation(Decimal(0))
    assert score.score == 0 and score.level == "low"
    assert score.top() == []
    assert score.summary() == "risk 0/100 (low)"
    assert {f.name for f in score.factors} == {
        "deviation",
        "trend",
        "volatility",
        "supply_1d",
        "supply_7d",
        "dispersion",
        "mechanism",
    }


@pytest.mark.parametrize(
    ("deviation", "expected"),
    [("0", 0), ("0.5", 10), ("-0.5", 10), ("2", 25), ("5", 35), ("-10", 40), ("80", 40)],
)
def test_deviation_knots(deviation: str, expected: int) -> None:
    assert points(score_deviation(Decimal(deviation)), "deviation") == expected


def test_mechanism_ordering() -> None:
    fiat, crypto, algo, unknown = (
        points(score_deviation(Decimal(1), peg_mechanism=m), "mechanism")
        for m in ("fiat-backed", "crypto-backed", "algorithmic", "unknown")
    )
    assert fiat < crypto < algo
    assert (fiat, crypto, algo, unknown) == (0, 5, 10, 0)


def test_outflows_add_risk_inflows_do_not() -> None:
    outflow = score_deviation(
        Decimal(1), supply_change_1d_pct=Decimal(-5), supply_change_7d_pct=Decimal(-15)
    )
    inflow = score_deviation(
        Decimal(1), supply_change_1d_pct=Decimal(5), supply_change_7d_pct=Decimal(15)
    )
    assert points(outflow, "supply_1d") == 10 and points(outflow, "supply_7d") == 5
    assert points(inflow, "supply_1d") == 0 and points(inflow, "supply_7d") == 0
    assert outflow.score == inflow.score + 15
    assert "supply -5.0% over 1 day" in outflow.summary(5)


def test_dispersion_adds_risk() -> None:
    assert points(score_deviation(Decimal(1), dispersion_pct=Decimal("0.4")), "dispersion") == 2
    assert points(score_deviation(Decimal(1), dispersion_pct=Decimal(3)), "dispersion") == 5


def test_trend_and_volatility_from_recent_samples() -> None:
    calm = history("1.0", "1.0", "1.0", "1.0")
    falling = history("1.0", "0.99", "0.97", "0.95", "0.93", "0.90")
    widening = score_deviation(Decimal(-12), falling)
    assert points(widening, "trend") == 15
    assert points(widening, "volatility") > 0
    narrowing = score_deviation(Decimal("-0.5"), falling)
    assert points(narrowing, "trend") == 0
    assert "narrowing" in next(f.detail for f in narrowing.factors if f.name == "trend")
    steady = score_deviation(Decimal(0), calm)
    assert points(steady, "volatility") == 0 and steady.score == 0
    assert points(score_deviation(Decimal(1), history("1.0", "1.0")), "volatility") == 0


def test_a_bad_day_scores_severe_and_is_clamped() -> None:
    falling = history("1.0", "0.98", "0.93", "0.99", "0.88", "0.95", "0.85")
    score = score_deviation(
        Decimal(-15),
        falling,
        supply_change_1d_pct=Decimal(-20),
        supply_change_7d_pct=Decimal(-40),
        dispersion_pct=Decimal(4),
        peg_mechanism="algorithmic",
    )
    assert score.score == 100 and score.level == "severe"
    assert [f.points for f in score.factors] == sorted(
        (f.points for f in score.factors), reverse=True
    )
    assert score.top(2)[0] == RiskFactor("deviation", 40, "15.00% off peg")


@pytest.mark.parametrize(
    ("value", "level"), [(0, "low"), (19, "low"), (20, "moderate"), (45, "high"), (70, "severe")]
)
def test_levels(value: int, level: str) -> None:
    assert level_of(value) == level


def test_non_finite_deviation_is_refused() -> None:
    with pytest.raises(ValueError):
        score_deviation(Decimal("NaN"))
    with pytest.raises(ValueError):
        score_deviation(float("inf"))


def test_score_health_uses_every_field() -> None:
    health = assess(
        coin(
            circulating=Decimal(90),
            peg_mechanism="crypto-backed",
            price_sources={"a": Decimal("0.95"), "b": Decimal("0.96")},
        ),
        {},
        PegThresholds(),
    )
    score = score_health(health, history("1.0", "0.99", "0.98"))
    assert score is not None
    assert points(score, "deviation") == 35
    assert points(score, "supply_1d") == 10  # -10 % in a day
    assert points(score, "mechanism") == 5
    assert points(score, "dispersion") == 5  # sources 1.05 % apart
    assert points(score, "trend") > 0


def test_score_health_eur_coin_and_unknown_price() -> None:
    eur = assess(
        coin(symbol="EURC", peg_type="peggedEUR", peg_currency="EUR", price_usd=Decimal("1.08")),
        {"EUR": Decimal("1.08")},
        PegThresholds(),
    )
    score = score_health(eur)
    assert score is not None and points(score, "deviation") == 0
    assert score_health(assess(coin(price_usd=None), {}, PegThresholds())) is None


# -- properties -------------------------------------------------------------------------------

DEVIATIONS = st.decimals(min_value=-100, max_value=100, allow_nan=False, places=4)
RECENT = st.lists(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(2), places=4), max_size=12
).map(lambda prices: [(T0 + timedelta(hours=i), p) for i, p in enumerate(prices)])
CHANGES = st.none() | st.decimals(min_value=-100, max_value=500, allow_nan=False, places=2)
DISPERSION = st.none() | st.decimals(min_value=0, max_value=50, allow_nan=False, places=2)
MECHANISM = st.sampled_from([None, "fiat-backed", "crypto-backed", "algorithmic", "other"])


@settings(max_examples=300, deadline=None)
@given(
    a=DEVIATIONS,
    b=DEVIATIONS,
    recent=RECENT,
    d1=CHANGES,
    d7=CHANGES,
    dispersion=DISPERSION,
    mechanism=MECHANISM,
)
def test_score_is_bounded_and_monotone_in_deviation(
    a: Decimal,
    b: Decimal,
    recent: list[tuple[datetime, Decimal]],
    d1: Decimal | None,
    d7: Decimal | None,
    dispersion: Decimal | None,
    mechanism: str | None,
) -> None:
    def score(deviation: Decimal) -> RiskScore:
        return score_deviation(
            deviation,
            recent,
            supply_change_1d_pct=d1,
            supply_change_7d_pct=d7,
            dispersion_pct=dispersion,
            peg_mechanism=mechanism,
        )

    small, large = sorted((a, b), key=abs)
    low, high = score(small), score(large)
    for result in (low, high):
        assert 0 <= result.score <= 100
        assert result.score == max(0, min(100, sum(f.points for f in result.factors)))
        assert all(f.points >= 0 for f in result.factors)
    assert low.score <= high.score
