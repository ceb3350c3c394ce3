"""Risk figures of a portfolio from its daily value history.

Pure computation: the caller supplies each holding's daily value (usually the
*current* quantity times each day's historical close, which measures the risk of the
portfolio as it stands today; passing the real historical values instead makes
deposits and purchases look like returns). Nothing here fetches prices.

Definitions (returns are fractions: ``0.12`` is 12 %; ``r`` are the simple daily
returns of the total value, ``v[t] / v[t-1] - 1``):

* **Annualisation** uses 365 periods a year by default: crypto trades every day.
  Stock-market tools (and empyrical's default) use 252; pass ``annualization=365`` to
  empyrical to compare.
* **Volatility** ``std(r, ddof=1) * sqrt(365)``.
* **Sharpe** ``(mean(r) - rf_day) / std(r, ddof=1) * sqrt(365)`` with
  ``rf_day = (1 + risk_free_pct / 100) ** (1 / 365) - 1``.
* **Sortino** ``(mean(r) - rf_day) / dd * sqrt(365)``, with the downside deviation
  ``dd = sqrt(mean(min(r - rf_day, 0)²))`` over *all* days (empyrical's definition with
  ``required_return=rf_day``; not the standard deviation of the negative days).
* **Maximum drawdown** deepest ``v / running_max(v) - 1`` (zero or negative), with the
  dates of its peak, trough and first return to the peak (``None`` if not yet).
* **Historical VaR 95 %, 1 day** the loss at the 5th percentile of ``r`` (numpy's
  linear interpolation, as empyrical's ``value_at_risk``). Reported as a positive
  loss: ``var_fraction == -empyrical.value_at_risk(r)``; negative when even the
  5th-percentile day was a gain. **Historical CVaR** the mean loss over the worst
  ``floor((n - 1) * 0.05) + 1`` days, as empyrical's ``conditional_value_at_risk``.
* **Parametric VaR / CVaR** the same under a normal distribution with the sample mean
  and standard deviation (``ddof=1``): VaR ``-(mu + sigma * z_0.05)``, CVaR
  ``-(mu - sigma * pdf(z_0.05) / 0.05)``.
* Money figures are ``fraction * current value``, rounded to cents.
* **Correlation** Pearson correlation of the daily returns of the (up to) eight
  largest holdings by current value, pairwise over the days both were held; ``None``
  where a holding did not move (stablecoins, cash) or shared fewer than 3 days.
* **Beta to BTC** ``cov(r, r_btc) / var(r_btc)`` (both with ``ddof=0``, as empyrical).
* **Concentration** the largest current weight and the Herfindahl index
  ``sum(w²)`` of current weights; ``1 / HHI`` is the "effective number of holdings".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from tools.errors import UserInputError

MIN_RETURNS = 20
CONFIDENCE = 0.95
TOP_HOLDINGS = 8
_CENT = Decimal("0.01")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Metric:
    """One figure and a plain sentence saying what it means.

    Attributes:
        value: The figure (``None`` when it is undefined, e.g. Sharpe of a flat series).
        explanation: Plain text for the user.
    """

    value: float | None
    explanation: str


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The deepest fall from a high.

    Attributes:
        max_drawdown: ``-0.25`` is a 25 % fall (``0.0`` when the value never fell).
        loss_value: The fall in money, at the trough.
        peak_at, trough_at: Dates (UTC) of the high and of the bottom.
        recovered_at: First date back at the high, ``None`` if not yet.
        explanation: Plain text for the user.
    """

    max_drawdown: float
    loss_value: Decimal
    peak_at: datetime | None
    trough_at: datetime | None
    recovered_at: datetime | None
    explanation: str


@dataclass(frozen=True, slots=True)
class ValueAtRisk:
    """One-day value at risk and expected shortfall at 95 %.

    Attributes:
        method: ``historical`` (the observed days) or ``parametric`` (normal fit).
        var_fraction: Loss not exceeded on 95 % of days, as a fraction of today's value.
        var_value: The same in money.
        cvar_fraction: Average loss on the worst 5 % of days.
        cvar_value: The same in money.
        var_explanation, cvar_explanation: Plain text for the user.
    """

    method: Literal["historical", "parametric"]
    var_fraction: float
    var_value: Decimal
    cvar_fraction: float
    cvar_value: Decimal
    var_explanation: str
    cvar_explanation: str


