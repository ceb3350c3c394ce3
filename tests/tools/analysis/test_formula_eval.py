"""Formula evaluation: results equal direct TA-Lib/numpy computations to 1e-9; NaN rules."""

from __future__ import annotations

import numpy as np
import pytest
import talib

from tools.analysis.bars import Bars
from tools.analysis.formula import evaluate_formula, parse_formula

from .ta_data import bars_of, walk

BARS = bars_of(list(walk(600)))
C, OP, H, L, V = BARS.close, BARS.open, BARS.high, BARS.low, BARS.volume


def same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal to 1e-9 (absolute and relative), NaN where the expected value is NaN."""
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-9, equal_nan=True)


def signal(mask: np.ndarray, *defined: np.ndarray) -> np.ndarray:
    out = mask.astype(np.float64)
    for values in defined:
        out[np.isnan(values)] = np.nan
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RSI(14) - RSI(28)", lambda: talib.RSI(C, 14) - talib.RSI(C, 28)),
        ("EMA(12)/EMA(26) - 1", lambda: talib.EMA(C, 12) / talib.EMA(C, 26) - 1),
        (
            "(CLOSE - SMA(20)) / ATR(14)",
            lambda: (C - talib.SMA(C, 20)) / talib.ATR(H, L, C, 14),
        ),
        ("MAX(HIGH, 20)", lambda: talib.MAX(H, 20)),
        ("RSI(14) > 70", lambda: signal(talib.RSI(C, 14) > 70, talib.RSI(C, 14))),
        ("MIN(low, 5) + OPEN * 2", lambda: talib.MIN(L, 5) + OP * 2),
        ("SMA(VOLUME, 10)", lambda: talib.SMA(V, 10)),
        ("EMA(HIGH, 30)", lambda: talib.EMA(H, 30)),
        ("MACD()", lambda: talib.MACD(C, 12, 26, 9)[0]),
        ("MACD_SIGNAL(5, 35, 5)", lambda: talib.MACD(C, 5, 35, 5)[1]),
        ("MACD_HIST()", lambda: talib.MACD(C, 12, 26, 9)[2]),
        ("BB_UPPER(20, 2.5)", lambda: talib.BBANDS(C, 20, 2.5, 2.5, 0)[0]),
        ("BB_MID(20)", lambda: talib.BBANDS(C, 20, 2, 2, 0)[1]),
        ("BB_LOWER(30)", lambda: talib.BBANDS(C, 30, 2, 2, 0)[2]),
        ("STOCH_K()", lambda: talib.STOCH(H, L, C, 14, 3, 0, 3, 0)[0]),
        ("STOCH_D(5, 2, 4)", lambda: talib.STOCH(H, L, C, 5, 2, 0, 4, 0)[1]),
        ("ABS(CLOSE - OPEN)", lambda: np.abs(C - OP)),
        ("-CLOSE", lambda: -C),
        (
            "CHANGE(CLOSE, 7)",
            lambda: np.concatenate((np.full(7, np.nan), (C[7:] / C[:-7] - 1) * 100)),
        ),
        ("SMA(RSI(14), 5)", lambda: talib.SMA(talib.RSI(C, 14), 5)),
        (
            "CLOSE > OPEN AND RSI(14) < 50",
            lambda: signal((C > OP) & (talib.RSI(C, 14) < 50), talib.RSI(C, 14)),
        ),
        ("CLOSE >= HIGH OR CLOSE <= LOW", lambda: signal((C >= H) | (C <= L))),
        ("CLOSE == CLOSE", lambda: np.ones_like(C)),
        ("CLOSE != CLOSE", lambda: np.zeros_like(C)),
        ("2 * 3 + 1", lambda: np.full_like(C, 7.0)),
    ],
)
def test_formulas_match_direct_computation(text: str, expected: object) -> None:
    same(evaluate_formula(text, BARS), expected())  # type: ignore[operator]


def test_first_value_is_at_the_warmup() -> None:
    for text in (
        "RSI(14) - RSI(28)", "(CLOSE - SMA(20)) / ATR(14)", "MAX(HIGH, 20)", "SMA(RSI(14), 5)",
        "MACD_SIGNAL()", "STOCH_D()", "CHANGE(EMA(10), 3)", "BB_UPPER(20)", "CLOSE",
    ):  # fmt: skip
        formula = parse_formula(text)
        values = evaluate_formula(formula, BARS)
        first = int(np.argmax(~np.isnan(values)))
        assert first == formula.warmup, text


def test_division_by_zero_is_nan_not_an_error() -> None:
    values = evaluate_formula("CLOSE / (HIGH - HIGH)", BARS)
    assert np.isnan(values).all()
    assert np.isnan(evaluate_formula("1 / 0", BARS)).all()
    assert np.isnan(evaluate_formula("(1 / 0) > 1", BARS)).all()
    assert np.isnan(evaluate_formula("-(0 / 0)", BARS)).all()
    flat = bars_of([5.0] * 30)
    assert np.isnan(evaluate_formula("CHANGE(CLOSE - 5, 2)", flat)).all()


def test_gaps_restart_moving_functions() -> None:
    closes = list(walk(80, seed=4))
    closes[40] = 100.0
    bars = bars_of(closes)
    values = evaluate_formula("SMA(1 / (CLOSE - 100), 3)", bars)
    with np.errstate(divide="ignore"):
        derived = 1 / (bars.close - 100)
    derived[40] = np.nan
    assert np.isnan(values[40:43]).all()  # the gap and the restarted warm-up
    same(values[43:], talib.SMA(derived[41:], 3)[2:])
    same(values[:40], talib.SMA(derived[:40], 3))


def test_shared_subexpressions_are_consistent() -> None:
    hist = evaluate_formula("MACD() - MACD_SIGNAL()", BARS)
    same(hist, evaluate_formula("MACD_HIST()", BARS))
    same(evaluate_formula("EMA(12) - EMA(12)", BARS), talib.EMA(C, 12) * 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(RSI(14) - 50) * (RSI(14) - 50)", lambda: (talib.RSI(C, 14) - 50) ** 2),
        ("RSI(14) - 50 + RSI(14)", lambda: 2 * talib.RSI(C, 14) - 50),
        (
            "SMA(RSI(14), 5) + RSI(14) * 2",
            lambda: talib.SMA(talib.RSI(C, 14), 5) + 2 * talib.RSI(C, 14),
        ),
        (
            "(EMA(5) > EMA(9)) + (EMA(5) > EMA(9)) * 2",
            lambda: 3 * signal(talib.EMA(C, 5) > talib.EMA(C, 9), talib.EMA(C, 9)),
        ),
        ("MACD() * 2 - MACD()", lambda: talib.MACD(C, 12, 26, 9)[0]),
        ("CLOSE * 2 - CLOSE", lambda: C.copy()),
    ],
)
def test_reused_buffers_never_corrupt_shared_values(text: str, expected: object) -> None:
    same(evaluate_formula(text, BARS), expected())  # type: ignore[operator]
    assert np.array_equal(BARS.close, C)


def test_result_is_never_a_view_of_the_bars() -> None:
    bars = bars_of([1.0, 2.0, 3.0])
    values = evaluate_formula("CLOSE", bars)
    values[:] = 0
    assert list(bars.close) == [1.0, 2.0, 3.0]


def test_short_and_empty_bars() -> None:
    short = bars_of([1.0, 2.0, 3.0])
    assert np.isnan(evaluate_formula("SMA(200)", short)).all()
    assert np.isnan(evaluate_formula("MACD_HIST() > 0", short)).all()
    none = np.array([], dtype=np.float64)
    empty = Bars("X", "1d", np.array([], dtype=np.int64), none, none, none, none, none)
    assert evaluate_formula("RSI(14) + 1", empty).shape == (0,)
