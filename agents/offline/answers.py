"""Yes and no: whether a whole message answers a confirmation question.

The agent asks before deleting more than one alert (:mod:`agents.confirm`); the next
message confirms only when it is an explicit yes from start to end ("yes", "confirm",
"yes, delete them", "ok go ahead"). "no", "cancel" or "don't delete them" is a no, and
anything with more in it ("yes but only #2", "show my alerts") is neither. Plain
patterns, so the same rule holds for the offline model and for an LLM.
"""

from __future__ import annotations

import re
from typing import Literal

Answer = Literal["yes", "no"]

#: Longer messages are never taken for a bare answer.
MAX_ANSWER_CHARS = 80

_NOISE = re.compile(r"[^a-z0-9'\s]+")
_YES = (
    r"(?:yes|yeah|yea|yep|yup|y|ok|okay|sure|confirm(?:ed)?|i\s+confirm|go\s+ahead|do\s+it|"
    r"proceed|please\s+do|absolutely|definitely|correct|affirmative|of\s+course|i'?m\s+sure)"
)
_DELETE_THEM = (
    r"(?:delete|remove|drop|clear)\s+(?:them|those|these|both|all|them\s+all|"
    r"all\s+of\s+them|(?:all\s+)?(?:the|my|those|these|both)?\s*(?:alerts|alarms))"
)
_POLITE = r"(?:please|pls|plz|thanks?|thank\s+you|now)"
_YES_RE = re.compile(
    rf"^(?:{_YES}\s*)+(?:{_DELETE_THEM}\s*)?(?:{_POLITE}\s*)*$|^{_DELETE_THEM}(?:\s+{_POLITE})*$"
)
_NO_RE = re.compile(
    r"^(?:(?:no|nope|nah|n|cancel|stop|abort|never\s*mind|forget\s+it|not\s+now|no\s+way|"
    r"don'?t|do\s+not|keep\s+them)\b\s*)+(?:(?:delete|remove)\s+)?"
    r"(?:(?:them|it|anything|that|those|these|(?:the|my)\s+alerts?)\s*)?"
    r"(?:(?:please|thanks?|thank\s+you)\s*)*$"
)


def yes_or_no(text: str) -> Answer | None:
    """``"yes"`` or ``"no"`` when the whole message is an explicit answer, else ``None``."""
    low = _NOISE.sub(" ", text.lower().replace("\u2019", "'"))
    low = " ".join(low.split())
    if not low or len(low) > MAX_ANSWER_CHARS:
        return None
    if _YES_RE.match(low):
        return "yes"
    if _NO_RE.match(low):
        return "no"
    return None
