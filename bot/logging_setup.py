"""Logging configuration, applied once by the CLI.

Secrets (tokens, API keys) are scrubbed from every record by a filter, as a second
line of defence behind ``SecretStr``. ``httpx`` is held at WARNING because Telegram
request URLs contain the bot token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactingFilter(logging.Filter):
    """Replace secret values in log messages with ``***``.

    Args:
        secrets: The secret strings to hide (short or empty ones are ignored).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once and scrub it."""
        if not self._secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Configure root logging to stderr with secret redaction."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # With max_retries=0 PTB's rate limiter logs every 429 as an error with a traceback;
    # the notifier and the dispatcher handle RetryAfter (deferral) and log it themselves.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
