"""Custom indicator formulas: tokenizer, parser and validation (no Python ``eval``).

Grammar (case-insensitive names; whitespace is free)::

    formula    := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := comparison ("AND" comparison)*
    comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)*
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | primary
    primary    := NUMBER | SERIES | FUNCTION "(" [formula ("," formula)*] ")" | "(" formula ")"

``NUMBER`` is a plain decimal (``14``, ``0.5``, ``.5``; no exponents). ``SERIES`` is one
of :data:`SERIES`. Functions and their arguments are listed in :data:`FUNCTIONS`; period
arguments must be whole-number literals from the function's minimum (1 or 2) to
:data:`MAX_PERIOD`. Comparisons and ``AND``/``OR`` give signals: 1.0 (true), 0.0 (false).

Parsing is done by a hand-written recursive-descent parser with precedence climbing.
It checks everything that can be checked without data, so a formula that parses always
evaluates: unknown names (with near-match suggestions), arity, periods, length and
nesting depth. Every problem raises :class:`FormulaError`, whose ``user_message`` shows
the formula with a caret under the offending position.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from tools.analysis.formula_ast import (
    COMPARISONS,
    FUNCTIONS,
    LOGICAL,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_PERIOD,
    PRECEDENCE,
    RESERVED_WORDS,
    SERIES,
    Binary,
    Call,
    Expr,
    FormulaError,
    FunctionSpec,
    Number,
    Param,
    Series,
    Unary,
    functions_used,
    number_text,
    to_text,
)

__all__ = [
    "COMPARISONS",
    "FUNCTIONS",
    "LOGICAL",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_PERIOD",
    "RESERVED_WORDS",
    "SERIES",
    "Binary",
    "Call",
    "Expr",
    "FormulaError",
    "FunctionSpec",
    "Number",
    "Series",
    "Token",
    "Unary",
    "functions_used",
    "parse",
    "to_text",
    "tokenize",
]


# -- tokenizer --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """A lexical token: ``kind`` is NUM, NAME, OP, LPAREN, RPAREN, COMMA or END."""

    kind: str
    text: str
    pos: int


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/")
_PUNCT = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}


def tokenize(text: str) -> list[Token]:
    """Split a (trimmed) formula into tokens, ending with an ``END`` token.

    Raises:
        FormulaError: An unexpected character or a malformed number.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        match = _NUMBER.match(text, i)
        if match is not None:
            end = match.end()
            if end < n and (text[end].isalnum() or text[end] in "._"):
                while end < n and (text[end].isalnum() or text[end] in "._"):
                    end += 1
                raise FormulaError(
                    f'Invalid number "{_clip(text[i:end])}"',
                    text,
                    i,
                    "numbers are plain decimals like 14 or 0.5",
                )
            tokens.append(Token("NUM", match.group(), i))
            i = end
            continue
        match = _NAME.match(text, i)
        if match is not None:
            tokens.append(Token("NAME", match.group(), i))
            i = match.end()
            continue
        if c in _PUNCT:
            tokens.append(Token(_PUNCT[c], c, i))
            i += 1
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("OP", op, i))
            i += len(op)
            continue
        hint = None
        if c == "=":
            hint = "use == to compare"
        elif c in "&|":
            hint = "use AND / OR"
        raise FormulaError(f"Unexpected character {_shown_char(c)}", text, i, hint)
    tokens.append(Token("END", "", n))
    return tokens


def _shown_char(c: str) -> str:
    return f'"{c}"' if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}"


# -- parser -----------------------------------------------------------------------------------


