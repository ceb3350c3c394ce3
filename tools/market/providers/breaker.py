"""A per-provider circuit breaker: stop calling an upstream that keeps failing.

Used by :func:`tools.market.providers.http.request_json`, which asks :meth:`allow` before a
call and reports the outcome; an IP ban or a long ``Retry-After`` opens it explicitly with
:meth:`open_for`. Single event loop, no locking: all methods are synchronous.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum

from tools.clock import Clock, SystemClock

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    """States of a :class:`CircuitBreaker`."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Stops calling a provider that keeps failing, then lets one probe through.

    Closed: calls pass; ``failure_threshold`` consecutive failures open it. Open: calls are
    refused until ``reset_after`` seconds (or an explicit ban from :meth:`open_for`) have
    passed. Half-open: exactly one probe call is let through; its success closes the
    breaker, its failure opens it again.

    Args:
        name: Provider id, for logs.
        failure_threshold: Consecutive failures that open the circuit.
        reset_after: Seconds the circuit stays open before a probe.
        clock: Time source.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_after: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock or SystemClock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._open_until: datetime | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state (an expired open circuit reads as half-open)."""
        if self._state is BreakerState.OPEN and self.retry_in() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def is_open(self) -> bool:
        """Whether calls are currently refused outright."""
        return self.state is BreakerState.OPEN

    def retry_in(self) -> float:
        """Seconds until the circuit lets a probe through (0 when not open)."""
        if self._state is not BreakerState.OPEN or self._open_until is None:
            return 0.0
        return max(0.0, (self._open_until - self._clock.now()).total_seconds())

    def allow(self) -> bool:
        """Return whether a call may go ahead now; in half-open, admits a single probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        if self._state is BreakerState.OPEN:  # the open period just ran out
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        """Record a call that reached a healthy upstream; closes a half-open circuit."""
        if self._state is BreakerState.HALF_OPEN:
            logger.info("Circuit for %s closed: probe succeeded", self.name)
        if self._state is not BreakerState.OPEN:
            self._state = BreakerState.CLOSED
        self._failures = 0
        self._probe_in_flight = False

    def record_failure(self) -> None:
        """Record a failed call; opens the circuit at the threshold or after a failed probe."""
        self._probe_in_flight = False
        if self._state is BreakerState.OPEN:
            return  # already open (e.g. a ban); keep the longer of the two periods
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._open(self.reset_after, f"{self._failures} consecutive failures")

    def release(self) -> None:
        """Forget an unfinished probe (the call was cancelled) so another can be tried."""
        self._probe_in_flight = False

    def open_for(self, seconds: float) -> None:
        """Open the circuit for at least ``seconds`` (an IP ban or a long ``Retry-After``)."""
        self._open(seconds, "upstream asked us to back off")

    def _open(self, seconds: float, why: str) -> None:
        until = self._clock.now().timestamp() + max(seconds, 0.0)
        if self._state is BreakerState.OPEN and self._open_until is not None:
            until = max(until, self._open_until.timestamp())
        self._open_until = datetime.fromtimestamp(until, UTC)
        self._state = BreakerState.OPEN
        self._probe_in_flight = False
        logger.warning(
            "Circuit for %s opened (%s); failing fast for %.0f s", self.name, why, self.retry_in()
        )
