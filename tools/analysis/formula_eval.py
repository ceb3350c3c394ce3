"""Evaluation of parsed formulas over :class:`~tools.analysis.bars.Bars` with numpy and TA-Lib.

Each node becomes one vectorised numpy operation or one TA-Lib call over the whole
array, and identical sub-expressions (``EMA(12)`` twice, or ``MACD()`` next to
``MACD_SIGNAL()``) are computed once, so a formula costs little more than the TA-Lib
calls it makes, whatever the number of bars.

Numbers follow these rules:

* A value is ``NaN`` while an indicator warms up and wherever it is undefined: a
  division by zero, an overflow, or any operation on ``NaN``. Values are never invented.
* Comparisons and ``AND``/``OR`` give 1.0 or 0.0 (``NaN`` if an operand is ``NaN``);
  any non-zero value counts as true.
* A moving function applied to a derived series that has gaps (``NaN`` after its
  warm-up, e.g. from a division by zero) restarts after each gap instead of staying
  ``NaN`` for ever, as TA-Lib alone would.
* :func:`lookback` gives the bars consumed before the first value (the warm-up).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tools.analysis import indicators as ind
from tools.analysis.bars import Bars, FloatArray
from tools.analysis.formula_ast import (
    COMPARISONS,
    LOGICAL,
    Binary,
    Call,
    Expr,
    Number,
    Series,
    Unary,
)

__all__ = ["evaluate", "is_signal", "lookback"]

Value = FloatArray | float


def is_signal(node: Expr) -> bool:
    """True when the formula's result is a signal (a comparison or ``AND``/``OR``)."""
    return isinstance(node, Binary) and (node.op in COMPARISONS or node.op in LOGICAL)


def lookback(node: Expr) -> int:
    """Bars consumed before the formula's first value (0 for plain prices)."""
    if isinstance(node, (Number, Series)):
        return 0
    if isinstance(node, Unary):
        return lookback(node.operand)
    if isinstance(node, Binary):
        return max(lookback(node.left), lookback(node.right))
    inner = max((lookback(s) for s in node.series), default=0)
    p = [int(v) for v in node.params]
    name = node.name
    if name in ("SMA", "EMA"):
        return inner + ind.warmup(name, p[0])
    if name in ("RSI", "ATR"):
        return ind.warmup(name, p[0])
    if name.startswith("MACD"):
        return ind.warmup("MACD", *p)
    if name.startswith("BB_"):
        return ind.warmup("BBANDS", p[0])
    if name.startswith("STOCH"):
        return ind.warmup("STOCH", *p)
    if name in ("MAX", "MIN"):
        return inner + ind.warmup(name, p[0])
    if name == "CHANGE":
        return inner + p[0]
    return inner  # ABS


def evaluate(node: Expr, bars: Bars) -> FloatArray:
    """Evaluate a parsed formula on every bar.

    Args:
        node: A tree from :func:`tools.analysis.formula_syntax.parse`.
        bars: The bars, oldest first.

    Returns:
        One ``float64`` value per bar (``NaN`` during warm-up or where undefined).
    """
    with np.errstate(all="ignore"):
        result = _Evaluator(bars, node).eval(node)
    if isinstance(result, np.ndarray):
        return result
    return np.full(len(bars), result, dtype=np.float64)


class _Evaluator:
    def __init__(self, bars: Bars, root: Expr) -> None:
        self.bars = bars
        self.uses: dict[Expr, int] = {}
        _count_uses(root, self.uses)
        self.memo: dict[object, Value] = {}
        self.multi: dict[tuple[object, ...], tuple[FloatArray, ...]] = {}

    def eval(self, node: Expr) -> Value:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Series):
            return getattr(self.bars, node.name.lower())
        cached = self.memo.get(node)
        if cached is not None:
            return cached
        if isinstance(node, Unary):
            value = _clean(-_arr_or_float(self.eval(node.operand)))
        elif isinstance(node, Binary):
            left, right = self.eval(node.left), self.eval(node.right)
            scratch = self.scratch(node.left, left)
            if scratch is None:
                scratch = self.scratch(node.right, right)
            value = _binary(node.op, left, right, scratch)
        else:
            value = self.call(node)
        self.memo[node] = value
        return value

    def scratch(self, node: Expr, value: Value) -> FloatArray | None:
        """``value`` if it may be overwritten: a temporary used by this node only."""
        if not isinstance(value, np.ndarray) or isinstance(node, (Number, Series)):
            return None
        if self.uses.get(node, 0) != 1 or isinstance(node, Call) and node.name in _SHARED:
            return None
        return value

    def series_arg(self, node: Expr) -> FloatArray:
        value = self.eval(node)
        if isinstance(value, np.ndarray):
            return value
        return np.full(len(self.bars), value, dtype=np.float64)

    def call(self, node: Call) -> FloatArray:
        b = self.bars
        name = node.name
        p = node.params
        if name == "RSI":
            return ind.rsi(b.close, int(p[0]))
        if name == "ATR":
            return ind.atr(b.high, b.low, b.close, int(p[0]))
        if name in ("SMA", "EMA", "MAX", "MIN"):
            fn = {"SMA": ind.sma, "EMA": ind.ema, "MAX": ind.rolling_max,
                  "MIN": ind.rolling_min}[name]  # fmt: skip
            period = int(p[0])
            arg = node.series[0] if node.series else Series("CLOSE")
            if isinstance(arg, Series):  # market data: no gaps to handle
                return fn(self.series_arg(arg), period)
            return _segmented(lambda x: fn(x, period), self.series_arg(arg), period)
        if name == "ABS":
            return np.abs(self.series_arg(node.series[0]))
        if name == "CHANGE":
            return _change(self.series_arg(node.series[0]), int(p[0]))
        if name.startswith("MACD"):
            line, signal, hist = self.shared(
                ("MACD", *p), lambda: ind.macd(b.close, int(p[0]), int(p[1]), int(p[2]))
            )
            return {"MACD": line, "MACD_SIGNAL": signal, "MACD_HIST": hist}[name]
        if name.startswith("BB_"):
            k = float(p[1]) if len(p) > 1 else 2.0
            upper, middle, lower = self.shared(
                ("BBANDS", int(p[0]), k), lambda: ind.bbands(b.close, int(p[0]), k)
            )
            return {"BB_UPPER": upper, "BB_MID": middle, "BB_LOWER": lower}[name]
        if name.startswith("STOCH"):
            k_line, d_line = self.shared(
                ("STOCH", *p),
                lambda: ind.stoch(b.high, b.low, b.close, int(p[0]), int(p[1]), int(p[2])),
            )
            return k_line if name == "STOCH_K" else d_line
        raise AssertionError(f"unhandled function {name}")  # parse() admits no other name

    def shared(
        self, key: tuple[object, ...], compute: Callable[[], tuple[FloatArray, ...]]
    ) -> tuple[FloatArray, ...]:
        """Multi-output indicators (MACD, bands, stochastic) computed once per parameters."""
        if key not in self.multi:
            self.multi[key] = compute()
        return self.multi[key]


