"""Alert rule validation, stored parameters and the mapping to engine rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tools.alerts.engine import Direction, RuleSpec
from tools.alerts.rules import (
    AlertKind,
    PctDirection,
    alert_params,
    format_duration,
    metric_key,
    parse_cooldown,
    parse_direction,
    parse_expiry,
    parse_interval,
    parse_kind,
    parse_request,
    parse_threshold,
    parse_window,
    rearm_level,
    replay_firings,
    rule_spec,
    window_seconds,
)
from tools.errors import UserInputError

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


# -- thresholds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", 'threshold "abc" is not a number'),
        ("-5", "cannot be negative"),
        (-5, "cannot be negative"),
        ("0", "must be above 0"),
        (0, "must be above 0"),
        ("1e309", "out of range"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
        ("nan", "finite"),
        ("100,5", "comma that is not a thousands separator"),
        ("0." + "1" * 30, "30 decimal places"),
        ("1." + "0" * 29 + "1", "30 decimal places"),
        (Decimal("1." + "1" * 30), "30 decimal places"),
        ("1e-30", "out of range"),
        ("", "Give the price"),
        (None, "Give the price"),
        (True, "must be a number"),
        ("5x", "unknown suffix"),
        ("2e15", "too large"),
    ],
)
def test_bad_price_thresholds_are_refused_with_the_reason(value: object, message: str) -> None:
    with pytest.raises(UserInputError) as info:
        parse_threshold(value, AlertKind.PRICE_ABOVE)
    assert message in info.value.user_message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("95k", Decimal(95000)),
        ("$10,000", Decimal(10000)),
        (100000, Decimal(100000)),
        (100000.0, Decimal(100000)),
        ("0.00001234", Decimal("0.00001234")),
        ("1.5m", Decimal(1500000)),
        (" 2500 ", Decimal(2500)),
    ],
)
def test_price_thresholds_as_people_type_them(value: object, expected: Decimal) -> None:
    assert parse_threshold(value, AlertKind.PRICE_BELOW) == expected


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (AlertKind.PCT_CHANGE, "5%", Decimal(5)),
        (AlertKind.PCT_CHANGE, 1000, Decimal(1000)),
        (AlertKind.PCT_CHANGE, "0.5", Decimal("0.5")),
        (AlertKind.RSI_ABOVE, 70, Decimal(70)),
        (AlertKind.RSI_BELOW, "30", Decimal(30)),
        (AlertKind.DEPEG, "1%", Decimal(1)),
        (AlertKind.DEPEG, 50, Decimal(50)),
        (AlertKind.PORTFOLIO_BELOW, "20k", Decimal(20000)),
        (AlertKind.FORMULA_ABOVE, "-1.5", Decimal("-1.5")),
        (AlertKind.FORMULA_BELOW, 0, Decimal(0)),
        (AlertKind.FORMULA_BELOW, -2, Decimal(-2)),
    ],
)
def test_thresholds_per_kind(kind: AlertKind, value: object, expected: Decimal) -> None:
    assert parse_threshold(value, kind) == expected


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (AlertKind.PCT_CHANGE, "1001", "out of range"),
        (AlertKind.PCT_CHANGE, "-5%", "cannot be negative"),
        (AlertKind.PCT_CHANGE, "0%", "above 0"),
        (AlertKind.RSI_ABOVE, 100, "between 0 and 100"),
        (AlertKind.RSI_BELOW, 150, "between 0 and 100"),
        (AlertKind.RSI_ABOVE, 0, "above 0"),
        (AlertKind.DEPEG, "60", "out of range"),
        (AlertKind.DEPEG, "0", "above 0"),
        (AlertKind.PORTFOLIO_ABOVE, "-100", "cannot be negative"),
        (AlertKind.FORMULA_ABOVE, "1e309", "out of range"),
        (AlertKind.FORMULA_ABOVE, "abc", "not a number"),
        (AlertKind.PCT_CHANGE, None, "percentage move"),
        (AlertKind.RSI_ABOVE, None, "RSI level"),
    ],
)
def test_out_of_range_per_kind(kind: AlertKind, value: object, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        parse_threshold(value, kind)


# -- kinds, windows, directions, intervals, durations ---------------------------------------


def test_kinds_and_aliases() -> None:
    assert parse_kind("price_above") is AlertKind.PRICE_ABOVE
    assert parse_kind("Price-Below") is AlertKind.PRICE_BELOW
    assert parse_kind("above") is AlertKind.PRICE_ABOVE
    assert parse_kind("change") is AlertKind.PCT_CHANGE
    assert len(AlertKind) == 10
    with pytest.raises(UserInputError, match="Unknown alert kind") as info:
        parse_kind("volume_spike")
    assert "price_above" in info.value.user_message


@pytest.mark.parametrize(
    ("value", "canonical", "seconds"),
    [
        (None, "24h", 86400),
        ("1h", "1h", 3600),
        ("24h", "24h", 86400),
        ("1d", "24h", 86400),
        ("7d", "7d", 604800),
        ("1w", "7d", 604800),
        ("15m", "15m", 900),
        ("5m", "5m", 300),
        ("90m", "90m", 5400),
        ("1.5h", "90m", 5400),
        ("2 hours", "2h", 7200),
        ("30d", "30d", 2592000),
        ("48h", "2d", 172800),
        ("1.01h", "61m", 3660),
        ("4.17d", "6005m", 360300),
    ],
)
def test_windows(value: object, canonical: str, seconds: int) -> None:
    assert parse_window(value) == (canonical, seconds)
    assert window_seconds(canonical) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1m", "out of range"),
        ("31d", "out of range"),
        ("5w", "out of range"),
        ("soon", "not a duration"),
        ("10", "not a duration"),
    ],
)
def test_bad_windows(value: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        parse_window(value)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (300, 3600, 86400, 172800, 5400)] == [
        "5m",
        "1h",
        "24h",
        "2d",
        "90m",
    ]


def test_directions_and_intervals() -> None:
    assert parse_direction(None) is PctDirection.ANY
    assert parse_direction("UP") is PctDirection.UP
    assert parse_direction("drops") is PctDirection.DOWN
    assert parse_direction("either way") is PctDirection.ANY
    with pytest.raises(UserInputError, match="up, down or any"):
        parse_direction("sideways")
    assert parse_interval(None) == "1d"
    assert parse_interval("4H") == "4h"
    assert parse_interval("hourly") == "1h"
    with pytest.raises(UserInputError, match="1h, 4h, 1d"):
        parse_interval("1w")


def test_cooldown_and_expiry() -> None:
    assert parse_cooldown(None) == 3600
    assert parse_cooldown(None, 600) == 600
    assert parse_cooldown("30m") == 1800
    with pytest.raises(UserInputError, match="1 minute to 7 days"):
        parse_cooldown("8d")
    assert parse_expiry(None, now=NOW) is None
    assert parse_expiry("never", now=NOW) is None
    assert parse_expiry("7d", now=NOW) == NOW + timedelta(days=7)
    assert parse_expiry("2026-12-31", now=NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_expiry("2026-12-01T08:00", now=NOW) == datetime(2026, 12, 1, 8, tzinfo=UTC)
    with pytest.raises(UserInputError, match="in the past"):
        parse_expiry("2026-01-01", now=NOW)
    with pytest.raises(UserInputError, match="one year"):
        parse_expiry("2028-01-01", now=NOW)
    with pytest.raises(UserInputError, match="not a date"):
        parse_expiry("2026-13-45", now=NOW)


# -- whole requests -------------------------------------------------------------------------


def test_request_defaults_and_normalisation() -> None:
    req = parse_request("pct_change", "SOL", "5%", now=NOW)
    assert req.window == "24h" and req.direction is PctDirection.ANY
    assert req.threshold == Decimal(5) and not req.recurring and req.cooldown_s == 0
    req = parse_request("rsi_below", "btc", 30, recurring=True, now=NOW, default_cooldown_s=900)
    assert req.interval == "1d" and req.cooldown_s == 900
    req = parse_request("depeg", "USDC", None, now=NOW)
    assert req.threshold is None  # the user's default applies
    req = parse_request("portfolio_below", None, "20k", expires="7d", now=NOW)
    assert req.symbol is None and req.expires_at == NOW + timedelta(days=7)
    req = parse_request("price_above", "btc", "100k", direction="up", now=NOW)
    assert req.direction is None
    req = parse_request("rsi_above", "btc", 70, window="4h", now=NOW)  # the agent's way
    assert req.interval == "4h" and req.window is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "price_above", "threshold": "100k"}, "Which coin"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": 1, "window": "1h"}, "window only"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": 1, "direction": "down"}, "fit"),
        ({"kind": "price_below", "symbol": "BTC", "threshold": 1, "direction": "up"}, "fit"),
        ({"kind": "pct_change", "symbol": "BTC", "threshold": 5, "window": "2m"}, "out of range"),
        ({"kind": "formula_above", "symbol": "BTC", "threshold": 1}, "saved formulas"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": 1, "formula": "x"}, "formula only"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": 1, "interval": "4h"}, "interval"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": 1, "cooldown": "1h"}, "recurring"),
        ({"kind": "rsi_above", "symbol": "BTC", "threshold": 101}, "between 0 and 100"),
        ({"kind": "nope", "symbol": "BTC", "threshold": 1}, "Unknown alert kind"),
    ],
)
def test_bad_requests(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        parse_request(now=NOW, **kwargs)


# -- parameters, hysteresis and engine rules ------------------------------------------------


@dataclass
class Row:
    """A stand-in for ``storage.models.Alert``."""

    id: int
    kind: str
    coin_id: str | None
    params: dict[str, Any]
    recurring: bool = False
    cooldown_seconds: int = 0
    state: dict[str, Any] = field(default_factory=dict)


def _row(kind: str, threshold: object, coin: str | None = "bitcoin", **extra: Any) -> Row:
    options = {k: extra.pop(k) for k in ("window", "direction", "formula") if k in extra}
    request = parse_request(
        kind,
        coin and coin.upper(),
        threshold,
        recurring=extra.pop("recurring", False),
        interval=extra.pop("interval", None),
        now=NOW,
        **options,
    )
    assert request.threshold is not None
    params = alert_params(
        request,
        request.threshold,
        portfolio_id=extra.pop("portfolio_id", None),
        portfolio="default" if request.kind.is_portfolio else None,
        formula_id=extra.pop("formula_id", None),
    )
    return Row(7, kind, coin, params, request.recurring, request.cooldown_s, **extra)


@pytest.mark.parametrize(
    ("row", "metric", "direction", "threshold", "rearm"),
    [
        (_row("price_above", "100k"), "price:bitcoin", Direction.UP, 100000.0, 99000.0),
        (_row("price_below", "2500"), "price:bitcoin", Direction.DOWN, 2500.0, 2525.0),
        (
            _row("pct_change", "5", window="1h", direction="up"),
            "pct:bitcoin:1h",
            Direction.UP,
            5.0,
            4.5,
        ),
        (
            _row("pct_change", "5", window="24h", direction="down"),
            "pct:bitcoin:24h",
            Direction.DOWN,
            -5.0,
            -4.5,
        ),
        (_row("pct_change", "3", window="1d"), "abspct:bitcoin:24h", Direction.UP, 3.0, 2.5),
        (_row("rsi_above", 70, interval="4h"), "rsi:bitcoin:4h", Direction.UP, 70.0, 65.0),
        (_row("rsi_below", 30), "rsi:bitcoin:1d", Direction.DOWN, 30.0, 35.0),
        (_row("depeg", 1, coin="usd-coin"), "depeg:usd-coin", Direction.UP, 1.0, 0.9),
        (
            _row("portfolio_above", "50k", coin=None, portfolio_id=3),
            "portfolio:3",
            Direction.UP,
            50000.0,
            49500.0,
        ),
        (
            _row("portfolio_below", "20k", coin=None, portfolio_id=3),
            "portfolio:3",
            Direction.DOWN,
            20000.0,
            20200.0,
        ),
        (
            _row("formula_above", "0.5", formula="gap", formula_id=9, interval="1h"),
            "formula:9:bitcoin:1h",
            Direction.UP,
            0.5,
            0.495,
        ),
        (
            _row("formula_below", "-2", formula="gap", formula_id=9),
            "formula:9:bitcoin:1d",
            Direction.DOWN,
            -2.0,
            -1.98,
        ),
    ],
)
def test_rule_spec_for_every_kind(
    row: Row, metric: str, direction: Direction, threshold: float, rearm: float
) -> None:
    one_shot = rule_spec(row)
    assert isinstance(one_shot, RuleSpec)
    assert (one_shot.rule_id, one_shot.metric) == (7, metric)
    assert (one_shot.direction, one_shot.threshold) == (direction, threshold)
    assert not one_shot.recurring and one_shot.cooldown_s == 0 and one_shot.rearm_level is None
    assert Decimal(row.params["rearm"]) == Decimal(str(rearm))
    assert metric_key(row.kind, row.coin_id, row.params) == metric
    row.recurring, row.cooldown_seconds = True, 1800
    row.state = {"armed": False, "cooldown_until": 1234.5}
    recurring = rule_spec(row)
    assert recurring.recurring and recurring.cooldown_s == 1800
    assert recurring.rearm_level == pytest.approx(rearm)
    assert not recurring.armed and recurring.cooldown_until == 1234.5


def test_params_are_json_strings_and_equal_for_equal_triggers() -> None:
    once = _row("price_above", "100k")
    again = _row("price_above", 100000, recurring=True)
    assert (
        once.params
        == again.params
        == {
            "threshold": "100000",
            "base_currency": "USD",
            "rearm": "99000",
        }
    )
    pct = _row("pct_change", "5%", window="60m", direction="down")
    assert pct.params == {"threshold": "5", "window": "1h", "direction": "down", "rearm": "-4.5"}


def test_rearm_never_below_zero_for_absolute_metrics() -> None:
    assert rearm_level(AlertKind.DEPEG, Decimal("0.05")) == 0
    assert rearm_level(AlertKind.PCT_CHANGE, Decimal("0.3"), PctDirection.ANY) == 0
    assert rearm_level(AlertKind.PCT_CHANGE, Decimal("0.3"), PctDirection.UP) == Decimal("-0.2")


def test_malformed_rows_raise_value_error() -> None:
    with pytest.raises(ValueError):
        rule_spec(Row(1, "price_above", None, {"threshold": "5"}))
    with pytest.raises(ValueError):
        rule_spec(Row(1, "volume", "bitcoin", {"threshold": "5"}))


# -- replaying history through the engine ---------------------------------------------------


def test_replay_counts_crossings_with_hysteresis_and_cooldown() -> None:
    spec = RuleSpec(1, "m", Direction.UP, 100.0, True, cooldown_s=3600, rearm_level=99.0)
    hour = 3600.0
    # oscillating around 100 inside the band: one firing; back below 99, up again: two
    values = [98, 101, 99.5, 100.5, 99.8, 101, 98.5, 102, 98, 103]
    times = [i * hour for i in range(len(values))]
    assert replay_firings(spec, times, values) == [1 * hour, 7 * hour, 9 * hour]
    slow = RuleSpec(1, "m", Direction.UP, 100.0, True, cooldown_s=3 * hour, rearm_level=99.0)
    assert replay_firings(slow, times, values) == [1 * hour, 7 * hour]
    once = RuleSpec(1, "m", Direction.UP, 100.0)
    assert replay_firings(once, times, values) == [1 * hour]


def test_replay_skips_non_finite_values_and_seeds_first() -> None:
    spec = RuleSpec(1, "m", Direction.DOWN, 10.0, True, rearm_level=11.0)
    values = [float("nan"), 9.0, 12.0, float("inf"), 9.5]
    assert replay_firings(spec, [0, 1, 2, 3, 4], values) == [4.0]
