"""Portfolio risk figures, checked by hand and against empyrical on the same returns.

empyrical is a test-only reference. Conventions aligned for the comparison:

* ``annualization=365`` (empyrical defaults to 252 trading days; crypto trades daily).
* Sharpe's ``risk_free`` and Sortino's ``required_return`` are the per-day rate
  ``daily_risk_free(risk_free_pct)``; empyrical's Sortino uses the downside deviation
  over all days, as we do.
* VaR sign: empyrical returns the 5th-percentile *return* (negative for a loss); we
  report the *loss* (positive), so ``var_fraction == -value_at_risk``. Same for CVaR.
* ``max_drawdown`` on returns starts from 1 before the first return, which matches our
  drawdown over the value series (the first value is that start).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from tools.errors import UserInputError
from tools.portfolio.risk import daily_risk_free, portfolio_risk

DAY = 86_400
T0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())


def _times(n: int) -> np.ndarray:
    return T0 + DAY * np.arange(n, dtype=np.int64)


def _market(n: int = 120, seed: int = 7) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Current quantities times simulated closes; BTC returns for beta."""
    rng = np.random.default_rng(seed)
    btc_r = rng.normal(0.001, 0.03, n - 1)
    eth_r = 1.2 * btc_r + rng.normal(0, 0.02, n - 1)
    sol_r = 0.8 * btc_r + rng.normal(0, 0.04, n - 1)
    closes = {
        "BTC": 60_000 * np.concatenate([[1.0], np.cumprod(1 + btc_r)]),
        "ETH": 3_000 * np.concatenate([[1.0], np.cumprod(1 + eth_r)]),
        "SOL": 150 * np.concatenate([[1.0], np.cumprod(1 + sol_r)]),
        "USDT": np.ones(n),
    }
    qty = {"BTC": 0.5, "ETH": 4.0, "SOL": 30.0, "USDT": 2_000.0}
    return {s: qty[s] * closes[s] for s in closes}, btc_r


def _returns(values: dict[str, np.ndarray]) -> np.ndarray:
    total = np.sum(list(values.values()), axis=0)
    return total[1:] / total[:-1] - 1


def _close(a: float | None, b: float, rel: float = 1e-9) -> bool:
    return a is not None and a == pytest.approx(b, rel=rel, abs=1e-15)


@pytest.mark.parametrize("rf", [0.0, 4.0])
def test_matches_empyrical(rf: float) -> None:
    values, btc_r = _market()
    r = _returns(values)
    report = portfolio_risk(values, _times(120), btc_returns=btc_r, risk_free_pct=rf)
    rf_day = daily_risk_free(rf)

    assert report.days == 119
    assert _close(report.volatility.value, empyrical.annual_volatility(r, annualization=365))
    assert _close(
        report.sharpe.value, empyrical.sharpe_ratio(r, risk_free=rf_day, annualization=365)
    )
    assert _close(
        report.sortino.value,
        empyrical.sortino_ratio(r, required_return=rf_day, annualization=365),
    )
    assert _close(report.drawdown.max_drawdown, empyrical.max_drawdown(r))
    assert _close(report.var_historical.var_fraction, -empyrical.value_at_risk(r, cutoff=0.05))
    assert _close(
        report.var_historical.cvar_fraction,
        -empyrical.conditional_value_at_risk(r, cutoff=0.05),
    )
    assert report.beta_btc is not None
    assert _close(report.beta_btc.value, empyrical.beta(r, btc_r))


def test_252_day_annualisation_is_a_plain_rescaling() -> None:
    values, _ = _market()
    r = _returns(values)
    daily = portfolio_risk(values, _times(120), periods_per_year=252)
    assert _close(daily.volatility.value, empyrical.annual_volatility(r))
    assert _close(daily.sharpe.value, empyrical.sharpe_ratio(r))
    crypto = portfolio_risk(values, _times(120))
    assert _close(crypto.volatility.value, daily.volatility.value * np.sqrt(365 / 252))


