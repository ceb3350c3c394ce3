"""Per-user turn limits and the daily token budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.guard import TokenBudget, TurnLimiter
from tools.clock import FakeClock
from tools.errors import LimitError

NOW = datetime(2026, 11, 21, 23, 59, tzinfo=UTC)
ALICE = ("telegram", "1")
BOB = ("telegram", "2")


def test_turns_per_minute_slide() -> None:
    clock = FakeClock(NOW)
    limiter = TurnLimiter(per_minute=3, per_day=100, clock=clock)
    for _ in range(3):
        limiter.check(ALICE)
    with pytest.raises(LimitError, match="too fast. Please wait 60 s"):
        limiter.check(ALICE)
    limiter.check(BOB)  # others are unaffected
    clock.advance(60)
    limiter.check(ALICE)


def test_turns_per_day_reset_at_midnight_utc() -> None:
    clock = FakeClock(NOW)
    limiter = TurnLimiter(per_minute=100, per_day=2, clock=clock)
    limiter.check(ALICE)
    limiter.check(ALICE)
    with pytest.raises(LimitError, match="today's limit"):
        limiter.check(ALICE)
    clock.advance(61)  # next UTC day
    limiter.check(ALICE)


def test_token_budget() -> None:
    clock = FakeClock(NOW)
    budget = TokenBudget(1000, clock=clock)
    budget.check(ALICE)
    budget.record(ALICE, 600)
    budget.check(ALICE)
    budget.record(ALICE, 600)
    with pytest.raises(LimitError, match="renews on 2026-11-22"):
        budget.check(ALICE)
    budget.check(BOB)
    clock.advance(120)
    budget.check(ALICE)
