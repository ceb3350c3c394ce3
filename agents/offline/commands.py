"""Alert requests that only a slash command serves: pausing, resuming, the fired-alert history.

The agent's tool contract has no tool to pause or resume an alert, nor one that lists the
alerts that have fired; the front-ends offer them as ``/pause ID``, ``/resume ID`` and
``/alerts history``. :func:`alert_command` recognises such a request ("pause alert 1",
"mute my btc alert", "what alerts fired today") before any tool is scored, so it is never
mistaken for a new alert, a deletion or a coin's price history, and answers it with a
pointer to the command (texts in ``prompts/templates/alert_*.txt``).
"""

from __future__ import annotations

import re

from agents.offline.entities import find_alert_ids
from agents.offline.intents import COMPARE_RE
from agents.offline.text import Doc
from agents.offline.types import ChatIntent
from prompts import render

#: Most alert numbers spelled out as separate commands in one answer.
MAX_NAMED = 3

#: Tools after which "pause it" or "mute them" means the alerts just shown or made.
ALERT_TOOLS = frozenset({"create_alert", "list_alerts", "delete_alert"})

_C = re.compile

#: What names an alert: the noun (not the verb of "alert me when ..."), or a number ("#3").
_ALERT_OBJECT = _C(
    r"\b(?:alerts?|alarms?|notifications?|notifs?|reminders?)\b"
    r"(?!\s+(?:me|us|when|if|once|whenever|as\s+soon)\b)|#\s?\d"
)
_PAUSE = _C(
    r"\b(?:paus(?:e[sd]?|ing)|mut(?:e[sd]?|ing)|snooz(?:e[sd]?|ing)|silenc(?:e[sd]?|ing)|"
    r"suspend(?:s|ed|ing)?|disabl(?:e[sd]?|ing)|deactivat(?:e[sd]?|ing)|"
    r"(?:turn|switch)(?:s|ed|ing)?\s+off|on\s+hold|hush|shush)\b|"
    r"\b(?:turn|switch)\b.*\boff\b"
)
_RESUME = _C(
    r"\b(?:resum(?:e[sd]?|ing)|un-?paus(?:e[sd]?|ing)|un-?mut(?:e[sd]?|ing)|un-?snooz\w*|"
    r"re-?activat(?:e[sd]?|ing)|re-?enabl(?:e[sd]?|ing)|enabl(?:e[sd]?|ing)|"
    r"activat(?:e[sd]?|ing)|restart(?:s|ed|ing)?|unsilenc\w*|"
    r"(?:turn|switch)(?:s|ed|ing)?\s+(?:back\s+)?on)\b|\bback\s+on\b"
)
#: "pause 3", "resume #3": the verb directly before a number.
_VERB_NUMBER = _C(
    r"\b(?:paus|mut|snooz|resum|unpaus|unmut)\w*\s+#?\s?(?P<id>\d+)\b(?!\s*(?:%|\$|k\b|usd\b))"
)
#: A pronoun for the alerts of the previous turn ("pause it", "mute them all").
_PRONOUN = _C(r"\b(?:it|them|that|those|these|both|all|everything|one)\b")
_HISTORY = _C(
    r"\b(?:history|logs?|fired|triggered|tripped)\b|"
    r"\b(?:went|gone)\s+off\b|"
    r"\b(?:did|has|have|had)\b.*\b(?:fire|trigger|go\s+off|trip)\b|"
    r"\b(?:past|previous|earlier|old)\s+(?:\w+\s+)?(?:alerts?|alarms?|notifications?)\b"
)
#: Words of the daily digest: "pause the digest" is a setting (``update_settings``).
_DIGEST = _C(r"\b(?:digests?|briefings?|newsletters?|daily\s+(?:summary|report|update))\b")
#: Deleting fired alerts is a deletion request, left to ``delete_alert``.
_DELETE = _C(r"\b(?:delete|remove|cancel|kill|drop|clear|erase|wipe|purge|nuke|get\s+rid\s+of)\b")
#: A threshold: "turn on an alert for BTC above 100k" asks for a new alert.
_THRESHOLD = _C(r"\d\s*%|\bpercent\b")


def alert_command(doc: Doc, last_tool: str | None = None) -> ChatIntent | None:
    """The answer to a request only a slash command serves, or ``None`` for any other.

    Args:
        doc: The message.
        last_tool: The tool called in the previous turn; after an alert tool, "pause it"
            or "resume them" refers to alerts.

    Returns:
        A ``command`` :class:`ChatIntent` whose reason names the command to send.
    """
    low = doc.low
    if _DIGEST.search(low):
        return None
    about_alerts = _ALERT_OBJECT.search(low) is not None
    if not about_alerts and last_tool in ALERT_TOOLS:
        about_alerts = _PRONOUN.search(low) is not None or len(low.split()) <= 2
    pause, resume = _PAUSE.search(low), _RESUME.search(low)
    if (pause or resume) and (about_alerts or _VERB_NUMBER.search(low)):
        if pause:
            return _pointer("alert_pause", low)
        if not (COMPARE_RE.search(low) or _THRESHOLD.search(low)):
            return _pointer("alert_resume", low)
    if (
        _ALERT_OBJECT.search(low)
        and _HISTORY.search(low)
        and not (_DELETE.search(low) or COMPARE_RE.search(low) or _THRESHOLD.search(low))
    ):
        return ChatIntent("command", render("alert_history"))
    return None


def _pointer(template: str, low: str) -> ChatIntent:
    """The pause or resume answer, naming the commands for the alert numbers given."""
    ids = find_alert_ids(low)
    if not ids and (bare := _VERB_NUMBER.search(low)) is not None:
        ids = [int(bare.group("id"))]
    if not ids or len(ids) > MAX_NAMED or any(i <= 0 for i in ids):
        return ChatIntent("command", render(f"{template}_which"))
    return ChatIntent(
        "command",
        render(
            template,
            pause=_joined("/pause", ids),
            resume=_joined("/resume", ids),
            it="it" if len(ids) == 1 else "them",
        ),
    )


def _joined(command: str, ids: list[int]) -> str:
    """``/pause 1``, ``/pause 1 and /pause 2``, ``/pause 1, /pause 2 and /pause 3``."""
    parts = [f"{command} {i}" for i in ids]
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
