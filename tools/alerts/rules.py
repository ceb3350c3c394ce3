"""Alert rules: the kinds, validation of what users type, and the bridge to the engine.

A create request (from a slash command or the agent's ``create_alert``) is checked here
before anything touches the database or the market: :func:`parse_request` reads the
kind, threshold, window, direction, interval, expiry and cooldown the way people type
them (``"95k"``, ``"$10,000"``, ``"5%"``, ``"1h"``, ``"7d"``) and refuses, with a
specific message, anything ambiguous or out of range: ``"abc"``, ``"-5"``, ``"0"``,
``"1e309"``, ``"100,5"``, thresholds with more than :data:`MAX_DECIMALS` decimals, a
window outside 5 minutes to 30 days, an RSI outside 0-100, a depeg threshold above 50%.
What needs I/O (the coin, the stablecoin list, the current price, the saved formula,
the portfolio) is checked by :class:`~tools.alerts.service.AlertService`.

Stored alerts keep their parameters as JSON strings in ``alerts.params`` (see
:func:`alert_params`). :func:`rule_spec` maps a stored alert to the evaluation
engine's :class:`~tools.alerts.engine.RuleSpec`; the metric keys are the contract with
the market tick that computes the values:

=================  ==============================================  =========
kind               metric                                          direction
=================  ==============================================  =========
price_above/below  ``price:{coin_id}`` (USD)                       UP/DOWN
pct_change up      ``pct:{coin_id}:{window}`` (signed %), ``+t``   UP
pct_change down    ``pct:{coin_id}:{window}``, ``-t``              DOWN
pct_change any     ``abspct:{coin_id}:{window}`` (\\|%\\|), ``t``    UP
rsi_above/below    ``rsi:{coin_id}:{interval}`` (RSI 14)           UP/DOWN
depeg              ``depeg:{coin_id}`` (confirmed \\|deviation %\\|) UP
portfolio_*        ``portfolio:{portfolio_id}`` (base currency)    UP/DOWN
formula_*          ``formula:{formula_id}:{coin_id}:{interval}``   UP/DOWN
=================  ==============================================  =========

Recurring rules re-arm once the metric is back beyond a hysteresis level
(:func:`rearm_level`: 1% of the threshold for prices, portfolios and formulas, 0.5
points for percentage changes, 5 RSI points, 0.1 points for depegs) and the cooldown
has passed. :func:`replay_firings` runs the engine over a past series to say how often
a rule would have fired.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from tools.alerts.engine import Direction, RuleBook, RuleSpec
from tools.errors import UserInputError
from tools.portfolio.amounts import MAX_AMOUNT, parse_amount, tidy

__all__ = [
    "ALERT_INTERVALS",
    "DEFAULT_COOLDOWN_S",
    "DEFAULT_WINDOW",
    "MAX_DECIMALS",
    "MAX_EXPIRY",
    "MAX_WINDOW_S",
    "MIN_WINDOW_S",
    "RSI_PERIOD",
    "AlertKind",
    "AlertLike",
    "AlertRequest",
    "PctDirection",
    "alert_params",
    "format_duration",
    "metric_key",
    "parse_cooldown",
    "parse_direction",
    "parse_expiry",
    "parse_interval",
    "parse_kind",
    "parse_request",
    "parse_threshold",
    "parse_window",
    "rearm_level",
    "replay_firings",
    "rule_direction",
    "rule_spec",
    "window_seconds",
]


class AlertKind(StrEnum):
    """What an alert watches."""

    PRICE_ABOVE = "price_above"
    PRICE_BELOW = "price_below"
    PCT_CHANGE = "pct_change"
    DEPEG = "depeg"
    RSI_ABOVE = "rsi_above"
    RSI_BELOW = "rsi_below"
    PORTFOLIO_ABOVE = "portfolio_above"
    PORTFOLIO_BELOW = "portfolio_below"
    FORMULA_ABOVE = "formula_above"
    FORMULA_BELOW = "formula_below"

    @property
    def is_price(self) -> bool:
        """A price threshold on one coin."""
        return self in (AlertKind.PRICE_ABOVE, AlertKind.PRICE_BELOW)

    @property
    def is_rsi(self) -> bool:
        """An RSI threshold."""
        return self in (AlertKind.RSI_ABOVE, AlertKind.RSI_BELOW)

    @property
    def is_portfolio(self) -> bool:
        """A threshold on a portfolio's value."""
        return self in (AlertKind.PORTFOLIO_ABOVE, AlertKind.PORTFOLIO_BELOW)

    @property
    def is_formula(self) -> bool:
        """A threshold on a saved formula's value."""
        return self in (AlertKind.FORMULA_ABOVE, AlertKind.FORMULA_BELOW)

    @property
    def needs_coin(self) -> bool:
        """The rule watches one coin (every kind but the portfolio ones)."""
        return not self.is_portfolio

    @property
    def upward(self) -> bool:
        """``*_above`` kinds (and depeg): fires when the value rises through the threshold."""
        return self.value.endswith("_above") or self is AlertKind.DEPEG


