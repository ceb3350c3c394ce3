"""Custom indicator formulas: ``FormulaService`` evaluates them and keeps users' saved ones.

A formula such as ``RSI(14) - RSI(28)`` or ``(CLOSE - SMA(20)) / ATR(14)`` is parsed by
:mod:`tools.analysis.formula_syntax` (a real tokenizer and parser, never Python's
``eval``) into the tree of :mod:`tools.analysis.formula_ast`, and evaluated over numpy
arrays by :mod:`tools.analysis.formula_eval`.
Comparisons (``RSI(14) > 70``) are signals: 1.0 when true, 0.0 when false.

Users can save formulas under short names (``momentum``) and evaluate them by name.
The owner always comes from the caller's :class:`~tools.identity.UserRef` (built by a
front-end from the platform's user object), never from formula text; another user's
formula gets the same "not found" as a missing one.

Public names: :func:`parse_formula` / :class:`Formula`, :func:`evaluate_formula`,
:class:`FormulaService`, :class:`FormulaReport`, :class:`UserFormula`,
:class:`FormulaError`.
"""

from __future__ import annotations

import builtins
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from storage import Database, DuplicateError, SavedFormulaRepository, UserRepository
from tools.analysis.bars import Bars, FloatArray
from tools.analysis.fetch import SETTLE_BARS, bars_phrase, check_interval, load_bars
from tools.analysis.formula_ast import (
    FUNCTIONS,
    MAX_LENGTH,
    RESERVED_WORDS,
    SERIES,
    Expr,
    FormulaError,
    functions_used,
    to_text,
)
from tools.analysis.formula_eval import evaluate, is_signal, lookback
from tools.analysis.formula_syntax import parse
from tools.clock import Clock, SystemClock
from tools.errors import LimitError, NotFoundError, UserInputError
from tools.identity import UserRef
from tools.market.service import PriceService
from tools.market.types import INTERVALS, DataOrigin

__all__ = [
    "FUNCTIONS",
    "MAX_FETCH_BARS",
    "MAX_LENGTH",
    "MAX_SAVED_FORMULAS",
    "SERIES",
    "Formula",
    "FormulaError",
    "FormulaPoint",
    "FormulaReport",
    "FormulaService",
    "UserFormula",
    "evaluate_formula",
    "parse_formula",
]

#: Saved formulas per user.
MAX_SAVED_FORMULAS = 50
#: Values shown in a report (the latest last).
RECENT_VALUES = 10
#: Values after the warm-up fetched for the formula's chart.
CHART_VALUES = 120
#: Most bars one evaluation asks the market for (long hourly histories take many pages).
MAX_FETCH_BARS = 10_000
#: Functions whose value depends on every earlier bar (TA-Lib seeds them from the first
#: bars), so they need extra history to settle; the others are exact after the warm-up.
RECURSIVE = frozenset({"EMA", "RSI", "ATR", "MACD", "MACD_SIGNAL", "MACD_HIST"})
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed, validated formula.

    Attributes:
        text: The formula as given (trimmed).
        tree: Its syntax tree.
    """

    text: str
    tree: Expr

    @property
    def expression(self) -> str:
        """Canonical text (upper-case names, defaults filled in)."""
        return to_text(self.tree)

    @property
    def is_signal(self) -> bool:
        """True for comparisons and ``AND``/``OR``: values are 1.0 / 0.0."""
        return is_signal(self.tree)

    @property
    def warmup(self) -> int:
        """Bars consumed before the first value."""
        return lookback(self.tree)


def parse_formula(text: str) -> Formula:
    """Parse and validate a formula.

    Raises:
        FormulaError: With the position of the problem and a caret line.
    """
    tree = parse(text)
    return Formula(text.strip(), tree)


def evaluate_formula(formula: Formula | str, bars: Bars) -> FloatArray:
    """Evaluate a formula on every bar (``NaN`` during warm-up and where undefined).

    Raises:
        FormulaError: ``formula`` is text that does not parse.
    """
    parsed = parse_formula(formula) if isinstance(formula, str) else formula
    result = evaluate(parsed.tree, bars)
    if any(result is a for a in (bars.open, bars.high, bars.low, bars.close, bars.volume)):
        result = result.copy()
    return result


@dataclass(frozen=True, slots=True)
class FormulaPoint:
    """One value of a formula: the bar's open time and the value (``None`` if undefined)."""

    time: datetime
    value: float | None