#: Multi-output functions whose arrays are cached for their siblings.
_SHARED = frozenset({"MACD", "MACD_SIGNAL", "MACD_HIST", "BB_UPPER", "BB_MID", "BB_LOWER",
                     "STOCH_K", "STOCH_D"})  # fmt: skip


def _count_uses(node: Expr, uses: dict[Expr, int]) -> None:
    """How often each distinct sub-expression occurs (shared ones are computed once)."""
    uses[node] = uses.get(node, 0) + 1
    if uses[node] > 1:
        return
    if isinstance(node, Unary):
        _count_uses(node.operand, uses)
    elif isinstance(node, Binary):
        _count_uses(node.left, uses)
        _count_uses(node.right, uses)
    elif isinstance(node, Call):
        for child in node.series:
            _count_uses(child, uses)


def _arr_or_float(value: Value) -> Value:
    return value if isinstance(value, np.ndarray) else np.float64(value)


def _clean(value: Value) -> Value:
    """Replace infinities (division by zero, overflow) by ``NaN``."""
    if isinstance(value, np.ndarray):
        bad = np.isinf(value)
        if bad.any():
            np.copyto(value, np.nan, where=bad)
        return value
    number = float(value)
    return number if np.isfinite(number) else float("nan")


_COMPARE = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_LOGICAL = {"AND": np.logical_and, "OR": np.logical_or}


_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


def _binary(op: str, left: Value, right: Value, scratch: FloatArray | None = None) -> Value:
    """Apply ``op``; ``scratch`` is an operand's array that may hold the result."""
    a, b = _arr_or_float(left), _arr_or_float(right)
    if op in _ARITHMETIC:
        ufunc = _ARITHMETIC[op]
        if scratch is None:
            return _clean(ufunc(a, b))
        return _clean(ufunc(a, b, out=scratch))
    arrays = [x for x in (a, b) if isinstance(x, np.ndarray)]
    if not arrays:
        if np.isnan(a) or np.isnan(b):
            return float("nan")
        truth = _COMPARE[op](a, b) if op in _COMPARE else _LOGICAL[op](a != 0, b != 0)
        return float(truth)
    # Signals are NaN where an operand is undefined; the masks are taken before the
    # result may overwrite an operand.
    undefined = [np.isnan(x) for x in arrays]
    out = scratch if scratch is not None else np.empty(arrays[0].shape, dtype=np.float64)
    if op in _COMPARE:
        _COMPARE[op](a, b, out=out, casting="unsafe")
    else:
        _LOGICAL[op](np.not_equal(a, 0), np.not_equal(b, 0), out=out, casting="unsafe")
    for mask in undefined:
        np.copyto(out, np.nan, where=mask)
    if any(not isinstance(x, np.ndarray) and np.isnan(x) for x in (a, b)):
        out.fill(np.nan)
    return out


def _change(values: FloatArray, n: int) -> FloatArray:
    """Percent change over ``n`` bars: ``(x[t] / x[t-n] - 1) * 100``."""
    out = np.full(values.shape[0], np.nan)
    if n < values.shape[0]:
        out[n:] = (values[n:] / values[:-n] - 1.0) * 100.0
    return _clean(out)  # type: ignore[return-value]


def _segmented(
    fn: Callable[[FloatArray], FloatArray], values: FloatArray, period: int
) -> FloatArray:
    """Apply a TA-Lib moving function, restarting it after every gap of ``NaN`` values.

    TA-Lib itself skips leading ``NaN`` values, but a ``NaN`` later on poisons every
    value after it. Runs too short to produce a value are left ``NaN``.
    """
    finite = np.isfinite(values)
    first = int(np.argmax(finite)) if finite.any() else len(values)
    if first >= len(values) or finite[first:].all():
        return fn(values)
    out = np.full(values.shape[0], np.nan)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.view(np.int8), [0]))))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= period:
            out[start:end] = fn(values[start:end])
    return out