class PctDirection(StrEnum):
    """Which moves a ``pct_change`` alert reports."""

    UP = "up"
    DOWN = "down"
    ANY = "any"


#: Bar lengths RSI and formula alerts are evaluated on.
ALERT_INTERVALS: tuple[str, ...] = ("1h", "4h", "1d")
#: RSI period of RSI alerts (the metric key has no period).
RSI_PERIOD = 14
#: Most decimal places a threshold may have (more is a typo or a paste accident).
MAX_DECIMALS = 12
#: Window of a ``pct_change`` alert when none is given.
DEFAULT_WINDOW = "24h"
MIN_WINDOW_S = 5 * 60
MAX_WINDOW_S = 30 * 86400
#: Cooldown of recurring rules when none is configured.
DEFAULT_COOLDOWN_S = 3600
MIN_COOLDOWN_S = 60
MAX_COOLDOWN_S = 7 * 86400
#: Furthest expiry accepted.
MAX_EXPIRY = timedelta(days=366)
MAX_PCT = Decimal(1000)
MAX_DEPEG_PCT = Decimal(50)
_HUNDRED = Decimal(100)

_KIND_ALIASES: dict[str, AlertKind] = {
    "above": AlertKind.PRICE_ABOVE,
    "over": AlertKind.PRICE_ABOVE,
    "price_over": AlertKind.PRICE_ABOVE,
    "below": AlertKind.PRICE_BELOW,
    "under": AlertKind.PRICE_BELOW,
    "price_under": AlertKind.PRICE_BELOW,
    "change": AlertKind.PCT_CHANGE,
    "pct": AlertKind.PCT_CHANGE,
    "percent": AlertKind.PCT_CHANGE,
    "percent_change": AlertKind.PCT_CHANGE,
    "move": AlertKind.PCT_CHANGE,
    "peg": AlertKind.DEPEG,
    "off_peg": AlertKind.DEPEG,
}
_DIRECTIONS: dict[str, PctDirection] = {
    "up": PctDirection.UP,
    "rise": PctDirection.UP,
    "rises": PctDirection.UP,
    "gain": PctDirection.UP,
    "pump": PctDirection.UP,
    "increase": PctDirection.UP,
    "+": PctDirection.UP,
    "down": PctDirection.DOWN,
    "drop": PctDirection.DOWN,
    "drops": PctDirection.DOWN,
    "fall": PctDirection.DOWN,
    "falls": PctDirection.DOWN,
    "dump": PctDirection.DOWN,
    "decrease": PctDirection.DOWN,
    "-": PctDirection.DOWN,
    "any": PctDirection.ANY,
    "either": PctDirection.ANY,
    "both": PctDirection.ANY,
    "up_or_down": PctDirection.ANY,
    "either_way": PctDirection.ANY,
}
_INTERVAL_ALIASES = {
    "hour": "1h", "hourly": "1h", "60m": "1h", "1hr": "1h",
    "4hr": "4h", "240m": "4h", "4hours": "4h",
    "day": "1d", "daily": "1d", "24h": "1d", "1day": "1d",
}  # fmt: skip
_UNITS = {
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 7 * 86400, "wk": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
}  # fmt: skip
_DURATION = re.compile(r"^(?P<num>\d+(?:\.\d+)?|\.\d+)?\s*(?P<unit>[a-z]+)$")
_DECIMALS = re.compile(r"\.(\d+)")


def _clip(text: object, limit: int = 30) -> str:
    shown = str(text).strip()
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


# -- kinds, directions, intervals ---------------------------------------------------------


