"""FormulaService: evaluation reports, and saved formulas per user on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import talib

from storage import Database
from tools.analysis.fetch import SETTLE_BARS, days_for
from tools.analysis.formula import (
    CHART_VALUES,
    MAX_FETCH_BARS,
    MAX_SAVED_FORMULAS,
    FormulaError,
    FormulaService,
    UserFormula,
)
from tools.clock import FakeClock
from tools.errors import LimitError, NotFoundError, UserInputError
from tools.identity import UserRef
from tools.market.service import OFFLINE_LABEL
from tools.market.types import DataOrigin

from .ta_data import NOW, SeriesMarket, bars_of, offline_prices, series_prices, trending, walk

ALICE = UserRef("telegram", "1001", "Alice")
BOB = UserRef("discord", "1001", "Bob")  # same platform id, other platform: another user


def formulas(
    db: Database, closes: list[float] | None = None
) -> tuple[FormulaService, SeriesMarket]:
    market = SeriesMarket(closes if closes is not None else list(walk(300)))
    return FormulaService(series_prices(market), db, clock=FakeClock(NOW)), market


# -- evaluation -------------------------------------------------------------------------------


async def test_evaluate_reports_latest_and_recent_values(db: Database) -> None:
    closes = list(walk(300))
    svc, market = formulas(db, closes)
    report = await svc.evaluate("btc", "rsi(14) - RSI(28)")
    bars = bars_of(closes)
    expected = talib.RSI(bars.close, 14) - talib.RSI(bars.close, 28)
    assert report.latest == pytest.approx(expected[-1], abs=1e-9)
    assert [p.value for p in report.recent] == pytest.approx(list(expected[-10:]), abs=1e-9)
    assert [p.time for p in report.recent] == [bars.time(i) for i in range(290, 300)]
    assert report.expression == "RSI(14) - RSI(28)" and report.formula == "rsi(14) - RSI(28)"
    assert not report.is_signal and report.signal_on is None
    assert (report.warmup_bars, report.bars_needed, report.bars_available) == (28, 29, 300)
    assert report.last_bar_time == bars.time(299) and report.last_bar_partial
    assert report.source == "testfeed" and report.origin is DataOrigin.LIVE
    assert report.notice is None and report.notes == []
    assert report.saved_name is None and report.symbol == "BTC"
    # RSI is recursive: settling room (250 + twice the warm-up) on top of warm-up and the
    # chart's values.
    assert market.requests == [(days_for(28 + CHART_VALUES + SETTLE_BARS + 56, "1d"), "1d")]
    assert len(report.values) == len(report.ts) == 300 - 28
    assert report.values[-10:] == pytest.approx(list(expected[-10:]), abs=1e-9)


async def test_history_requested_depends_on_the_formula(db: Database) -> None:
    svc, market = formulas(db)
    await svc.evaluate("btc", "SMA(5000) < MAX(HIGH, 20)", interval="1h")
    await svc.evaluate("btc", "EMA(5000)", interval="1h")
    await svc.evaluate("btc", "CLOSE", interval="1w")
    assert market.requests == [
        (days_for(4999 + 1 + CHART_VALUES, "1h"), "1h"),  # no settling room after the warm-up
        (days_for(MAX_FETCH_BARS, "1h"), "1h"),  # capped
        (days_for(CHART_VALUES, "1w"), "1w"),
    ]


async def test_signal_state(db: Database) -> None:
    svc, _ = formulas(db, list(trending(200, 0.01, noise=0.004)))
    report = await svc.evaluate("btc", "RSI(14) > 70", interval="4h")
    assert report.is_signal and report.signal_on is True and report.latest == 1.0
    assert {p.value for p in report.recent} == {1.0}
    off = await svc.evaluate("btc", "RSI(14) < 30")
    assert off.signal_on is False and off.latest == 0.0


async def test_short_history_gives_no_value_and_says_why(db: Database) -> None:
    svc, _ = formulas(db, list(walk(12)))
    report = await svc.evaluate("btc", "SMA(20)")
    assert report.latest is None and report.recent == []
    assert report.notes == ["This formula needs 20 daily bars; only 12 are available."]
    assert (report.bars_needed, report.bars_available) == (20, 12)


async def test_undefined_latest_value_is_none(db: Database) -> None:
    svc, _ = formulas(db)
    report = await svc.evaluate("btc", "CLOSE / (OPEN - OPEN) > 1")
    assert report.latest is None and report.signal_on is None
    assert all(p.value is None for p in report.recent)


async def test_offline_evaluation_is_labelled(db: Database) -> None:
    svc = FormulaService(offline_prices(), db, clock=FakeClock(NOW))
    report = await svc.evaluate("eth", "(CLOSE - SMA(20)) / ATR(14)", interval="1h")
    assert report.notice == OFFLINE_LABEL and report.origin is DataOrigin.SIMULATED
    assert report.latest is not None and len(report.recent) == 10


async def test_bad_formula_and_interval(db: Database) -> None:
    svc, market = formulas(db)
    with pytest.raises(FormulaError, match='Unknown function "RSX"'):
        await svc.evaluate("btc", "RSX(14)")
    with pytest.raises(UserInputError, match="Unsupported interval"):
        await svc.evaluate("btc", "RSI(14)", interval="5m")
    assert market.requests == []  # nothing fetched for invalid input


# -- saved formulas ---------------------------------------------------------------------------


async def test_save_list_get_delete(db: Database) -> None:
    svc, _ = formulas(db)
    saved = await svc.save(ALICE, "Momentum", "  RSI(14) - RSI(28) ")
    assert saved == UserFormula("momentum", "RSI(14) - RSI(28)", NOW)
    await svc.save(ALICE, "band-pos_2", "(CLOSE - SMA(20)) / ATR(14)")
    assert [f.name for f in await svc.list(ALICE)] == ["band-pos_2", "momentum"]
    assert (await svc.get(ALICE, "MOMENTUM")).formula == "RSI(14) - RSI(28)"
    await svc.delete(ALICE, "momentum")
    assert [f.name for f in await svc.list(ALICE)] == ["band-pos_2"]
    with pytest.raises(NotFoundError, match='no saved formula called "momentum"'):
        await svc.delete(ALICE, "momentum")
    with pytest.raises(NotFoundError):
        await svc.get(ALICE, "momentum")


async def test_evaluate_by_saved_name(db: Database) -> None:
    closes = list(walk(300))
    svc, _ = formulas(db, closes)
    await svc.save(ALICE, "momentum", "RSI(14) - RSI(28)")
    report = await svc.evaluate("btc", "Momentum", user=ALICE)
    assert report.saved_name == "momentum" and report.formula == "RSI(14) - RSI(28)"
    direct = await svc.evaluate("btc", "RSI(14) - RSI(28)")
    assert report.latest == direct.latest
    # Without the user, or for another user, the name means nothing.
    with pytest.raises(FormulaError, match='Unknown name "momentum"') as anonymous:
        await svc.evaluate("btc", "momentum")
    with pytest.raises(FormulaError) as other:
        await svc.evaluate("btc", "momentum", user=BOB)
    assert 'none of your saved formulas is called "momentum"' in other.value.user_message
    assert "saved formulas" not in anonymous.value.user_message


async def test_another_users_formula_is_invisible(db: Database) -> None:
    svc, _ = formulas(db)
    await svc.save(ALICE, "secret", "RSI(14) > 70")
    assert await svc.list(BOB) == []
    with pytest.raises(NotFoundError) as missing:
        await svc.get(BOB, "nothing")
    with pytest.raises(NotFoundError) as foreign:
        await svc.get(BOB, "secret")
    assert foreign.value.user_message == 'You have no saved formula called "secret".'
    assert missing.value.user_message == 'You have no saved formula called "nothing".'
    with pytest.raises(NotFoundError):
        await svc.delete(BOB, "secret")
    assert [f.name for f in await svc.list(ALICE)] == ["secret"]  # untouched
    await svc.save(BOB, "secret", "CLOSE")  # Bob may use the same name for his own
    assert (await svc.get(BOB, "secret")).formula == "CLOSE"
    assert (await svc.get(ALICE, "secret")).formula == "RSI(14) > 70"


async def test_duplicate_name_is_a_clear_error(db: Database) -> None:
    svc, _ = formulas(db)
    await svc.save(ALICE, "x1", "CLOSE")
    with pytest.raises(UserInputError, match='already have a formula called "x1"'):
        await svc.save(ALICE, "X1", "OPEN")
    assert (await svc.get(ALICE, "x1")).formula == "CLOSE"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "1 to 32 characters"),
        ("a" * 33, "1 to 32 characters"),
        ("has space", "1 to 32 characters"),
        ("1st", "starting with a letter"),
        ("ümlaut", "1 to 32 characters"),
        ("close", '"close" is a formula keyword'),
        ("RSI", '"rsi" is a formula keyword'),
        ("and", "formula keyword"),
    ],
)
async def test_bad_names(db: Database, name: str, message: str) -> None:
    svc, _ = formulas(db)
    with pytest.raises(UserInputError, match=message):
        await svc.save(ALICE, name, "CLOSE")
    assert await svc.list(ALICE) == []


async def test_invalid_formula_is_not_saved(db: Database) -> None:
    svc, _ = formulas(db)
    with pytest.raises(FormulaError, match="Invalid RSI period"):
        await svc.save(ALICE, "bad", "RSI(0)")
    with pytest.raises(FormulaError, match="too long"):
        await svc.save(ALICE, "long", "CLOSE + " * 30 + "1")
    assert await svc.list(ALICE) == []


async def test_cap_per_user(db: Database) -> None:
    svc, _ = formulas(db)
    for i in range(MAX_SAVED_FORMULAS):
        await svc.save(ALICE, f"f{i}", f"SMA({i + 1})")
    with pytest.raises(LimitError, match=f"at most {MAX_SAVED_FORMULAS} formulas"):
        await svc.save(ALICE, "one_more", "CLOSE")
    await svc.save(BOB, "one_more", "CLOSE")  # the cap is per user
    await svc.delete(ALICE, "f0")
    await svc.save(ALICE, "one_more", "CLOSE")
    assert len(await svc.list(ALICE)) == MAX_SAVED_FORMULAS
