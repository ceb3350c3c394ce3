"""The Telegram front-end: the bot (commands, agent, groups), HTML formatting, and the
outbox notifier."""

import os

# python-telegram-bot 22 reports RetryAfter.retry_after as a timedelta when this is set
# (an int, with a deprecation warning, otherwise); the notifier accepts both.
os.environ.setdefault("PTB_TIMEDELTA", "true")
