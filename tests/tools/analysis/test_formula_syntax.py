"""Formula parser: grammar, canonical text, errors with exact caret positions, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.analysis.formula import FormulaError, evaluate_formula, parse_formula
from tools.analysis.formula_syntax import MAX_DEPTH, Binary, Call, Number, Series, Unary, parse
from tools.errors import UserInputError

from .ta_data import bars_of, walk


def caret_position(message: str) -> int:
    """1-based column of the caret on the last line of an error message."""
    return message.splitlines()[-1].index("^") + 1


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("RSI(14) - RSI(28)", "RSI(14) - RSI(28)"),
        ("ema(12)/Ema(26) - 1", "EMA(12) / EMA(26) - 1"),
        ("(CLOSE - SMA(20)) / ATR(14)", "(CLOSE - SMA(20)) / ATR(14)"),
        ("MAX(high, 20)", "MAX(HIGH, 20)"),
        ("RSI(14) > 70", "RSI(14) > 70"),
        ("1 - (2 - 3)", "1 - (2 - 3)"),
        ("-close * -2", "-CLOSE * -2"),
        ("+5", "5"),
        (".5 + 1.", "0.5 + 1"),
        ("close > open and volume > sma(volume, 20) or rsi(14) < 30",
         "CLOSE > OPEN AND VOLUME > SMA(VOLUME, 20) OR RSI(14) < 30"),
        ("MACD()", "MACD(12, 26, 9)"),
        ("MACD_HIST(5, 35)", "MACD_HIST(5, 35, 9)"),
        ("BB_UPPER(20)", "BB_UPPER(20, 2)"),
        ("bb_lower(20, 2.5) <= low", "BB_LOWER(20, 2.5) <= LOW"),
        ("STOCH_K() != STOCH_D(5)", "STOCH_K(14, 3, 3) != STOCH_D(5, 3, 3)"),
        ("ABS(CHANGE(CLOSE, 7)) >= 10", "ABS(CHANGE(CLOSE, 7)) >= 10"),
        ("SMA(RSI(14), 5) == 50", "SMA(RSI(14), 5) == 50"),
        ("  CLOSE  ", "CLOSE"),
    ],
)  # fmt: skip
def test_valid_formulas_and_canonical_text(text: str, expression: str) -> None:
    formula = parse_formula(text)
    assert formula.expression == expression
    assert parse_formula(formula.expression).tree == formula.tree  # canonical text round-trips


def test_precedence_and_associativity() -> None:
    tree = parse("1 + 2 * 3 - 4 / 2 > 1 AND CLOSE < 2 OR -3")
    assert isinstance(tree, Binary) and tree.op == "OR"
    assert isinstance(tree.right, Unary) and tree.right.operand == Number(3.0)
    left = tree.left
    assert isinstance(left, Binary) and left.op == "AND"
    assert isinstance(left.left, Binary) and left.left.op == ">"
    arith = left.left.left  # (1 + 2*3) - 4/2
    assert isinstance(arith, Binary) and arith.op == "-"
    assert arith.left == Binary("+", Number(1.0), Binary("*", Number(2.0), Number(3.0)))
    assert parse("EMA(CLOSE, 10)") == Call("EMA", (Series("CLOSE"),), (10,))


def test_signals_and_warmup() -> None:
    assert parse_formula("RSI(14) > 70").is_signal
    assert parse_formula("CLOSE > 1 OR CLOSE < 0").is_signal
    assert not parse_formula("(RSI(14) > 70) * 2").is_signal
    assert parse_formula("RSI(14) - RSI(28)").warmup == 28
    assert parse_formula("SMA(RSI(14), 5)").warmup == 18
    assert parse_formula("CHANGE(CLOSE, 7)").warmup == 7
    assert parse_formula("MAX(HIGH, 20)").warmup == 19
    assert parse_formula("CLOSE").warmup == 0


def test_the_documented_example_message() -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula("RSX(14) - RSI(28)")
    assert caught.value.user_message == (
        'Unknown function "RSX" at position 1 (did you mean RSI?):\nRSX(14) - RSI(28)\n^'
    )
    assert isinstance(caught.value, UserInputError)
    assert caught.value.position == 1 and caught.value.index == 0


@pytest.mark.parametrize(
    ("text", "position", "start"),
    [
        # unknown names, with suggestions
        ("RSI(14) - RSX(28)", 11, 'Unknown function "RSX" at position 11 (did you mean RSI?)'),
        ("CLOS + 1", 1, 'Unknown name "CLOS" at position 1 (did you mean CLOSE?)'),
        ("foo(3)", 1, 'Unknown function "foo" at position 1 (functions: RSI, SMA'),
        ("CLOSE(3)", 1, "CLOSE is a series, not a function at position 1"),
        ("RSI + 1", 1, "RSI needs parentheses at position 1 (usage: RSI(n))"),
        # arity
        (
            "RSI(14, 28)",
            9,
            "Too many arguments for RSI at position 9 (it takes 1 argument: RSI(n))",
        ),
        ("MAX(HIGH)", 9, "Too few arguments for MAX at position 9 (it takes 2 arguments"),
        ("ABS()", 5, "Too few arguments for ABS at position 5"),
        ("SMA(CLOSE, 5, 6)", 15, "Too many arguments for SMA at position 15 (it takes 1 or 2"),
        ("MACD(1, 2, 3, 4)", 15, "Too many arguments for MACD at position 15 (it takes 0 to 3"),
        # periods
        ("RSI(0)", 5, 'Invalid RSI period "0" at position 5 (use a whole number from 2 to 5000)'),
        ("SMA(-5)", 5, 'Invalid SMA period "-5" at position 5 (use a whole number from 1 to 5000)'),
        ("EMA(5001)", 5, 'Invalid EMA period "5001" at position 5'),
        ("SMA(2.5)", 5, 'Invalid SMA period "2.5" at position 5'),
        ("MAX(HIGH, 1)", 11, 'Invalid MAX period "1" at position 11 (use a whole number from 2'),
        ("RSI(CLOSE)", 5, "RSI period must be a plain number at position 5"),
        ("SMA(CLOSE, 2 + 3)", 12, "SMA period must be a plain number at position 12"),
        ("BB_UPPER(20, 0)", 14, 'Invalid BB_UPPER k "0" at position 14'),
        ("MACD(26, 12)", 6, "MACD fast period (26) is not shorter than the slow period (12)"),
        # structure
        ("(RSI(14)", 9, 'Missing ")" at position 9 (to close the "(" at position 1)'),
        ("RSI(14", 7, 'Missing ")" at position 7 (to close the "(" at position 4)'),
        ("RSI(14))", 8, 'Unexpected ")" at position 8 (no matching "(")'),
        (")", 1, 'Unexpected ")" at position 1'),
        ("RSI(14) 70", 9, 'Unexpected number "70" at position 9 (expected an operator'),
        ("RSI(14) > 70 CLOSE", 14, 'Unexpected "CLOSE" at position 14'),
        ("RSI(14) >", 10, "Formula ends too early at position 10"),
        ("RSI(14) AND", 12, "Formula ends too early at position 12"),
        ("* 2", 1, 'Unexpected "*" at position 1'),
        ("RSI(14,)", 8, 'Unexpected ")" at position 8'),
        ("RSI(14), 3", 8, 'Unexpected "," at position 8'),
        ("()", 2, 'Unexpected ")" at position 2'),
        ("AND 1", 1, "Unexpected AND at position 1"),
        # characters and numbers
        ("CLOSE = 3", 7, 'Unexpected character "=" at position 7 (use == to compare)'),
        ("CLOSE & 3", 7, 'Unexpected character "&" at position 7 (use AND / OR)'),
        ("CLOSE $", 7, 'Unexpected character "$"'),
        ("1e5 + 1", 1, 'Invalid number "1e5" at position 1'),
        ("1.2.3", 1, 'Invalid number "1.2.3" at position 1'),
        ("14abc", 1, 'Invalid number "14abc"'),
        ("CLOSE + \u00e9", 9, 'Unexpected character "\u00e9" at position 9'),
        ("CLOSE\x00", 6, "Unexpected character U+0000 at position 6"),
    ],
)
def test_errors_point_at_the_problem(text: str, position: int, start: str) -> None:
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    error = caught.value
    message = error.user_message
    assert message.startswith(start), message
    assert error.position == position
    lines = message.splitlines()
    assert lines[-2] == text.strip().replace("\x00", " ")
    assert caret_position(message) == position
    assert lines[-1].strip() == "^"


def test_empty_formula() -> None:
    for text in ("", "   ", "\n\t"):
        with pytest.raises(FormulaError) as caught:
            parse_formula(text)
        assert caught.value.user_message == (
            "The formula is empty (try something like RSI(14) > 70)."
        )


def test_overlong_formula_points_past_the_limit() -> None:
    text = "CLOSE + " * 25 + "1"  # 201 characters
    assert len(text) == 201
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    message = caught.value.user_message
    assert message.startswith("Formula is too long (201 characters) at position 201 (the limit")
    line, caret = message.splitlines()[-2:]
    assert line.startswith("...") and len(line) <= 80
    assert line[caret.index("^")] == "1"  # the caret sits under character 201
    parse_formula(text[:200].rstrip(" +"))  # at the limit is fine


def test_long_formula_excerpt_keeps_the_caret_aligned() -> None:
    text = "CLOSE + " * 20 + "RSX(3)"
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    error = caught.value
    line, caret = error.user_message.splitlines()[-2:]
    assert error.position == 161
    assert line[caret.index("^") :].startswith("RSX(3)")


def test_nesting_limit() -> None:
    ok = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert parse_formula(ok).expression == "1"
    with pytest.raises(FormulaError, match="nested too deeply at position 21"):
        parse_formula("(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(FormulaError, match="nested too deeply"):
        parse_formula("-" * 60 + "1")
    with pytest.raises(FormulaError, match="nested too deeply"):
        parse_formula("ABS(" * 25 + "CLOSE" + ")" * 25)


def test_long_number_literals_are_plain_floats() -> None:
    values = evaluate_formula(parse_formula("9" * 100 + " / 1" + "0" * 90), bars_of([1.0, 2.0]))
    assert values == pytest.approx([1e10, 1e10], rel=1e-12)


# -- fuzzing ----------------------------------------------------------------------------------

_FUZZ_BARS = bars_of(list(walk(40)))
_PIECES = [
    "RSI", "EMA", "SMA", "ATR", "MACD", "MACD_SIGNAL", "MACD_HIST", "BB_UPPER", "BB_LOWER",
    "BB_MID", "STOCH_K", "STOCH_D", "MAX", "MIN", "ABS", "CHANGE", "CLOSE", "open", "High",
    "LOW", "VOLUME", "AND", "or", "(", ")", ",", "+", "-", "*", "/", "<", "<=", ">", ">=",
    "==", "!=", "=", " ", "0", "1", "2", "14", "2.5", ".5", "5000", "5001", "-5", "1e5",
    "x", "@", "\u00b2", "\u0663",
]  # fmt: skip


def _check(text: str) -> None:
    try:
        formula = parse_formula(text)
    except FormulaError as exc:
        assert exc.user_message and isinstance(exc.position, int)
        return
    values = evaluate_formula(formula, _FUZZ_BARS)
    assert values.shape == (len(_FUZZ_BARS),) and values.dtype == np.float64
    assert not np.isinf(values).any()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=250))
def test_random_text_only_raises_formula_error(text: str) -> None:
    _check(text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_random_token_soup_only_raises_formula_error(text: str) -> None:
    _check(text)
