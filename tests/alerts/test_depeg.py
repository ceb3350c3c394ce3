"""The depeg monitor: persistence, escalation, easing, recovery, bad samples, restarts."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shared_data import SKIP_REASON, USDC_HOURLY
from tools.alerts.depeg import DepegEvent, DepegEventKind, DepegMonitor, PegSample
from tools.market.series import load_price_series
from tools.market.stablecoins import PegSeverity, PegThresholds, assess
from tools.market.types import DataOrigin, Stablecoin

T0 = datetime(2023, 3, 11, tzinfo=UTC)
HOUR = timedelta(hours=1)
DEFAULT = PegThresholds()  # warn 0.5 %, high 2 %, critical 5 %
W, H, C, R = (
    DepegEventKind.WARNING,
    DepegEventKind.HIGH,
    DepegEventKind.CRITICAL,
    DepegEventKind.RECOVERED,
)


def sample(
    price: str | Decimal | float | None,
    at: datetime,
    *,
    symbol: str = "USDC",
    currency: str | None = "USD",
    stale: bool = False,
    disputed: bool = False,
) -> PegSample:
    value = price if price is None or isinstance(price, Decimal | float) else Decimal(price)
    return PegSample(symbol, at, value, currency, disputed=disputed, stale=stale)  # type: ignore[arg-type]


def feed(
    monitor: DepegMonitor,
    prices: Iterable[str | None],
    *,
    start: datetime = T0,
    step: timedelta = HOUR,
    symbol: str = "USDC",
) -> list[DepegEvent]:
    events: list[DepegEvent] = []
    for i, price in enumerate(prices):
        events += monitor.observe(sample(price, start + i * step, symbol=symbol))
    return events


def kinds(events: Sequence[DepegEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.severity.value) for e in events]


# -- persistence ----------------------------------------------------------------------------


def test_one_stray_sample_does_not_alert() -> None:
    monitor = DepegMonitor(DEFAULT)
    events = feed(monitor, ["1.0", "1.0", "0.90", "1.0", "0.999", "1.0"])
    assert events == []
    assert monitor.severity("USDC") is PegSeverity.OK


def test_warning_after_two_samples_then_critical_then_partial_and_full_recovery() -> None:
    monitor = DepegMonitor(DEFAULT)
    prices = ["1.0", "0.993", "0.992", "0.94", "0.93", "0.93", "0.97", "0.97", "0.999", "0.998"]
    events = feed(monitor, prices)
    assert kinds(events) == [
        ("warning", "warning"),
        ("critical", "critical"),
        ("recovered", "high"),
        ("recovered", "ok"),
    ]
    warning, critical, eased, recovered = events
    assert warning.at == T0 + 2 * HOUR and warning.previous is PegSeverity.OK
    assert critical.at == T0 + 4 * HOUR and critical.previous is PegSeverity.WARNING
    assert eased.at == T0 + 7 * HOUR and not eased.back_on_peg
    assert recovered.at == T0 + 9 * HOUR and recovered.back_on_peg
    assert recovered.previous is PegSeverity.HIGH
    assert monitor.severity("USDC") is PegSeverity.OK


def test_jump_straight_to_critical_announces_critical_only() -> None:
    events = feed(DepegMonitor(DEFAULT), ["1.0", "0.90", "0.91"])
    assert kinds(events) == [("critical", "critical")]
    assert events[0].previous is PegSeverity.OK


def test_mixed_tiers_confirm_the_tier_held_by_every_sample() -> None:
    # warning then critical: only "at least warning" has held for two samples.
    monitor = DepegMonitor(DEFAULT)
    events = feed(monitor, ["0.99", "0.90"])
    assert kinds(events) == [("warning", "warning")]
    # the critical streak started with the second sample and holds at the third.
    events = feed(monitor, ["0.90"], start=T0 + 2 * HOUR)
    assert kinds(events) == [("critical", "critical")]
    assert "since 2023-03-11 01:00 UTC" in events[0].message


def test_persist_samples_three() -> None:
    monitor = DepegMonitor(DEFAULT, persist_samples=3)
    assert feed(monitor, ["0.99", "0.99"]) == []
    events = feed(monitor, ["0.99"], start=T0 + 2 * HOUR)
    assert kinds(events) == [("warning", "warning")]


def test_persist_minutes_and_samples_must_both_hold() -> None:
    minute = timedelta(minutes=1)
    monitor = DepegMonitor(DEFAULT, persist_samples=2, persist_minutes=10)
    events = feed(monitor, ["0.99"] * 11, step=minute)
    assert [e.at for e in events] == [T0 + 10 * minute]  # 10 minutes after the first sample
    # sparse samples: two samples a day apart satisfy both conditions at once.
    sparse = DepegMonitor(DEFAULT, persist_samples=2, persist_minutes=10)
    assert [e.at for e in feed(sparse, ["0.99"] * 2, step=timedelta(days=1))] == [
        T0 + timedelta(days=1)
    ]


def test_persist_minutes_only() -> None:
    minute = timedelta(minutes=1)
    monitor = DepegMonitor(DEFAULT, persist_samples=1, persist_minutes=5)
    events = feed(monitor, ["0.99"] * 8, step=minute)
    assert [e.at for e in events] == [T0 + 5 * minute]


def test_persist_samples_one_fires_at_once() -> None:
    events = feed(DepegMonitor(DEFAULT, persist_samples=1), ["0.99"])
    assert kinds(events) == [("warning", "warning")]


# -- no repeats -------------------------------------------------------------------------------


def test_flapping_around_a_boundary_gives_one_message_per_tier() -> None:
    monitor = DepegMonitor(DEFAULT)
    # warning, then alternate high/critical pairs: critical and high confirmed repeatedly.
    prices = ["0.99", "0.99"] + ["0.94", "0.94", "0.97", "0.97"] * 5
    events = feed(monitor, prices)
    assert kinds(events) == [
        ("warning", "warning"),
        ("critical", "critical"),
        ("recovered", "high"),
    ]


def test_price_flapping_every_sample_never_confirms() -> None:
    events = feed(DepegMonitor(DEFAULT), ["0.99", "1.0"] * 20)
    assert events == []


def test_recovery_needs_the_margin_inside_the_warn_band() -> None:
    monitor = DepegMonitor(DEFAULT)  # recover below 0.5 - 0.1 = 0.4 %
    assert kinds(feed(monitor, ["0.99", "0.99"])) == [("warning", "warning")]
    # 0.45 % is inside the warn band but not by the margin: no recovery.
    assert feed(monitor, ["0.9955"] * 6, start=T0 + 2 * HOUR) == []
    assert monitor.severity("USDC") is PegSeverity.WARNING
    events = feed(monitor, ["0.997", "0.997"], start=T0 + 8 * HOUR)
    assert kinds(events) == [("recovered", "ok")]
    assert "back within 0.4%" in events[0].message
    # a new episode can warn again, once.
    again = feed(monitor, ["0.99"] * 4, start=T0 + 10 * HOUR)
    assert kinds(again) == [("warning", "warning")]


def test_no_margin_recovers_just_under_warn() -> None:
    monitor = DepegMonitor(DEFAULT, recovery_margin_pct=Decimal(0))
    feed(monitor, ["0.99", "0.99"])
    assert kinds(feed(monitor, ["0.9955", "0.9955"], start=T0 + 2 * HOUR)) == [("recovered", "ok")]


def test_margin_is_capped_at_half_the_warn_threshold() -> None:
    monitor = DepegMonitor(PegThresholds(Decimal("0.2"), Decimal(2), Decimal(5)))
    assert monitor.recovery_margin_pct == Decimal("0.1")
    tiny = DepegMonitor(
        PegThresholds(Decimal("0.1"), Decimal(2), Decimal(5)), recovery_margin_pct=Decimal(1)
    )
    assert tiny.recovery_margin_pct == Decimal("0.05")


def test_easing_is_announced_once_per_tier() -> None:
    monitor = DepegMonitor(DEFAULT)
    feed(monitor, ["0.97", "0.97"])  # high announced (jumped from ok)
    events = feed(monitor, ["0.99", "0.99", "0.97", "0.97", "0.99", "0.99"], start=T0 + 2 * HOUR)
    assert kinds(events) == [("recovered", "warning")]  # eased once, then silent


# -- unusable samples -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"price": None},
        {"price": Decimal("NaN")},
        {"price": Decimal("sNaN")},
        {"price": float("inf")},
        {"price": Decimal(0)},
        {"price": Decimal("-0.5")},
        {"price": "abc"},
        {"price": "0.90", "stale": True},
        {"price": "0.90", "disputed": True},
        {"price": "0.90", "currency": None},
    ],
)
def test_unusable_samples_neither_fire_nor_count(
    bad: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    monitor = DepegMonitor(DEFAULT)
    price = bad["price"]
    kwargs = {k: v for k, v in bad.items() if k != "price"}
    caplog.set_level(logging.DEBUG, logger="tools.alerts.depeg")
    off = sample("0.90", T0)
    assert monitor.observe(off) == []
    for i in range(1, 6):  # five unusable samples: still one usable sample in the streak
        weird = PegSample(
            "USDC",
            T0 + i * HOUR,
            price,  # type: ignore[arg-type]
            kwargs.get("currency", "USD"),  # type: ignore[arg-type]
            disputed=bool(kwargs.get("disputed", False)),
            stale=bool(kwargs.get("stale", False)),
        )
        assert monitor.observe(weird) == []
    assert monitor.severity("USDC") is PegSeverity.OK
    assert "skipped" in caplog.text
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "skipped" in r.message]
    assert len(infos) == 1  # logged once at INFO, then at DEBUG
    # the streak was neither broken nor advanced: the next usable sample confirms.
    events = monitor.observe(sample("0.90", T0 + 6 * HOUR))
    assert kinds(events) == [("critical", "critical")]


def test_only_unusable_samples_never_fire() -> None:
    monitor = DepegMonitor(DEFAULT, persist_samples=1)
    for i in range(10):
        assert monitor.observe(sample("0.5", T0 + i * HOUR, stale=True)) == []
        assert monitor.observe(sample("0.5", T0 + i * HOUR, disputed=True)) == []
    assert monitor.severity("USDC") is PegSeverity.UNKNOWN
    assert monitor.confirmed_deviation("USDC") is None


def test_out_of_order_and_duplicate_samples_are_skipped() -> None:
    monitor = DepegMonitor(DEFAULT)
    assert monitor.observe(sample("0.99", T0 + HOUR)) == []
    assert monitor.observe(sample("0.99", T0 + HOUR)) == []  # same time again
    assert monitor.observe(sample("0.99", T0)) == []  # older
    assert kinds(monitor.observe(sample("0.99", T0 + 2 * HOUR))) == [("warning", "warning")]


def test_naive_times_are_utc() -> None:
    monitor = DepegMonitor(DEFAULT)
    monitor.observe(sample("0.99", datetime(2023, 3, 11, 1)))
    [event] = monitor.observe(sample("0.99", datetime(2023, 3, 11, 2)))
    assert event.at == datetime(2023, 3, 11, 2, tzinfo=UTC)


# -- messages ---------------------------------------------------------------------------------


def test_messages_spell_severity_price_deviation_peg_and_risk() -> None:
    monitor = DepegMonitor(DEFAULT)
    prices = ["1.0", "0.993", "0.992", "0.97", "0.97", "0.94", "0.93", "0.97", "0.97", "0.999"]
    events = feed(monitor, prices + ["0.999"])
    assert kinds(events) == [
        ("warning", "warning"),
        ("high", "high"),
        ("critical", "critical"),
        ("recovered", "high"),
        ("recovered", "ok"),
    ]
    texts = [e.message for e in events]
    assert texts[0].startswith("USDC depeg warning: 0.9920 USD, 0.80% below its 1 USD peg")
    assert "high from 2%" in texts[1] and "up from warning" in texts[1]
    assert texts[2].startswith("USDC depeg critical: 0.9300 USD, 7.00% below its 1 USD peg")
    assert "recovered from critical to high" in texts[3] and "still off peg" in texts[3]
    assert texts[4].startswith("USDC depeg recovered: 0.9990 USD, 0.10% below its 1 USD peg")
    assert "worst tier critical" in texts[4]
    for event in events:
        assert event.risk is not None
        assert f"Depeg risk {event.risk.score}/100 ({event.risk.level})" in event.message
        assert event.peg_currency == "USD"
    assert "off peg +" in texts[2]  # the top factor is spelled out with its points
    assert events[2].deviation_pct == Decimal("-7.00")


def test_eur_stablecoin_is_measured_against_eur() -> None:
    monitor = DepegMonitor(DEFAULT)
    for i, price in enumerate(["1.0", "1.012", "1.013"]):
        events = monitor.observe(sample(price, T0 + i * HOUR, symbol="eurc", currency="EUR"))
    [event] = events
    assert event.symbol == "EURC" and event.peg_currency == "EUR"
    assert event.message.startswith("EURC depeg warning: 1.0130 EUR, 1.30% above its 1 EUR peg")
    assert "USD" not in event.message


def test_eur_sample_from_assess_uses_the_eur_price() -> None:
    # 1.0800 USD for a EUR coin when 1 EUR = 1.08 USD is exactly on peg.
    fx = {"EUR": Decimal("1.08")}
    monitor = DepegMonitor(DEFAULT)
    all_events: list[DepegEvent] = []
    for i, usd in enumerate(["1.08", "1.08", "1.0584", "1.0584"]):
        health = assess(stablecoin("EURC", "peggedEUR", "EUR", usd), fx, DEFAULT)
        all_events += monitor.observe(
            PegSample("EURC", T0 + i * HOUR, health.price_in_peg, "EUR", health=health)
        )
    [event] = all_events
    assert event.kind is DepegEventKind.HIGH
    assert event.price_in_peg == Decimal("0.98") and "0.9800 EUR" in event.message
    assert event.risk is not None
    assert any(f.name == "mechanism" for f in event.risk.factors)


def stablecoin(symbol: str, peg_type: str, currency: str, usd: str) -> Stablecoin:
    return Stablecoin(
        symbol=symbol,
        name=symbol,
        coin_id=None,
        peg_type=peg_type,
        peg_currency=currency,
        peg_mechanism="fiat-backed",
        price_usd=Decimal(usd),
        circulating=Decimal(90),
        circulating_prev_day=Decimal(100),
        circulating_prev_week=Decimal(100),
        source="test",
        origin=DataOrigin.SIMULATED,
        fetched_at=T0,
    )


def test_several_coins_are_independent() -> None:
    monitor = DepegMonitor(DEFAULT)
    events: list[DepegEvent] = []
    for i in range(3):
        events += monitor.observe(sample("0.99", T0 + i * HOUR, symbol="USDC"))
        events += monitor.observe(sample("1.0", T0 + i * HOUR, symbol="USDT"))
    assert [(e.symbol, e.kind) for e in events] == [("USDC", W)]
    assert monitor.symbols() == ["USDC", "USDT"]
    assert monitor.severity("usdt") is PegSeverity.OK


# -- confirmed_deviation -------------------------------------------------------------------------


def test_confirmed_deviation_follows_confirmations() -> None:
    monitor = DepegMonitor(DEFAULT)
    assert monitor.confirmed_deviation("USDC") is None
    feed(monitor, ["0.998"])
    assert monitor.confirmed_deviation("USDC") == Decimal("0.200")
    feed(monitor, ["0.99"], start=T0 + HOUR)  # pending: the on-peg value stays
    assert monitor.confirmed_deviation("USDC") == Decimal("0.200")
    feed(monitor, ["0.985"], start=T0 + 2 * HOUR)  # confirmed warning
    assert monitor.confirmed_deviation("USDC") == Decimal("1.500")
    feed(monitor, ["0.997"], start=T0 + 3 * HOUR)  # recovery pending: floored at warn
    assert monitor.confirmed_deviation("USDC") == Decimal("0.5")
    feed(monitor, ["0.998"], start=T0 + 4 * HOUR)  # recovered
    assert monitor.confirmed_deviation("USDC") == Decimal("0.200")


# -- state ------------------------------------------------------------------------------------


SCENARIO = [
    "1.0",
    "0.999",
    "0.993",
    None,
    "0.992",
    "0.97",
    "0.94",
    "0.93",
    "0.95",
    "0.951",
    "0.97",
    "0.971",
    "0.94",
    "0.97",
    "0.998",
    "0.999",
    "0.99",
    "0.99",
]


def test_state_round_trips_through_json() -> None:
    monitor = DepegMonitor(DEFAULT)
    feed(monitor, SCENARIO[:8])
    state = monitor.dump_state()
    restored = DepegMonitor.load_state(json.loads(json.dumps(state)), DEFAULT)
    assert restored.dump_state() == state
    assert restored.recent("USDC") == monitor.recent("USDC")
    assert restored.confirmed_deviation("USDC") == monitor.confirmed_deviation("USDC")


@pytest.mark.parametrize("cut", range(1, len(SCENARIO)))
def test_restart_mid_episode_neither_repeats_nor_loses_messages(cut: int) -> None:
    straight = feed(DepegMonitor(DEFAULT), SCENARIO)
    first = DepegMonitor(DEFAULT)
    before = feed(first, SCENARIO[:cut])
    saved = json.dumps(first.dump_state())
    second = DepegMonitor.load_state(json.loads(saved), DEFAULT)
    after = feed(second, SCENARIO[cut:], start=T0 + cut * HOUR)
    assert [e.message for e in before + after] == [e.message for e in straight]
    assert kinds(straight) == [
        ("warning", "warning"),
        ("high", "high"),
        ("critical", "critical"),
        ("recovered", "high"),
        ("recovered", "ok"),
        ("warning", "warning"),
    ]


def test_partial_dumps_merge_into_one_state() -> None:
    monitor = DepegMonitor(DEFAULT)
    for i in range(2):
        monitor.observe(sample("0.99", T0 + i * HOUR, symbol="USDC"))
        monitor.observe(sample("1.0", T0 + i * HOUR, symbol="USDT"))
    usdc = monitor.dump_state(["usdc"])
    usdt = monitor.dump_state(["USDT"])
    assert list(usdc["coins"]) == ["USDC"]  # type: ignore[call-overload]
    merged = {**usdc, "coins": {**usdc["coins"], **usdt["coins"]}}  # type: ignore[dict-item]
    assert merged == monitor.dump_state()


def test_restart_after_an_announcement_does_not_announce_again() -> None:
    monitor = DepegMonitor(DEFAULT)
    assert kinds(feed(monitor, ["0.90", "0.90"])) == [("critical", "critical")]
    restored = DepegMonitor.load_state(json.loads(json.dumps(monitor.dump_state())), DEFAULT)
    assert feed(restored, ["0.90"] * 5, start=T0 + 2 * HOUR) == []


@pytest.mark.parametrize(
    "state",
    [None, {}, {"version": 99}, {"version": 1, "coins": "x"}, [], "garbage"],
)
def test_unusable_state_starts_fresh(state: object) -> None:
    monitor = DepegMonitor.load_state(state, DEFAULT)  # type: ignore[arg-type]
    assert monitor.symbols() == []


def test_a_malformed_coin_is_dropped_alone() -> None:
    good = DepegMonitor(DEFAULT)
    feed(good, ["0.99", "0.99"])
    state = good.dump_state()
    coins = state["coins"]
    assert isinstance(coins, dict)
    coins["BAD"] = {"confirmed": "sideways"}
    coins["WORSE"] = {"confirmed": "ok", "up": {"high": ["not a time", 1]}}
    restored = DepegMonitor.load_state(state, DEFAULT, persist_samples=3)
    assert restored.symbols() == ["USDC"]
    assert restored.severity("USDC") is PegSeverity.WARNING
    assert restored.persist_samples == 3


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("thresholds", "kwargs"),
    [
        (PegThresholds(Decimal(2), Decimal(1), Decimal(5)), {}),
        (PegThresholds(Decimal(0), Decimal(1), Decimal(5)), {}),
        (DEFAULT, {"persist_samples": 0}),
        (DEFAULT, {"persist_minutes": -1}),
        (DEFAULT, {"persist_minutes": float("nan")}),
        (DEFAULT, {"recovery_margin_pct": Decimal(-1)}),
        (DEFAULT, {"recent_size": 1}),
    ],
)
def test_invalid_configuration(thresholds: PegThresholds, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DepegMonitor(thresholds, **kwargs)  # type: ignore[arg-type]


def test_recent_window_is_bounded() -> None:
    monitor = DepegMonitor(DEFAULT, recent_size=5)
    feed(monitor, ["1.0"] * 20)
    assert len(monitor.recent("USDC")) == 5
    assert len(monitor.dump_state()["coins"]["USDC"]["recent"]) == 5  # type: ignore[index]


# -- the real March 2023 data -------------------------------------------------------------------


@pytest.mark.skipif(not USDC_HOURLY.exists(), reason=SKIP_REASON)
def test_usdc_march_2023_hourly() -> None:
    series = load_price_series(USDC_HOURLY)
    monitor = DepegMonitor(DEFAULT)
    events: list[DepegEvent] = []
    for at, price in series.points:
        events += monitor.observe(PegSample("USDC", at, price, "USD"))
    assert [e.kind for e in events] == [W, C, R]
    first_below = next(at for at, price in series.points if price < Decimal("0.97"))
    assert events[0].at < first_below
    assert events[1].at == datetime(2023, 3, 11, 4, tzinfo=UTC)
    assert events[2].severity is PegSeverity.HIGH  # the file ends before USDC is back on peg


# -- properties -------------------------------------------------------------------------------

PRICES = st.lists(
    st.one_of(
        st.decimals(min_value=Decimal("0.85"), max_value=Decimal("1.15"), places=4),
        st.none(),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(prices=PRICES, persist=st.integers(min_value=1, max_value=3))
def test_no_tier_is_announced_twice_in_an_episode(
    prices: list[Decimal | None], persist: int
) -> None:
    monitor = DepegMonitor(DEFAULT, persist_samples=persist)
    events = feed(monitor, [None if p is None else str(p) for p in prices])
    seen: set[tuple[str, str]] = set()
    peak = 0
    order = {W: 1, H: 2, C: 3}
    for event in events:
        key = (event.kind.value, event.severity.value)
        assert key not in seen
        seen.add(key)
        if event.kind is R:
            assert order.get(DepegEventKind(event.previous.value), 0) >= 1
            if event.back_on_peg:
                seen, peak = set(), 0
        else:
            assert order[event.kind] > peak  # escalations only rise
            peak = order[event.kind]
    # a monitor restored from any point agrees with the uninterrupted one.
    restored = DepegMonitor.load_state(
        json.loads(json.dumps(monitor.dump_state())), DEFAULT, persist_samples=persist
    )
    assert restored.dump_state() == monitor.dump_state()
