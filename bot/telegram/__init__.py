"""The Telegram front-end: HTML formatting, the outbox notifier, and (later) the bot itself."""

import os

# python-telegram-bot 22 reports RetryAfter.retry_after as a timedelta when this is set
# (an int, with a deprecation warning, otherwise); the notifier accepts both.
os.environ.setdefault("PTB_TIMEDELTA", "true")