@dataclass(frozen=True, slots=True)
class Correlation:
    """Correlations of the largest holdings' daily returns.

    Attributes:
        symbols: Holdings, largest current value first.
        matrix: ``matrix[i][j]`` between ``symbols[i]`` and ``symbols[j]`` (``None`` if
            undefined).
        explanation: Plain text for the user.
    """

    symbols: tuple[str, ...]
    matrix: tuple[tuple[float | None, ...], ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class Concentration:
    """How much of the portfolio sits in few holdings.

    Attributes:
        weights: Current weight of each holding, largest first.
        largest_symbol: The largest holding.
        largest_weight: Its weight (``0.6`` is 60 %).
        herfindahl: ``sum(w²)``: 1 for a single holding, ``1/n`` for n equal ones.
        explanation: Plain text for the user.
    """

    weights: dict[str, float]
    largest_symbol: str
    largest_weight: float
    herfindahl: float
    explanation: str


@dataclass(frozen=True, slots=True)
class RiskReport:
    """Risk figures of a portfolio over a window of daily values.

    Attributes:
        start, end: First and last dates (UTC) of the window.
        days: Number of daily returns used.
        current_value: Total value on the last day.
        currency: Quote currency of the values.
        volatility: Annualised volatility.
        sharpe, sortino: Annualised ratios.
        drawdown: The maximum drawdown.
        var_historical, var_parametric: One-day VaR and CVaR at 95 %.
        correlation: Correlations of the largest holdings.
        beta_btc: Beta to BTC, ``None`` without BTC returns.
        concentration: Largest weight and Herfindahl index.
    """

    start: datetime
    end: datetime
    days: int
    current_value: Decimal
    currency: str
    volatility: Metric
    sharpe: Metric
    sortino: Metric
    drawdown: Drawdown
    var_historical: ValueAtRisk
    var_parametric: ValueAtRisk
    correlation: Correlation
    beta_btc: Metric | None
    concentration: Concentration

    def explanations(self) -> list[str]:
        """Every plain sentence, in display order."""
        lines = [
            self.volatility.explanation,
            self.sharpe.explanation,
            self.sortino.explanation,
            self.drawdown.explanation,
            self.var_historical.var_explanation,
            self.var_historical.cvar_explanation,
            self.var_parametric.var_explanation,
            self.var_parametric.cvar_explanation,
            self.correlation.explanation,
        ]
        if self.beta_btc is not None:
            lines.append(self.beta_btc.explanation)
        lines.append(self.concentration.explanation)
        return lines


def portfolio_risk(
    values_by_symbol: Mapping[str, npt.ArrayLike],
    times: npt.ArrayLike,
    *,
    btc_returns: npt.ArrayLike | None = None,
    risk_free_pct: float = 0.0,
    periods_per_year: int = 365,
    currency: str = "USD",
) -> RiskReport:
    """Compute the risk figures of a portfolio from its daily values.

    Args:
        values_by_symbol: Each holding's value on each day (quantity x close), aligned
            with ``times``; ``Decimal`` or float. Days before anything was held (total
            value zero) at the start are dropped.
        times: Daily UTC epoch seconds, increasing.
        btc_returns: BTC's simple daily returns aligned with the portfolio's returns
            (one fewer than ``times``; the last ones are used when leading empty days
            were dropped), for beta; ``None`` to skip beta.
        risk_free_pct: Annual risk-free rate in percent (``4.0`` is 4 %).
        periods_per_year: Periods used to annualise (365 for daily crypto data).
        currency: Quote currency, for the sentences.

    Returns:
        A :class:`RiskReport`.

    Raises:
        UserInputError: Fewer than 20 daily returns, or an empty portfolio in between.
        ValueError: Arrays of mismatched lengths (a programming error).
    """
    ts = np.asarray(times, dtype=np.int64)
    if not values_by_symbol:
        raise UserInputError("The portfolio holds nothing, so there is no risk to measure.")
    symbols = list(values_by_symbol)
    per_asset = np.vstack([np.asarray(values_by_symbol[s], dtype=np.float64) for s in symbols])
    if per_asset.shape[1] != ts.shape[0]:
        raise ValueError("each value series must have one value per time")
    if np.any(~np.isfinite(per_asset)) or np.any(per_asset < 0):
        raise ValueError("values must be finite and not negative")
    total = per_asset.sum(axis=0)
    held = np.nonzero(total > 0)[0]
    first = int(held[0]) if held.size else ts.shape[0]
    per_asset, total, ts = per_asset[:, first:], total[first:], ts[first:]
    n_returns = max(total.shape[0] - 1, 0)
    if n_returns < MIN_RETURNS:
        raise UserInputError(
            f"Risk figures need at least {MIN_RETURNS + 1} days of portfolio history "
            f"({MIN_RETURNS} daily changes); only {max(total.shape[0], 0)} "
            f"day{'' if total.shape[0] == 1 else 's'} available."
        )
    if np.any(total <= 0):
        raise UserInputError(
            "The portfolio was empty on some days of this window, so its daily changes "
            "cannot be measured. Choose a window that starts after it was last empty."
        )
    returns = total[1:] / total[:-1] - 1.0
    window = f"judging by the last {n_returns} days"
    current = float(total[-1])
    btc = None
    if btc_returns is not None:
        btc = np.asarray(btc_returns, dtype=np.float64)[-n_returns:]
        if btc.shape[0] != n_returns:
            raise ValueError("btc_returns must have one return per portfolio return")

    return RiskReport(
        start=_date(ts, 0),
        end=_date(ts, -1),
        days=n_returns,
        current_value=_money(current),
        currency=currency,
        volatility=_volatility(returns, periods_per_year, window),
        sharpe=_sharpe(returns, risk_free_pct, periods_per_year, window),
        sortino=_sortino(returns, risk_free_pct, periods_per_year, window),
        drawdown=_drawdown(total, ts, currency),
        var_historical=_historical_var(returns, current, currency, window),
        var_parametric=_parametric_var(returns, current, currency, window),
        correlation=_correlation(symbols, per_asset),
        beta_btc=None if btc is None else _beta(returns, btc),
        concentration=_concentration(symbols, per_asset[:, -1]),
    )


def daily_risk_free(risk_free_pct: float, periods_per_year: int = 365) -> float:
    """The per-day rate compounding to ``risk_free_pct`` percent a year."""
    return float((1.0 + risk_free_pct / 100.0) ** (1.0 / periods_per_year) - 1.0)


def _volatility(r: FloatArray, ppy: int, window: str) -> Metric:
    vol = float(np.std(r, ddof=1) * math.sqrt(ppy))
    return Metric(
        vol,
        f"Annualised volatility is {_pct(vol)}: the portfolio's value typically swings "
        f"by about that much over a year, up or down ({window}).",
    )


def _sharpe(r: FloatArray, rf_pct: float, ppy: int, window: str) -> Metric:
    excess = r - daily_risk_free(rf_pct, ppy)
    std = float(np.std(excess, ddof=1))
    if std == 0.0:
        return Metric(None, "The Sharpe ratio is undefined: the value did not move.")
    sharpe = float(np.mean(excess) / std * math.sqrt(ppy))
    return Metric(
        sharpe,
        f"Sharpe ratio {sharpe:.2f}: the return earned per unit of volatility, above a "
        f"{_num(rf_pct)}% risk-free rate, {window}; above 1 is good, below 0 means it "
        "did worse than the risk-free rate.",
    )


def _sortino(r: FloatArray, rf_pct: float, ppy: int, window: str) -> Metric:
    excess = r - daily_risk_free(rf_pct, ppy)
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0.0:
        return Metric(
            None, "The Sortino ratio is undefined: there was no day below the risk-free rate."
        )
    sortino = float(np.mean(excess) / downside * math.sqrt(ppy))
    return Metric(
        sortino,
        f"Sortino ratio {sortino:.2f}: like Sharpe, but only falls count as risk, "
        f"{window}; higher is better.",
    )


def _drawdown(total: FloatArray, ts: npt.NDArray[np.int64], currency: str) -> Drawdown:
    peaks = np.maximum.accumulate(total)
    dd = total / peaks - 1.0
    trough = int(np.argmin(dd))
    depth = float(dd[trough])
    if depth >= 0.0:
        return Drawdown(
            0.0, Decimal("0.00"), None, None, None, "The value never fell below a previous high."
        )
    peak_value = peaks[trough]
    peak = int(np.nonzero(total[: trough + 1] == peak_value)[0][-1])
    back = np.nonzero(total[trough:] >= peak_value)[0]
    recovered = trough + int(back[0]) if back.size else None
    loss = _money(float(peak_value - total[trough]))
    text = (
        f"The worst fall from a high was {_pct(-depth)} ({_amount(loss, currency)}), "
        f"from {_day(ts, peak)} to {_day(ts, trough)}; "
    )
    text += (
        f"it was back at that high on {_day(ts, recovered)}."
        if recovered is not None
        else "it has not recovered that high yet."
    )
    return Drawdown(
        depth,
        loss,
        _date(ts, peak),
        _date(ts, trough),
        None if recovered is None else _date(ts, recovered),
        text,
    )


def _historical_var(r: FloatArray, current: float, currency: str, window: str) -> ValueAtRisk:
    tail = 1.0 - CONFIDENCE
    var = -float(np.percentile(r, 100 * tail))
    k = int((r.shape[0] - 1) * tail) + 1
    cvar = -float(np.mean(np.sort(r)[:k]))
    return _var_result("historical", var, cvar, current, currency, window, "")


def _parametric_var(r: FloatArray, current: float, currency: str, window: str) -> ValueAtRisk:
    tail = 1.0 - CONFIDENCE
    mu, sigma = float(np.mean(r)), float(np.std(r, ddof=1))
    normal = NormalDist()
    z = normal.inv_cdf(tail)
    var = -(mu + sigma * z)
    cvar = -(mu - sigma * normal.pdf(z) / tail)
    prefix = "Assuming daily changes follow a normal bell curve, "
    return _var_result("parametric", var, cvar, current, currency, window, prefix)


def _var_result(
    method: Literal["historical", "parametric"],
    var: float,
    cvar: float,
    current: float,
    currency: str,
    window: str,
    prefix: str,
) -> ValueAtRisk:
    var_value, cvar_value = _money(var * current), _money(cvar * current)
    on = "on" if prefix else "On"
    if var > 0:
        var_text = (
            f"{prefix}{on} 95% of days the portfolio should not lose more than "
            f"{_amount(var_value, currency)} ({_pct(var)}) in a day, {window}."
        )
    else:
        var_text = f"{prefix}{on} 95% of days the portfolio should not lose money at all, {window}."
    if cvar > 0:
        cvar_text = (
            f"{prefix}{'on' if prefix else 'On'} the worst 5% of days the average loss "
            f"{'would be' if prefix else 'was'} {_amount(cvar_value, currency)} ({_pct(cvar)})."
        )
    else:
        cvar_text = f"{prefix}{on} even the worst 5% of days the portfolio did not lose on average."
    return ValueAtRisk(method, var, var_value, cvar, cvar_value, var_text, cvar_text)


def _correlation(symbols: list[str], per_asset: FloatArray) -> Correlation:
    order = sorted(range(len(symbols)), key=lambda i: (-per_asset[i, -1], symbols[i]))
    top = [i for i in order if per_asset[i, -1] > 0][:TOP_HOLDINGS]
    names = tuple(symbols[i] for i in top)
    matrix: list[list[float | None]] = [[None] * len(top) for _ in top]
    best: tuple[float, str, str] | None = None
    for a, i in enumerate(top):
        for b in range(a, len(top)):
            rho = _pair_correlation(per_asset[i], per_asset[top[b]])
            matrix[a][b] = matrix[b][a] = rho
            if a != b and rho is not None and (best is None or rho > best[0]):
                best = (rho, names[a], names[b])
    text = (
        "Correlation runs from -1 to 1: near 1 two holdings rise and fall together, "
        "near 0 they move independently, below 0 they tend to move opposite ways."
    )
    if best is not None:
        text += f" The most closely linked pair is {best[1]} and {best[2]} ({best[0]:.2f})."
    return Correlation(names, tuple(tuple(row) for row in matrix), text)


def _pair_correlation(x: FloatArray, y: FloatArray) -> float | None:
    both = (x[:-1] > 0) & (x[1:] > 0) & (y[:-1] > 0) & (y[1:] > 0)
    if int(both.sum()) < 3:
        return None
    rx = (x[1:] / np.where(x[:-1] > 0, x[:-1], 1.0) - 1.0)[both]
    ry = (y[1:] / np.where(y[:-1] > 0, y[:-1], 1.0) - 1.0)[both]
    dx, dy = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float(np.sum(dx * dx)) * float(np.sum(dy * dy)))
    if denom <= 1e-300 or np.ptp(rx) == 0.0 or np.ptp(ry) == 0.0:
        return None
    return float(np.clip(np.sum(dx * dy) / denom, -1.0, 1.0))


