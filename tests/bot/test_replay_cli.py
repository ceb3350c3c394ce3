"""``cryptoguard replay``: CSV prices through the depeg monitor, printed with timestamps."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from tests.shared_data import SKIP_REASON, STABLECOINS, USDC_HOURLY
from tools.market.series import load_price_series

ROUNDS = STABLECOINS / "etherisc_usdc_usd_chainlink_rounds_20221120_20230312.csv"
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC  (\w+)\s+(.*)$")
needs_shared = pytest.mark.skipif(not USDC_HOURLY.exists(), reason=SKIP_REASON)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("CRYPTOGUARD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CRYPTOGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    yield


def replay(*args: str) -> tuple[int, list[tuple[datetime, str, str]], str, str]:
    """Run the command; (exit code, messages, summary line, stderr)."""
    result = CliRunner().invoke(cli, ["replay", *args])
    lines = result.stdout.strip().splitlines()
    messages = []
    for line in lines[:-1]:
        match = LINE.match(line)
        assert match, line
        when = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        messages.append((when, match[2], match[3]))
    return result.exit_code, messages, lines[-1] if lines else "", result.stderr


@needs_shared
def test_usdc_march_2023_hourly_replay() -> None:
    code, messages, summary, _ = replay(str(USDC_HOURLY), "--symbol", "USDC")
    assert code == 0
    assert [kind for _, kind, _ in messages] == ["warning", "critical", "recovered"]
    first_below = next(
        at for at, price in load_price_series(USDC_HOURLY).points if price < Decimal("0.97")
    )
    assert first_below == datetime(2023, 3, 11, 3, tzinfo=UTC)
    (warned, _, warning), (crit_at, _, critical), (rec_at, _, recovered) = messages
    assert warned == datetime(2023, 3, 11, 2, tzinfo=UTC) < first_below
    assert crit_at == datetime(2023, 3, 11, 4, tzinfo=UTC)
    assert rec_at == datetime(2023, 3, 11, 20, tzinfo=UTC)
    assert warning.startswith("USDC depeg warning: 0.9906 USD, 0.94% below its 1 USD peg")
    assert critical.startswith("USDC depeg critical: 0.9479 USD, 5.21% below its 1 USD peg")
    assert recovered.startswith("USDC depeg recovered from critical to high: 0.9798 USD")
    assert all("Depeg risk " in text for _, _, text in messages)
    assert summary.startswith("Replayed usdc_usd_chainlink_hourly_20230309_20230312.csv: 81 rows")
    assert "0 skipped" in summary and summary.endswith("; 3 messages.")
    assert "warning 0.5% / high 2% / critical 5%" in summary


@needs_shared
def test_irregular_chainlink_rounds_replay() -> None:
    code, messages, summary, _ = replay(str(ROUNDS), "--symbol", "usdc")
    assert code == 0
    assert [kind for _, kind, _ in messages] == [
        "warning",
        "high",
        "critical",
        "recovered",
        "recovered",
    ]
    times = [at for at, _, _ in messages]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] == datetime(2023, 3, 11, 1, 54, 47, tzinfo=UTC)
    series = load_price_series(ROUNDS)
    assert series.scale_detected  # Chainlink answers in 1e-8 units
    first_below = next(at for at, price in series.points if price < Decimal("0.97"))
    assert times[0] < first_below
    assert "recovered from critical to high" in messages[3][2]
    assert "recovered from high to warning" in messages[4][2]
    assert "400 rows read" in summary and "columns updatedAt/answer" in summary


@needs_shared
def test_thresholds_from_the_environment_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOGUARD_DEPEG__WARN_PCT", "3")
    monkeypatch.setenv("CRYPTOGUARD_DEPEG__HIGH_PCT", "8")
    monkeypatch.setenv("CRYPTOGUARD_DEPEG__CRITICAL_PCT", "11")
    code, messages, summary, _ = replay(str(USDC_HOURLY), "--symbol", "USDC")
    assert code == 0 and "warning 3% / high 8% / critical 11%" in summary
    assert [kind for _, kind, _ in messages] == [
        "warning",
        "high",
        "recovered",  # to warning
        "recovered",  # back within 2.9 %: the episode is over
        "warning",  # a new one
    ]
    assert "back within 2.9%" in messages[3][2]
    code, messages, summary, _ = replay(
        str(USDC_HOURLY), "--symbol", "USDC", "--critical", "12", "--persist-samples", "4"
    )
    assert code == 0 and "critical 12%" in summary and "persistence 4 samples" in summary
    assert [kind for _, kind, _ in messages][:2] == ["warning", "high"]
    assert messages[0][0] == datetime(2023, 3, 11, 6, tzinfo=UTC)  # four samples from 03:00


@needs_shared
def test_persistence_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOGUARD_DEPEG__PERSIST_SAMPLES", "1")
    monkeypatch.setenv("CRYPTOGUARD_DEPEG__PERSIST_MINUTES", "120")
    code, messages, summary, _ = replay(str(USDC_HOURLY), "--symbol", "USDC")
    assert code == 0 and "persistence 1 sample and 120 min" in summary
    assert messages[0][:2] == (datetime(2023, 3, 11, 3, tzinfo=UTC), "warning")


@needs_shared
def test_persist_minutes_flag() -> None:
    code, messages, summary, _ = replay(
        str(USDC_HOURLY), "--symbol", "USDC", "--persist-samples", "1", "--persist-minutes", "120"
    )
    assert code == 0 and "persistence 1 sample and 120 min" in summary
    assert messages[0][:2] == (datetime(2023, 3, 11, 3, tzinfo=UTC), "warning")


def test_daily_csv_with_date_and_close(tmp_path: Path) -> None:
    rows = [
        ("2024-01-01", "1.0000"),
        ("2024-01-02", "0.9990"),
        ("2024-01-03", "0.9900"),
        ("2024-01-04", "0.9850"),
        ("2024-01-05", "0.9400"),
        ("2024-01-06", "0.9300"),
        ("2024-01-07", "0.9980"),
        ("2024-01-08", "0.9990"),
        ("2024-01-09", "1.0000"),
    ]
    # Days out of order, a comment, a blank price and an unparsable date: all handled.
    lines = ["# synthetic daily prices", "date,open,close"]
    lines += [f"{d},1.0,{p}" for d, p in reversed(rows)]
    lines += ["2024-01-10,1.0,", "not a date,1.0,0.5"]
    csv = tmp_path / "daily.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, messages, summary, _ = replay(str(csv), "--symbol", "DAI")
    assert code == 0
    assert [(at.day, kind) for at, kind, _ in messages] == [
        (4, "warning"),
        (6, "critical"),
        (8, "recovered"),
    ]
    assert messages[2][2].startswith("DAI depeg recovered: 0.9990 USD, 0.10% below its 1 USD peg")
    assert "11 rows read (2 skipped, 0 duplicate times)" in summary
    assert "columns date/close" in summary and summary.endswith("3 messages.")


def test_one_stray_sample_gives_no_message(tmp_path: Path) -> None:
    csv = tmp_path / "stray.csv"
    prices = ["1.0", "1.0", "0.80", "1.0", "0.9995", "1.0"]
    csv.write_text(
        "timestamp,price\n"
        + "".join(f"2024-01-01T0{i}:00:00Z,{p}\n" for i, p in enumerate(prices)),
        encoding="utf-8",
    )
    code, messages, summary, _ = replay(str(csv), "--symbol", "USDT")
    assert code == 0 and messages == []
    assert summary.endswith("0 messages.")


def test_eur_coin_priced_in_usd_with_peg_and_currency(tmp_path: Path) -> None:
    csv = tmp_path / "eurc.csv"
    # 1 EUR = 1.08 USD throughout; 1.0476 USD is 3 % below the EUR peg.
    usd = ["1.0800", "1.0800", "1.0476", "1.0476", "1.0800", "1.0800"]
    csv.write_text(
        "when,usd_value\n" + "".join(f"{1700000000 + 3600 * i},{p}\n" for i, p in enumerate(usd)),
        encoding="utf-8",
    )
    code, messages, _, _ = replay(
        str(csv),
        "--symbol",
        "EURC",
        "--time-column",
        "WHEN",
        "--price-column",
        "usd_value",
        "--peg",
        "1.08",
        "--currency",
        "eur",
    )
    assert code == 0
    assert [kind for _, kind, _ in messages] == ["high", "recovered"]
    assert messages[0][2].startswith("EURC depeg high: 0.9700 EUR, 3.00% below its 1 EUR peg")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.csv", "--symbol", "USDC"], "Price file not found"),
        (["{csv}", "--symbol", "USDC", "--price-column", "nope"], "has no column 'nope'"),
        (["{csv}", "--symbol", "USDC", "--time-column", "nope"], "has no column 'nope'"),
        (["{csv}", "--symbol", "USDC", "--warn", "abc"], "--warn must be a number"),
        (["{csv}", "--symbol", "USDC", "--warn", "-1"], "--warn must be a positive number"),
        (["{csv}", "--symbol", "USDC", "--peg", "0"], "--peg must be a positive number"),
        (["{csv}", "--symbol", "USDC", "--warn", "3"], "warning < high < critical"),
        (["{csv}", "--symbol", "USDC", "--persist-samples", "0"], "--persist-samples must be"),
        (["{csv}", "--symbol", "USDC", "--persist-minutes", "-5"], "--persist-minutes must be"),
        (["{csv}", "--symbol", "USD C"], "--symbol must be a ticker"),
        (["{csv}", "--symbol", "USDC", "--currency", "dollars"], "--currency must be"),
        (["{csv}", "--symbol", "USDC", "--bogus"], "No such option"),
        (["{csv}"], "Missing option"),
        (["{empty}", "--symbol", "USDC"], "is empty"),
        (["{nocols}", "--symbol", "USDC"], "cannot tell which column holds the time"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("date,price\n2024-01-01,1.0\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("a,b\n1,2\n", encoding="utf-8")
    paths = {"{csv}": good, "{empty}": empty, "{nocols}": nocols, "missing.csv": tmp_path / "x.csv"}
    argv = [str(paths.get(a, a)) for a in args]
    result = CliRunner().invoke(cli, ["replay", *argv])
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""  # errors go to stderr