def test_parametric_var_matches_scipy_normal() -> None:
    values, _ = _market()
    r = _returns(values)
    report = portfolio_risk(values, _times(120))
    mu, sigma = r.mean(), r.std(ddof=1)
    assert _close(report.var_parametric.var_fraction, -stats.norm.ppf(0.05, mu, sigma))
    z = stats.norm.ppf(0.05)
    assert _close(report.var_parametric.cvar_fraction, -(mu - sigma * stats.norm.pdf(z) / 0.05))
    current = float(np.sum([v[-1] for v in values.values()]))
    expected = Decimal(repr(report.var_parametric.var_fraction * current)).quantize(Decimal("0.01"))
    assert report.var_parametric.var_value == expected


def test_correlation_matches_pandas_and_skips_flat_holdings() -> None:
    values, _ = _market()
    report = portfolio_risk(values, _times(120))
    frame = pd.DataFrame({s: v for s, v in values.items()}).pct_change().iloc[1:]
    corr = frame.corr()
    current = {s: v[-1] for s, v in values.items()}
    assert report.correlation.symbols == tuple(sorted(current, key=lambda s: -current[s]))
    for i, a in enumerate(report.correlation.symbols):
        for j, b in enumerate(report.correlation.symbols):
            got = report.correlation.matrix[i][j]
            if "USDT" in (a, b):
                assert got is None  # a stablecoin does not move
            else:
                assert _close(got, float(corr.loc[a, b]), 1e-9)  # type: ignore[arg-type]
    assert "The most closely linked pair is BTC and ETH" in report.correlation.explanation


def test_correlation_keeps_the_eight_largest() -> None:
    rng = np.random.default_rng(1)
    n = 30
    values = {f"C{i}": (10 + i) * np.cumprod(1 + rng.normal(0, 0.02, n)) for i in range(10)}
    report = portfolio_risk(values, _times(n))
    assert len(report.correlation.symbols) == 8
    current = {s: v[-1] for s, v in values.items()}
    smallest_kept = min(current[s] for s in report.correlation.symbols)
    dropped = set(values) - set(report.correlation.symbols)
    assert all(current[s] < smallest_kept for s in dropped)


def test_hand_drawdown_var_and_concentration() -> None:
    # 100 -> 120 (peak, day 2) -> 90 (trough, day 5) -> 120 again on day 9, then flat-ish.
    path = [100, 110, 120, 110, 100, 90, 100, 110, 115, 120]
    path += [120 + (i % 2) for i in range(15)]
    btc = np.array(path, dtype=float) * 0.75
    eth = np.array(path, dtype=float) * 0.25
    report = portfolio_risk({"BTC": btc, "ETH": eth}, _times(len(path)))
    dd = report.drawdown
    assert dd.max_drawdown == pytest.approx(-0.25)
    assert dd.loss_value == Decimal("30.00")
    assert dd.peak_at == datetime(2025, 1, 3, tzinfo=UTC)
    assert dd.trough_at == datetime(2025, 1, 6, tzinfo=UTC)
    assert dd.recovered_at == datetime(2025, 1, 10, tzinfo=UTC)
    assert dd.explanation == (
        "The worst fall from a high was 25.0% (30.00 USD), from 2025-01-03 to 2025-01-06; "
        "it was back at that high on 2025-01-10."
    )
    conc = report.concentration
    assert conc.largest_symbol == "BTC"
    assert conc.largest_weight == pytest.approx(0.75)
    assert conc.herfindahl == pytest.approx(0.75**2 + 0.25**2)
    assert "about as concentrated as 1.6 equally sized holdings" in conc.explanation
    assert report.current_value == Decimal("120.00")
    var = report.var_historical
    assert var.var_value == Decimal(repr(var.var_fraction * 120)).quantize(Decimal("0.01"))
    assert var.var_explanation == (
        f"On 95% of days the portfolio should not lose more than {var.var_value:,.2f} USD "
        f"({var.var_fraction * 100:.1f}%) in a day, judging by the last 24 days."
    )
    assert report.beta_btc is None
    assert len(report.explanations()) == 10