def parse(formula: str) -> Expr:
    """Parse and validate a formula.

    Args:
        formula: The formula text; surrounding whitespace is ignored.

    Returns:
        The syntax tree (function calls validated, defaults filled in).

    Raises:
        FormulaError: The formula is empty, too long, malformed or invalid.
    """
    text = formula.strip() if isinstance(formula, str) else ""
    if not text:
        raise FormulaError("The formula is empty", text, 0, "try something like RSI(14) > 70")
    if len(text) > MAX_LENGTH:
        raise FormulaError(
            f"Formula is too long ({len(text)} characters)",
            text,
            MAX_LENGTH,
            f"the limit is {MAX_LENGTH}",
        )
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, problem: str, index: int, hint: str | None = None) -> FormulaError:
        return FormulaError(problem, self.text, index, hint)

    def parse(self) -> Expr:
        node = self.expression(1)
        tok = self.tok
        if tok.kind != "END":
            if tok.kind == "RPAREN":
                raise self.error('Unexpected ")"', tok.pos, 'no matching "("')
            raise self.error(
                f"Unexpected {_describe(tok)}", tok.pos, "expected an operator or the end"
            )
        return node

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("Formula is nested too deeply", pos, f"at most {MAX_DEPTH} levels")

    def binary_op(self) -> str | None:
        tok = self.tok
        if tok.kind == "OP" and tok.text in PRECEDENCE:
            return tok.text
        if tok.kind == "NAME" and tok.text.upper() in LOGICAL:
            return tok.text.upper()
        return None

    def expression(self, min_prec: int) -> Expr:
        left = self.unary()
        while (op := self.binary_op()) is not None and PRECEDENCE[op] >= min_prec:
            op_tok = self.tok
            self.i += 1
            right = self.expression(PRECEDENCE[op] + 1)
            left = Binary(op, left, right, op_tok.pos)
        return left

    def unary(self) -> Expr:
        tok = self.tok
        if tok.kind == "OP" and tok.text in ("-", "+"):
            self.enter(tok.pos)
            self.i += 1
            operand = self.unary()
            self.depth -= 1
            return Unary(operand, tok.pos) if tok.text == "-" else operand
        return self.primary()

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "NUM":
            self.i += 1
            return Number(float(tok.text), tok.pos)
        if tok.kind == "LPAREN":
            self.enter(tok.pos)
            self.i += 1
            node = self.expression(1)
            self.expect_close(tok)
            self.depth -= 1
            return node
        if tok.kind == "NAME":
            return self.name()
        if tok.kind == "END":
            raise self.error(
                "Formula ends too early", tok.pos, "expected a number, series or function"
            )
        if tok.kind == "RPAREN" and self.depth == 0:
            raise self.error('Unexpected ")"', tok.pos, 'no matching "("')
        raise self.error(
            f"Unexpected {_describe(tok)}", tok.pos, "expected a number, series or function"
        )

    def expect_close(self, opener: Token) -> None:
        tok = self.tok
        if tok.kind == "RPAREN":
            self.i += 1
            return
        if tok.kind == "END":
            raise self.error(
                'Missing ")"', tok.pos, f'to close the "(" at position {opener.pos + 1}'
            )
        raise self.error(f"Unexpected {_describe(tok)}", tok.pos, 'expected "," or ")"')

    def name(self) -> Expr:
        tok = self.tok
        upper = tok.text.upper()
        is_call = self.tokens[self.i + 1].kind == "LPAREN"
        if upper in SERIES:
            if is_call:
                raise self.error(
                    f"{upper} is a series, not a function",
                    tok.pos,
                    f"write {upper} without parentheses, or SMA({upper}, n) for an average",
                )
            self.i += 1
            return Series(upper, tok.pos)
        spec = FUNCTIONS.get(upper)
        if spec is None:
            if upper in LOGICAL:
                raise self.error(
                    f"Unexpected {upper}", tok.pos, "expected a number, series or function"
                )
            kind = "function" if is_call else "name"
            pool = list(FUNCTIONS) if is_call else [*SERIES, *FUNCTIONS]
            close = difflib.get_close_matches(upper, pool, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else _names_hint(is_call)
            raise self.error(f'Unknown {kind} "{_clip(tok.text)}"', tok.pos, hint)
        if not is_call:
            raise self.error(f"{upper} needs parentheses", tok.pos, f"usage: {spec.usage}")
        self.i += 1
        opener = self.tok
        self.enter(opener.pos)
        self.i += 1
        args: list[Expr] = []
        if self.tok.kind != "RPAREN":
            args.append(self.expression(1))
            while self.tok.kind == "COMMA":
                self.i += 1
                args.append(self.expression(1))
        close_tok = self.tok
        self.expect_close(opener)
        self.depth -= 1
        return self.call(spec, tok, args, close_tok)

    def call(self, spec: FunctionSpec, tok: Token, args: list[Expr], close: Token) -> Call:
        signature = next((s for s in spec.signatures if len(s) == len(args)), None)
        if signature is None:
            arities = spec.arities()
            expected = _count_text(arities)
            if len(args) > max(arities):
                problem, where = f"Too many arguments for {spec.name}", _start(args[max(arities)])
            else:
                problem, where = f"Too few arguments for {spec.name}", close.pos
            raise self.error(problem, where, f"it takes {expected}: {spec.usage}")
        series: list[Expr] = []
        params: list[int | float] = []
        for param, arg in zip(signature, args, strict=True):
            if param.kind == "series":
                series.append(arg)
            else:
                params.append(self.literal(spec, param, arg))
        params += [
            p.default for p in spec.signatures[-1][len(signature) :] if p.default is not None
        ]
        if spec.name.startswith("MACD") and params[0] >= params[1]:
            where = _start(args[0])
            raise self.error(
                f"{spec.name} fast period ({params[0]}) is not shorter than the slow period "
                f"({params[1]})",
                where,
            )
        return Call(spec.name, tuple(series), tuple(params), tok.pos)

    def literal(self, spec: FunctionSpec, param: Param, arg: Expr) -> int | float:
        where = _start(arg)
        value: float | None = None
        if isinstance(arg, Number):
            value = arg.value
        elif isinstance(arg, Unary) and isinstance(arg.operand, Number):
            value = -arg.operand.value
        if param.kind == "number":
            if value is None or not 0 < value <= 10:
                raise self.error(
                    _invalid(f"{spec.name} {param.name}", value),
                    where,
                    "use a number above 0 and at most 10",
                )
            return value
        label = "period" if param.name == "n" else f"{param.name} period"
        lowest = int(param.minimum)
        if value is None or not value.is_integer() or not lowest <= value <= MAX_PERIOD:
            hint = f"use a whole number from {lowest} to {MAX_PERIOD}"
            if value is None and spec.name in ("RSI", "ATR", "BB_MID", "BB_UPPER", "BB_LOWER"):
                hint += f"; {spec.name} works on prices: {spec.usage}"
            raise self.error(_invalid(f"{spec.name} {label}", value), where, hint)
        return int(value)


def _invalid(what: str, value: float | None) -> str:
    if value is None:
        return f"{what} must be a plain number"
    return f'Invalid {what} "{number_text(value)}"'


def _start(node: Expr) -> int:
    """Index of the first character of ``node``."""
    if isinstance(node, Binary):
        return _start(node.left)
    return node.pos


def _describe(tok: Token) -> str:
    if tok.kind == "NUM":
        return f'number "{tok.text}"'
    if tok.kind == "NAME":
        return f'"{_clip(tok.text)}"'
    return f'"{tok.text}"'


def _clip(text: str) -> str:
    return text if len(text) <= 24 else text[:21] + "..."


def _count_text(arities: list[int]) -> str:
    def words(n: int) -> str:
        return f"{n} argument" + ("" if n == 1 else "s")

    if len(arities) == 1:
        return words(arities[0])
    lo, hi = min(arities), max(arities)
    if len(arities) > 2 and arities == list(range(lo, hi + 1)):
        return f"{lo} to {hi} arguments"
    return " or ".join(str(a) for a in arities[:-1]) + f" or {words(arities[-1])}"


def _names_hint(is_call: bool) -> str:
    if is_call:
        return "functions: " + ", ".join(FUNCTIONS)
    return "series: " + ", ".join(SERIES)
