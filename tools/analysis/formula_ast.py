"""Custom formula building blocks: the error type, the function table and the syntax tree.

:mod:`tools.analysis.formula_syntax` parses text into the nodes defined here;
:mod:`tools.analysis.formula_eval` evaluates them. :class:`FormulaError` shows the
formula with a caret under the offending position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.errors import UserInputError

__all__ = [
    "COMPARISONS",
    "FUNCTIONS",
    "LOGICAL",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_PERIOD",
    "PRECEDENCE",
    "RESERVED_WORDS",
    "SERIES",
    "Binary",
    "Call",
    "Expr",
    "FormulaError",
    "FunctionSpec",
    "Number",
    "Param",
    "Series",
    "Unary",
    "functions_used",
    "number_text",
    "to_text",
]

#: Longest formula accepted, in characters (after trimming surrounding whitespace).
MAX_LENGTH = 200
#: Deepest nesting of parentheses, function calls and unary signs.
MAX_DEPTH = 20
#: Largest period any function accepts.
MAX_PERIOD = 5000
#: Widest excerpt of the formula shown in an error message.
_EXCERPT = 80

#: Price and volume series a formula can name.
SERIES: tuple[str, ...] = ("CLOSE", "OPEN", "HIGH", "LOW", "VOLUME")

COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
LOGICAL = ("AND", "OR")
PRECEDENCE = {"OR": 1, "AND": 2, **{op: 3 for op in COMPARISONS}, "+": 4, "-": 4, "*": 5, "/": 5}


class FormulaError(UserInputError):
    """A formula that cannot be parsed or is not valid.

    The ``user_message`` names the problem and its 1-based position, then shows the
    formula with a caret under that position::

        Unknown function "RSX" at position 1 (did you mean RSI?):
        RSX(14) - RSI(28)
        ^

    Args:
        problem: What is wrong, without the position.
        formula: The formula text (trimmed) the position refers to.
        index: 0-based index of the offending character (may be ``len(formula)``,
            meaning "at the end").
        hint: Optional advice shown in parentheses.

    Attributes:
        problem, formula, index, hint: As given.
        position: ``index + 1``, as shown to users.
    """

    def __init__(self, problem: str, formula: str, index: int, hint: str | None = None) -> None:
        self.problem = problem
        self.formula = formula
        self.index = index
        self.position = index + 1
        self.hint = hint
        suffix = f" ({hint})" if hint else ""
        if not formula:  # nothing to point at
            super().__init__(f"{problem}{suffix}.")
            return
        line, caret = _excerpt(formula, index)
        super().__init__(f"{problem} at position {self.position}{suffix}:\n{line}\n{caret}")


def _excerpt(text: str, index: int) -> tuple[str, str]:
    """The formula line (windowed if long) and the caret line under ``index``."""
    shown = "".join(c if c.isprintable() else " " for c in text)
    start, prefix, suffix = 0, "", ""
    if len(shown) > _EXCERPT:
        start = max(0, min(index - _EXCERPT // 2, len(shown) - _EXCERPT + 3))
        end = start + _EXCERPT - 3
        if start > 0:
            start += 3
            prefix = "..."
        if end < len(shown):
            suffix = "..."
        shown = shown[start:end]
    return prefix + shown + suffix, " " * (len(prefix) + index - start) + "^"


# -- function table ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """One function parameter.

    Attributes:
        name: Shown in usage lines.
        kind: ``"series"`` (any expression), ``"period"`` (whole-number literal) or
            ``"number"`` (positive decimal literal).
        minimum: Smallest period allowed (``"period"`` only).
        default: Value used when an optional trailing argument is left out.
    """

    name: str
    kind: str
    minimum: float = 1
    default: float | None = None


def _series(name: str = "series") -> Param:
    return Param(name, "series")


def _period(name: str = "n", minimum: int = 1, default: int | None = None) -> Param:
    return Param(name, "period", minimum, default)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A formula function.

    Attributes:
        name: Upper-case name.
        signatures: Accepted parameter lists, one per arity.
        summary: One line for help texts.
    """

    name: str
    signatures: tuple[tuple[Param, ...], ...]
    summary: str

    @property
    def usage(self) -> str:
        """Usage line(s), e.g. ``EMA(n) or EMA(series, n)``."""
        forms = [f"{self.name}({', '.join(p.name for p in sig)})" for sig in self.signatures]
        if len(forms) > 2 and all(len(s) == i for i, s in enumerate(self.signatures)):
            names = [p.name for p in self.signatures[-1]]
            return f"{self.name}() or {self.name}({', '.join(names)})"
        return " or ".join(forms)

    def arities(self) -> list[int]:
        """Accepted argument counts."""
        return [len(sig) for sig in self.signatures]


