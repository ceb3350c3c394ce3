"""Render the README's chart screenshots into ``docs/images/`` (no network needed).

* ``price-chart.png``: BTC, 90 daily candles with Bollinger Bands and an RSI panel, from
  the offline (simulated) market at a fixed time, so the image is reproducible.
* ``stablecoin-usdc-2023.png``: USDC against its dollar peg during the March 2023 depeg,
  from the recorded Chainlink hourly file in the shared data folder.
* ``equity-curve.png``: buy and hold BTC over a year (offline market) against buy and
  hold ETH, with the drawdown below.

Usage: ``.venv/bin/python scripts/render_readme_images.py [--out docs/images]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.analysis.bars import Bars  # noqa: E402
from tools.analysis.charts import equity_chart, price_chart, stablecoin_chart  # noqa: E402
from tools.clock import FakeClock  # noqa: E402
from tools.market.offline import OfflineMarket  # noqa: E402
from tools.market.series import load_price_series  # noqa: E402
from tools.market.stablecoins import PegThresholds  # noqa: E402
from tools.market.types import CoinRef  # noqa: E402

#: The offline market's clock for every image: same seed and time, same pictures.
NOW = datetime(2025, 11, 20, 12, 0, tzinfo=UTC)
USDC_FILE = "usdc_usd_chainlink_hourly_20230309_20230312.csv"
BTC = CoinRef("bitcoin", "BTC", "Bitcoin")
ETH = CoinRef("ethereum", "ETH", "Ethereum")


def shared_dir() -> Path:
    """The workspace's shared data folder (same lookup as the tests)."""
    candidates = [os.environ.get("CRYPTOGUARD_SHARED_DIR", ""), str(ROOT.parent / "shared"),
                  "/work/shared"]  # fmt: skip
    for candidate in candidates:
        if candidate and Path(candidate, "stablecoins").is_dir():
            return Path(candidate)
    raise SystemExit("shared data folder not found; set CRYPTOGUARD_SHARED_DIR")


async def offline_bars(coin: CoinRef, days: int) -> Bars:
    market = OfflineMarket(seed=7, clock=FakeClock(NOW))
    return Bars.from_history(await market.get_history(coin, "usd", days, "1d"))


def render_price() -> bytes:
    bars = asyncio.run(offline_bars(BTC, 90))
    return price_chart(bars, style="candles", overlays=("bbands",), panel="rsi")


def render_usdc() -> bytes:
    series = load_price_series(shared_dir() / "stablecoins" / USDC_FILE)
    limits = PegThresholds()
    return stablecoin_chart(
        [t for t, _ in series.points],
        [p for _, p in series.points],
        peg=1.0,
        thresholds=(limits.warn_pct, limits.high_pct, limits.critical_pct),
        title="USDC/USD, March 2023",
        source="Chainlink USDC/USD feed (recorded)",
    )


def render_equity() -> bytes:
    btc = asyncio.run(offline_bars(BTC, 365))
    eth = asyncio.run(offline_bars(ETH, 365))
    start = 10_000.0
    equity = start * btc.close / btc.close[0]
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    benchmark = start * eth.close / eth.close[0]
    return equity_chart(
        btc.ts, equity, drawdown, benchmark,
        title="Buy and hold BTC, 10,000 USD", source=btc.source, origin=btc.origin,
        equity_label="BTC buy and hold", benchmark_label="ETH buy and hold",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for name, render in (
        ("price-chart.png", render_price),
        ("stablecoin-usdc-2023.png", render_usdc),
        ("equity-curve.png", render_equity),
    ):
        data = render()
        (out / name).write_bytes(data)
        sys.stdout.write(f"{out / name}: {len(data) / 1024:.0f} KB\n")


if __name__ == "__main__":
    main()