def _beta(r: FloatArray, btc: FloatArray) -> Metric:
    centred = btc - btc.mean()
    var = float(np.mean(centred * centred))
    if var < 1e-30:
        return Metric(None, "Beta to BTC is undefined: BTC did not move in this window.")
    beta = float(np.mean(centred * r) / var)
    return Metric(
        beta,
        f"Beta to BTC is {beta:.2f}: when BTC moved 1% in a day, the portfolio tended to "
        f"move {abs(beta):.2f}% {'the same way' if beta >= 0 else 'the opposite way'}.",
    )


def _concentration(symbols: list[str], current: FloatArray) -> Concentration:
    total = float(current.sum())
    weights = {
        symbols[i]: float(current[i] / total)
        for i in sorted(range(len(symbols)), key=lambda i: (-current[i], symbols[i]))
        if current[i] > 0
    }
    largest = next(iter(weights))
    hhi = float(sum(w * w for w in weights.values()))
    text = (
        f"{largest} is the largest holding at {_pct(weights[largest])} of the portfolio; "
        f"the Herfindahl index of {hhi:.2f} (1 means everything in one coin) makes it "
        f"about as concentrated as {1 / hhi:.1f} equally sized holdings."
    )
    return Concentration(weights, largest, weights[largest], hhi, text)


def _money(x: Any) -> Decimal:
    return Decimal(repr(float(x))).quantize(_CENT)


def _amount(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def _num(x: float) -> str:
    return f"{x:g}"


def _date(ts: npt.NDArray[np.int64], index: int) -> datetime:
    return datetime.fromtimestamp(int(ts[index]), UTC)


def _day(ts: npt.NDArray[np.int64], index: int) -> str:
    return _date(ts, index).strftime("%Y-%m-%d")
