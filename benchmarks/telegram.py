"""Telegram front-end benchmark: 1,000 users send ``/price btc`` at the same moment.

The real front-end (:class:`bot.telegram.bot.TelegramFrontEnd`: python-telegram-bot with
its ``AIORateLimiter``, long polling, the per-chat update processor, the notifier) runs on
the offline application (simulated market, a temporary SQLite database; every user is
registered on first contact, as in production) against the fake Bot API server of the
tests (``tests/telegram/fake_bot_api.py``) with Telegram's limits: 30 messages a second
overall (a burst of 30, then 30/s), about one a second per chat; a send over them is
answered 429.

The 1,000 updates are queued at once while the bot is polling; the clock runs from then
until the last answer is accepted. Reported:

* the time to answer everyone, against the floor set by the platform limit in the same
  run: 30 sent in the first burst, then 30 a second ((1000 - 30) / 30 = 32.3 s); the
  ratio is floor / measured (1.00 = exactly at the limit);
* the sustained throughput in messages/s against Telegram's 30 msg/s (as a ratio);
* how many 429 answers the fake server gave (target: 0), the most messages accepted in
  any one second, and the users' waiting times (median, 95th percentile, longest).

Time is real: python-telegram-bot's rate limiter runs on the event loop's clock, so the
fake server's limits cannot be time-compressed without measuring nothing. The run takes
about 35 s after start-up (the platform limit itself sets that), well under a minute.

Run: ``python benchmarks/telegram.py``. Another script loading it must do so by path under
another module name (``importlib.util.spec_from_file_location("bench_telegram", ...)``):
imported as ``telegram`` it would stand in for python-telegram-bot.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file's name is python-telegram-bot's package name: run as a script, its folder
# must not be on the path, or ``import telegram`` would find this file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from tests.telegram.fake_bot_api import MESSAGE_METHODS, fake_bot_api  # noqa: E402

from bot.app import open_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.telegram.bot import TelegramFrontEnd  # noqa: E402
from tools.clock import FakeClock  # noqa: E402

N_USERS = 1_000
LIMIT_PER_S = 30.0
BURST = 30
FIRST_USER = 500_000
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
#: Longest the run may take before it is called failed.
DEADLINE_S = 120.0


async def run() -> dict[str, float]:
    """One run; the measurements."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            market="offline",
            llm="offline",
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            data_dir=Path(tmp) / "data",
        )
        async with (
            open_app(settings, clock=FakeClock(NOW)) as app,
            fake_bot_api() as server,
        ):
            frontend = TelegramFrontEnd(
                app, server.token, base_url=server.base_url, base_file_url=server.base_file_url
            )
            await frontend.start()
            try:
                await server.wait_until_polling()
                await app.prices.get_quotes(["BTC"])  # a warm cache, as in production
                users = range(FIRST_USER, FIRST_USER + N_USERS)

                def everyone_answered() -> bool:
                    return len({m.chat_id for m in server.sent}) >= N_USERS

                start = server.clock()
                started = time.perf_counter()
                for user in users:
                    server.user_message(user, "/price btc")
                await server.wait_for(
                    everyone_answered, within=DEADLINE_S, what="every user answered"
                )
                elapsed = time.perf_counter() - started
            finally:
                await frontend.stop()
            sends = [m for m in server.sent if m.method in MESSAGE_METHODS]
            waits = sorted(m.at - start for m in sends)
            first, last = min(m.at for m in sends), max(m.at for m in sends)
            return {
                "elapsed": elapsed,
                "answered": float(len({m.chat_id for m in sends} & set(users))),
                "messages": float(len(sends)),
                "sustained": (len(sends) - BURST) / (last - first),
                "count_429": float(server.count_429),
                "max_per_s": float(server.max_sends_in(1.0)),
                "wait_p50": statistics.median(waits),
                "wait_p95": waits[int(0.95 * (len(waits) - 1))],
                "wait_max": waits[-1],
            }


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, result, ratio to the platform limit and verdict)."""
    logging.getLogger("telegram").setLevel(logging.CRITICAL)  # a 429 would log a traceback
    logging.getLogger("httpx").setLevel(logging.WARNING)
    r = asyncio.run(run())
    floor = (N_USERS - BURST) / LIMIT_PER_S
    all_answered = r["answered"] == N_USERS and r["messages"] == N_USERS
    verdict = "ok" if all_answered and r["count_429"] == 0 else "FAILED"
    return [
        (
            "telegram: 1,000 users /price at once",
            f"{r['elapsed']:.1f} s",
            f"{floor / r['elapsed']:.2f}x the 30 msg/s floor ({floor:.1f} s); "
            f"{r['answered']:.0f}/{N_USERS} answered once; {verdict}",
        ),
        (
            "telegram: sustained send rate",
            f"{r['sustained']:.1f} msg/s",
            f"{r['sustained'] / LIMIT_PER_S:.2f}x Telegram's 30 msg/s; "
            f"at most {r['max_per_s']:.0f} in any 1 s (burst {BURST} + 30/s allowed)",
        ),
        (
            "telegram: 429 answers from the server",
            f"{r['count_429']:.0f}",
            "target 0",
        ),
        (
            "telegram: wait for the answer (p50/p95/max)",
            f"{r['wait_p50']:.1f} s",
            f"p95 {r['wait_p95']:.1f} s, max {r['wait_max']:.1f} s (the queue drains at 30/s)",
        ),
    ]


if __name__ == "__main__":
    table = rows()
    width = max(len(row[0]) for row in table)
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>10}  {note}")