def _optional(*params: Param) -> tuple[tuple[Param, ...], ...]:
    """Signatures taking 0..len(params) leading arguments (the rest take defaults)."""
    return tuple(params[:n] for n in range(len(params) + 1))


_MACD = _optional(_period("fast", 2, 12), _period("slow", 2, 26), _period("signal", 1, 9))
_STOCH = _optional(_period("k_period", 1, 14), _period("k_smooth", 1, 3), _period("d_period", 1, 3))
_BB_K = Param("k", "number", 0, 2.0)

#: Every function a formula can call, by upper-case name.
FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("RSI", ((_period("n", 2),),), "relative strength index of CLOSE (0-100)"),
        FunctionSpec("SMA", ((_period(),), (_series(), _period())), "simple moving average"),
        FunctionSpec("EMA", ((_period(),), (_series(), _period())), "exponential moving average"),
        FunctionSpec("ATR", ((_period(),),), "average true range"),
        FunctionSpec("MACD", _MACD, "MACD line (fast EMA - slow EMA of CLOSE)"),
        FunctionSpec("MACD_SIGNAL", _MACD, "MACD signal line"),
        FunctionSpec("MACD_HIST", _MACD, "MACD histogram (line - signal)"),
        FunctionSpec(
            "BB_UPPER", ((_period("n", 2),), (_period("n", 2), _BB_K)), "upper Bollinger Band"
        ),
        FunctionSpec(
            "BB_LOWER", ((_period("n", 2),), (_period("n", 2), _BB_K)), "lower Bollinger Band"
        ),
        FunctionSpec("BB_MID", ((_period("n", 2),),), "middle Bollinger Band (SMA of CLOSE)"),
        FunctionSpec("STOCH_K", _STOCH, "slow stochastic %K (0-100)"),
        FunctionSpec("STOCH_D", _STOCH, "slow stochastic %D (0-100)"),
        FunctionSpec("MAX", ((_series(), _period("n", 2)),), "highest value over n bars"),
        FunctionSpec("MIN", ((_series(), _period("n", 2)),), "lowest value over n bars"),
        FunctionSpec("ABS", ((_series("x"),),), "absolute value"),
        FunctionSpec("CHANGE", ((_series(), _period()),), "percent change over n bars"),
    )
}

#: Words with a meaning in formulas (saved formula names may not use them).
RESERVED_WORDS: frozenset[str] = frozenset({*SERIES, *FUNCTIONS, *LOGICAL})

# -- syntax tree ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal."""

    value: float
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Series:
    """A price or volume series (``CLOSE``...)."""

    name: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Unary:
    """Negation (unary plus is dropped by the parser)."""

    operand: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Binary:
    """An arithmetic, comparison or logical operation."""

    op: str
    left: Expr
    right: Expr
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Call:
    """A validated function call.

    Attributes:
        name: Upper-case function name.
        series: The series arguments (expressions), in order.
        params: The numeric arguments, defaults filled in (periods as ``int``).
        pos: Position of the function name.
    """

    name: str
    series: tuple[Expr, ...]
    params: tuple[int | float, ...]
    pos: int = field(default=0, compare=False)


Expr = Number | Series | Unary | Binary | Call


def to_text(node: Expr, parent: int = 0) -> str:
    """Canonical text of a parsed formula (upper-case names, minimal parentheses)."""
    if isinstance(node, Number):
        return number_text(node.value)
    if isinstance(node, Series):
        return node.name
    if isinstance(node, Unary):
        return "-" + to_text(node.operand, 6)
    if isinstance(node, Call):
        args = [to_text(s) for s in node.series] + [number_text(float(p)) for p in node.params]
        return f"{node.name}({', '.join(args)})"
    prec = PRECEDENCE[node.op]
    op = f" {node.op} "
    text = to_text(node.left, prec) + op + to_text(node.right, prec + 1)
    return f"({text})" if prec < parent else text


def functions_used(node: Expr) -> set[str]:
    """Names of the functions a formula calls."""
    if isinstance(node, Unary):
        return functions_used(node.operand)
    if isinstance(node, Binary):
        return functions_used(node.left) | functions_used(node.right)
    if isinstance(node, Call):
        return {node.name}.union(*(functions_used(s) for s in node.series))
    return set()


def number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
