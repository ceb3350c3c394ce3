"""Console commands for alerts: /alert /alerts /delalert /pause /resume.

Parsing only; the work is done by AlertService. ``/alert`` takes friendly forms
(``/alert btc above 100k``, ``/alert sol change 5% 1h``, ``/alert usdc depeg 1``,
``/alert btc rsi above 70``, ``/alert portfolio below 20k``) as well as the kind names of
the agent's tool (``/alert price_above btc 100k``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tools.alerts.rules import AlertKind
from tools.alerts.service import AlertService
from tools.alerts.text import (
    render_alert_list,
    render_created,
    render_deleted,
    render_history,
    render_status_change,
)
from tools.identity import UserRef

HELP = """\
  /alert SYMBOL above|below PRICE   a price alert, e.g. /alert btc above 100k, /alert eth below 2500
  /alert SYMBOL change PCT [WINDOW] [up|down]
                              a move within a window, e.g. /alert sol change 5% 1h
  /alert SYMBOL depeg [PCT]   a stablecoin off its peg, e.g. /alert usdc depeg 1
  /alert SYMBOL rsi above|below N [1h|4h|1d]   e.g. /alert btc rsi above 70
  /alert portfolio above|below VALUE           e.g. /alert portfolio below 20k
  /alert SYMBOL formula NAME above|below N     on a saved formula
      options: --recurring [--cooldown 30m]   --expires 7d|2026-12-31
  /alerts [history]           your alerts with the distance to each trigger; fired alerts
  /delalert ID [ID...|all] [confirm]   delete alerts (more than one asks to confirm)
  /pause ID, /resume ID       stop and restart an alert"""

USAGE = "Usage: /alert SYMBOL above|below PRICE, e.g. /alert btc above 100k (more forms: /help)"

_ABOVE = {"above", "over", ">", ">=", "higher", "exceeds"}
_BELOW = {"below", "under", "<", "<=", "lower"}
_CHANGE = {"change", "changes", "move", "moves", "pct", "percent", "%"}
_UP = {"up", "rises", "rise", "pumps", "pump", "gains"}
_DOWN = {"down", "drops", "drop", "falls", "fall", "dumps", "dump"}
_DEPEG = {"depeg", "depegs", "peg", "off-peg"}
_DIRECTION_WORDS = {"up", "down", "any", "either", "both"}
_DURATION = re.compile(r"^\d+(?:\.\d+)?(?:m|min|h|hr|d|w)$")


@dataclass
class AlertArgs:
    """What ``/alert`` was asked for, as arguments of :meth:`AlertService.create`."""

    kind: str
    symbol: str | None = None
    threshold: str | None = None
    window: str | None = None
    direction: str | None = None
    recurring: bool = False
    formula: str | None = None
    expires: str | None = None
    interval: str | None = None
    cooldown: str | None = None
    extra: list[str] = field(default_factory=list)


class AlertCommandError(ValueError):
    """The command line could not be read; the message says how to write it."""


def parse_alert_command(args: list[str]) -> AlertArgs:
    """Read the words after ``/alert``.

    Raises:
        AlertCommandError: Not a form ``/alert`` understands (the message shows usage).
    """
    words, options = _split_options(args)
    if not words:
        raise AlertCommandError(USAGE)
    low = [w.lower() for w in words]
    try:
        kind = AlertKind(low[0].replace("-", "_"))
    except ValueError:
        parsed = _friendly(words, low)
    else:
        parsed = _generic(kind, words[1:])
    for key, value in options.items():
        setattr(parsed, key, value)
    if parsed.extra:
        raise AlertCommandError(f'Unexpected "{parsed.extra[0][:20]}". {USAGE}')
    return parsed


def _split_options(args: list[str]) -> tuple[list[str], dict[str, object]]:
    words: list[str] = []
    options: dict[str, object] = {}
    rest = list(args)
    while rest:
        word = rest.pop(0)
        key = word.lower().lstrip("-")
        if (word.startswith("-") and key in ("r", "recurring", "repeat")) or key == "recurring":
            options["recurring"] = True
        elif key in ("expires", "expiry", "until") and (word.startswith("--") or rest):
            if not rest:
                raise AlertCommandError("Give the expiry after --expires, e.g. --expires 7d.")
            options["expires"] = rest.pop(0)
        elif key == "cooldown" and word.startswith("--"):
            if not rest:
                raise AlertCommandError("Give the cooldown after --cooldown, e.g. --cooldown 30m.")
            options["cooldown"] = rest.pop(0)
        elif key == "interval" and word.startswith("--"):
            if not rest:
                raise AlertCommandError("Give the interval after --interval: 1h, 4h or 1d.")
            options["interval"] = rest.pop(0)
        else:
            words.append(word)
    return words, options


def _generic(kind: AlertKind, rest: list[str]) -> AlertArgs:
    """``/alert KIND [SYMBOL] [FORMULA] THRESHOLD [WINDOW|INTERVAL] [DIRECTION]``."""
    parsed = AlertArgs(kind.value)
    words = list(rest)
    if kind.needs_coin:
        if not words:
            raise AlertCommandError(f"Usage: /alert {kind.value} SYMBOL THRESHOLD")
        parsed.symbol = words.pop(0)
    elif words and not _numberish(words[0]):
        parsed.symbol = words.pop(0)  # a portfolio name
    if kind.is_formula:
        if not words:
            raise AlertCommandError(f"Usage: /alert {kind.value} SYMBOL FORMULA THRESHOLD")
        parsed.formula = words.pop(0)
    if words:
        parsed.threshold = words.pop(0)
    elif kind is not AlertKind.DEPEG:
        raise AlertCommandError(f"Give a threshold: /alert {kind.value} ... THRESHOLD")
    _tail(parsed, kind, words)
    return parsed


def _friendly(words: list[str], low: list[str]) -> AlertArgs:
    if low[0] == "portfolio":
        return _friendly_portfolio(words[1:], low[1:])
    if len(words) < 2:
        raise AlertCommandError(USAGE)
    symbol, verb, rest = words[0], low[1], words[2:]
    if verb in _ABOVE or verb in _BELOW:
        kind = AlertKind.PRICE_ABOVE if verb in _ABOVE else AlertKind.PRICE_BELOW
        parsed = AlertArgs(kind.value, symbol, _first(rest, "a price, e.g. 100k"))
        _tail(parsed, kind, rest[1:])
        return parsed
    if verb in _CHANGE or verb in _UP or verb in _DOWN:
        parsed = AlertArgs(AlertKind.PCT_CHANGE.value, symbol)
        if verb in _UP:
            parsed.direction = "up"
        elif verb in _DOWN:
            parsed.direction = "down"
        parsed.threshold = _first(rest, "a percentage, e.g. 5%")
        _tail(parsed, AlertKind.PCT_CHANGE, rest[1:])
        return parsed
    if verb in _DEPEG:
        parsed = AlertArgs(AlertKind.DEPEG.value, symbol, rest[0] if rest else None)
        _tail(parsed, AlertKind.DEPEG, rest[1:])
        return parsed
    if verb == "rsi":
        side = rest[0].lower() if rest else ""
        if side not in _ABOVE and side not in _BELOW:
            raise AlertCommandError("Usage: /alert SYMBOL rsi above|below LEVEL [1h|4h|1d]")
        kind = AlertKind.RSI_ABOVE if side in _ABOVE else AlertKind.RSI_BELOW
        parsed = AlertArgs(kind.value, symbol, _first(rest[1:], "an RSI level, e.g. 70"))
        _tail(parsed, kind, rest[2:])
        return parsed
    if verb == "formula":
        if len(rest) < 3 or (rest[1].lower() not in _ABOVE and rest[1].lower() not in _BELOW):
            raise AlertCommandError(
                "Usage: /alert SYMBOL formula NAME above|below VALUE [1h|4h|1d]"
            )
        kind = AlertKind.FORMULA_ABOVE if rest[1].lower() in _ABOVE else AlertKind.FORMULA_BELOW
        parsed = AlertArgs(kind.value, symbol, rest[2], formula=rest[0])
        _tail(parsed, kind, rest[3:])
        return parsed
    raise AlertCommandError(f'"{words[1][:20]}" is not something /alert understands. {USAGE}')


def _friendly_portfolio(words: list[str], low: list[str]) -> AlertArgs:
    name = None
    if low and low[0] not in _ABOVE and low[0] not in _BELOW:
        name, words, low = words[0], words[1:], low[1:]
    if not low or (low[0] not in _ABOVE and low[0] not in _BELOW):
        raise AlertCommandError("Usage: /alert portfolio [NAME] above|below VALUE, e.g. 20k")
    kind = AlertKind.PORTFOLIO_ABOVE if low[0] in _ABOVE else AlertKind.PORTFOLIO_BELOW
    parsed = AlertArgs(kind.value, name, _first(words[1:], "a value, e.g. 20k"))
    _tail(parsed, kind, words[2:])
    return parsed


def _first(rest: list[str], what: str) -> str:
    if not rest:
        raise AlertCommandError(f"Give {what}.")
    return rest[0]


def _tail(parsed: AlertArgs, kind: AlertKind, words: list[str]) -> None:
    """Window, interval and direction words after the threshold, in any order."""
    for word in words:
        key = word.lower()
        if kind is AlertKind.PCT_CHANGE and key in _DIRECTION_WORDS:
            parsed.direction = key
        elif kind is AlertKind.PCT_CHANGE and _DURATION.match(key):
            parsed.window = key
        elif (kind.is_rsi or kind.is_formula) and _DURATION.match(key):
            parsed.interval = key
        else:
            parsed.extra.append(word)


def _numberish(word: str) -> bool:
    return bool(re.match(r"^[$+\-]?\.?\d", word.strip()))


class AlertCommands:
    """The alert slash commands of the console.

    Args:
        alerts: The service.
        user: The console user.
    """

    def __init__(self, alerts: AlertService, user: UserRef) -> None:
        self.alerts = alerts
        self.user = user

    def commands(self) -> dict[str, Callable[[list[str]], Awaitable[str]]]:
        """Command name -> handler."""
        return {
            "alert": self.create,
            "alerts": self.show,
            "delalert": self.delete,
            "pause": self.pause,
            "resume": self.resume,
        }

    async def create(self, args: list[str]) -> str:
        try:
            wanted = parse_alert_command(args)
        except AlertCommandError as exc:
            return str(exc)
        result = await self.alerts.create(
            self.user,
            wanted.kind,
            wanted.symbol,
            wanted.threshold,
            wanted.window,
            wanted.direction,
            wanted.recurring,
            wanted.formula,
            expires=wanted.expires,
            interval=wanted.interval,
            cooldown=wanted.cooldown,
        )
        return render_created(result)

    async def show(self, args: list[str]) -> str:
        if args and args[0].lower() == "history":
            if len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
                return "Usage: /alerts history [N], e.g. /alerts history 50"
            limit = int(args[1]) if len(args) == 2 else 20
            return render_history(await self.alerts.history(self.user, limit))
        if args:
            return "Usage: /alerts (your alerts) or /alerts history"
        return render_alert_list(await self.alerts.list_report(self.user))

    async def delete(self, args: list[str]) -> str:
        usage = "Usage: /delalert ID [ID...], /delalert all (then /delalert all confirm)"
        words = [w for a in args for w in a.replace(",", " ").split()]
        confirm = bool(words) and words[-1].lower() in ("confirm", "yes")
        if confirm:
            words = words[:-1]
        if not words:
            return usage
        if len(words) == 1 and words[0].lower() != "all":
            view = await self.alerts.delete(self.user, words[0])
            return f"Deleted alert #{view.id}: {view.description}."
        everything = any(w.lower() == "all" for w in words)
        if everything and len(words) > 1:
            return usage
        outcome = await self.alerts.delete_many(
            self.user, "all" if everything else words, confirm=confirm
        )
        hint = f"To delete them: /delalert {' '.join(words)} confirm"
        return render_deleted(outcome, confirm_hint=hint)

    async def pause(self, args: list[str]) -> str:
        if len(args) != 1:
            return "Usage: /pause ID, e.g. /pause 12"
        return render_status_change(await self.alerts.pause(self.user, args[0]), "paused")

    async def resume(self, args: list[str]) -> str:
        if len(args) != 1:
            return "Usage: /resume ID, e.g. /resume 12"
        return render_status_change(await self.alerts.resume(self.user, args[0]), "resumed")
