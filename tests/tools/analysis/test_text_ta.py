"""Plain-text renderings of technical and formula reports."""

from __future__ import annotations

from datetime import datetime

import pytest

from storage import Database
from tools.analysis.formula import FormulaService, UserFormula
from tools.analysis.technical import TechnicalService
from tools.analysis.text_ta import (
    format_number,
    formula_text,
    saved_formulas_text,
    technical_text,
)
from tools.clock import FakeClock
from tools.identity import UserRef
from tools.market.service import OFFLINE_LABEL

from .ta_data import NOW, SeriesMarket, offline_prices, series_prices, trending, walk

CONSOLE_USER = UserRef("console", "local")


async def test_technical_text_lists_every_indicator_and_the_stance() -> None:
    report = await TechnicalService(offline_prices()).analyse("btc")
    text = technical_text(report)
    lines = text.splitlines()
    assert lines[0] == OFFLINE_LABEL
    assert lines[1].startswith("BTC (Bitcoin), daily bars, last close $")
    assert lines[1].endswith("(2026-11-21, forming):")
    labels = ["RSI 14", "MACD 12/26/9", "BBANDS 20/2", "SMA 20/50/200", "EMA 12/26/50", "ATR 14",
              "STOCH 14/3/3"]  # fmt: skip
    assert [line.split(":")[0] for line in lines[2:9]] == [f"- {label}" for label in labels]
    assert lines[9].startswith(f"Stance: {report.stance.value.upper()}. ")
    assert lines[10] == f"Source: offline, {report.bars_available:,} daily bars."
    assert "% of price)" in lines[7] and "%K " in lines[8]


async def test_technical_text_shows_what_is_missing() -> None:
    market = SeriesMarket(list(trending(120, 0.002, noise=0.01)))
    report = await TechnicalService(series_prices(market)).analyse(
        "btc", ["sma", "rsi"], interval="4h"
    )
    text = technical_text(report)
    assert "SMA 200 needs 200 4-hour bars; only 120 are available." in text
    assert "- SMA 20/50/200: 20: $" in text and "4-hour bars" in text.splitlines()[0]
    assert OFFLINE_LABEL not in text
    short = await TechnicalService(series_prices(SeriesMarket([1.0, 2.0]))).analyse("btc", ["rsi"])
    assert "- RSI 14: RSI 14 needs 15 daily bars; only 2 are available." in technical_text(short)


async def test_formula_text_value_signal_and_shortage(db: Database) -> None:
    svc = FormulaService(series_prices(SeriesMarket(list(walk(300)))), db, clock=FakeClock(NOW))
    value = formula_text(await svc.evaluate("btc", "EMA(12)/EMA(26) - 1"))
    lines = value.splitlines()
    assert lines[0] == "BTC (Bitcoin), daily, EMA(12) / EMA(26) - 1:"
    assert lines[1].startswith("Value ") and lines[1].endswith(
        "on the last bar (2026-11-21, forming)."
    )
    assert lines[2].startswith("Last 10 values (2026-11-12 to 2026-11-21): ")
    assert lines[3] == "Needs 26 daily bars of history; 300 available. Source: testfeed."
    await svc.save(CONSOLE_USER, "hot", "RSI(14) > 70")
    signal = formula_text(await svc.evaluate("btc", "hot", user=CONSOLE_USER))
    assert 'RSI(14) > 70 (saved as "hot"):' in signal
    assert "Signal is ON" in signal or "Signal is OFF" in signal
    assert all(v in "01" for v in signal.splitlines()[2].split(": ")[1].split(", "))
    short_svc = FormulaService(series_prices(SeriesMarket([1.0] * 5)), db, clock=FakeClock(NOW))
    short = formula_text(await short_svc.evaluate("btc", "SMA(20)", interval="1h"))
    assert "No value: not enough history" in short
    assert "This formula needs 20 hourly bars; only 5 are available." in short
    assert "Last 10" not in short


def test_saved_formulas_text() -> None:
    assert saved_formulas_text([]) == "You have no saved formulas yet."
    when = datetime(2026, 1, 1, tzinfo=NOW.tzinfo)
    text = saved_formulas_text([UserFormula("momentum", "RSI(14) - RSI(28)", when)])
    assert text == "Your saved formulas (1 of 50):\nmomentum: RSI(14) - RSI(28)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (95123.456, "95,123.46"),
        (2.30119, "2.3012"),
        (0.000012346, "0.00001235"),
        (-0.5, "-0.5000"),
        (0.0, "0.00"),
        (1.5e20, "1.5e+20"),
        (1e-15, "1e-15"),
        (float("nan"), "n/a"),
        (float("inf"), "n/a"),
        (None, "n/a"),
    ],
)
def test_format_number(value: float | None, expected: str) -> None:
    assert format_number(value) == expected


def test_format_number_signed() -> None:
    assert format_number(12.5, signed=True) == "+12.5000"
    assert format_number(-12.5, signed=True) == "-12.5000"
