"""``cryptoguard run`` end to end, as real processes on the offline market.

The scheduler, the dispatcher and the console front-end run in a child process (see
:mod:`tests.bot.run_helpers`); the tests read what the console user sees.

* First run (fresh SQLite database): the real on-chain USDC/USD hourly file of March 2023
  is replayed and the depeg monitor's warning is pushed to the console; two price alerts
  are typed into the console, and the BTC one fires while the process runs. SIGTERM,
  with the console's stdin still open, stops the process cleanly.
* Restart on the same database while USDC is still off its peg: the warning already sent
  is not sent again, the BTC alert (one-shot, fired) stays quiet, and the ETH alert fires
  at the first tick, because ETH crossed its threshold while the process was down.
* Two processes on one PostgreSQL database: one leads the scheduler; when it is killed
  with SIGKILL, the other takes over within ``leader_poll_s``.

Timing. A replay shows the file's first row when the market is created and then plays
``REPLAY_SPEED`` data seconds per wall second; the market ticks every ``TICK_S`` seconds
(the minimum). The USDC file is on its peg for its first 49 hours and off it until its
end (hour 80), then starts over. At 6000x the depeg begins ~29.4 s after the market is
created and lasts ~19 s (three or four ticks). The BTC alert fires at most ~23 s after
the first tick, so both messages are shown, and the process stopped, while USDC is
still off its peg, even with a start-up of 20 s. The high and critical tiers are raised
above the file's worst deviation (11.7 %), so the whole episode is one tier, "warning",
and the state the restart finds does not depend on which hours the ticks happened to see.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bot.run_helpers import BotProcess, bot_env
from tests.conftest import PostgresServer
from tests.shared_data import SKIP_REASON, USDC_HOURLY

TICK_S = 5
REPLAY_SPEED = 6000  # 100 data minutes per second: the depeg (hour 49) ~29.4 s after start
LEADER_POLL_S = 2
#: Start-up (migrations, the offline model) takes 6-20 s on a busy machine.
STARTUP_TIMEOUT_S = 120  # torch + MiniLM load; slow on a busy 2-core machine
FIRST_RUN_TIMEOUT_S = 60
#: Off-peg hours of the real file whose deviation is a warning (1.22 % and 0.93 %).
WARNING_HOURS = ("2023-03-11T01:00:00Z", "2023-03-11T02:00:00Z")

DEPEG_WARNING = "USDC depeg warning"
BTC_FIRED = "Alert #1: BTC price rose above $55,000.00"
ETH_FIRED = "Alert #2: ETH price rose above $3,500.00"


def scenario_env(data_dir: Path, replays: dict[str, Path]) -> dict[str, str]:
    """Settings of the SQLite scenario (fast ticks, one-sample persistence)."""
    return bot_env(
        {
            "CRYPTOGUARD_MARKET": "offline",
            "CRYPTOGUARD_LLM": "offline",
            "CRYPTOGUARD_DATA_DIR": str(data_dir),
            "CRYPTOGUARD_OFFLINE__REPLAY": ",".join(f"{s}={p}" for s, p in replays.items()),
            "CRYPTOGUARD_OFFLINE__REPLAY_SPEED": str(REPLAY_SPEED),
            "CRYPTOGUARD_MARKET_REFRESH_S": str(TICK_S),
            "CRYPTOGUARD_DEPEG__PERSIST_SAMPLES": "1",
            "CRYPTOGUARD_DEPEG__HIGH_PCT": "20",
            "CRYPTOGUARD_DEPEG__CRITICAL_PCT": "40",
            "CRYPTOGUARD_DELIVERY__INTERVAL_S": "1",
        }
    )


def write_usdc_warning_rows(path: Path) -> Path:
    """The real file's first two off-peg hours (both warnings), replayed in a loop."""
    with USDC_HOURLY.open(newline="") as source:
        rows = list(csv.reader(source))
    header, body = rows[0], rows[1:]
    picked = [row for row in body if row[0] in WARNING_HOURS]
    assert len(picked) == len(WARNING_HOURS), "the shared USDC file changed"
    with path.open("w", newline="") as target:
        csv.writer(target).writerows([header, *picked])
    return path