@dataclass(frozen=True, slots=True)
class FormulaReport:
    """A formula evaluated on one coin.

    Attributes:
        symbol: Upper-case ticker.
        coin_name: Display name.
        vs_currency: Quote currency.
        interval: Bar length.
        formula: The formula text evaluated.
        expression: Canonical form of the formula.
        saved_name: The saved name it was looked up by, if any.
        latest: Value on the last bar; ``None`` when undefined or not enough history.
        recent: The last values, oldest first (at most :data:`RECENT_VALUES`).
        is_signal: The formula is a comparison (values are 1.0 / 0.0).
        signal_on: For signals, whether it is true on the last bar (``None`` if undefined).
        warmup_bars: Bars consumed before the first value.
        bars_needed: Bars needed for one value (``warmup_bars + 1``).
        bars_available: Bars the source returned.
        last_bar_time: Open time of the last bar (UTC).
        last_bar_partial: The last bar is still forming.
        source: Data source name.
        origin: Live, simulated or replayed.
        notice: Simulated/replayed label to show, if any.
        notes: Other caveats, including a shortage of history.
    """

    symbol: str
    coin_name: str
    vs_currency: str
    interval: str
    formula: str
    expression: str
    saved_name: str | None
    latest: float | None
    recent: list[FormulaPoint]
    is_signal: bool
    signal_on: bool | None
    warmup_bars: int
    bars_needed: int
    bars_available: int
    last_bar_time: datetime
    last_bar_partial: bool
    source: str
    origin: DataOrigin
    notice: str | None = None
    notes: list[str] = field(default_factory=list)
    #: Bar times (epoch seconds) and values after the warm-up, for a chart.
    ts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class UserFormula:
    """A formula a user saved."""

    name: str
    formula: str
    created_at: datetime


def _settle_bars(formula: Formula) -> int:
    """Extra bars before the warm-up so recursive indicators have settled."""
    if not functions_used(formula.tree) & RECURSIVE:
        return 0
    return SETTLE_BARS + 2 * formula.warmup


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


