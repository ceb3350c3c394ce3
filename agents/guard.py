"""Per-user guardrails on agent turns: a rate limit and a daily token budget.

Both are kept in memory per process (they reset on restart), which is what they are
for: stopping floods and runaway spend, not billing.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import date, timedelta

from tools.clock import Clock, SystemClock
from tools.errors import LimitError

UserKey = tuple[str, str]


class TurnLimiter:
    """Sliding-window limits on turns per minute and per UTC day.

    Args:
        per_minute: Turns allowed in any 60-second window.
        per_day: Turns allowed per UTC day.
        clock: Time source.
    """

    def __init__(self, per_minute: int, per_day: int, *, clock: Clock | None = None) -> None:
        self.per_minute = per_minute
        self.per_day = per_day
        self._clock = clock or SystemClock()
        self._recent: dict[UserKey, deque[float]] = {}
        self._daily: dict[UserKey, tuple[date, int]] = {}

    def check(self, user: UserKey) -> None:
        """Count one turn for ``user``.

        Raises:
            LimitError: Too many turns; nothing is counted then.
        """
        now = self._clock.now()
        stamp = now.timestamp()
        window = self._recent.setdefault(user, deque())
        while window and stamp - window[0] >= 60:
            window.popleft()
        day, used = self._daily.get(user, (now.date(), 0))
        if day != now.date():
            day, used = now.date(), 0
        if len(window) >= self.per_minute:
            wait = max(1, math.ceil(60 - (stamp - window[0])))
            raise LimitError(f"You're sending messages too fast. Please wait {wait} s.")
        if used >= self.per_day:
            raise LimitError("You've reached today's limit of questions. It resets at 00:00 UTC.")
        window.append(stamp)
        self._daily[user] = (day, used + 1)


class TokenBudget:
    """A daily per-user token budget for paid models.

    Args:
        daily_tokens: Tokens allowed per user per UTC day.
        clock: Time source.
    """

    def __init__(self, daily_tokens: int, *, clock: Clock | None = None) -> None:
        self.daily_tokens = daily_tokens
        self._clock = clock or SystemClock()
        self._used: dict[UserKey, tuple[date, int]] = {}

    def _today(self, user: UserKey) -> int:
        day, used = self._used.get(user, (self._clock.now().date(), 0))
        return used if day == self._clock.now().date() else 0

    def check(self, user: UserKey) -> None:
        """Raise :class:`LimitError` when ``user`` has spent today's budget."""
        if self._today(user) >= self.daily_tokens:
            tomorrow = self._clock.now().date() + timedelta(days=1)
            raise LimitError(
                f"You've used today's assistant budget. It renews on {tomorrow:%Y-%m-%d} "
                "(00:00 UTC); slash commands keep working meanwhile."
            )

    def record(self, user: UserKey, tokens: int) -> None:
        """Add ``tokens`` to today's spend of ``user``."""
        self._used[user] = (self._clock.now().date(), self._today(user) + max(0, tokens))
