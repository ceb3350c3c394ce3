"""CryptoGuard benchmarks (``make bench``).

Every measurement is reported next to a reference measured in the same run, as a
ratio, so numbers are comparable across machines:

* start-up: ``cryptoguard --help`` / ``--version`` against a bare ``python -c pass``
  (target: under 0.5 s in absolute terms too);
* a cached quote lookup through ``PriceService`` against the same lookup when the
  cache is cold (the real clients answering from an in-process recorded transport),
  and against a plain ``await`` of an empty coroutine (the floor of any async call);
* upstream requests needed to quote 250 coins (target: 1);
* the offline market's quote and history calls, against the cached live lookup.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.clock import FakeClock  # noqa: E402
from tools.market.live import LiveMarket  # noqa: E402
from tools.market.offline import OfflineMarket  # noqa: E402
from tools.market.providers import BinanceClient, CoinGeckoClient, DefiLlamaClient  # noqa: E402
from tools.market.service import PriceService  # noqa: E402
from tools.market.symbols import SymbolResolver, embedded_coins  # noqa: E402
from tools.market.types import CoinRef  # noqa: E402

BIN = Path(sys.executable).parent
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def wall(cmd: list[str], runs: int = 15) -> float:
    """Median wall time of a command, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)  # noqa: S603
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def per_call(fn: Callable[[], Awaitable[object]], n: int) -> float:
    """Mean seconds per call over ``n`` calls after one warm-up."""
    await fn()
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - start) / n


def simple_price_body(ids: list[str]) -> bytes:
    body = {
        i: {"usd": 1.5, "usd_market_cap": 1e9, "usd_24h_vol": 1e7, "usd_24h_change": 0.5,
            "last_updated_at": int(NOW.timestamp())}
        for i in ids
    }  # fmt: skip
    return json.dumps(body).encode()


def live_market(
    requests: list[httpx.Request], clock: FakeClock, ttl: float
) -> tuple[LiveMarket, httpx.AsyncClient]:
    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        ids = request.url.params.get("ids", "").split(",")
        return httpx.Response(200, content=simple_price_body(ids),
                              headers={"content-type": "application/json"})  # fmt: skip

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    kw = {"clock": clock, "sleep": clock.sleep}
    market = LiveMarket(
        CoinGeckoClient(client, **kw), DefiLlamaClient(client, **kw), BinanceClient(client, **kw),  # type: ignore[arg-type]
        clock=clock, quote_ttl=ttl,
    )  # fmt: skip
    return market, client


async def market_benchmarks() -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []

    async def noop() -> None:
        return None

    floor = await per_call(noop, 20000)
    clock = FakeClock(NOW)
    requests: list[httpx.Request] = []
    warm_market, warm_client = live_market(requests, clock, ttl=1e9)
    cold_market, cold_client = live_market([], clock, ttl=-1)  # never fresh
    warm = PriceService(warm_market, SymbolResolver(warm_market, clock=clock), clock=clock)
    cold = PriceService(cold_market, SymbolResolver(cold_market, clock=clock), clock=clock)
    cached = await per_call(lambda: warm.get_quotes(["BTC"]), 5000)
    uncached = await per_call(lambda: cold.get_quotes(["BTC"]), 300)
    rows.append(("cached quote lookup (PriceService, BTC)", f"{cached * 1e6:.1f} µs",
                 f"{uncached / cached:.0f}x faster than uncached ({uncached * 1e6:.0f} µs); "
                 f"{cached / floor:.0f}x an empty await"))  # fmt: skip

    many = [CoinRef(f"coin-{i}", f"C{i}", f"Coin {i}") for i in range(250)]
    requests.clear()
    quotes = await warm_market.get_quotes(many, "usd")
    rows.append(("upstream requests to quote 250 coins", str(len(requests)),
                 f"{len(quotes)} quotes returned"))  # fmt: skip

    offline = OfflineMarket(seed=7, clock=clock)
    coins = embedded_coins()[:30]
    quotes30 = await per_call(lambda: offline.get_quotes(coins, "usd"), 300)
    history = await per_call(lambda: offline.get_history(coins[0], "usd", 365, "1d"), 50)
    rows.append(("offline get_quotes, 30 coins", f"{quotes30 * 1e3:.2f} ms",
                 f"{quotes30 / cached:.1f}x the cached live lookup"))  # fmt: skip
    rows.append(("offline get_history, 365 daily bars", f"{history * 1e3:.2f} ms",
                 f"{history / cached:.1f}x the cached live lookup"))  # fmt: skip
    await warm_client.aclose()
    await cold_client.aclose()
    return rows


def startup_benchmarks() -> list[tuple[str, str, str]]:
    cli = str(BIN / "cryptoguard")
    reference = wall([sys.executable, "-c", "pass"])
    rows = [("python -c pass (reference)", f"{reference * 1e3:.0f} ms", "1.0x")]
    for args in (["--version"], ["--help"]):
        t = wall([cli, *args])
        verdict = "ok" if t < 0.5 else "OVER 0.5 s TARGET"
        rows.append(
            (
                f"cryptoguard {args[0]}",
                f"{t * 1e3:.0f} ms",
                f"{t / reference:.1f}x reference; {verdict}",
            )
        )
    return rows


def _by_path(name: str) -> Any:
    """A benchmark module loaded from its file (``telegram.py`` would shadow the library)."""
    import importlib.util

    path = ROOT / "benchmarks" / name
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    import agent  # benchmarks/*.py, next to this file
    import alerts
    import backtest
    import charts
    import digest
    import formula
    import indicators
    import tax
    import tick

    rows = startup_benchmarks() + asyncio.run(market_benchmarks())
    rows += indicators.rows() + formula.rows() + backtest.rows() + charts.rows()
    rows += tax.rows() + agent.rows()
    rows += alerts.rows() + tick.rows() + digest.rows() + _by_path("telegram.py").rows()
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark'.ljust(width)}  {'result':>12}  ratio / note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>12}  {note}")


if __name__ == "__main__":
    main()