def parse_kind(value: object) -> AlertKind:
    """Read an alert kind (``"price_above"``, ``"price-above"``, ``"above"``, ``"depeg"``).

    Raises:
        UserInputError: Not a kind; the message lists them.
    """
    key = re.sub(r"[\s\-]+", "_", str(value or "").strip().lower())
    try:
        return AlertKind(key)
    except ValueError:
        pass
    if key in _KIND_ALIASES:
        return _KIND_ALIASES[key]
    kinds = ", ".join(k.value for k in AlertKind)
    raise UserInputError(f'Unknown alert kind "{_clip(value, 24)}". Use one of: {kinds}.')


def parse_direction(value: object) -> PctDirection:
    """Read the direction of a ``pct_change`` alert (``None`` means any).

    Raises:
        UserInputError: Not up, down or any.
    """
    if value is None:
        return PctDirection.ANY
    key = re.sub(r"[\s\-]+", "_", str(value).strip().lower())
    if not key:
        return PctDirection.ANY
    if key in _DIRECTIONS:
        return _DIRECTIONS[key]
    raise UserInputError(f'Unknown direction "{_clip(value, 20)}". Use up, down or any.')


def parse_interval(value: object) -> str:
    """Read the bar length of an RSI or formula alert (``None`` means ``1d``).

    Raises:
        UserInputError: Not 1h, 4h or 1d.
    """
    if value is None or not str(value).strip():
        return "1d"
    key = str(value).strip().lower().replace(" ", "")
    key = _INTERVAL_ALIASES.get(key, key)
    if key not in ALERT_INTERVALS:
        raise UserInputError(
            f'Unsupported interval "{_clip(value, 12)}" for an alert. '
            f"Use one of: {', '.join(ALERT_INTERVALS)}."
        )
    return key


# -- durations: windows, cooldowns, expiry ------------------------------------------------


def _duration_seconds(value: object, what: str, example: str) -> int:
    """Seconds in ``"15m"``, ``"1h"``, ``"1.5h"``, ``"24 hours"``, ``"7d"``, ``"1w"``,
    rounded to whole minutes (``"4.17d"`` is 6005 minutes)."""
    if isinstance(value, bool):
        raise UserInputError(f"The {what} must be a duration like {example}.")
    text = str(value).strip().lower()
    match = _DURATION.match(text.replace(" ", ""))
    unit = _UNITS.get(match["unit"]) if match else None
    if match is None or unit is None:
        raise UserInputError(
            f'The {what} "{_clip(value, 20)}" is not a duration; write it like {example}.'
        )
    number = Decimal(match["num"]) if match["num"] else Decimal(1)
    return int((number * unit / 60).to_integral_value()) * 60  # whole minutes


def format_duration(seconds: int) -> str:
    """The canonical short form of a duration: ``"15m"``, ``"1h"``, ``"24h"``, ``"7d"``.

    Whole days from two days up are written in days; whole hours in hours; the rest in
    minutes. Windows are stored and keyed in this form, so ``"1440m"``, ``"1d"`` and
    ``"24h"`` are the same window.
    """
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m"


def parse_window(value: object) -> tuple[str, int]:
    """Read a ``pct_change`` window (``None`` means 24h).

    Returns:
        The canonical window (:func:`format_duration`) and its length in seconds.

    Raises:
        UserInputError: Unreadable, or outside 5 minutes to 30 days.
    """
    if value is None or not str(value).strip():
        return DEFAULT_WINDOW, window_seconds(DEFAULT_WINDOW)
    seconds = _duration_seconds(value, "window", "15m, 1h, 24h or 7d")
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise UserInputError(
            f'The window "{_clip(value, 20)}" is out of range: use 5 minutes to 30 days '
            "(like 15m, 1h, 24h or 7d)."
        )
    return format_duration(seconds), seconds


def window_seconds(window: str) -> int:
    """Length in seconds of a stored (canonical) window such as ``"24h"``."""
    return _duration_seconds(window, "window", "1h")


def parse_cooldown(value: object, default_s: int = DEFAULT_COOLDOWN_S) -> int:
    """Read the cooldown of a recurring alert (``None`` means ``default_s``).

    Raises:
        UserInputError: Unreadable, or outside 1 minute to 7 days.
    """
    if value is None or not str(value).strip():
        return default_s
    seconds = _duration_seconds(value, "cooldown", "30m, 1h or 1d")
    if not MIN_COOLDOWN_S <= seconds <= MAX_COOLDOWN_S:
        raise UserInputError("The cooldown must be from 1 minute to 7 days (like 30m, 1h, 1d).")
    return seconds


