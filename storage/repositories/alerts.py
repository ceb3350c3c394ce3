"""Alert rules, their evaluation state and their firings."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from storage.engine import json_dumps
from storage.models import ALERT_STATUSES, Alert, AlertEvent, utcnow
from storage.repositories._base import Repository, translating

__all__ = ["AlertRepository", "FiringRecord", "NewAlert"]


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert rule to store.

    Attributes:
        owner_id: The user the alert belongs to.
        kind: Rule kind (``"price_above"``, ``"depeg"``...), interpreted by the alert engine.
        params: Rule parameters (Decimals are stored as strings).
        symbol: Ticker, if the rule is about one coin.
        coin_id: Coin id, if the rule is about one coin.
        recurring: Re-arm after firing instead of becoming ``triggered``.
        cooldown_seconds: Minimum time between two firings.
        expires_at: When the rule stops being evaluated.
        state: Initial evaluation state.
    """

    owner_id: int
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    symbol: str | None = None
    coin_id: str | None = None
    recurring: bool = False
    cooldown_seconds: int = 0
    expires_at: datetime | None = None
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FiringRecord:
    """One firing to record in bulk (see :meth:`AlertRepository.record_firings`).

    Attributes:
        alert: The alert that fired (loaded in this transaction).
        fired_at: When it fired.
        message: The text sent.
        value: The observed value.
        payload: Extra structured data for the event.
        state: New evaluation state (``None`` keeps the stored one).
        status: New status (``None`` keeps it; ``"triggered"`` for one-shot rules).
    """

    alert: Alert
    fired_at: datetime
    message: str
    value: Decimal | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    state: Mapping[str, Any] | None = None
    status: str | None = None


def _as_stored(params: Mapping[str, Any]) -> Any:
    """``params`` as the JSON column stores them (Decimals become strings)."""
    return json.loads(json_dumps(dict(params)))


def _touched(now: datetime | None) -> dict[str, datetime]:
    """The ``updated_at`` change for an update at ``now`` (the wall clock when omitted)."""
    return {"updated_at": now or utcnow()}


def _check_status(status: str) -> None:
    if status not in ALERT_STATUSES:
        raise ValueError(f"unknown alert status {status!r}")


