"""The backtest strategies: their parameters, validation and entry/exit signals.

Each signal strategy turns bars into two boolean arrays computed on every bar's
**close**: ``entries`` (go long when flat) and ``exits`` (go flat when long). The
engine (:mod:`tools.analysis.backtest_engine`) fills them at the next bar's open.
``dca`` and ``buy_and_hold`` are schedules rather than signals; the engine runs them
from their parameters.

Parameters are validated here, with messages naming the parameter, its allowed range
and the value given, so a chat user (or the model) can correct the request::

    rsi_mean_reversion: period must be a whole number from 2 to 200; got 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from tools.analysis import indicators as ind
from tools.analysis.bars import Bars, FloatArray
from tools.errors import UserInputError

BoolArray = npt.NDArray[np.bool_]
ParamValue = int | float | str
Params = dict[str, ParamValue]
Signals = tuple[BoolArray, BoolArray]


class Kind(StrEnum):
    """How a strategy trades."""

    SIGNALS = "signals"  # all-in on an entry signal, flat on an exit signal
    DCA = "dca"  # fixed amount bought on a calendar schedule, never sold
    HOLD = "hold"  # everything bought at the first bar, never sold


@dataclass(frozen=True, slots=True)
class Param:
    """One strategy parameter.

    Attributes:
        name: Parameter name as users write it.
        kind: ``int``, ``float`` or ``str``.
        default: Default value; ``None`` when the engine derives it (DCA amount).
        low, high: Inclusive bounds for numbers.
        choices: Allowed values for text parameters.
        help: One line for users.
    """

    name: str
    kind: type
    default: ParamValue | None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""

    def describe_range(self) -> str:
        """The allowed values in words (``"a whole number from 2 to 200"``)."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        noun = "a whole number" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            return f"{noun} from {_num(self.low)} to {_num(self.high)}"
        if self.low is not None:
            return f"{noun} above {_num(self.low)}"
        return noun


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy: its name, parameters, constraints and signal function.

    Attributes:
        name: Canonical name (``"rsi_mean_reversion"``).
        title: Display name (``"RSI mean reversion"``).
        summary: One line saying when it buys and sells.
        kind: Signals, DCA or hold.
        params: Parameters in display order.
        signals: ``(bars, params) -> (entries, exits)`` for signal strategies.
        check: Cross-parameter constraint; returns an error sentence or ``None``.
        warmup: Bars consumed before the first usable signal.
    """

    name: str
    title: str
    summary: str
    kind: Kind
    params: tuple[Param, ...] = ()
    signals: Callable[[Bars, Mapping[str, ParamValue]], Signals] | None = None
    check: Callable[[Mapping[str, ParamValue]], str | None] = field(default=lambda p: None)
    warmup: Callable[[Mapping[str, ParamValue]], int] = field(default=lambda p: 0)


# -- signals -------------------------------------------------------------------------------


def cross_above(a: FloatArray, b: FloatArray) -> BoolArray:
    """``a`` closes above ``b`` on this bar after closing at or below it on the previous one."""
    out = np.zeros(a.shape[0], dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def _rsi_signals(bars: Bars, p: Mapping[str, ParamValue]) -> Signals:
    r = ind.rsi(bars.close, int(p["period"]))
    with np.errstate(invalid="ignore"):
        return r < float(p["buy_below"]), r > float(p["sell_above"])


def _macd_signals(bars: Bars, p: Mapping[str, ParamValue]) -> Signals:
    line, signal, _ = ind.macd(bars.close, int(p["fast"]), int(p["slow"]), int(p["signal"]))
    return cross_above(line, signal), cross_above(signal, line)


def _sma_signals(bars: Bars, p: Mapping[str, ParamValue]) -> Signals:
    fast = ind.sma(bars.close, int(p["fast"]))
    slow = ind.sma(bars.close, int(p["slow"]))
    return cross_above(fast, slow), cross_above(slow, fast)


def _bollinger_signals(bars: Bars, p: Mapping[str, ParamValue]) -> Signals:
    _, middle, lower = ind.bbands(bars.close, int(p["period"]), float(p["k"]))
    with np.errstate(invalid="ignore"):
        return bars.close < lower, bars.close > middle


def _ordered(low: str, high: str, what: str) -> Callable[[Mapping[str, ParamValue]], str | None]:
    def check(p: Mapping[str, ParamValue]) -> str | None:
        if float(p[low]) < float(p[high]):
            return None
        return f"{low} must be below {high}{what}; got {low}={p[low]}, {high}={p[high]}."

    return check


# -- registry ------------------------------------------------------------------------------

_PERIOD = "number of bars"
STRATEGIES: dict[str, StrategySpec] = {
    spec.name: spec
    for spec in (
        StrategySpec(
            "rsi_mean_reversion",
            "RSI mean reversion",
            "buys when RSI closes below buy_below, sells when it closes above sell_above",
            Kind.SIGNALS,
            (
                Param("period", int, 14, 2, 200, help=f"RSI period ({_PERIOD})"),
                Param("buy_below", float, 30, 1, 99, help="buy when RSI is below this"),
                Param("sell_above", float, 70, 1, 99, help="sell when RSI is above this"),
            ),
            _rsi_signals,
            _ordered("buy_below", "sell_above", ""),
            lambda p: ind.warmup("RSI", int(p["period"])),
        ),
        StrategySpec(
            "macd_crossover",
            "MACD crossover",
            "buys when the MACD line crosses above its signal line, sells when it crosses below",
            Kind.SIGNALS,
            (
                Param("fast", int, 12, 2, 200, help=f"fast EMA period ({_PERIOD})"),
                Param("slow", int, 26, 3, 400, help=f"slow EMA period ({_PERIOD})"),
                Param("signal", int, 9, 2, 200, help=f"signal EMA period ({_PERIOD})"),
            ),
            _macd_signals,
            _ordered("fast", "slow", ""),
            lambda p: ind.warmup("MACD", int(p["fast"]), int(p["slow"]), int(p["signal"])) + 1,
        ),
        StrategySpec(
            "sma_crossover",
            "SMA crossover",
            "buys on a golden cross (fast SMA crosses above slow SMA), sells on a death cross",
            Kind.SIGNALS,
            (
                Param("fast", int, 20, 2, 500, help=f"fast SMA period ({_PERIOD})"),
                Param("slow", int, 50, 3, 1000, help=f"slow SMA period ({_PERIOD})"),
            ),
            _sma_signals,
            _ordered("fast", "slow", ""),
            lambda p: ind.warmup("SMA", int(p["slow"])) + 1,
        ),
        StrategySpec(
            "bollinger_reversion",
            "Bollinger Band reversion",
            "buys when the close is below the lower band, sells when it is above the middle band",
            Kind.SIGNALS,
            (
                Param("period", int, 20, 2, 200, help=f"band period ({_PERIOD})"),
                Param("k", float, 2.0, 0.5, 5, help="band width in standard deviations"),
            ),
            _bollinger_signals,
            warmup=lambda p: ind.warmup("BBANDS", int(p["period"])),
        ),
        StrategySpec(
            "dca",
            "Dollar-cost averaging",
            "buys a fixed amount at the first bar of every day, week or month, never sells",
            Kind.DCA,
            (
                Param(
                    "amount",
                    float,
                    None,
                    0,
                    None,
                    help="amount per buy (default: initial capital / number of buys)",
                ),
                Param(
                    "frequency",
                    str,
                    "weekly",
                    choices=("daily", "weekly", "monthly"),
                    help="how often to buy",
                ),
            ),  # fmt: skip
        ),
        StrategySpec(
            "buy_and_hold",
            "Buy and hold",
            "buys with all the capital at the first bar and holds to the end",
            Kind.HOLD,
        ),
    )
}

#: Other names people use for the strategies.
ALIASES: dict[str, str] = {
    "rsi": "rsi_mean_reversion",
    "rsi_reversion": "rsi_mean_reversion",
    "macd": "macd_crossover",
    "sma": "sma_crossover",
    "golden_cross": "sma_crossover",
    "ma_crossover": "sma_crossover",
    "bollinger": "bollinger_reversion",
    "bbands": "bollinger_reversion",
    "bollinger_bands": "bollinger_reversion",
    "dollar_cost_averaging": "dca",
    "hold": "buy_and_hold",
    "buy_hold": "buy_and_hold",
    "hodl": "buy_and_hold",
}


def get_strategy(name: str) -> StrategySpec:
    """Look a strategy up by name or alias (case, spaces and hyphens do not matter).

    Raises:
        UserInputError: Unknown strategy; the message lists the valid ones.
    """
    key = "_".join(str(name).strip().lower().replace("-", " ").replace("&", "and").split())
    spec = STRATEGIES.get(ALIASES.get(key, key))
    if spec is None:
        shown = str(name).strip()[:40] or "(empty)"
        raise UserInputError(f'Unknown strategy "{shown}". Choose one of: {", ".join(STRATEGIES)}.')
    return spec


def validate_params(spec: StrategySpec, params: Mapping[str, object] | None) -> Params:
    """Check ``params`` against ``spec`` and fill in the defaults.

    Numbers may be given as numbers or numeric text; whole-number parameters accept
    ``14.0`` but not ``14.5``. A ``None`` value means "use the default".

    Returns:
        Every parameter of the strategy (DCA's ``amount`` may stay absent: the engine
        derives it from the number of buys).

    Raises:
        UserInputError: Unknown parameter, wrong type, out of range, or inconsistent
            (``fast`` not below ``slow``...). The message names the parameter, the
            allowed values and the value given.
    """
    given = dict(params or {})
    known = {p.name: p for p in spec.params}
    for key in given:
        if key not in known:
            names = ", ".join(known) if known else "none"
            raise UserInputError(
                f'{spec.name} has no parameter "{str(key)[:40]}". Its parameters: {names}.'
            )
    out: Params = {}
    for param in spec.params:
        raw = given.get(param.name)
        if raw is None:
            if param.default is not None:
                out[param.name] = param.default
            continue
        out[param.name] = _coerce(spec.name, param, raw)
    problem = spec.check(out)
    if problem is not None:
        raise UserInputError(f"{spec.name}: {problem}")
    return out


def _coerce(strategy: str, param: Param, raw: object) -> ParamValue:
    def bad() -> UserInputError:
        shown = repr(raw) if isinstance(raw, str) else str(raw)
        return UserInputError(
            f"{strategy}: {param.name} must be {param.describe_range()}; got {shown[:40]}."
        )

    if param.kind is str:
        text = str(raw).strip().lower()
        if text not in param.choices:
            raise bad()
        return text
    if isinstance(raw, bool):
        raise bad()
    try:
        number = float(raw) if isinstance(raw, int | float | str) else math.nan
    except ValueError:
        raise bad() from None
    if not math.isfinite(number):
        raise bad()
    if param.kind is int and number != int(number):
        raise bad()
    if param.low is not None and param.high is None and number <= param.low:
        raise bad()  # open lower bound: "above low"
    if param.high is not None and not (param.low or 0) <= number <= param.high:
        raise bad()
    return int(number) if param.kind is int else number


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