def parse_expiry(value: object, *, now: datetime) -> datetime | None:
    """Read when an alert expires: a duration from now (``"7d"``), a date or a datetime.

    A date means the end of that day (UTC); a datetime without offset is UTC. ``None``,
    ``""`` or ``"never"`` mean no expiry.

    Raises:
        UserInputError: Unreadable, in the past, or more than a year ahead.
    """
    if value is None:
        return None
    when: datetime
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        when = datetime.combine(value + timedelta(days=1), time(0), tzinfo=UTC)
    else:
        text = str(value).strip()
        if text.lower() in ("", "never", "none"):
            return None
        if re.match(r"^\d{4}-\d{2}-\d{2}", text):
            try:
                if len(text) == 10:
                    day = date.fromisoformat(text)
                    when = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
                else:
                    when = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
                    if when.tzinfo is None:
                        when = when.replace(tzinfo=UTC)
            except ValueError:
                raise UserInputError(
                    f'The expiry "{_clip(text, 25)}" is not a date; use YYYY-MM-DD '
                    "or a duration like 7d."
                ) from None
        else:
            seconds = _duration_seconds(text, "expiry", "12h, 7d or 2026-12-31")
            when = now + timedelta(seconds=seconds)
    when = when.astimezone(UTC)
    if when <= now:
        raise UserInputError(f"The expiry {when:%Y-%m-%d %H:%M} UTC is in the past.")
    if when > now + MAX_EXPIRY:
        raise UserInputError("An alert can expire at most one year from now.")
    return when


# -- thresholds ---------------------------------------------------------------------------


def _decimal_places(value: str | int | float | Decimal) -> int:
    if isinstance(value, Decimal):
        if not value.is_finite():
            return 0
        digits, exponent = value.as_tuple().digits, int(value.as_tuple().exponent)
        places = max(0, -exponent)
        trailing = len(digits) - len(bytes(digits).rstrip(b"\0"))
        return max(0, places - trailing)
    if isinstance(value, str):
        match = _DECIMALS.search(value)
        return len(match.group(1)) if match else 0
    return 0


