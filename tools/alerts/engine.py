"""Alert rule evaluation engine: every active rule checked on every tick, vectorised.

A :class:`RuleBook` holds threshold rules on named metrics (``"price:bitcoin"``,
``"rsi:ethereum:1d"``, see ``tools/alerts/rules.py``) and, given the metrics' new
values, returns the rules whose threshold was crossed since the previous value.

Semantics (per tick, for each metric in ``values``):

* A value that is not a finite number (``None``, NaN, inf, a string, a bool) is
  skipped with a warning; it does not replace the metric's previous value.
* The first value of a metric only records it as *previous*; nothing fires.
* First, recurring rules that are disarmed re-arm when the value is back beyond
  their re-arm level (``UP``: ``value <= rearm_level``, ``DOWN``:
  ``value >= rearm_level``; the threshold itself when ``rearm_level`` is ``None``)
  and ``now >= cooldown_until``. Only the current value is looked at.
* Then armed ``UP`` rules fire when ``previous < threshold <= value``, armed
  ``DOWN`` rules when ``previous > threshold >= value``. A jump fires every
  threshold it crossed; a rule added while the metric is already beyond its
  threshold waits for a crossing. A crossing while disarmed does not fire.
* A one-shot rule that fires is removed from the book. A recurring rule that fires
  is disarmed until ``now + cooldown_s`` *and* the metric's return beyond the
  re-arm level (hysteresis), so a price oscillating around a threshold fires once.

Layout. Rules are grouped by ``(metric, direction)``. All groups live in one set of
flat numpy columns (threshold, rule id, armed, recurring, cooldown, re-arm level,
cooldown end), each group a contiguous segment sorted by threshold, with some slack
at its end. A tick converts the values to one float64 array, and for each metric
that rose (fell) takes its UP (DOWN) group: a metric that did not move costs
nothing. It then binary-searches the two ends of the crossed range in all those
groups at once (:func:`_search_right`: one numpy step per halving, about a dozen
for 2,000 rules a group) and gathers the armed rules in the ranges. Comparisons
are plain float64 comparisons (a left search is a right search for the next float
down), so boundaries are exact. Disarmed recurring rules are few and are kept in a
side list, checked once the earliest cooldown has ended.

Mutations (:meth:`RuleBook.upsert`, :meth:`RuleBook.remove`) are queued and
applied at the start of the next call that reads the book: only the groups they
touch are rewritten (a removal alone just marks the slot dead, a *tombstone*,
as does a one-shot firing; a group is rewritten once half of it is dead, and the
columns are compacted once a quarter of them is wasted). A rule id maps to its
group through a sorted numpy index plus a small dict of recent changes.

Benchmarks (``benchmarks/alerts.py``): 1,000,000 price rules over 500 symbols take
about 1 ms a tick (target 5 ms), most of it building the ``Firing`` objects, about
1.2 µs each; the arrays take about 57 MiB per million rules.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Bool = npt.NDArray[np.bool_]

_DEAD = -1
"""Rule id of a tombstone slot (rule ids are never negative)."""
_MAX_ID = 2**63 - 1


class Direction(StrEnum):
    """Which way a metric must cross the threshold for a rule to fire."""

    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule as the engine sees it (``tools/alerts/rules.py`` builds these).

    Attributes:
        rule_id: The alert's id; unique in the book, not negative.
        metric: Metric key the rule watches, e.g. ``"price:bitcoin"``.
        direction: ``UP`` (fires on a rise through the threshold) or ``DOWN``;
            the strings ``"up"`` and ``"down"`` are accepted.
        threshold: Finite threshold.
        recurring: Recurring rules stay in the book after firing (re-armed by
            hysteresis and cooldown); one-shot rules are removed when they fire.
        cooldown_s: Minimum seconds between two firings of a recurring rule.
        rearm_level: Where the metric must come back to re-arm a recurring rule
            (below the threshold for ``UP``, above for ``DOWN``); ``None`` means the
            threshold itself.
        armed: Whether the rule can fire now (restored state after a restart).
        cooldown_until: Epoch seconds before which the rule cannot re-arm.

    Raises:
        ValueError: On a negative or non-integer id, an empty metric, an unknown
            direction, or a non-finite number.
    """

    rule_id: int
    metric: str
    direction: Direction
    threshold: float
    recurring: bool = False
    cooldown_s: float = 0.0
    rearm_level: float | None = None
    armed: bool = True
    cooldown_until: float = 0.0

    def __post_init__(self) -> None:
        rule_id = self.rule_id
        if isinstance(rule_id, bool) or not isinstance(rule_id, numbers.Integral):
            raise ValueError(f"rule_id must be an int, not {rule_id!r}")
        if not 0 <= rule_id <= _MAX_ID:
            raise ValueError(f"rule_id must be between 0 and 2**63-1, not {rule_id}")
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"metric must be a non-empty string, not {self.metric!r}")
        set_ = object.__setattr__
        set_(self, "rule_id", int(rule_id))
        set_(self, "direction", Direction(self.direction))
        set_(self, "threshold", _finite("threshold", self.threshold))
        cooldown = _finite("cooldown_s", self.cooldown_s)
        if cooldown < 0:
            raise ValueError(f"cooldown_s must not be negative, not {cooldown}")
        set_(self, "cooldown_s", cooldown)
        if self.rearm_level is not None:
            set_(self, "rearm_level", _finite("rearm_level", self.rearm_level))
        set_(self, "cooldown_until", _finite("cooldown_until", self.cooldown_until))
        set_(self, "recurring", bool(self.recurring))
        set_(self, "armed", bool(self.armed))


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule that fired on this tick.

    Attributes:
        rule_id: The rule's id.
        metric: The metric that crossed.
        direction: The rule's direction.
        threshold: The rule's threshold.
        previous: The metric's value before this tick.
        value: The metric's value on this tick.
    """

    rule_id: int
    metric: str
    direction: Direction
    threshold: float
    previous: float
    value: float


def _finite(name: str, value: object) -> float:
    number = _as_number(value)
    if number is None:
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return number


def _as_number(raw: object) -> float | None:
    """``raw`` as a finite float, or ``None`` when it is not a finite number."""
    if type(raw) is float:  # the common case first
        return raw if math.isfinite(raw) else None
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real | Decimal):
        return None
    try:
        number = float(raw)
    except (ValueError, OverflowError, TypeError):  # sNaN, huge ints
        return None
    return number if math.isfinite(number) else None


def _search_right(thresholds: F64, lo: I64, hi: I64, queries: F64) -> I64:
    """For each query, the first index in ``[lo, hi)`` whose threshold is ``> query``.

    ``numpy.searchsorted(side="right")`` over many sorted segments of one array at
    once: each step halves every segment's remaining range. Returns ``hi`` where no
    threshold in the segment is above the query.
    """
    lo = lo.copy()
    hi = hi.copy()
    last = len(thresholds) - 1
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        go_right = (thresholds[np.minimum(mid, last)] <= queries) & active
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)


def _below(values: F64) -> F64:
    """The largest float64 below each value: a left search for ``v`` is a right
    search for ``_below(v)`` (no float lies between the two), exactly."""
    return np.nextafter(values, -np.inf)


class _Index:
    """Rule id -> group number: a sorted numpy base plus a dict of recent changes.

    The dict (group ``-1`` = removed) is folded into the base when it grows past
    ``max(4096, len(base) // 32)`` entries, so single mutations cost O(1) and the
    index takes 12 bytes per rule.
    """

    def __init__(self) -> None:
        self.ids: I64 = np.empty(0, np.int64)
        self.groups: I32 = np.empty(0, np.int32)
        self.recent: dict[int, int] = {}

    def get(self, rule_id: int) -> int:
        group = self.recent.get(rule_id)
        if group is not None:
            return group
        i = int(np.searchsorted(self.ids, rule_id))
        if i < len(self.ids) and int(self.ids[i]) == rule_id:
            return int(self.groups[i])
        return -1

    def lookup(self, ids: I64) -> I64:
        """Group of each id, ``-1`` for ids not in the book."""
        out = np.full(len(ids), -1, np.int64)
        if len(self.ids):
            i = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
            hit = self.ids[i] == ids
            out[hit] = self.groups[i[hit]]
        if self.recent and len(ids) * 8 < len(self.recent):  # a few ids: ask the dict
            recent = self.recent
            for k, rule_id in enumerate(ids.tolist()):
                group = recent.get(rule_id)
                if group is not None:
                    out[k] = group
        elif self.recent:
            r_ids, r_groups = self._recent_arrays()
            j = np.minimum(np.searchsorted(r_ids, ids), len(r_ids) - 1)
            hit = r_ids[j] == ids
            out[hit] = r_groups[j[hit]]
        return out

    def update(self, ids: I64, groups: I64) -> None:
        """Set the group of each id (``-1``: removed). ``ids`` must be unique."""
        if len(self.recent) + len(ids) <= max(4096, len(self.ids) // 32):
            self.recent.update(zip(ids.tolist(), groups.tolist(), strict=True))
            return
        if self.recent:  # fold the new changes into the dict, then the dict into the base
            self.recent.update(zip(ids.tolist(), groups.tolist(), strict=True))
            ids, groups = self._recent_arrays()
            self.recent = {}
        else:
            order = np.argsort(ids)
            ids, groups = ids[order], groups[order]
        base_ids, base_groups = self.ids, self.groups
        if len(base_ids):  # (sorted queries: far faster searches)
            i = np.minimum(np.searchsorted(base_ids, ids), len(base_ids) - 1)
            stale = i[base_ids[i] == ids]
            if len(stale):
                keep = np.ones(len(base_ids), bool)
                keep[stale] = False
                base_ids, base_groups = base_ids[keep], base_groups[keep]
        live = groups >= 0
        if live.any():
            at = np.searchsorted(base_ids, ids[live])
            base_ids = np.insert(base_ids, at, ids[live])
            base_groups = np.insert(base_groups, at, groups[live].astype(np.int32))
        self.ids, self.groups = base_ids, base_groups

    def _recent_arrays(self) -> tuple[I64, I64]:
        r_ids = np.fromiter(self.recent.keys(), np.int64, len(self.recent))
        r_groups = np.fromiter(self.recent.values(), np.int64, len(self.recent))
        order = np.argsort(r_ids)
        return r_ids[order], r_groups[order]

    def nbytes(self) -> int:
        return self.ids.nbytes + self.groups.nbytes


# The flat per-rule columns, in one place for allocation, copying and compaction.
_COLUMNS: tuple[tuple[str, type[np.generic]], ...] = (
    ("_thr", np.float64),  # threshold, ascending within a group
    ("_ids", np.int64),  # rule id, _DEAD for a tombstone or an unused slot
    ("_armed", np.bool_),
    ("_rec", np.bool_),  # recurring
    ("_cool", np.float64),  # cooldown_s
    ("_rearm", np.float64),  # re-arm level (the threshold when none was given)
    ("_until", np.float64),  # cooldown_until
)


class RuleBook:
    """All active threshold rules, evaluated together on each tick.

    Not thread-safe; one tick at a time. See the module docstring for the
    semantics and the layout.
    """

    def __init__(self) -> None:
        self._thr: F64 = np.empty(0, np.float64)
        self._ids: I64 = np.empty(0, np.int64)
        self._armed: Bool = np.empty(0, np.bool_)
        self._rec: Bool = np.empty(0, np.bool_)
        self._cool: F64 = np.empty(0, np.float64)
        self._rearm: F64 = np.empty(0, np.float64)
        self._until: F64 = np.empty(0, np.float64)
        self._used = 0  # slots in use (segments, their slack, holes)
        self._waste = 0  # slots in holes left by groups that moved
        # Groups, by number: key, segment start, slots used (live and dead), live
        # rules, capacity, direction.
        self._group_of: dict[tuple[str, Direction], int] = {}
        self._gmetric: list[str] = []
        self._gdir: list[Direction] = []
        self._gstart: I64 = np.empty(0, np.int64)
        self._glen: I64 = np.empty(0, np.int64)
        self._glive: I64 = np.empty(0, np.int64)
        self._gcap: I64 = np.empty(0, np.int64)
        self._gup: Bool = np.empty(0, np.bool_)
        # Metrics, by number: name, previous value (NaN before the first), and
        # their UP and DOWN groups (-1 when the group has no live rule).
        self._metric_no: dict[str, int] = {}
        self._mname: list[str] = []
        self._mprev: F64 = np.empty(0, np.float64)
        self._mup: I64 = np.empty(0, np.int64)
        self._mdown: I64 = np.empty(0, np.int64)
        self._index = _Index()
        self._count = 0
        self._pending: dict[int, RuleSpec | None] = {}
        self._to_compact: set[int] = set()
        # Disarmed recurring rules: slot positions, groups, cooldown ends, and
        # the earliest of these (nothing can re-arm before it).
        self._dis_pos: I64 = np.empty(0, np.int64)
        self._dis_group: I64 = np.empty(0, np.int64)
        self._dis_until: F64 = np.empty(0, np.float64)
        self._dis_next = math.inf

    # -- public API --------------------------------------------------------------

    def upsert(self, specs: Iterable[RuleSpec]) -> None:
        """Add rules, or replace the rules with the same ids (state included).

        Applied at the start of the next call that reads the book.
        """
        pending = self._pending
        for spec in specs:
            pending[spec.rule_id] = spec

    def remove(self, rule_ids: Iterable[int]) -> None:
        """Remove rules by id; unknown ids are ignored."""
        pending = self._pending
        for rule_id in rule_ids:
            if 0 <= rule_id <= _MAX_ID:  # other ids cannot be in the book
                pending[int(rule_id)] = None

    def metrics(self) -> set[str]:
        """The metrics that active rules watch."""
        self._flush()
        watched = np.flatnonzero((self._mup >= 0) | (self._mdown >= 0))
        return {self._mname[m] for m in watched.tolist()}

    def seed(self, values: Mapping[str, object]) -> None:
        """Record previous values (e.g. the last known prices after a restart)
        without firing or re-arming anything. Invalid values are skipped."""
        numbers_, ok = self._numbers(values, "seed value")
        slots = self._metric_slots(values, ok)
        self._mprev[slots[ok]] = numbers_[ok]

    def evaluate(self, values: Mapping[str, object], now: float) -> list[Firing]:
        """Take one tick of metric values and return the rules that fired.

        Args:
            values: New value per metric (metrics without rules are remembered as
                previous values too). Values that are not finite numbers are
                skipped and logged.
            now: Current time in epoch seconds (cooldowns).

        Returns:
            The firings, grouped by metric in the order of ``values`` and by
            ascending threshold within a metric.
        """
        now = _finite("now", now)
        self._flush()
        if not values:
            return []
        numbers_, ok = self._numbers(values, "value")
        slots = self._metric_slots(values, ok)
        if not ok.all():
            slots, numbers_ = slots[ok], numbers_[ok]
        value = numbers_
        prev = self._mprev[slots]
        self._mprev[slots] = value
        up, down = self._mup[slots], self._mdown[slots]
        if len(self._dis_pos) and now >= self._dis_next:
            self._rearm_due(up, down, value, now)
        # A rise can only fire UP rules, a fall only DOWN rules; NaN (no previous
        # value) compares false both ways.
        rise = value > prev
        group = np.where(rise, up, down)
        moved = (rise | (value < prev)) & (group >= 0)
        if not moved.any():
            return []
        return self._fire_crossed(group[moved], prev[moved], value[moved], now)

    def state(self, rule_id: int) -> tuple[bool, float]:
        """``(armed, cooldown_until)`` of a rule.

        Raises:
            KeyError: The rule is not in the book (never added, removed, or a
                one-shot rule that fired).
        """
        self._flush()
        group = self._index.get(rule_id)
        if group < 0:
            raise KeyError(rule_id)
        start = int(self._gstart[group])
        where = np.flatnonzero(self._ids[start : start + int(self._glen[group])] == rule_id)
        pos = start + int(where[0])
        return bool(self._armed[pos]), float(self._until[pos])

    def __len__(self) -> int:
        self._flush()
        return self._count

    def nbytes(self) -> int:
        """Bytes held by the numpy arrays (columns with their slack, groups,
        metrics, index, disarmed list); Python objects (metric names, dicts) are
        not counted."""
        self._flush()
        arrays = [getattr(self, name) for name, _ in _COLUMNS]
        arrays += [self._gstart, self._glen, self._glive, self._gcap, self._gup]
        arrays += [self._mprev, self._mup, self._mdown]
        arrays += [self._dis_pos, self._dis_group, self._dis_until]
        return sum(a.nbytes for a in arrays) + self._index.nbytes()

    # -- evaluation ---------------------------------------------------------------

    @staticmethod
    def _numbers(values: Mapping[str, object], what: str) -> tuple[F64, Bool]:
        """The values as float64 (NaN where invalid) and which are valid; logs the
        invalid ones."""
        raw = list(values.values())
        if all(type(x) is float for x in raw):  # the common case, no per-item call
            out = np.array(raw, np.float64)
            ok = np.isfinite(out)
        else:
            converted = [_as_number(x) for x in raw]
            out = np.array([math.nan if x is None else x for x in converted], np.float64)
            ok = np.array([x is not None for x in converted], np.bool_)
        if not ok.all():
            for metric, i in zip(values, ok.tolist(), strict=True):
                if not i:
                    logger.warning(
                        "alert engine: %s of %s skipped: %r", what, metric, values[metric]
                    )
        return out, ok

    def _metric_slots(self, values: Mapping[str, object], ok: Bool) -> I64:
        """Metric numbers of the keys of ``values`` (new ones added where ``ok``)."""
        get = self._metric_no.get
        slots = np.fromiter((get(m, -1) for m in values), np.int64, len(values))
        if (slots < 0).any():
            keys = list(values)
            for i in np.flatnonzero((slots < 0) & ok).tolist():
                slots[i] = self._metric_slot(keys[i])
        return slots

    def _metric_slot(self, metric: str) -> int:
        slot = self._metric_no.get(metric)
        if slot is None:
            slot = len(self._mname)
            self._metric_no[metric] = slot
            self._mname.append(metric)
            self._mprev = np.append(self._mprev, np.nan)
            self._mup = np.append(self._mup, -1)
            self._mdown = np.append(self._mdown, -1)
        return slot

    def _rearm_due(self, up: I64, down: I64, value: F64, now: float) -> None:
        """Re-arm disarmed recurring rules whose cooldown is over and whose metric
        is back beyond the re-arm level."""
        cooled = np.flatnonzero(self._dis_until <= now)
        if not len(cooled):
            return
        group_value = np.full(len(self._gmetric), np.nan)  # NaN: metric not in tick
        group_value[up[up >= 0]] = value[up >= 0]
        group_value[down[down >= 0]] = value[down >= 0]
        pos, group = self._dis_pos[cooled], self._dis_group[cooled]
        level, current = self._rearm[pos], group_value[group]
        due = np.where(self._gup[group], current <= level, current >= level)
        if due.any():
            self._armed[pos[due]] = True
            keep = np.ones(len(self._dis_pos), np.bool_)
            keep[cooled[due]] = False
            self._set_disarmed(self._dis_pos[keep], self._dis_group[keep])

    def _fire_crossed(self, groups: I64, prev: F64, value: F64, now: float) -> list[Firing]:
        up = self._gup[groups]
        start = self._gstart[groups]
        end = start + self._glen[groups]
        # UP: previous < t <= value, the slots [right(prev), right(value)).
        # DOWN: value <= t < previous, the slots [left(value), left(prev)).
        low_q = np.where(up, prev, _below(value))
        high_q = np.where(up, value, _below(prev))
        bounds = _search_right(
            self._thr,
            np.concatenate([start, start]),
            np.concatenate([end, end]),
            np.concatenate([low_q, high_q]),
        )
        first, stop = bounds[: len(groups)], bounds[len(groups) :]
        count = stop - first
        hit = np.flatnonzero(count > 0)
        if not len(hit):
            return []
        first, count = first[hit], count[hit]
        total = int(count.sum())
        pos = np.arange(total) + np.repeat(first - (np.cumsum(count) - count), count)
        armed = self._armed[pos]
        if not armed.any():
            return []
        pos = pos[armed]
        group = np.repeat(groups[hit], count)[armed]
        f_prev = np.repeat(prev[hit], count)[armed]
        f_value = np.repeat(value[hit], count)[armed]
        ids = self._ids[pos]
        thresholds = self._thr[pos]
        recurring = self._rec[pos]
        self._armed[pos] = False
        if recurring.any():
            r_pos = pos[recurring]
            self._until[r_pos] = now + self._cool[r_pos]
            self._set_disarmed(
                np.concatenate([self._dis_pos, r_pos]),
                np.concatenate([self._dis_group, group[recurring]]),
            )
        if not recurring.all():
            once = ~recurring
            self._bury(pos[once], group[once], ids[once])
        metric, direction = self._gmetric, self._gdir
        return [
            _firing(rule_id, metric[g], direction[g], threshold, p, v)
            for rule_id, g, threshold, p, v in zip(
                ids.tolist(),
                group.tolist(),
                thresholds.tolist(),
                f_prev.tolist(),
                f_value.tolist(),
                strict=True,
            )
        ]

    def _bury(self, pos: I64, group: I64, ids: I64) -> None:
        """Turn the slots of one-shot rules that fired into tombstones: the rules
        leave the book now; their groups are rewritten later, once half dead."""
        self._ids[pos] = _DEAD
        self._rec[pos] = False  # (already disarmed, and never in the disarmed list)
        self._glive -= np.bincount(group, minlength=len(self._glive))
        self._count -= len(pos)
        self._index.update(ids, np.full(len(ids), -1, np.int64))
        touched = np.unique(group)
        live, used = self._glive[touched], self._glen[touched]
        for g in touched[live == 0].tolist():
            self._sync_metric(self._gmetric[g])
        self._to_compact.update(touched[(used - live > used // 2 + 16) | (live == 0)].tolist())

    def _set_disarmed(self, pos: I64, group: I64) -> None:
        self._dis_pos, self._dis_group = pos, group
        self._dis_until = self._until[pos]
        self._dis_next = float(self._dis_until.min()) if len(pos) else math.inf

    # -- mutations ------------------------------------------------------------------

    def _flush(self) -> None:
        """Apply queued upserts and removals, and rewrite groups that are half dead."""
        if not self._pending:
            if self._to_compact:
                self._rewrite_groups({g: (None, []) for g in self._to_compact})
            return
        pending = self._pending
        self._pending = {}
        ids = np.fromiter(pending.keys(), np.int64, len(pending))
        old_group = self._index.lookup(ids)
        removed: dict[int, I64] = {}
        present = np.flatnonzero(old_group >= 0)
        if len(present):
            order = np.argsort(old_group[present], kind="stable")
            r_groups = old_group[present][order]
            r_ids = ids[present][order]
            cuts = np.flatnonzero(np.diff(r_groups)) + 1
            for chunk_ids, chunk_groups in zip(
                np.split(r_ids, cuts), np.split(r_groups, cuts), strict=True
            ):
                removed[int(chunk_groups[0])] = chunk_ids
        added: dict[int, list[RuleSpec]] = {}
        new_group = np.empty(len(ids), np.int64)
        group_of = self._group_of
        for i, spec in enumerate(pending.values()):
            if spec is None:
                new_group[i] = -1
                continue
            key = (spec.metric, spec.direction)
            g = group_of.get(key)
            if g is None:
                g = self._new_group(key)
            added.setdefault(g, []).append(spec)
            new_group[i] = g
        work: dict[int, tuple[I64 | None, list[RuleSpec]]] = {
            g: (removed.get(g), added.get(g, [])) for g in removed.keys() | added.keys()
        }
        for g in self._to_compact:
            work.setdefault(g, (None, []))
        # Removals only: tombstones in place, unless that leaves the group half dead.
        for g, (gone, new) in list(work.items()):
            if new or gone is None:
                continue
            start, used = int(self._gstart[g]), int(self._glen[g])
            slots = np.flatnonzero(np.isin(self._ids[start : start + used], gone)) + start
            self._ids[slots] = _DEAD
            self._armed[slots] = False
            self._rec[slots] = False
            self._glive[g] -= len(slots)
            live = int(self._glive[g])
            if used - live <= used // 2 + 16 and live:
                del work[g]
                self._drop_disarmed(g)
                self._scan_disarmed(g)
            else:
                work[g] = (None, [])
        self._rewrite_groups(work)
        self._index.update(ids, new_group)
        self._count = int(self._glive.sum())
        for g in removed.keys() | added.keys():
            self._sync_metric(self._gmetric[g])

    def _new_group(self, key: tuple[str, Direction]) -> int:
        g = len(self._gmetric)
        self._group_of[key] = g
        self._gmetric.append(key[0])
        self._gdir.append(key[1])
        self._gstart = np.append(self._gstart, self._used)
        self._glen = np.append(self._glen, 0)
        self._glive = np.append(self._glive, 0)
        self._gcap = np.append(self._gcap, 0)
        self._gup = np.append(self._gup, key[1] is Direction.UP)
        self._metric_slot(key[0])
        return g

    def _sync_metric(self, metric: str) -> None:
        """Point the metric at its groups that have live rules."""
        slot = self._metric_no[metric]
        for direction, table in ((Direction.UP, self._mup), (Direction.DOWN, self._mdown)):
            g = self._group_of.get((metric, direction))
            table[slot] = g if g is not None and self._glive[g] > 0 else -1

    def _rewrite_groups(self, work: Mapping[int, tuple[I64 | None, list[RuleSpec]]]) -> None:
        """Rewrite each group's segment: drop tombstones and removed ids, merge new
        rules in threshold order; move the group to the end when it outgrows its
        slack (compacting all columns first when a quarter of them is wasted)."""
        self._to_compact.clear()
        if not work:
            return
        if self._waste > max(4096, self._used // 4):
            self._compact()
        plans: list[tuple[int, dict[str, np.ndarray], int]] = []
        extra = 0
        for g, (gone, new) in work.items():
            start, used = int(self._gstart[g]), int(self._glen[g])
            keep = self._ids[start : start + used] != _DEAD
            if gone is not None:
                keep &= ~np.isin(self._ids[start : start + used], gone)
            cols = {name: getattr(self, name)[start : start + used][keep] for name, _ in _COLUMNS}
            if new:
                cols = _merge(cols, _columns_of(new))
            size = len(cols["_ids"])
            cap = int(self._gcap[g])
            if size > cap:
                cap = size + size // 8 + 16
                extra += cap
            plans.append((g, cols, cap))
        if extra:
            self._reserve(extra)
        for g, cols, cap in plans:
            if cap != int(self._gcap[g]):
                self._waste += int(self._gcap[g])
                self._gstart[g] = self._used
                self._gcap[g] = cap
                self._used += cap
            start = int(self._gstart[g])
            size = len(cols["_ids"])
            for name, _ in _COLUMNS:
                getattr(self, name)[start : start + size] = cols[name]
            self._glen[g] = size
            self._glive[g] = size
            self._drop_disarmed(g)
            self._scan_disarmed(g)
            self._sync_metric(self._gmetric[g])

    def _reserve(self, extra: int) -> None:
        """Make room for ``extra`` more slots after ``_used`` (one spare slot)."""
        need = self._used + extra + 1
        if need <= len(self._ids):
            return
        size = need + self._used // 8
        for name, dtype in _COLUMNS:
            old = getattr(self, name)
            new = np.zeros(size, dtype)
            new[: self._used] = old[: self._used]
            setattr(self, name, new)
        self._ids[self._used :] = _DEAD

    def _compact(self) -> None:
        """Lay all groups out again, back to back, without holes or tombstones."""
        caps = self._glive + self._glive // 8 + np.where(self._glive > 0, 16, 0)
        size = int(caps.sum()) + 1
        new = {name: np.zeros(size, dtype) for name, dtype in _COLUMNS}
        new["_ids"][:] = _DEAD
        at = 0
        for g in range(len(self._gmetric)):
            start, used = int(self._gstart[g]), int(self._glen[g])
            keep = self._ids[start : start + used] != _DEAD
            live = int(keep.sum())
            for name, _ in _COLUMNS:
                new[name][at : at + live] = getattr(self, name)[start : start + used][keep]
            self._gstart[g] = at
            self._glen[g] = live
            self._gcap[g] = int(caps[g])
            at += int(caps[g])
        for name, _ in _COLUMNS:
            setattr(self, name, new[name])
        self._used, self._waste = at, 0
        self._set_disarmed(np.empty(0, np.int64), np.empty(0, np.int64))
        for g in range(len(self._gmetric)):
            self._scan_disarmed(g)

    def _drop_disarmed(self, group: int) -> None:
        if len(self._dis_pos):
            keep = self._dis_group != group
            if not keep.all():
                self._set_disarmed(self._dis_pos[keep], self._dis_group[keep])

    def _scan_disarmed(self, group: int) -> None:
        start, used = int(self._gstart[group]), int(self._glen[group])
        seg = slice(start, start + used)
        found = np.flatnonzero(self._rec[seg] & ~self._armed[seg]) + start
        if len(found):
            self._set_disarmed(
                np.concatenate([self._dis_pos, found]),
                np.concatenate([self._dis_group, np.full(len(found), group, np.int64)]),
            )


_FIRING_FIELDS = ("rule_id", "metric", "direction", "threshold", "previous", "value")
_SET_FIRING = tuple(getattr(Firing, name).__set__ for name in _FIRING_FIELDS)


def _firing(
    rule_id: int, metric: str, direction: Direction, threshold: float, prev: float, value: float
) -> Firing:
    """``Firing(...)`` at half the cost: the slots are set directly, skipping the
    frozen dataclass's ``object.__setattr__`` calls (the values are known good).
    Thousands of firings in one tick are not rare."""
    firing = object.__new__(Firing)
    s_id, s_metric, s_direction, s_threshold, s_prev, s_value = _SET_FIRING
    s_id(firing, rule_id)
    s_metric(firing, metric)
    s_direction(firing, direction)
    s_threshold(firing, threshold)
    s_prev(firing, prev)
    s_value(firing, value)
    return firing


def _columns_of(specs: list[RuleSpec]) -> dict[str, np.ndarray]:
    n = len(specs)
    return {
        "_thr": np.fromiter((s.threshold for s in specs), np.float64, n),
        "_ids": np.fromiter((s.rule_id for s in specs), np.int64, n),
        "_armed": np.fromiter((s.armed for s in specs), np.bool_, n),
        "_rec": np.fromiter((s.recurring for s in specs), np.bool_, n),
        "_cool": np.fromiter((s.cooldown_s for s in specs), np.float64, n),
        "_rearm": np.fromiter(
            (s.threshold if s.rearm_level is None else s.rearm_level for s in specs),
            np.float64,
            n,
        ),
        "_until": np.fromiter((s.cooldown_until for s in specs), np.float64, n),
    }


def _merge(old: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Both sorted by threshold after this; a stable sort of two sorted runs is a
    linear merge (timsort)."""
    new_order = np.argsort(new["_thr"], kind="stable")
    both = {name: np.concatenate([old[name], new[name][new_order]]) for name in old}
    order = np.argsort(both["_thr"], kind="stable")
    return {name: column[order] for name, column in both.items()}
