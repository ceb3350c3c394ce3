"""Rule evaluation engine: every semantic rule by hand, then RuleBook against a plain
reference implementation (a Python loop over rules) on random sequences."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.alerts.engine import Direction, Firing, RuleBook, RuleSpec

UP, DOWN = Direction.UP, Direction.DOWN


def book_with(*specs: RuleSpec, seed: dict[str, float] | None = None) -> RuleBook:
    book = RuleBook()
    book.upsert(specs)
    if seed:
        book.seed(seed)
    return book


def fired_ids(firings: list[Firing]) -> list[int]:
    return sorted(f.rule_id for f in firings)


# -- crossing ------------------------------------------------------------------------


def test_first_value_only_seeds_previous() -> None:
    book = book_with(RuleSpec(1, "price:btc", UP, 100.0))
    assert book.evaluate({"price:btc": 150.0}, now=0) == []  # beyond, but no previous
    assert book.evaluate({"price:btc": 160.0}, now=1) == []  # still beyond: no crossing
    assert len(book) == 1


def test_up_fires_on_crossing_including_equality() -> None:
    book = book_with(RuleSpec(1, "p", UP, 100.0), seed={"p": 99.0})
    assert book.evaluate({"p": 100.0}, now=0) == [Firing(1, "p", UP, 100.0, 99.0, 100.0)]


def test_up_does_not_fire_from_the_threshold_itself() -> None:
    book = book_with(RuleSpec(1, "p", UP, 100.0), seed={"p": 100.0})
    assert book.evaluate({"p": 101.0}, now=0) == []  # previous == threshold: not below it
    assert book.evaluate({"p": 99.999}, now=1) == []
    assert fired_ids(book.evaluate({"p": 100.0}, now=2)) == [1]


def test_up_boundary_is_exact_to_the_last_bit() -> None:
    t = 0.1 + 0.2  # 0.30000000000000004
    below = math.nextafter(t, -math.inf)
    book = book_with(RuleSpec(1, "p", UP, t), RuleSpec(2, "p", UP, 0.3), seed={"p": 0.0})
    assert fired_ids(book.evaluate({"p": below}, now=0)) == [2]  # 0.3 <= below < t
    assert fired_ids(book.evaluate({"p": t}, now=1)) == [1]


def test_down_fires_on_crossing_including_equality() -> None:
    book = book_with(RuleSpec(1, "p", DOWN, 100.0), seed={"p": 101.0})
    assert book.evaluate({"p": 100.5}, now=0) == []
    assert book.evaluate({"p": 100.0}, now=1) == [Firing(1, "p", DOWN, 100.0, 100.5, 100.0)]


def test_down_does_not_fire_from_the_threshold_itself() -> None:
    t = 0.1 + 0.2
    book = book_with(RuleSpec(1, "p", DOWN, t), seed={"p": t})
    assert book.evaluate({"p": 0.0}, now=0) == []
    assert book.evaluate({"p": t}, now=1) == []  # a rise does not fire a DOWN rule
    assert book.evaluate({"p": 1.0}, now=2) == []
    assert fired_ids(book.evaluate({"p": t}, now=3)) == [1]


def test_moving_away_or_staying_beyond_does_not_fire() -> None:
    book = book_with(RuleSpec(1, "p", UP, 100.0), RuleSpec(2, "p", DOWN, 90.0), seed={"p": 95.0})
    assert book.evaluate({"p": 95.0}, now=0) == []
    assert book.evaluate({"p": 92.0}, now=1) == []
    assert book.evaluate({"p": 98.0}, now=2) == []
    assert len(book) == 2


def test_large_jump_fires_every_threshold_crossed_and_no_other() -> None:
    specs = [RuleSpec(i, "p", UP, float(t)) for i, t in enumerate([90, 100, 110, 120, 130])]
    specs += [RuleSpec(10 + i, "p", DOWN, float(t)) for i, t in enumerate([80, 95, 105])]
    book = book_with(*specs, seed={"p": 95.0})
    firings = book.evaluate({"p": 120.0}, now=0)
    assert [f.threshold for f in firings] == [100.0, 110.0, 120.0]  # ascending thresholds
    assert {(f.previous, f.value) for f in firings} == {(95.0, 120.0)}
    crash = book.evaluate({"p": 50.0}, now=1)
    assert [f.threshold for f in crash] == [80.0, 95.0, 105.0]
    assert fired_ids(crash) == [10, 11, 12]
    assert sorted(f.threshold for f in book.evaluate({"p": 1000.0}, now=2)) == [90.0, 130.0]


def test_rule_added_while_beyond_waits_for_a_crossing() -> None:
    book = book_with(seed={"p": 120.0})
    book.upsert([RuleSpec(1, "p", UP, 100.0)])
    assert book.evaluate({"p": 125.0}, now=0) == []
    assert book.evaluate({"p": 90.0}, now=1) == []
    assert fired_ids(book.evaluate({"p": 100.0}, now=2)) == [1]


def test_metrics_are_independent() -> None:
    book = book_with(RuleSpec(1, "a", UP, 10.0), RuleSpec(2, "b", UP, 10.0))
    book.seed({"a": 5.0, "b": 5.0})
    assert fired_ids(book.evaluate({"a": 11.0}, now=0)) == [1]
    assert book.metrics() == {"b"}
    assert fired_ids(book.evaluate({"b": 12.0, "a": 1.0}, now=1)) == [2]
    assert book.metrics() == set()


def test_firings_follow_the_order_of_values() -> None:
    book = book_with(RuleSpec(1, "a", UP, 10.0), RuleSpec(2, "b", DOWN, 10.0))
    book.seed({"a": 5.0, "b": 15.0})
    assert [f.rule_id for f in book.evaluate({"b": 0.0, "a": 20.0}, now=0)] == [2, 1]


# -- invalid values ------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [None, math.nan, math.inf, -math.inf, "101", True, Decimal("NaN"), 10**400, [1]]
)
def test_invalid_values_are_skipped_logged_and_keep_previous(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    book = book_with(RuleSpec(1, "p", UP, 100.0), seed={"p": 99.0})
    with caplog.at_level(logging.WARNING, logger="tools.alerts.engine"):
        assert book.evaluate({"p": bad}, now=0) == []
    assert "p" in caplog.text and "skipped" in caplog.text
    # previous is still 99: the next valid value crosses from there
    assert [(f.previous, f.value) for f in book.evaluate({"p": 100.0}, now=1)] == [(99.0, 100.0)]


def test_invalid_first_value_does_not_seed() -> None:
    book = book_with(RuleSpec(1, "p", UP, 100.0))
    book.seed({"p": None})
    assert book.evaluate({"p": math.nan}, now=0) == []
    assert book.evaluate({"p": 99.0}, now=1) == []  # this is the first valid value
    assert fired_ids(book.evaluate({"p": 101.0}, now=2)) == [1]


def test_invalid_value_for_one_metric_does_not_stop_the_others() -> None:
    book = book_with(RuleSpec(1, "a", UP, 10.0), RuleSpec(2, "b", UP, 10.0))
    book.seed({"a": 5.0, "b": 5.0})
    assert fired_ids(book.evaluate({"a": "oops", "b": 11.0}, now=0)) == [2]


def test_ints_decimals_and_numpy_floats_are_numbers() -> None:
    book = book_with(RuleSpec(1, "p", UP, 100), RuleSpec(2, "p", UP, 101.5))
    book.seed({"p": 99})
    assert fired_ids(book.evaluate({"p": Decimal("101.5")}, now=0)) == [1, 2]
    book.upsert([RuleSpec(3, "p", DOWN, 50.0)])
    assert fired_ids(book.evaluate({"p": np.float32(49.0)}, now=1)) == [3]


# -- one-shot and recurring ----------------------------------------------------------


def test_one_shot_rule_is_removed_after_firing() -> None:
    book = book_with(RuleSpec(1, "p", UP, 100.0), RuleSpec(2, "p", UP, 200.0), seed={"p": 0.0})
    assert fired_ids(book.evaluate({"p": 150.0}, now=0)) == [1]
    assert len(book) == 1
    with pytest.raises(KeyError):
        book.state(1)
    book.evaluate({"p": 50.0}, now=1)
    assert fired_ids(book.evaluate({"p": 150.0}, now=2)) == []  # never again
    assert book.state(2) == (True, 0.0)


def test_recurring_rule_disarms_with_cooldown() -> None:
    spec = RuleSpec(1, "p", UP, 100.0, recurring=True, cooldown_s=3600, rearm_level=99.0)
    book = book_with(spec, seed={"p": 98.0})
    assert fired_ids(book.evaluate({"p": 101.0}, now=1000.0)) == [1]
    assert len(book) == 1
    assert book.state(1) == (False, 4600.0)


def test_oscillation_fires_once_until_band_left_and_cooldown_over() -> None:
    spec = RuleSpec(1, "p", UP, 100.0, recurring=True, cooldown_s=60, rearm_level=99.0)
    book = book_with(spec, seed={"p": 99.5})
    ticks = [100.1, 99.8, 100.2, 99.6, 100.05, 99.9, 100.3]  # inside the band (99, 100]
    fired = [fired_ids(book.evaluate({"p": v}, now=float(i))) for i, v in enumerate(ticks)]
    assert fired == [[1], [], [], [], [], [], []]
    # Out of the band but still cooling down: no re-arm, so the next crossing is silent.
    assert book.evaluate({"p": 98.0}, now=30.0) == []
    assert book.state(1) == (False, 60.0)
    assert book.evaluate({"p": 101.0}, now=40.0) == []
    # Cooldown over but the value is not back below 99: still disarmed.
    assert book.evaluate({"p": 99.5}, now=70.0) == []
    assert book.state(1)[0] is False
    # Back beyond the band after the cooldown: re-armed, and the next crossing fires.
    assert book.evaluate({"p": 99.0}, now=71.0) == []  # rearm level itself counts
    assert book.state(1) == (True, 60.0)
    assert fired_ids(book.evaluate({"p": 100.0}, now=72.0)) == [1]
    assert book.state(1) == (False, 132.0)


def test_cooldown_end_is_inclusive() -> None:
    spec = RuleSpec(1, "p", UP, 10.0, recurring=True, cooldown_s=5, rearm_level=9.0)
    book = book_with(spec, seed={"p": 0.0})
    book.evaluate({"p": 11.0}, now=100.0)
    book.evaluate({"p": 8.0}, now=104.999)
    assert book.state(1)[0] is False
    book.evaluate({"p": 8.0}, now=105.0)
    assert book.state(1)[0] is True


def test_rearm_level_defaults_to_the_threshold() -> None:
    spec = RuleSpec(1, "p", UP, 100.0, recurring=True)
    book = book_with(spec, seed={"p": 90.0})
    assert fired_ids(book.evaluate({"p": 100.0}, now=0)) == [1]
    book.evaluate({"p": 100.5}, now=1)
    assert book.state(1)[0] is False
    book.evaluate({"p": 100.0}, now=2)  # value <= threshold: re-armed
    assert book.state(1)[0] is True
    assert fired_ids(book.evaluate({"p": 101.0}, now=3)) == []  # 100 -> 101: not from below
    book.evaluate({"p": 99.0}, now=4)
    assert fired_ids(book.evaluate({"p": 101.0}, now=5)) == [1]


def test_rearm_and_crossing_on_the_same_tick() -> None:
    # Disarmed, below the threshold during the cooldown; on the tick the cooldown
    # ends the value lands exactly on the threshold: re-armed first, then it fires.
    spec = RuleSpec(1, "p", UP, 100.0, recurring=True, cooldown_s=10)
    book = book_with(spec, seed={"p": 90.0})
    book.evaluate({"p": 100.0}, now=0)
    book.evaluate({"p": 95.0}, now=5)
    assert book.state(1)[0] is False
    assert fired_ids(book.evaluate({"p": 100.0}, now=10)) == [1]


def test_down_recurring_rearms_above_the_level() -> None:
    spec = RuleSpec(1, "p", DOWN, 50.0, recurring=True, cooldown_s=0, rearm_level=52.0)
    book = book_with(spec, seed={"p": 55.0})
    assert fired_ids(book.evaluate({"p": 49.0}, now=0)) == [1]
    assert book.evaluate({"p": 51.0}, now=1) == []
    assert book.evaluate({"p": 49.5}, now=2) == []  # crossed again, but disarmed
    assert book.evaluate({"p": 52.0}, now=3) == []
    assert book.state(1)[0] is True
    assert fired_ids(book.evaluate({"p": 50.0}, now=4)) == [1]


def test_rearm_needs_a_value_of_its_metric() -> None:
    spec = RuleSpec(1, "a", UP, 10.0, recurring=True, rearm_level=9.0)
    book = book_with(spec, seed={"a": 0.0, "b": 0.0})
    book.evaluate({"a": 11.0}, now=0)
    book.evaluate({"b": 0.0}, now=100)  # another metric's value re-arms nothing
    book.evaluate({"a": math.nan}, now=100)
    assert book.state(1)[0] is False
    book.evaluate({"a": 8.0}, now=100)
    assert book.state(1)[0] is True


def test_restored_disarmed_state_is_honoured() -> None:
    spec = RuleSpec(
        1, "p", UP, 100.0, recurring=True, cooldown_s=60, armed=False, cooldown_until=500.0
    )
    book = book_with(spec, seed={"p": 90.0})
    assert book.state(1) == (False, 500.0)
    assert book.evaluate({"p": 101.0}, now=100) == []
    book.evaluate({"p": 90.0}, now=400)
    assert book.state(1)[0] is False
    book.evaluate({"p": 90.0}, now=500)
    assert book.state(1) == (True, 500.0)


def test_disarmed_one_shot_never_rearms() -> None:
    book = book_with(RuleSpec(1, "p", UP, 100.0, armed=False), seed={"p": 90.0})
    for now, value in enumerate([101.0, 90.0, 101.0]):
        assert book.evaluate({"p": value}, now=now) == []
    assert book.state(1) == (False, 0.0)


# -- mutations -----------------------------------------------------------------------


def test_upsert_replaces_a_rule_even_across_metric_and_direction() -> None:
    book = book_with(RuleSpec(1, "a", UP, 10.0), seed={"a": 5.0, "b": 5.0})
    book.upsert([RuleSpec(1, "b", DOWN, 4.0)])
    assert len(book) == 1
    assert book.metrics() == {"b"}
    assert book.evaluate({"a": 11.0}, now=0) == []  # the old rule is gone
    assert book.evaluate({"b": 3.0}, now=1) == [Firing(1, "b", DOWN, 4.0, 5.0, 3.0)]


def test_upsert_replaces_state_and_threshold_in_the_same_group() -> None:
    spec = RuleSpec(1, "p", UP, 10.0, recurring=True, cooldown_s=100)
    book = book_with(spec, seed={"p": 0.0})
    book.evaluate({"p": 11.0}, now=0)
    assert book.state(1) == (False, 100.0)
    book.upsert([RuleSpec(1, "p", UP, 20.0, recurring=True, cooldown_s=100)])
    assert book.state(1) == (True, 0.0)
    assert book.evaluate({"p": 15.0}, now=1) == []
    assert fired_ids(book.evaluate({"p": 20.0}, now=2)) == [1]


def test_last_mutation_of_an_id_wins() -> None:
    book = RuleBook()
    book.upsert([RuleSpec(1, "p", UP, 10.0), RuleSpec(1, "p", UP, 20.0)])
    book.remove([2])
    book.upsert([RuleSpec(2, "p", UP, 30.0)])
    book.upsert([RuleSpec(3, "p", UP, 40.0)])
    book.remove([3])
    book.seed({"p": 0.0})
    assert len(book) == 2
    assert [f.threshold for f in book.evaluate({"p": 100.0}, now=0)] == [20.0, 30.0]


def test_remove_and_unknown_ids() -> None:
    book = book_with(RuleSpec(1, "p", UP, 10.0), RuleSpec(2, "p", UP, 20.0), seed={"p": 0.0})
    book.remove([1, 99, -5, 2**70])
    assert len(book) == 1
    with pytest.raises(KeyError):
        book.state(1)
    assert fired_ids(book.evaluate({"p": 30.0}, now=0)) == [2]
    assert len(book) == 0
    assert book.metrics() == set()


def test_removed_disarmed_rule_is_not_rearmed_or_resurrected() -> None:
    specs = [RuleSpec(i, "p", UP, 10.0 + i, recurring=True) for i in range(3)]
    book = book_with(*specs, seed={"p": 0.0})
    assert fired_ids(book.evaluate({"p": 50.0}, now=0)) == [0, 1, 2]
    book.remove([1])
    book.evaluate({"p": 0.0}, now=1)
    assert len(book) == 2
    assert fired_ids(book.evaluate({"p": 50.0}, now=2)) == [0, 2]


def test_seed_sets_previous_without_firing_or_rearming() -> None:
    spec = RuleSpec(1, "p", UP, 100.0, recurring=True, armed=False)
    book = book_with(spec)
    book.seed({"p": 99.0})
    assert book.state(1)[0] is False  # seed does not re-arm
    book.seed({"p": 150.0})
    assert book.state(1)[0] is False
    book.upsert([RuleSpec(2, "p", DOWN, 120.0)])
    book.seed({"p": 110.0})  # crossed 120 downwards, but seeding never fires
    assert book.evaluate({"p": 110.0}, now=0) == []
    assert fired_ids(book.evaluate({"p": 100.0}, now=1)) == []  # from 110: nothing crossed
    assert fired_ids(book.evaluate({"p": 130.0}, now=2)) == []


def test_rule_spec_validation() -> None:
    assert RuleSpec(1, "p", "up", 5).direction is UP  # type: ignore[arg-type]
    assert RuleSpec(1, "p", UP, Decimal("5.5")).threshold == 5.5  # type: ignore[arg-type]
    bad: list[dict[str, object]] = [
        {"rule_id": -1},
        {"rule_id": True},
        {"rule_id": 2**63},
        {"rule_id": 1.0},
        {"metric": ""},
        {"direction": "sideways"},
        {"threshold": math.nan},
        {"threshold": math.inf},
        {"threshold": "5"},
        {"cooldown_s": -1.0},
        {"rearm_level": math.nan},
        {"cooldown_until": math.inf},
    ]
    base: dict[str, object] = {"rule_id": 1, "metric": "p", "direction": UP, "threshold": 5.0}
    for change in bad:
        with pytest.raises(ValueError):
            RuleSpec(**{**base, **change})  # type: ignore[arg-type]


def test_evaluate_rejects_a_non_finite_clock() -> None:
    with pytest.raises(ValueError):
        RuleBook().evaluate({}, now=math.nan)


def test_len_metrics_and_nbytes() -> None:
    book = RuleBook()
    assert (len(book), book.metrics()) == (0, set())
    empty = book.nbytes()
    book.upsert(RuleSpec(i, f"m{i % 7}", UP if i % 2 else DOWN, float(i)) for i in range(1000))
    assert len(book) == 1000
    assert book.metrics() == {f"m{i}" for i in range(7)}
    # at least the seven 8-byte or 1-byte columns per rule, plus the index
    assert book.nbytes() - empty >= 1000 * (5 * 8 + 2 + 12)


# -- against a reference implementation ----------------------------------------------


def as_value(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | np.floating):
        return None
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


@dataclass
class RefRule:
    spec: RuleSpec
    armed: bool
    until: float


class ReferenceBook:
    """The semantics, one rule at a time."""

    def __init__(self) -> None:
        self.rules: dict[int, RefRule] = {}
        self.prev: dict[str, float] = {}

    def upsert(self, specs: list[RuleSpec]) -> None:
        for spec in specs:
            self.rules[spec.rule_id] = RefRule(spec, spec.armed, spec.cooldown_until)

    def remove(self, ids: list[int]) -> None:
        for rule_id in ids:
            self.rules.pop(rule_id, None)

    def seed(self, values: Mapping[str, object]) -> None:
        for metric, raw in values.items():
            value = as_value(raw)
            if value is not None:
                self.prev[metric] = value

    def evaluate(self, values: Mapping[str, object], now: float) -> list[tuple[object, ...]]:
        tick: dict[str, tuple[float | None, float]] = {}
        for metric, raw in values.items():
            value = as_value(raw)
            if value is not None:
                tick[metric] = (self.prev.get(metric), value)
                self.prev[metric] = value
        fired = []
        for rule_id, rule in list(self.rules.items()):
            spec = rule.spec
            if spec.metric not in tick:
                continue
            previous, value = tick[spec.metric]
            up = spec.direction is UP
            level = spec.threshold if spec.rearm_level is None else spec.rearm_level
            back = value <= level if up else value >= level
            if not rule.armed and spec.recurring and back and now >= rule.until:
                rule.armed = True
            if not rule.armed or previous is None:
                continue
            t = spec.threshold
            if (previous < t <= value) if up else (previous > t >= value):
                fired.append((rule_id, spec.metric, spec.direction, t, previous, value))
                if spec.recurring:
                    rule.armed = False
                    rule.until = now + spec.cooldown_s
                else:
                    del self.rules[rule_id]
        return sorted(fired)

    def state(self, rule_id: int) -> tuple[bool, float] | None:
        rule = self.rules.get(rule_id)
        return None if rule is None else (rule.armed, rule.until)

    def metrics(self) -> set[str]:
        return {rule.spec.metric for rule in self.rules.values()}


def state_or_none(book: RuleBook, rule_id: int) -> tuple[bool, float] | None:
    try:
        return book.state(rule_id)
    except KeyError:
        return None


def as_tuples(firings: list[Firing]) -> list[tuple[object, ...]]:
    return sorted(
        (f.rule_id, f.metric, f.direction, f.threshold, f.previous, f.value) for f in firings
    )


METRICS = ["a", "b", "c"]
GRID = [float(x) for x in range(11)] + [2.5, 7.5]
N_IDS = 12

specs_st = st.builds(
    RuleSpec,
    rule_id=st.integers(0, N_IDS - 1),
    metric=st.sampled_from(METRICS),
    direction=st.sampled_from([UP, DOWN]),
    threshold=st.sampled_from(GRID),
    recurring=st.booleans(),
    cooldown_s=st.sampled_from([0.0, 2.0, 5.0]),
    rearm_level=st.one_of(st.none(), st.sampled_from(GRID)),
    armed=st.booleans() | st.just(True),
    cooldown_until=st.sampled_from([0.0, 3.0, 20.0]),
)
value_st = st.one_of(
    st.sampled_from(GRID),
    st.floats(-1.0, 12.0),
    st.sampled_from([None, math.nan, math.inf, "5", True]),
)
values_st = st.dictionaries(st.sampled_from([*METRICS, "z"]), value_st, max_size=4)
op_st = st.one_of(
    st.tuples(st.just("upsert"), st.lists(specs_st, max_size=6)),
    st.tuples(st.just("remove"), st.lists(st.integers(-1, N_IDS), max_size=4)),
    st.tuples(st.just("seed"), values_st),
    st.tuples(st.just("tick"), st.tuples(values_st, st.sampled_from([0.0, 1.0, 2.5, 6.0]))),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op_st, max_size=40))
def test_matches_reference(ops: list[tuple[str, Any]]) -> None:
    book, ref = RuleBook(), ReferenceBook()
    now = 0.0
    logging.getLogger("tools.alerts.engine").setLevel(logging.ERROR)
    try:
        for kind, arg in ops:
            if kind == "upsert":
                book.upsert(arg)
                ref.upsert(arg)
            elif kind == "remove":
                book.remove(arg)
                ref.remove(arg)
            elif kind == "seed":
                book.seed(arg)
                ref.seed(arg)
            else:
                values, step = arg
                now += step
                assert as_tuples(book.evaluate(values, now)) == ref.evaluate(values, now)
            assert len(book) == len(ref.rules)
            assert book.metrics() == ref.metrics()
            for rule_id in range(N_IDS):
                assert state_or_none(book, rule_id) == ref.state(rule_id)
    finally:
        logging.getLogger("tools.alerts.engine").setLevel(logging.NOTSET)


def test_matches_reference_on_a_large_churning_book(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of rules, big batches: exercises group moves, tombstones, group
    rewrites, column compaction and the id index's merges."""
    compactions = []
    original = RuleBook._compact

    def counting(self: RuleBook) -> None:
        compactions.append(1)
        original(self)

    monkeypatch.setattr(RuleBook, "_compact", counting)
    rng = random.Random(5)
    metrics = [f"m{i}" for i in range(4)]
    next_id = 0

    def random_specs(n: int, reuse: bool) -> list[RuleSpec]:
        nonlocal next_id
        out = []
        for _ in range(n):
            if reuse and rng.random() < 0.3:
                rule_id = rng.randrange(next_id)
            else:
                rule_id, next_id = next_id, next_id + 1
            t = float(rng.randrange(0, 200))
            out.append(
                RuleSpec(
                    rule_id,
                    rng.choice(metrics),
                    rng.choice([UP, DOWN]),
                    t,
                    recurring=rng.random() < 0.5,
                    cooldown_s=rng.choice([0.0, 3.0]),
                    rearm_level=rng.choice([None, t - 5, t + 5]),
                )
            )
        return out

    book, ref = RuleBook(), ReferenceBook()
    first = random_specs(6000, reuse=False)
    book.upsert(first)
    ref.upsert(first)
    prices = dict.fromkeys(metrics, 100.0)
    for step in range(120):
        action = rng.random()
        if action < 0.15:
            batch = random_specs(rng.choice([5, 400, 4000]), reuse=True)
            book.upsert(batch)
            ref.upsert(batch)
        elif action < 0.3:
            gone = rng.sample(range(next_id), rng.choice([3, 300, 2000]))
            book.remove(gone)
            ref.remove(gone)
        for m in metrics:
            prices[m] = float(min(199, max(0, prices[m] + rng.choice([-9, -3, -1, 0, 1, 4, 8]))))
        assert as_tuples(book.evaluate(prices, float(step))) == ref.evaluate(prices, float(step))
        assert len(book) == len(ref.rules)
        if step % 10 == 0:
            assert book.metrics() == ref.metrics()
            for rule_id in range(next_id):
                assert state_or_none(book, rule_id) == ref.state(rule_id)
    assert compactions, "the churn should have compacted the columns at least once"