def parse_threshold(value: object, kind: AlertKind) -> Decimal:
    """Read and range-check a threshold for ``kind``.

    Prices and portfolio values take amounts as :func:`~tools.portfolio.amounts.parse_amount`
    reads them (``95k``, ``$10,000``); percentage kinds accept a trailing ``%``. Formula
    thresholds may be zero or negative; every other kind needs a positive number:
    ``pct_change`` up to 1000%, RSI strictly between 0 and 100, depeg up to 50%.

    Raises:
        UserInputError: Missing, unreadable (``abc``, ``100,5``), not finite (``1e309``),
            too many decimals, or out of range for the kind; the message says which.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserInputError(_missing_threshold(kind))
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise UserInputError("The threshold must be a number like 100000, 95k or 2.5.")
    raw: str | int | float | Decimal = value
    negative = False
    if isinstance(raw, str):
        raw = raw.strip()
        if kind in _PCT_KINDS or kind.is_formula:
            raw = raw.removesuffix("%").strip()
        if kind.is_formula and raw.startswith("-"):
            negative, raw = True, raw[1:].strip()
    elif kind.is_formula and raw < 0:
        negative, raw = True, -raw
    places = _decimal_places(raw)
    if places > MAX_DECIMALS:
        raise UserInputError(
            f'The threshold "{_clip(value)}" has {places} decimal places; '
            f"use at most {MAX_DECIMALS}."
        )
    amount = parse_amount(raw, what="threshold", allow_zero=kind.is_formula)
    if negative:
        amount = -amount
    return _check_range(amount, kind)


_PCT_KINDS = (AlertKind.PCT_CHANGE, AlertKind.DEPEG, AlertKind.RSI_ABOVE, AlertKind.RSI_BELOW)


def _missing_threshold(kind: AlertKind) -> str:
    if kind is AlertKind.PCT_CHANGE:
        return "Give the percentage move that should trigger the alert, like 5%."
    if kind.is_rsi:
        return "Give the RSI level for the alert, like 70 (RSI goes from 0 to 100)."
    if kind.is_portfolio:
        return "Give the portfolio value for the alert, like 20k."
    if kind.is_formula:
        return "Give the formula value that should trigger the alert, like 0.5."
    return "Give the price that should trigger the alert, like 100000 or 95k."


def _check_range(amount: Decimal, kind: AlertKind) -> Decimal:
    if kind is AlertKind.PCT_CHANGE and amount > MAX_PCT:
        raise UserInputError(
            f"A change of {amount}% is out of range: percentage thresholds go from above "
            "0% to 1000%."
        )
    if kind.is_rsi and amount >= _HUNDRED:
        raise UserInputError(f"An RSI threshold must be between 0 and 100; {amount} is not.")
    if kind is AlertKind.DEPEG and amount > MAX_DEPEG_PCT:
        raise UserInputError(
            f"A depeg threshold of {amount}% is out of range: use above 0% up to 50% "
            "(for example 0.5 or 1)."
        )
    if kind.is_formula and abs(amount) > MAX_AMOUNT:
        raise UserInputError("The threshold is too large; check for a typo.")
    return tidy(amount) if amount >= 0 else -tidy(-amount)


# -- requests -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRequest:
    """A create request after the checks that need no I/O.

    Attributes:
        kind: What the alert watches.
        threshold: The threshold as the user means it: a price or value, a percentage
            move (always positive; ``direction`` says which way), an RSI level, a depeg
            percentage, a formula value (any sign). ``None`` only for ``depeg`` when
            the user's default depeg threshold applies.
        symbol: The coin text as given (resolved by the service), or the portfolio
            name for portfolio kinds (``None`` for the default portfolio).
        window: Canonical window of ``pct_change`` alerts (``"24h"``).
        direction: Direction of ``pct_change`` alerts.
        interval: Bar length of RSI and formula alerts.
        formula: Saved formula name of formula alerts (lower case).
        recurring: Re-arm after firing.
        cooldown_s: Minimum seconds between firings of a recurring alert (0 when one-shot).
        expires_at: When the alert stops (``None``: never).
    """

    kind: AlertKind
    threshold: Decimal | None
    symbol: str | None = None
    window: str | None = None
    direction: PctDirection | None = None
    interval: str | None = None
    formula: str | None = None
    recurring: bool = False
    cooldown_s: int = 0
    expires_at: datetime | None = None


def parse_request(
    kind: object,
    symbol: object = None,
    threshold: object = None,
    window: object = None,
    direction: object = None,
    recurring: object = False,
    formula: object = None,
    *,
    interval: object = None,
    expires: object = None,
    cooldown: object = None,
    now: datetime,
    default_cooldown_s: int = DEFAULT_COOLDOWN_S,
) -> AlertRequest:
    """Validate everything about a create request that needs no I/O.

    Options that do not apply to the kind are refused rather than ignored (a window on
    a price alert means the user wanted something else), except a direction that agrees
    with the kind (``up`` on ``price_above``) and a window on RSI and formula alerts,
    which is read as their bar interval (the agent's tool has no interval argument).

    Raises:
        UserInputError: The first problem found, in words.
    """
    chosen = parse_kind(kind)
    symbol_text = None if symbol is None else str(symbol).strip() or None
    if chosen.needs_coin and symbol_text is None:
        raise UserInputError("Which coin should the alert watch? Give a symbol like BTC.")
    if chosen is AlertKind.DEPEG and (threshold is None or str(threshold).strip() == ""):
        amount: Decimal | None = None
    else:
        amount = parse_threshold(threshold, chosen)
    win = pct_dir = None
    if (chosen.is_rsi or chosen.is_formula) and _given(window) and not _given(interval):
        interval, window = window, None  # the agent's tool has no interval: "4h RSI"
    if chosen is AlertKind.PCT_CHANGE:
        win, _ = parse_window(window)
        pct_dir = parse_direction(direction)
    else:
        if window is not None and str(window).strip():
            raise UserInputError(
                f"A window only applies to pct_change alerts, not {chosen.value}; for a move "
                "over a time window use pct_change (e.g. 5% in 1h)."
            )
        _check_direction(chosen, direction)
    bar = None
    if chosen.is_rsi or chosen.is_formula:
        bar = parse_interval(interval)
    elif interval is not None and str(interval).strip():
        raise UserInputError("An interval only applies to RSI and formula alerts.")
    name = None
    if chosen.is_formula:
        name = str(formula or "").strip().lower()
        if not name:
            raise UserInputError(
                "A formula alert needs the name of one of your saved formulas "
                "(save one with /formula save NAME EXPRESSION)."
            )
    elif formula is not None and str(formula).strip():
        raise UserInputError("A formula only applies to formula_above and formula_below alerts.")
    if not isinstance(recurring, bool):
        raise UserInputError("recurring must be true or false.")
    cooldown_s = parse_cooldown(cooldown, default_cooldown_s) if recurring else 0
    if not recurring and cooldown is not None and str(cooldown).strip():
        raise UserInputError("A cooldown only applies to recurring alerts; add --recurring.")
    return AlertRequest(
        kind=chosen,
        threshold=amount,
        symbol=symbol_text,
        window=win,
        direction=pct_dir,
        interval=bar,
        formula=name,
        recurring=recurring,
        cooldown_s=cooldown_s,
        expires_at=parse_expiry(expires, now=now),
    )


def _given(value: object) -> bool:
    return value is not None and bool(str(value).strip())


def _check_direction(kind: AlertKind, direction: object) -> None:
    if direction is None or not str(direction).strip():
        return
    wanted = parse_direction(direction)
    agrees = (wanted is PctDirection.UP and kind.upward) or (
        wanted is PctDirection.DOWN and not kind.upward and kind is not AlertKind.DEPEG
    )
    if not agrees:
        raise UserInputError(
            f'The direction "{_clip(direction, 12)}" does not fit a {kind.value} alert; '
            "directions apply to pct_change alerts."
        )


# -- stored parameters and engine rules ---------------------------------------------------


def rule_direction(kind: AlertKind, direction: PctDirection | None = None) -> Direction:
    """The engine direction of a rule."""
    if kind is AlertKind.PCT_CHANGE:
        return Direction.DOWN if direction is PctDirection.DOWN else Direction.UP
    return Direction.UP if kind.upward else Direction.DOWN


def engine_threshold(
    kind: AlertKind, threshold: Decimal, direction: PctDirection | None = None
) -> Decimal:
    """The threshold on the metric: ``-t`` for downward percentage moves, else ``t``."""
    if kind is AlertKind.PCT_CHANGE and direction is PctDirection.DOWN:
        return -threshold
    return threshold


def _band(kind: AlertKind, threshold: Decimal) -> Decimal:
    if kind is AlertKind.PCT_CHANGE:
        return Decimal("0.5")
    if kind.is_rsi:
        return Decimal(5)
    if kind is AlertKind.DEPEG:
        return Decimal("0.1")
    return abs(threshold) / _HUNDRED  # prices, portfolios, formulas: 1%


def rearm_level(
    kind: AlertKind, threshold: Decimal, direction: PctDirection | None = None
) -> Decimal:
    """Where a recurring rule re-arms: below ``t - band`` (UP) or above ``t + band`` (DOWN).

    ``threshold`` is the user's threshold; the level is on the metric's scale (a
    downward move of 5% re-arms at -4.5%). Depeg and absolute moves never re-arm below 0.
    """
    level = engine_threshold(kind, threshold, direction)
    band = _band(kind, threshold)
    if rule_direction(kind, direction) is Direction.UP:
        rearm = level - band
        if kind is AlertKind.DEPEG or direction is PctDirection.ANY:
            rearm = max(rearm, Decimal(0))
        return tidy(rearm) if rearm >= 0 else -tidy(-rearm)
    rearm = level + band
    return tidy(rearm) if rearm >= 0 else -tidy(-rearm)


def alert_params(
    request: AlertRequest,
    threshold: Decimal,
    *,
    portfolio_id: int | None = None,
    portfolio: str | None = None,
    formula_id: int | None = None,
    base_currency: str = "USD",
) -> dict[str, Any]:
    """The JSON parameters stored with an alert (every number as a decimal string).

    The re-arm level is stored for every rule (one-shot rules ignore it), so two
    requests for the same trigger have equal parameters and count as duplicates whether
    recurring or not.
    """
    kind = request.kind
    params: dict[str, Any] = {"threshold": _text(threshold)}
    if kind is AlertKind.PCT_CHANGE:
        params["window"] = request.window or DEFAULT_WINDOW
        params["direction"] = (request.direction or PctDirection.ANY).value
    if kind.is_rsi or kind.is_formula:
        params["interval"] = request.interval or "1d"
    if kind.is_portfolio:
        params["portfolio_id"] = portfolio_id
        params["portfolio"] = portfolio
    if kind.is_formula:
        params["formula_id"] = formula_id
        params["formula"] = request.formula
    if kind.is_price or kind.is_portfolio:
        params["base_currency"] = base_currency.upper()
    params["rearm"] = _text(rearm_level(kind, threshold, request.direction))
    return params


def _text(value: Decimal) -> str:
    return format(value, "f")


class AlertLike(Protocol):
    """What :func:`rule_spec` reads from a stored alert (``storage.models.Alert``)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def coin_id(self) -> str | None: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def recurring(self) -> bool: ...
    @property
    def cooldown_seconds(self) -> int: ...
    @property
    def state(self) -> Mapping[str, Any]: ...


def metric_key(kind: AlertKind | str, coin_id: str | None, params: Mapping[str, Any]) -> str:
    """The engine metric a rule watches (see the module docstring).

    Raises:
        ValueError: The parameters lack what the kind needs.
    """
    chosen = AlertKind(kind)
    if chosen is AlertKind.PCT_CHANGE:
        window = format_duration(window_seconds(str(params["window"])))
        prefix = "abspct" if params.get("direction", "any") == PctDirection.ANY else "pct"
        return f"{prefix}:{_need(coin_id)}:{window}"
    if chosen.is_price:
        return f"price:{_need(coin_id)}"
    if chosen.is_rsi:
        return f"rsi:{_need(coin_id)}:{params.get('interval') or '1d'}"
    if chosen is AlertKind.DEPEG:
        return f"depeg:{_need(coin_id)}"
    if chosen.is_portfolio:
        return f"portfolio:{int(params['portfolio_id'])}"
    return f"formula:{int(params['formula_id'])}:{_need(coin_id)}:{params.get('interval') or '1d'}"


def _need(coin_id: str | None) -> str:
    if not coin_id:
        raise ValueError("this alert kind needs a coin id")
    return coin_id


def rule_spec(alert: AlertLike) -> RuleSpec:
    """The engine rule of a stored alert.

    The evaluation state is read from ``alert.state``: ``armed`` (default ``True``) and
    ``cooldown_until`` (epoch seconds, default 0), as the market tick stores them.

    Raises:
        ValueError: Unknown kind or malformed parameters (log and skip such a row).
    """
    kind = AlertKind(alert.kind)
    params = alert.params or {}
    threshold = Decimal(str(params["threshold"]))
    direction = (
        PctDirection(params.get("direction") or "any") if kind is AlertKind.PCT_CHANGE else None
    )
    level = engine_threshold(kind, threshold, direction)
    rearm: float | None = None
    if alert.recurring:
        stored = params.get("rearm")
        rearm_at = (
            Decimal(str(stored)) if stored is not None else rearm_level(kind, threshold, direction)
        )
        rearm = float(rearm_at)
    state = alert.state or {}
    return RuleSpec(
        rule_id=int(alert.id),
        metric=metric_key(kind, alert.coin_id, params),
        direction=rule_direction(kind, direction),
        threshold=float(level),
        recurring=bool(alert.recurring),
        cooldown_s=float(alert.cooldown_seconds if alert.recurring else 0),
        rearm_level=rearm,
        armed=bool(state.get("armed", True)),
        cooldown_until=float(state.get("cooldown_until") or 0.0),
    )


def replay_firings(spec: RuleSpec, times: Sequence[float], values: Sequence[float]) -> list[float]:
    """When ``spec`` would have fired over a past series, by running the engine over it.

    The first finite value seeds the rule (no firing), as the live tick does; non-finite
    values are skipped.

    Args:
        spec: The rule (its ``rule_id`` and ``metric`` are used as given).
        times: Epoch seconds of the values, ascending.
        values: The metric's values.

    Returns:
        Epoch seconds of each firing.
    """
    book = RuleBook()
    book.upsert([spec])
    fired: list[float] = []
    seeded = False
    for when, value in zip(times, values, strict=True):
        number = float(value)
        if not math.isfinite(number):
            continue
        if not seeded:
            book.seed({spec.metric: number})
            seeded = True
            continue
        if book.evaluate({spec.metric: number}, float(when)):
            fired.append(float(when))
        if not spec.recurring and fired:
            break
    return fired