def test_drawdown_not_recovered_and_no_drawdown() -> None:
    falling = np.linspace(100, 50, 25)
    report = portfolio_risk({"BTC": falling}, _times(25))
    assert report.drawdown.recovered_at is None
    assert report.drawdown.explanation.endswith("it has not recovered that high yet.")
    assert report.drawdown.peak_at == datetime(2025, 1, 1, tzinfo=UTC)
    rising = np.linspace(50, 100, 25)
    report = portfolio_risk({"BTC": rising}, _times(25))
    assert report.drawdown.max_drawdown == 0.0
    assert report.drawdown.peak_at is None
    assert report.sortino.value is None  # no day below the risk-free rate
    assert report.var_historical.var_fraction < 0
    assert "should not lose money at all" in report.var_historical.var_explanation


def test_too_little_history() -> None:
    with pytest.raises(UserInputError) as err:
        portfolio_risk({"BTC": np.ones(20)}, _times(20))
    assert err.value.user_message == (
        "Risk figures need at least 21 days of portfolio history (20 daily changes); "
        "only 20 days available."
    )
    # 21 days is enough.
    assert portfolio_risk({"BTC": np.linspace(1, 2, 21)}, _times(21)).days == 20


def test_leading_empty_days_are_dropped() -> None:
    values = np.concatenate([np.zeros(5), np.linspace(100, 120, 25)])
    report = portfolio_risk({"BTC": values}, _times(30))
    assert report.days == 24
    assert report.start == datetime(2025, 1, 6, tzinfo=UTC)
    with pytest.raises(UserInputError, match="only 15 days"):
        portfolio_risk({"BTC": np.concatenate([np.zeros(15), np.ones(15)])}, _times(30))


def test_empty_in_the_middle_is_refused() -> None:
    values = np.linspace(100, 120, 30)
    values[10] = 0
    with pytest.raises(UserInputError, match="empty on some days"):
        portfolio_risk({"BTC": values}, _times(30))


def test_decimal_values_are_accepted() -> None:
    values = [Decimal("100.10") + Decimal(i) for i in range(25)]
    report = portfolio_risk({"BTC": np.array(values, dtype=object)}, _times(25))
    assert report.current_value == Decimal("124.10")


def test_mismatched_lengths_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        portfolio_risk({"BTC": np.ones(25)}, _times(24))
    with pytest.raises(ValueError):
        portfolio_risk({"BTC": np.linspace(1, 2, 25)}, _times(25), btc_returns=np.zeros(10))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=-0.3, max_value=0.3, allow_nan=False), min_size=20, max_size=200),
    st.floats(min_value=0.0, max_value=10.0),
)
def test_property_agrees_with_empyrical(daily: list[float], rf: float) -> None:
    r = np.array(daily)
    values = 1_000 * np.concatenate([[1.0], np.cumprod(1 + r)])
    rr = values[1:] / values[:-1] - 1  # the returns as the report sees them
    # Ratios are undefined for a flat series or one without a down day (hand tests).
    assume(np.std(rr) > 1e-6 and np.any(rr - daily_risk_free(rf) < 0))
    report = portfolio_risk({"X": values}, _times(len(values)), btc_returns=r, risk_free_pct=rf)
    rf_day = daily_risk_free(rf)
    assert _close(report.volatility.value, empyrical.annual_volatility(rr, annualization=365))
    assert _close(report.sharpe.value, empyrical.sharpe_ratio(rr, rf_day, annualization=365))
    assert _close(report.sortino.value, empyrical.sortino_ratio(rr, rf_day, annualization=365))
    assert _close(report.drawdown.max_drawdown, empyrical.max_drawdown(rr), 1e-9)
    assert _close(report.var_historical.var_fraction, -empyrical.value_at_risk(rr))
    assert _close(report.var_historical.cvar_fraction, -empyrical.conditional_value_at_risk(rr))
    assert report.beta_btc is not None and _close(report.beta_btc.value, 1.0, 1e-6)