def write_hourly(path: Path, prices: list[int]) -> Path:
    """A replay file with one price per hour."""
    lines = ["hour_start_utc,price_usd"]
    lines += [f"2026-01-01T{h:02d}:00:00Z,{price}" for h, price in enumerate(prices)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_btc_square_wave(path: Path) -> Path:
    """BTC at 50k for 11 hours, then 60k for 11: crosses 55k upwards once per loop.

    At 6000x each level lasts 6.6 s, more than a tick, so every loop (13.2 s) has a tick
    below and then a tick above 55k."""
    return write_hourly(path, [50_000] * 11 + [60_000] * 11)


@dataclass
class Finished:
    """The output of a run that was stopped with SIGTERM."""

    stdout: str
    stderr: str
    exit_code: int | None
    description: str


def finish(bot: BotProcess) -> Finished:
    """Stop ``bot`` with SIGTERM (stdin still open) and keep what it wrote."""
    code = bot.terminate()
    return Finished(bot.text("stdout"), bot.text("stderr"), code, bot.describe())


@dataclass
class Scenario:
    """The two SQLite runs, sharing one data directory."""

    first: Finished
    restart: Finished


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """Run 1 until the depeg warning and the BTC alert are shown, then a restart until
    its first tick is delivered.

    Nothing is asserted here: each test checks its part, so one failure does not hide
    the others."""
    if not USDC_HOURLY.exists():
        pytest.skip(SKIP_REASON)
    root = tmp_path_factory.mktemp("run-e2e")
    data_dir = root / "data"
    replays = {
        "USDC": USDC_HOURLY,
        "BTC": write_btc_square_wave(root / "btc-square-wave.csv"),
        "ETH": write_hourly(root / "eth-3000.csv", [3000, 3000]),
    }
    bot = BotProcess("first run", scenario_env(data_dir, replays), cwd=root)
    try:
        bot.send("/alert btc above 55k")
        bot.send("/alert eth above 3.5k")
        deadline = time.monotonic() + FIRST_RUN_TIMEOUT_S
        for needle in (DEPEG_WARNING, BTC_FIRED):
            bot.wait_for(needle, timeout=max(0.0, deadline - time.monotonic()))
    finally:
        first = finish(bot)

    replays = {
        "USDC": write_usdc_warning_rows(root / "usdc-warning-hours.csv"),
        "BTC": write_hourly(root / "btc-60000.csv", [60_000, 60_000]),
        "ETH": write_hourly(root / "eth-4000.csv", [4000, 4000]),
    }
    bot = BotProcess("restart", scenario_env(data_dir, replays), cwd=root)
    try:
        bot.wait_for(ETH_FIRED, timeout=STARTUP_TIMEOUT_S + TICK_S)
    finally:
        restart = finish(bot)
    yield Scenario(first, restart)


def assert_clean_exit(run: Finished) -> None:
    assert run.exit_code == 0, f"exit code {run.exit_code}{run.description}"
    assert "Stopped" in run.stderr, run.description
    for bad in ("Traceback", "Fatal Python error", " ERROR "):
        assert bad not in run.stderr, f"{bad!r} logged{run.description}"


def test_depeg_warning_is_pushed_to_the_console(scenario: Scenario) -> None:
    out = scenario.first.stdout
    assert out.count(DEPEG_WARNING) == 1, scenario.first.description
    # the monitor's message as the console renders it: severity tag, title, text
    assert "[WARNING] USDC warning" in out
    found = re.search(r"USDC depeg warning: 0\.\d{4} USD, (\d+\.\d\d)% below its 1 USD peg", out)
    assert found is not None, scenario.first.description
    assert float(found.group(1)) >= 0.5  # past the console user's default threshold
    assert "Depeg risk" in out
    assert "Scheduler leader" in scenario.first.stderr


def test_price_alert_typed_in_the_console_fires_while_running(scenario: Scenario) -> None:
    out = scenario.first.stdout
    assert "Alert #1 set: BTC above $55,000 (one-shot)." in out, scenario.first.description
    assert "Alert #2 set: ETH above $3,500 (one-shot)." in out
    assert f"{BTC_FIRED}: now $60,000.00. One-shot: now off." in out, scenario.first.description
    assert out.count(BTC_FIRED) == 1
    assert "Alert #2: " not in out  # ETH stayed at 3,000


def test_first_run_stops_cleanly_on_sigterm(scenario: Scenario) -> None:
    assert_clean_exit(scenario.first)


def test_restart_fires_what_crossed_while_down_and_repeats_nothing(scenario: Scenario) -> None:
    # the premise: the first run was stopped in the middle of the depeg episode
    assert "USDC depeg recovered" not in scenario.first.stdout, (
        "the first run outlived the replayed depeg (too slow a start-up?)"
        + scenario.first.description
    )
    out = scenario.restart.stdout
    # ETH went from 3,000 (last tick before the stop) to 4,000: a crossing, fired once
    assert f"{ETH_FIRED}: now $4,000.00. One-shot: now off." in out, scenario.restart.description
    # USDC was off its peg at that same tick: a monitor that forgot its state, or an
    # outbox that forgot what it sent, would have shown the warning (or a recovery)
    assert "USDC depeg" not in out and "USDC warning" not in out, (
        scenario.first.description + scenario.restart.description
    )
    assert "Alert #1" not in out  # one-shot, already fired
    both = scenario.first.stdout + scenario.restart.stdout
    assert both.count(DEPEG_WARNING) == 1
    assert both.count(BTC_FIRED) == 1


def test_restart_stops_cleanly_on_sigterm(scenario: Scenario) -> None:
    assert_clean_exit(scenario.restart)


# -- two processes on one PostgreSQL database ------------------------------------------------


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, never-migrated PostgreSQL database: both processes start on it at once
    (the first start of a scaled-out deployment), so both migrate it and set up the
    agent's checkpoint tables concurrently."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


def leader_pid(bots: list[BotProcess]) -> int | None:
    """The pid named in the first "Scheduler leader" line of any of ``bots``."""
    for bot in bots:
        for line in bot.text("stderr").splitlines():
            if "Scheduler leader:" in line:
                return int(line.rsplit(":", 1)[1])
    return None


@pytest.mark.postgres
def test_one_scheduler_leader_per_postgres_database_and_takeover_after_a_crash(
    postgres_url: str, tmp_path: Path
) -> None:
    env = bot_env(
        {
            "CRYPTOGUARD_MARKET": "offline",
            "CRYPTOGUARD_LLM": "offline",
            "CRYPTOGUARD_DATA_DIR": str(tmp_path / "data"),
            "CRYPTOGUARD_DATABASE_URL": postgres_url,
            "CRYPTOGUARD_MARKET_REFRESH_S": str(TICK_S),
            "CRYPTOGUARD_LEADER_POLL_S": str(LEADER_POLL_S),
        }
    )
    bots = [BotProcess(name, env, cwd=tmp_path) for name in ("bot-a", "bot-b")]
    try:
        for bot in bots:  # both up: migrated, leader election tried, console running
            assert bot.wait_for("CryptoGuard console", timeout=STARTUP_TIMEOUT_S), bot.describe()
        pid = leader_pid(bots)
        assert pid is not None, "".join(b.describe() for b in bots)
        leader = next(b for b in bots if b.pid == pid)
        standby = next(b for b in bots if b.pid != pid)
        assert leader.count("Scheduler leader", "stderr") == 1, leader.describe()
        # the standby tries again every LEADER_POLL_S: two more tries must fail
        assert not standby.wait_for(
            "Scheduler leader", stream="stderr", timeout=2 * LEADER_POLL_S + 1
        ), standby.describe()

        assert leader.kill() == -9
        killed_at = time.monotonic()
        took_over = standby.wait_for("Scheduler leader", stream="stderr", timeout=LEADER_POLL_S + 8)
        waited = time.monotonic() - killed_at
        assert took_over, standby.describe()
        assert waited <= LEADER_POLL_S + 3, f"takeover took {waited:.1f} s{standby.describe()}"
        assert leader_pid([standby]) == standby.pid

        standby.terminate()
        assert "Stopped" in standby.text("stderr"), standby.describe()
    finally:
        for bot in bots:
            bot.close()