class FormulaService:
    """Evaluate custom formulas on market data; save, list and delete users' formulas.

    Args:
        prices: The market capability (history).
        db: The database holding saved formulas.
        clock: Time source.
    """

    def __init__(self, prices: PriceService, db: Database, *, clock: Clock | None = None) -> None:
        self.prices = prices
        self._db = db
        self._clock = clock or SystemClock()

    # -- evaluation -----------------------------------------------------------------------

    async def evaluate(
        self,
        symbol: str,
        formula: str,
        interval: str = "1d",
        *,
        user: UserRef | None = None,
        vs_currency: str = "usd",
    ) -> FormulaReport:
        """Evaluate a formula, or one of ``user``'s saved formulas by name, on a coin.

        Args:
            symbol: Coin ticker or name.
            formula: Formula text, or the name of a formula ``user`` saved.
            interval: Bar length: ``1h``, ``4h``, ``1d`` or ``1w``.
            user: Whose saved formulas a name refers to (from the front-end, never from
                the formula text).
            vs_currency: Quote currency.

        Raises:
            FormulaError: The formula does not parse (and is not a saved name).
            UserInputError: Bad interval, currency or symbol.
            MarketDataUnavailableError: No history could be loaded.
        """
        interval = check_interval(interval)
        text = formula.strip() if isinstance(formula, str) else ""
        saved_name: str | None = None
        if user is not None and _NAME.match(text.lower()):
            saved = await self._find(user, text.lower())
            if saved is not None:
                saved_name, text = saved.name, saved.formula
        try:
            parsed = parse_formula(text)
        except FormulaError as exc:
            unknown = exc.problem.startswith("Unknown") and exc.index == 0
            if user is not None and unknown and _NAME.match(text.lower()):
                hint = f'and none of your saved formulas is called "{text.lower()}"'
                raise FormulaError(exc.problem, exc.formula, exc.index, hint) from exc
            raise
        warmup = parsed.warmup
        wanted = min(MAX_FETCH_BARS, warmup + CHART_VALUES + _settle_bars(parsed))
        loaded = await load_bars(self.prices, symbol, interval, wanted, vs_currency)
        bars = loaded.bars
        values = evaluate_formula(parsed, bars)
        count = len(bars)
        start = max(0, count - RECENT_VALUES)
        recent = [FormulaPoint(bars.time(i), _finite(values[i])) for i in range(start, count)]
        notes = list(loaded.notes)
        if count <= warmup:
            notes.append(
                f"This formula needs {bars_phrase(warmup + 1, interval)}; only {count:,} "
                "are available."
            )
        latest = recent[-1].value if count > warmup else None
        signal_on = None if latest is None or not parsed.is_signal else latest != 0
        last_open = bars.time(count - 1)
        partial = (loaded.fetched_at - last_open).total_seconds() < INTERVALS[interval]
        return FormulaReport(
            symbol=loaded.coin.symbol,
            coin_name=loaded.coin.name,
            vs_currency=bars.vs_currency,
            interval=interval,
            formula=parsed.text,
            expression=parsed.expression,
            saved_name=saved_name,
            latest=latest,
            recent=recent if count > warmup else [],
            is_signal=parsed.is_signal,
            signal_on=signal_on,
            warmup_bars=warmup,
            bars_needed=warmup + 1,
            bars_available=count,
            last_bar_time=last_open,
            last_bar_partial=partial,
            source=bars.source,
            origin=bars.origin,
            notice=loaded.notice,
            notes=notes,
            ts=[int(t) for t in bars.ts[warmup:]],
            values=[float(v) for v in values[warmup:]],
        )

    # -- saved formulas -------------------------------------------------------------------

    async def save(self, owner: UserRef, name: str, formula: str) -> UserFormula:
        """Validate and save a formula under ``name`` for ``owner``.

        Raises:
            UserInputError: Bad name, or the owner already has a formula with this name.
            FormulaError: The formula does not parse.
            LimitError: The owner already has :data:`MAX_SAVED_FORMULAS` formulas.
        """
        key = check_name(name)
        parsed = parse_formula(formula)
        now = self._clock.now()
        async with self._db.transaction() as session:
            user, _ = await UserRepository(session).get_or_create(
                owner.platform, owner.platform_user_id, display_name=owner.display_name, now=now
            )
            repo = SavedFormulaRepository(session)
            if await repo.get(user.id, key) is not None:
                raise _duplicate(key)
            if await repo.count_for_owner(user.id, lock=True) >= MAX_SAVED_FORMULAS:
                raise LimitError(
                    f"You can save at most {MAX_SAVED_FORMULAS} formulas. Delete one first."
                )
            try:
                row = await repo.create(user.id, key, parsed.text, now=now)
            except DuplicateError as exc:  # saved concurrently under the same name
                raise _duplicate(key) from exc
            return UserFormula(row.name, row.formula, row.created_at)

    async def list(self, owner: UserRef) -> builtins.list[UserFormula]:
        """The owner's saved formulas, by name."""
        async with self._db.transaction(readonly=True) as session:
            user = await UserRepository(session).get_by_platform_id(
                owner.platform, owner.platform_user_id
            )
            if user is None:
                return []
            rows = await SavedFormulaRepository(session).list_for_owner(user.id)
            return [UserFormula(r.name, r.formula, r.created_at) for r in rows]

    async def get(self, owner: UserRef, name: str) -> UserFormula:
        """The owner's formula called ``name``.

        Raises:
            NotFoundError: No such formula for this owner.
        """
        found = await self._find(owner, _lookup_key(name))
        if found is None:
            raise _not_found(name)
        return found

    async def delete(self, owner: UserRef, name: str) -> None:
        """Delete the owner's formula called ``name``.

        Raises:
            NotFoundError: No such formula for this owner.
        """
        key = _lookup_key(name)
        async with self._db.transaction() as session:
            user = await UserRepository(session).get_by_platform_id(
                owner.platform, owner.platform_user_id
            )
            if user is None or not await SavedFormulaRepository(session).delete(user.id, key):
                raise _not_found(name)

    async def _find(self, owner: UserRef, key: str) -> UserFormula | None:
        async with self._db.transaction(readonly=True) as session:
            user = await UserRepository(session).get_by_platform_id(
                owner.platform, owner.platform_user_id
            )
            if user is None:
                return None
            row = await SavedFormulaRepository(session).get(user.id, key)
            return None if row is None else UserFormula(row.name, row.formula, row.created_at)


def check_name(name: str) -> str:
    """Validate a saved formula's name and return it in lower case.

    Names are 1-32 characters of ``a-z``, ``0-9``, ``_`` and ``-``, start with a letter
    and are not a series, function or keyword (``close``, ``rsi``, ``and``...).

    Raises:
        UserInputError: The name breaks one of those rules.
    """
    key = str(name).strip().lower()
    if not _NAME.match(key):
        raise UserInputError(
            "A formula name is 1 to 32 characters: letters a-z, digits, _ and -, "
            "starting with a letter (for example: momentum, rsi_gap)."
        )
    if key.upper() in RESERVED_WORDS:
        raise UserInputError(
            f'"{key}" is a formula keyword; pick another name (for example: my_{key}).'
        )
    return key


def _lookup_key(name: str) -> str:
    return str(name).strip().lower()[:64]


def _shown(name: str) -> str:
    text = str(name).strip()
    return text if len(text) <= 32 else text[:29] + "..."


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f'You have no saved formula called "{_shown(name)}".')


def _duplicate(name: str) -> UserInputError:
    return UserInputError(
        f'You already have a formula called "{name}". Delete it first or choose another name.'
    )
