"""Resampling CoinGecko market_chart points into UTC-aligned OHLCV bars."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.market.providers import resample_market_chart
from tools.market.providers.resample import bar_start
from tools.market.types import INTERVALS

H = 3600
D = 86400
T0 = int(datetime(2025, 2, 24, tzinfo=UTC).timestamp())  # a Monday, 00:00 UTC


def test_hourly_bars_from_points_exact_values() -> None:
    prices = [(T0 + 60, 10.0), (T0 + 1200, 12.0), (T0 + 3000, 9.0), (T0 + H + 5, 11.0)]
    volumes = [(T0 + 60, 2400.0), (T0 + 3000, 4800.0), (T0 + H + 5, 7200.0)]
    bars = resample_market_chart(prices, volumes, H)
    assert [b.ts for b in bars] == [
        datetime(2025, 2, 24, 0, tzinfo=UTC),
        datetime(2025, 2, 24, 1, tzinfo=UTC),
    ]
    first = bars[0]
    assert (first.open, first.high, first.low, first.close) == (10.0, 12.0, 9.0, 9.0)
    # last rolling-24h volume in the bar (4800 quote units) * 1h/24h, in base units at close 9
    assert first.volume == pytest.approx(4800 / 24 / 9.0)
    assert bars[1].volume == pytest.approx(7200 / 24 / 11.0)


def test_daily_bar_uses_the_last_24h_volume_of_the_day() -> None:
    prices = [(T0 + 10, 100.0), (T0 + 12 * H, 110.0), (T0 + 23 * H, 105.0)]
    volumes = [(T0 + 10, 1_000.0), (T0 + 12 * H, 2_000.0), (T0 + 23 * H, 2_100.0)]
    (bar,) = resample_market_chart(prices, volumes, D)
    assert (bar.open, bar.high, bar.low, bar.close) == (100.0, 110.0, 100.0, 105.0)
    assert bar.volume == pytest.approx(2_100.0 / 105.0)


def test_weekly_bars_start_on_monday_and_sum_daily_volumes() -> None:
    # Sunday 2025-02-23 then Monday..Wednesday of the next week
    prices = [(T0 - D + 10, 50.0), (T0 + 10, 60.0), (T0 + D + 10, 70.0), (T0 + 2 * D + 10, 65.0)]
    volumes = [(t, 700.0) for t, _ in prices]
    bars = resample_market_chart(prices, volumes, 7 * D)
    assert [b.ts for b in bars] == [
        datetime(2025, 2, 17, tzinfo=UTC),  # the week holding Sunday the 23rd
        datetime(2025, 2, 24, tzinfo=UTC),
    ]
    assert bars[0].volume == pytest.approx(700 / 50)
    assert bars[1].volume == pytest.approx(700 / 60 + 700 / 70 + 700 / 65)
    assert (bars[1].open, bars[1].high, bars[1].low, bars[1].close) == (60.0, 70.0, 60.0, 65.0)


def test_missing_volume_gives_zero_volume() -> None:
    (bar,) = resample_market_chart([(T0, 5.0)], [], H)
    assert bar.volume == 0.0


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        ("1h", datetime(2025, 2, 26, 13, tzinfo=UTC)),
        ("4h", datetime(2025, 2, 26, 12, tzinfo=UTC)),
        ("1d", datetime(2025, 2, 26, tzinfo=UTC)),
        ("1w", datetime(2025, 2, 24, tzinfo=UTC)),
    ],
)
def test_bar_start_alignment(interval: str, expected: datetime) -> None:
    ts = int(datetime(2025, 2, 26, 13, 47, 5, tzinfo=UTC).timestamp())
    assert bar_start(ts, INTERVALS[interval]) == int(expected.timestamp())


points = st.lists(
    st.tuples(
        st.integers(min_value=T0 - 400 * D, max_value=T0 + 400 * D),
        st.floats(min_value=1e-9, max_value=1e7, allow_nan=False, allow_infinity=False),
    ),
    min_size=1,
    max_size=200,
)


@given(prices=points, volumes=points, interval=st.sampled_from(list(INTERVALS)))
def test_bars_are_consistent(
    prices: list[tuple[int, float]], volumes: list[tuple[int, float]], interval: str
) -> None:
    prices = sorted(prices, key=lambda p: p[0])
    volumes = sorted(volumes, key=lambda p: p[0])
    seconds = INTERVALS[interval]
    bars = resample_market_chart(prices, volumes, seconds)
    assert len(bars) == len({bar_start(t, seconds) for t, _ in prices})
    assert [b.ts for b in bars] == sorted({b.ts for b in bars})
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.volume >= 0
        assert bar_start(int(bar.ts.timestamp()), seconds) == int(bar.ts.timestamp())
