"""Rendering errors for users, once, at the edge.

Domain errors show their ``user_message``. Anything else is logged with its traceback
under a short incident id and the user gets an apology quoting that id; raw exception
text never reaches users (or an LLM provider).
"""

from __future__ import annotations

import logging

from tools.errors import CryptoGuardError, new_incident_id

logger = logging.getLogger(__name__)


def render_error(exc: BaseException) -> str:
    """Plain-text message for ``exc``; unexpected errors are logged with an incident id."""
    if isinstance(exc, CryptoGuardError):
        return exc.user_message
    ident = new_incident_id()
    logger.error("incident %s: unexpected error", ident, exc_info=exc)
    return f"Sorry, something went wrong on our side (incident {ident}). Please try again."
