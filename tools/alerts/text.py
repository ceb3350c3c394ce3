"""Compact plain-text renderings of alert results, for chat replies and tools.

No Markdown or HTML: front-ends may add their own formatting. Renderers end with the
data notice (simulated or replayed prices) when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tools.alerts.service import (
    AlertCreated,
    AlertList,
    AlertView,
    Backtest,
    DeleteOutcome,
    FiredAlert,
)

__all__ = [
    "render_alert_list",
    "render_backtest",
    "render_created",
    "render_deleted",
    "render_history",
    "render_status_change",
]

#: Longest description shown in a list row.
_DESCRIPTION_WIDTH = 44


def _times(count: int) -> str:
    return "once" if count == 1 else "twice" if count == 2 else f"{count} times"


def render_backtest(backtest: Backtest, *, recurring: bool) -> str:
    """One or two sentences on how often the rule would have fired recently."""
    if backtest.fired is None:
        return backtest.note or ""
    days = backtest.days
    basis = f" (replayed on {backtest.basis})" if backtest.basis else ""
    if backtest.fired == 0:
        return f"Over the last {days} days this rule would not have fired{basis}."
    text = f"Over the last {days} days this rule would have fired {_times(backtest.fired)}{basis}"
    if backtest.last_fired is not None:
        text += f", last on {backtest.last_fired:%Y-%m-%d}"
    text += "."
    if not recurring and backtest.fired > 1:
        text += " As a one-shot alert it fires on the first crossing, then stops."
    if backtest.noisy:
        advice = "a threshold further from the current value"
        if recurring:
            advice += " or a longer cooldown"
        text += f" That is noisy: consider {advice}."
    if backtest.note:
        text += f" {backtest.note}"
    return text


def render_created(result: AlertCreated) -> str:
    """The confirmation, the distance to the trigger now, the 30-day replay, notes, notice."""
    alert = result.alert
    lines = [result.message]
    if alert.distance:
        lines.append(alert.distance)
    replay = render_backtest(result.backtest, recurring=alert.recurring)
    if replay:
        lines.append(replay)
    lines += [f"Note: {n}" for n in result.notes]
    if result.notice:
        lines.append(result.notice)
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _fired(view: AlertView) -> str:
    if not view.fire_count or view.last_fired_at is None:
        return "never fired"
    return f"fired {_times(view.fire_count)}, last {_when(view.last_fired_at)}"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _status(view: AlertView) -> str:
    words = [view.status]
    if view.recurring:
        words.append("recurring")
    if view.expires_at is not None:
        words.append(f"until {view.expires_at:%Y-%m-%d}")
    return ", ".join(words)


def render_alert_list(report: AlertList) -> str:
    """The user's alerts as a compact table: id, rule, status, firings, distance now."""
    if not report.alerts:
        text = "You have no active alerts."
        if report.inactive:
            text += f" ({report.inactive} fired or expired; see the alert history.)"
        return text
    width = min(_DESCRIPTION_WIDTH, max(len(v.description) for v in report.alerts))
    lines = [f"Your alerts ({len(report.alerts)}):"]
    for view in report.alerts:
        row = f"#{view.id:<5} {_clip(view.description, width):<{width}}  {_status(view)}"
        row += f"; created {view.created_at:%Y-%m-%d}; {_fired(view)}"
        lines.append(row)
        if view.distance:
            lines.append(f"       now: {view.distance}")
    if report.inactive:
        lines.append(f"({report.inactive} more fired or expired; see the alert history.)")
    if report.notice:
        lines.append(report.notice)
    return "\n".join(lines)


def render_history(fired: Sequence[FiredAlert]) -> str:
    """Fired alerts, newest first."""
    if not fired:
        return "None of your alerts has fired yet."
    lines = [f"Latest alert firings ({len(fired)}):"]
    for item in fired:
        deleted = " (deleted since)" if item.alert_status == "deleted" else ""
        lines.append(f"{_when(item.fired_at)} UTC  #{item.alert_id} {item.description}{deleted}")
    return "\n".join(lines)


def render_deleted(outcome: DeleteOutcome, *, confirm_hint: str | None = None) -> str:
    """What a delete did, or the confirmation prompt (with how to confirm, if given)."""
    if outcome.needs_confirmation and confirm_hint:
        return f"{outcome.message}\n{confirm_hint}"
    return outcome.message


def render_status_change(view: AlertView, verb: str) -> str:
    """``"Alert #12 paused: BTC above $100,000."``."""
    return f"Alert #{view.id} {verb}: {view.description}."