class AlertRepository(Repository):
    """Create, query and update alerts; record their firings."""

    async def add(self, alert: NewAlert, *, now: datetime) -> Alert:
        """Store a new active alert.

        Raises:
            ConstraintError: The owner does not exist or the cooldown is negative.
        """
        row = Alert(
            owner_id=alert.owner_id,
            kind=alert.kind,
            params=dict(alert.params),
            state=dict(alert.state),
            symbol=alert.symbol.upper() if alert.symbol else None,
            coin_id=alert.coin_id,
            status="active",
            recurring=alert.recurring,
            cooldown_seconds=alert.cooldown_seconds,
            expires_at=alert.expires_at,
            created_at=now,
            updated_at=now,
            fire_count=0,
        )
        await self._insert(row, "adding an alert")
        return row

    async def get_owned(self, alert_id: int, owner_id: int) -> Alert | None:
        """Return the alert if ``owner_id`` owns it and it is not deleted, else ``None``."""
        stmt = select(Alert).where(
            Alert.id == alert_id, Alert.owner_id == owner_id, Alert.status != "deleted"
        )
        with translating("loading an alert"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_owner(self, owner_id: int, status: str | None = None) -> Sequence[Alert]:
        """The owner's alerts by id; all but deleted ones unless ``status`` is given."""
        stmt = select(Alert).where(Alert.owner_id == owner_id)
        if status is None:
            stmt = stmt.where(Alert.status != "deleted")
        else:
            _check_status(status)
            stmt = stmt.where(Alert.status == status)
        with translating("listing alerts"):
            return (await self.session.scalars(stmt.order_by(Alert.id))).all()

    async def count_active(self, owner_id: int) -> int:
        """Number of the owner's active alerts (for the per-user cap)."""
        stmt = (
            select(func.count())
            .select_from(Alert)
            .where(Alert.owner_id == owner_id, Alert.status == "active")
        )
        with translating("counting alerts"):
            return int((await self.session.execute(stmt)).scalar_one())

    async def list_active(self) -> Sequence[Alert]:
        """Every active alert with its ``owner`` loaded, by id (for the evaluation tick)."""
        stmt = (
            select(Alert)
            .where(Alert.status == "active")
            .options(selectinload(Alert.owner))
            .order_by(Alert.id)
        )
        with translating("listing active alerts"):
            return (await self.session.scalars(stmt)).all()

    async def update_status(
        self, alert: Alert, status: str, *, now: datetime | None = None
    ) -> None:
        """Set the status (``active``, ``paused``, ``triggered``, ``expired``, ``deleted``).

        Raises:
            ValueError: Unknown status.
        """
        _check_status(status)
        await self._update(alert, {"status": status, **_touched(now)}, "updating an alert")

    async def update_state(
        self, alert: Alert, state: Mapping[str, Any], *, now: datetime | None = None
    ) -> None:
        """Replace the evaluation state (armed flag, last value...)."""
        await self._update(alert, {"state": dict(state), **_touched(now)}, "updating an alert")

    async def find_active_duplicate(
        self, owner_id: int, kind: str, symbol: str | None, params: Mapping[str, Any]
    ) -> Alert | None:
        """The owner's active or paused alert with the same kind, symbol and parameters.

        Parameters are compared as stored (the alert service normalises them first).
        """
        stmt = select(Alert).where(
            Alert.owner_id == owner_id,
            Alert.kind == kind,
            Alert.status.in_(("active", "paused")),
        )
        stmt = stmt.where(
            Alert.symbol.is_(None) if symbol is None else Alert.symbol == symbol.upper()
        )
        wanted = _as_stored(params)
        with translating("looking for a duplicate alert"):
            for row in (await self.session.scalars(stmt.order_by(Alert.id))).all():
                if _as_stored(row.params) == wanted:
                    return row
        return None

    async def changed_since(
        self, since: datetime | None, *, after_id: int | None = None
    ) -> Sequence[Alert]:
        """Alerts of any status changed after ``since`` (all when ``None``), oldest change
        first, with their ``owner`` loaded: how the scheduler's rule book follows changes
        made by any process.

        Args:
            since: Changes after this time.
            after_id: Also every alert with a larger id, whatever its timestamp (new
                rules are never missed because of another process's clock).
        """
        stmt = select(Alert).options(selectinload(Alert.owner))
        if since is not None:
            changed = Alert.updated_at > since
            stmt = stmt.where(changed if after_id is None else or_(changed, Alert.id > after_id))
        with translating("listing changed alerts"):
            return (await self.session.scalars(stmt.order_by(Alert.updated_at, Alert.id))).all()

    async def get_many(self, alert_ids: Sequence[int]) -> dict[int, Alert]:
        """Alerts by id with their ``owner`` loaded (missing ids are left out)."""
        if not alert_ids:
            return {}
        stmt = select(Alert).where(Alert.id.in_(list(alert_ids))).options(selectinload(Alert.owner))
        with translating("loading alerts"):
            return {a.id: a for a in (await self.session.scalars(stmt)).all()}

    async def events_since(
        self, since: datetime, owner_ids: Sequence[int] | None = None
    ) -> Sequence[tuple[AlertEvent, Alert]]:
        """Firings at or after ``since`` with their alert, newest first.

        Args:
            since: Earliest firing time.
            owner_ids: Only alerts of these users (all users when ``None``).
        """
        stmt = (
            select(AlertEvent, Alert)
            .join(Alert, Alert.id == AlertEvent.alert_id)
            .where(AlertEvent.fired_at >= since)
        )
        if owner_ids is not None:
            stmt = stmt.where(Alert.owner_id.in_(list(owner_ids)))
        stmt = stmt.order_by(AlertEvent.fired_at.desc(), AlertEvent.id.desc())
        with translating("listing alert events"):
            return [(event, alert) for event, alert in (await self.session.execute(stmt)).all()]

    async def active_for_owners(self, owner_ids: Sequence[int]) -> Sequence[Alert]:
        """Active alerts of the given users, by owner then id (bulk loads for digests)."""
        stmt = (
            select(Alert)
            .where(Alert.owner_id.in_(list(owner_ids)), Alert.status == "active")
            .order_by(Alert.owner_id, Alert.id)
        )
        with translating("listing active alerts"):
            return (await self.session.scalars(stmt)).all()

    async def expire_due(self, now: datetime) -> int:
        """Mark active or paused alerts whose ``expires_at`` has passed as expired.

        Returns:
            How many alerts expired.
        """
        stmt = (
            update(Alert)
            .where(
                Alert.status.in_(("active", "paused")),
                Alert.expires_at.is_not(None),
                Alert.expires_at <= now,
            )
            .values(status="expired", updated_at=now)
            .returning(Alert.id)
        )
        with translating("expiring alerts"):
            return len((await self.session.execute(stmt)).all())

    async def record_event(
        self,
        alert: Alert,
        *,
        fired_at: datetime,
        message: str,
        value: Decimal | None = None,
        payload: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> AlertEvent:
        """Record a firing: add an event, bump ``fire_count``, set ``last_fired_at``.

        Args:
            alert: The alert that fired.
            fired_at: When it fired.
            message: The text that was (or will be) sent.
            value: The observed value that triggered it.
            payload: Extra structured data.
            state: New evaluation state to store with the firing, if any.
        """
        event = AlertEvent(
            alert_id=alert.id,
            fired_at=fired_at,
            value=value,
            message=message,
            payload=dict(payload or {}),
        )
        await self._insert(event, "recording an alert event")
        changes: dict[str, Any] = {
            "fire_count": alert.fire_count + 1,
            "last_fired_at": fired_at,
            "updated_at": fired_at,
        }
        if state is not None:
            changes["state"] = dict(state)
        await self._update(alert, changes, "updating an alert")
        return event

    async def record_firings(self, records: Sequence[FiringRecord]) -> None:
        """Record many firings at once: events inserted and alerts updated in two
        statements (a tick may fire thousands of rules; one round trip each would not
        fit in a tick).

        Raises:
            ValueError: An unknown status.
        """
        if not records:
            return
        for record in records:
            if record.status is not None:
                _check_status(record.status)
        events = [
            {
                "alert_id": r.alert.id,
                "fired_at": r.fired_at,
                "value": r.value,
                "message": r.message,
                "payload": dict(r.payload),
            }
            for r in records
        ]
        changes = [
            {
                "id": r.alert.id,
                "fire_count": r.alert.fire_count + 1,
                "last_fired_at": r.fired_at,
                "updated_at": r.fired_at,
                "state": dict(r.state) if r.state is not None else dict(r.alert.state or {}),
                "status": r.status or r.alert.status,
            }
            for r in records
        ]
        with translating("recording alert firings"):
            await self.session.execute(insert(AlertEvent), events)
            await self.session.execute(update(Alert), changes)
        for r, change in zip(records, changes, strict=True):
            for key, value in change.items():
                if key != "id":
                    set_committed_value(r.alert, key, value)

    async def list_events(self, alert_id: int, *, limit: int = 20) -> Sequence[AlertEvent]:
        """The alert's latest firings, newest first."""
        stmt = (
            select(AlertEvent)
            .where(AlertEvent.alert_id == alert_id)
            .order_by(AlertEvent.fired_at.desc(), AlertEvent.id.desc())
            .limit(limit)
        )
        with translating("listing alert events"):
            return (await self.session.scalars(stmt)).all()
