"""Chart benchmarks: rendering price charts to PNG bytes.

Each chart is timed end to end (``price_chart``: indicators, figure, Agg rendering, PNG
encoding) against rendering an empty figure of the same size to PNG the same way, measured
in the same run: the floor of any chart. Target: a 365-candle daily chart with Bollinger
Bands, an SMA, volume and an RSI panel in under 0.5 s.

Run: ``python benchmarks/charts.py`` (a few seconds).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.analysis.bars import Bars  # noqa: E402
from tools.analysis.charts import price_chart, render_png  # noqa: E402
from tools.analysis.charts_theme import new_figure  # noqa: E402
from tools.clock import FakeClock  # noqa: E402
from tools.market.offline import OfflineMarket  # noqa: E402
from tools.market.types import CoinRef  # noqa: E402

NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
TARGET_S = 0.5
RUNS = 10


def offline_bars(days: int) -> Bars:
    """Daily BTC bars from the offline market at a fixed time."""
    market = OfflineMarket(seed=7, clock=FakeClock(NOW))
    history = asyncio.run(market.get_history(CoinRef("bitcoin", "BTC", "Bitcoin"), "usd", days,
                                             "1d"))  # fmt: skip
    return Bars.from_history(history)


def median_time(fn: Callable[[], object], runs: int = RUNS) -> float:
    """Median seconds per call over ``runs`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rows() -> list[tuple[str, str, str]]:
    """Benchmark rows: (name, result, ratio / note)."""
    year = offline_bars(364)
    assert len(year) == 365
    long = offline_bars(999)
    reference = median_time(lambda: render_png(new_figure()))
    out = [("empty 1200x800 figure to PNG (reference)", f"{reference * 1e3:.0f} ms", "1.0x")]
    cases = [
        ("365 candles + bbands, sma50, volume, RSI", year, "candles", ("bbands", "sma50"), "rsi"),
        ("1000 candles + sma50, volume, MACD", long, "candles", ("sma50",), "macd"),
        ("1000 bars auto (line) + bbands, volume", long, "auto", ("bbands",), None),
    ]
    for name, bars, style, overlays, panel in cases:

        def render(b: Bars = bars, s: str = style, o: tuple[str, ...] = overlays,
                   p: str | None = panel) -> bytes:  # fmt: skip
            return price_chart(b, style=s, overlays=o, panel=p)

        seconds = median_time(render)
        verdict = "ok" if seconds < TARGET_S else f"OVER {TARGET_S} s TARGET"
        out.append((f"price chart, {name}", f"{seconds * 1e3:.0f} ms",
                    f"{seconds / reference:.1f}x reference; {verdict}"))  # fmt: skip
    size = len(price_chart(year, style="candles", overlays=("bbands", "sma50"), panel="rsi"))
    out.append(("PNG size of the 365-candle chart", f"{size / 1024:.0f} KB", "256-colour palette"))
    return out


def main() -> None:
    table = rows()
    width = max(len(r[0]) for r in table)
    print(f"{'benchmark'.ljust(width)}  {'result':>10}  ratio / note")
    for name, value, note in table:
        print(f"{name.ljust(width)}  {value:>10}  {note}")


if __name__ == "__main__":
    main()
