"""The console front-end and the CLI, end to end on the offline market."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import App, open_app
from bot.cli import app as cli
from bot.commands import split_currency
from bot.console import AGENT_NOT_WIRED, Console
from bot.settings import Settings
from tests.shared_data import SKIP_REASON, USDC_HOURLY
from tools.clock import FakeClock
from tools.identity import ChatRef, UserRef

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
USDC_CSV = USDC_HOURLY


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith("CRYPTOGUARD_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CRYPTOGUARD_MARKET", "offline")
    monkeypatch.setenv("CRYPTOGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    yield tmp_path


@pytest.fixture
async def offline_app(database_url: str) -> AsyncIterator[App]:
    settings = Settings(_env_file=None, market="offline", database_url=database_url)
    async with open_app(settings, clock=FakeClock(NOW)) as application:
        yield application


async def test_console_commands(offline_app: App) -> None:
    console = Console(offline_app)
    price = await console.handle("/price btc ETH")
    assert "SIMULATED" in price
    assert "BTC" in price and "Bitcoin" in price and "Ethereum" in price
    assert "$" in price
    eur = await console.handle("/price xrp in eur")
    assert "PRICE (EUR)" in eur and "€" in eur
    top = await console.handle("/top 5")
    assert len([line for line in top.splitlines() if line[:2].strip().isdigit()]) == 5
    depeg = await console.handle("/depeg usdc eurc")
    assert "USDC" in depeg and "EURC" in depeg and "EUR" in depeg
    assert "/price" in await console.handle("/help")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/price", "Usage: /price"),
        ("/price nosuchcoin", 'Unknown coin "nosuchcoin"'),
        ("/price btc in doge", 'Unsupported currency "doge"'),
        ("/price <script>", "is not a coin symbol"),
        ("/top abc", '"abc" is not a number'),
        ("/top 1000", "1 to 100"),
        ("/depeg btc", "not a tracked stablecoin"),
        ("/frobnicate", "Unknown command /frobnicate"),
        ('/price "unclosed', "is not a coin symbol"),
        ("what's the price of btc?", AGENT_NOT_WIRED),
        ("", ""),
    ],
)
async def test_console_bad_input_gets_specific_messages(
    offline_app: App, line: str, expected: str
) -> None:
    answer = await Console(offline_app).handle(line)
    assert expected in answer
    assert "Traceback" not in answer


async def test_unexpected_errors_become_an_incident_id(
    offline_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    console = Console(offline_app)

    async def broken(args: list[str]) -> str:
        raise RuntimeError("secret internals")

    console.commands._handlers["price"] = broken
    answer = await console.handle("/price btc")
    assert "incident" in answer and "secret internals" not in answer
    assert any("incident" in r.getMessage() for r in caplog.records)


async def test_users_are_registered_once_per_platform_identity(offline_app: App) -> None:
    ref = UserRef("console", "alice", "Alice")
    first = await offline_app.users.ensure(ref)
    again = await offline_app.users.ensure(ref)
    assert first.created and not again.created and first.id == again.id
    other = await offline_app.users.ensure(UserRef("telegram", "alice"))
    assert other.id != first.id


def test_split_currency() -> None:
    assert split_currency(["btc,", "eth", "in", "eur"]) == (["btc", "eth"], "eur")
    assert split_currency(["btc"]) == (["btc"], "usd")


def test_cli_version_and_help() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("cryptoguard ")
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "chat", "price", "top", "depeg", "db"):
        assert command in result.stdout


def test_cli_price_top_depeg_and_db_upgrade(offline_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (offline_env / "data" / "cryptoguard.db").exists()
    result = runner.invoke(cli, ["price", "btc", "sol", "--vs", "eur"])
    assert result.exit_code == 0, result.output
    assert "SOL" in result.stdout and "PRICE (EUR)" in result.stdout
    result = runner.invoke(cli, ["top", "3"])
    assert result.exit_code == 0 and "Top" in result.stdout
    result = runner.invoke(cli, ["depeg"])
    assert result.exit_code == 0 and "tracked stablecoins" in result.stdout


def test_cli_errors_are_plain_messages_with_exit_code(offline_env: Path) -> None:
    result = CliRunner().invoke(cli, ["price", "nosuchcoin"])
    assert result.exit_code == 1
    assert 'Unknown coin "nosuchcoin"' in result.output
    assert "Traceback" not in result.output


def test_cli_rejects_invalid_configuration(
    offline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTOGUARD_MARKET", "sometimes")
    result = CliRunner().invoke(cli, ["price", "btc"])
    assert result.exit_code == 2 and "Invalid configuration" in result.output
    assert "market" in result.output


def test_chat_reads_until_end_of_input(offline_env: Path) -> None:
    result = CliRunner().invoke(cli, ["chat"], input="/price btc\nhello\n/reset\n")
    assert result.exit_code == 0, result.output
    assert "BTC" in result.stdout
    assert "I'm CryptoGuard" in result.stdout  # the assistant's greeting
    assert "Conversation cleared" in result.stdout


@pytest.mark.skipif(not USDC_CSV.exists(), reason=SKIP_REASON)
def test_replay_through_settings(offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRYPTOGUARD_OFFLINE__REPLAY", f"USDC={USDC_CSV}")
    result = CliRunner().invoke(cli, ["price", "usdc"])
    assert result.exit_code == 0, result.output
    assert "replayed from usdc_usd_chainlink_hourly" in result.stdout


def test_missing_replay_file_is_a_configuration_error(
    offline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRYPTOGUARD_OFFLINE__REPLAY", "USDC=/nonexistent/usdc.csv")
    result = CliRunner().invoke(cli, ["price", "usdc"])
    assert result.exit_code == 1 and "Replay file for USDC not found" in result.output


async def test_market_refresh_job_runs_and_keeps_simulated_quotes_out_of_storage(
    offline_app: App,
) -> None:
    await offline_app.refresh_market()
    assert await offline_app.quote_store.load(["bitcoin"]) == []  # only live quotes are kept
    assert offline_app.prices.resolver.lookup("btc") is not None


async def test_console_analysis_commands(offline_app: App) -> None:
    console = Console(offline_app)
    ta = await console.handle("/ta btc 4h rsi macd")
    assert "RSI" in ta and "MACD" in ta
    formula = await console.handle("/formula eth RSI(7) - RSI(21)")
    assert "RSI(7) - RSI(21)" in formula
    bad = await console.handle("/formula eth RSX(14)")
    assert 'Unknown function "RSX"' in bad and "^" in bad
    assert "Saved momentum" in await console.handle("/formula save momentum RSI(14) - RSI(28)")
    assert "momentum" in await console.handle("/formula list")
    assert "RSI(14) - RSI(28)" in await console.handle("/formula btc momentum")
    assert "Deleted" in await console.handle("/formula delete momentum")
    backtest = await console.handle("/backtest eth rsi 6m")
    assert "buy and hold" in backtest and "SIMULATED" in backtest
    assert "Usage: /backtest" in await console.handle("/backtest eth")
    assert 'Unknown strategy "nonsense"' in await console.handle("/backtest eth nonsense")


async def test_console_charts_are_saved_as_png(offline_app: App, tmp_path: Path) -> None:
    offline_app.settings.data_dir = tmp_path
    console = Console(offline_app)
    for line, name in (
        ("/chart btc 30", "btc-30d-1d.png"),
        ("/depeg chart eurc 10", "eurc-peg-10d.png"),
    ):
        answer = await console.handle(line)
        assert f"Saved to {tmp_path / 'charts' / name}" in answer
        assert (tmp_path / "charts" / name).read_bytes().startswith(b"\x89PNG")
    assert "not a tracked stablecoin" in await console.handle("/depeg chart btc")
    assert "Usage: /depeg chart" in await console.handle("/depeg chart")
    assert "is not a number of days" in await console.handle("/chart btc lots")
    history = await console.handle("/history btc 90")
    assert "last 90 days" in history and "Volatility" in history
    assert "not a date" in await console.handle("/history btc 2024-13-45")


async def test_console_portfolio_commands(offline_app: App, tmp_path: Path) -> None:
    offline_app.settings.data_dir = tmp_path
    console = Console(offline_app)
    assert "Recorded trade #" in await console.handle("/buy btc 0.5 at 48k on 2026-01-05")
    assert "Recorded trade #" in await console.handle("/buy eth 2 at 3,000 on 2026-02-01")
    assert "cannot sell" in (await console.handle("/sell btc 5 at 50k")).lower()
    summary = await console.handle("/portfolio")
    assert "0.5 BTC" in summary and "2 ETH" in summary
    charts = await console.handle("/portfolio chart")
    assert (tmp_path / "charts" / "portfolio-allocation.png").read_bytes()[:4] == b"\x89PNG"
    assert charts.count("Saved to") == 2
    trades = await console.handle("/trades")
    assert "BTC" in trades and "ETH" in trades
    assert "BTC" in await console.handle("/target btc 70 eth 30")
    assert await console.handle("/rebalance")
    assert "Recorded trade #" in await console.handle("/sell btc 0.1 at 90k on 2026-03-01")
    tax = await console.handle("/tax 2026 fifo")
    assert f"Saved to {tmp_path / 'charts' / 'form-8949-2026-fifo.csv'}" in tax
    assert (tmp_path / "charts" / "form-8949-2026-fifo.csv").read_text().startswith("Part")
    assert "Saved to" in await console.handle("/export")
    exported = tmp_path / "charts" / "trades.csv"
    dry = await console.handle(f"/import {exported}")
    assert "To import:" in dry
    again = await console.handle(f"/import {exported} confirm")
    assert "Imported 0 new trades" in again  # its own export: every trade is already there
    assert "Cannot read" in await console.handle("/import /nonexistent/file.csv")
    assert "Usage: /buy" in await console.handle("/buy btc")
    assert 'Unexpected "for"' in await console.handle("/buy btc 1 for 5")
    assert "No trade #999" in await console.handle("/deltrade 999")


async def test_file_path_commands_are_console_only(offline_app: App) -> None:
    from bot.commands import Commands

    async def attach(_: object) -> str:
        return ""

    chat = ChatRef("telegram", 42, private=True)
    remote = Commands(offline_app, UserRef("telegram", "42"), chat, attach)  # type: ignore[arg-type]
    assert "import" not in remote
    answer = await remote.run("import", ["/etc/passwd"])
    assert answer.startswith("Unknown command /import")
    local = Commands(offline_app, UserRef("console", "me"), ChatRef("console", 0), attach)  # type: ignore[arg-type]
    assert "import" in local
