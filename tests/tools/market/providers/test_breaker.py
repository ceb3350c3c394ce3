"""The circuit breaker on its own: closed, open, half-open with a single probe, bans."""

from __future__ import annotations

from tools.clock import FakeClock
from tools.market.providers import BreakerState, CircuitBreaker


def test_opens_after_threshold_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker("coingecko", failure_threshold=3, reset_after=60, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    assert breaker.retry_in() == 60.0


def test_half_open_admits_exactly_one_probe(clock: FakeClock) -> None:
    breaker = CircuitBreaker("coingecko", failure_threshold=1, reset_after=30, clock=clock)
    breaker.record_failure()
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() is True
    assert breaker.allow() is False  # a second caller while the probe is out
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.allow() and breaker.allow()


def test_failed_probe_reopens_for_another_period(clock: FakeClock) -> None:
    breaker = CircuitBreaker("coingecko", failure_threshold=5, reset_after=30, clock=clock)
    for _ in range(5):
        breaker.record_failure()
    clock.advance(31)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == 30.0


def test_released_probe_can_be_retried(clock: FakeClock) -> None:
    breaker = CircuitBreaker("coingecko", failure_threshold=1, reset_after=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()
    breaker.release()  # the probe was cancelled
    assert breaker.allow()


def test_open_for_keeps_the_longer_period(clock: FakeClock) -> None:
    breaker = CircuitBreaker("binance", reset_after=60, clock=clock)
    breaker.open_for(600)
    breaker.open_for(120)
    assert breaker.retry_in() == 600.0
    breaker.record_failure()  # an in-flight failure must not shorten a ban
    assert breaker.retry_in() == 600.0
    clock.advance(600)
    assert breaker.state is BreakerState.HALF_OPEN
