"""The market part of the daily digest, computed once per sweep and shared by every user.

:func:`build_shared` asks the price service for BTC and ETH, the top 100 (for the day's
gainers and losers, and as the price book for portfolios), the stablecoins' peg health
(with a 0-100 depeg risk score per coin), and renders one chart: BTC and ETH over the
last seven days, each as a percentage of its first price. Every section fails on its
own: a missing stablecoin feed leaves that section out with a note, it does not stop
the digest. Only when no price at all is available does the build fail
(:class:`~tools.errors.MarketDataUnavailableError`), and the sweep retries next run.

The data notice (simulated or replayed numbers) travels with the shared part and is
always shown.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from tools.errors import CryptoGuardError, MarketDataUnavailableError
from tools.market.peg_risk import RiskScore, score_health
from tools.market.service import PriceService, data_notice
from tools.market.stablecoins import PegSeverity, StablecoinHealth
from tools.market.types import DataOrigin, PriceHistory, Quote

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CHART_DAYS",
    "MAJORS",
    "TOP_N",
    "DigestChart",
    "SharedDigest",
    "StablecoinLine",
    "build_shared",
    "majors_chart_figure",
]

logger = logging.getLogger(__name__)

#: Coins always shown, by coin id.
MAJORS: tuple[str, ...] = ("bitcoin", "ethereum")
#: Size of the ranking the movers are picked from (and the shared price book).
TOP_N = 100
#: Days of history in the chart.
CHART_DAYS = 7
#: Stablecoins listed by risk score (besides every coin off its peg).
RISK_ROWS = 3
#: Telegram's caption limit.
MAX_CAPTION = 1024


@dataclass(frozen=True, slots=True)
class StablecoinLine:
    """One stablecoin in the digest: its health and depeg risk score."""

    health: StablecoinHealth
    risk: RiskScore | None

    @property
    def off_peg(self) -> bool:
        """At warning severity or worse."""
        return self.health.severity not in (PegSeverity.OK, PegSeverity.UNKNOWN)


@dataclass(frozen=True, slots=True)
class DigestChart:
    """The shared chart: PNG bytes plus what an attachment needs."""

    filename: str
    data: bytes
    caption: str
    content_type: str = "image/png"


@dataclass(frozen=True, slots=True)
class SharedDigest:
    """The sections every digest shares, built once per sweep.

    Attributes:
        at: When it was built.
        majors: BTC and ETH quotes in USD (those available).
        gainers: The day's best movers among the top 100.
        losers: The day's worst movers among the top 100.
        stablecoins: Coins off their peg first, then the highest risk scores.
        stablecoins_tracked: How many stablecoins the feed tracks (0 when unavailable).
        quotes: USD quotes by coin id (the top 100 and the majors): the price book for
            portfolios and alert distances.
        notice: The simulated/replayed data notice, shown whenever it is set.
        notes: Provenance notes (stale or cached prices, unavailable sections).
        chart: The chart, or ``None`` when no history was available.
    """

    at: datetime
    majors: tuple[Quote, ...]
    gainers: tuple[Quote, ...]
    losers: tuple[Quote, ...]
    stablecoins: tuple[StablecoinLine, ...]
    stablecoins_tracked: int
    quotes: dict[str, Quote] = field(default_factory=dict)
    notice: str | None = None
    notes: tuple[str, ...] = ()
    chart: DigestChart | None = None

    def quote(self, coin_id: str) -> Quote | None:
        """The USD quote of ``coin_id`` if the shared price book has it."""
        return self.quotes.get(coin_id)


async def build_shared(prices: PriceService, now: datetime, *, chart: bool = True) -> SharedDigest:
    """Build the shared sections (one call per sweep).

    Args:
        prices: The market capability.
        now: The sweep's time (names the chart).
        chart: Render the chart (tests of the schedule switch it off for speed).

    Raises:
        MarketDataUnavailableError: Neither the majors nor the top list could be priced.
    """
    notes: list[str] = []
    origins: set[DataOrigin] = set()
    majors: list[Quote] = []
    try:
        report = await prices.get_quotes(list(MAJORS), "usd")
        majors = list(report.quotes)
        notes += report.notes
        origins |= {q.origin for q in majors}
    except CryptoGuardError as exc:
        logger.warning("digest: no BTC/ETH quotes: %s", exc)
    quotes: dict[str, Quote] = {}
    gainers: list[Quote] = []
    losers: list[Quote] = []
    try:
        top = await prices.get_top(TOP_N, "usd")
        quotes = {q.coin.id: q for q in top.quotes}
        gainers, losers = list(top.gainers), list(top.losers)
        origins |= {q.origin for q in top.quotes}
        notes += [n for n in top.notes if n not in notes]
    except CryptoGuardError as exc:
        logger.warning("digest: no top list: %s", exc)
        notes.append("The top movers are unavailable right now.")
    if not majors and not quotes:
        raise MarketDataUnavailableError("No market prices are available for the digest.")
    for quote in majors:
        quotes.setdefault(quote.coin.id, quote)
    stablecoins: list[StablecoinLine] = []
    tracked = 0
    try:
        status = await prices.get_stablecoin_status()
        tracked = status.tracked
        stablecoins = _stablecoin_lines(status.rows)
        origins |= {r.coin.origin for r in status.rows}
        notes += [n for n in status.notes if n not in notes]
    except CryptoGuardError as exc:
        logger.warning("digest: no stablecoin data: %s", exc)
        notes.append("Stablecoin data is unavailable right now.")
    drawn = await _chart(prices, now) if chart else None
    return SharedDigest(
        at=now,
        majors=tuple(majors),
        gainers=tuple(gainers),
        losers=tuple(losers),
        stablecoins=tuple(stablecoins),
        stablecoins_tracked=tracked,
        quotes=quotes,
        notice=data_notice(prices.market, origins),
        notes=tuple(notes),
        chart=drawn,
    )


def _stablecoin_lines(rows: Sequence[StablecoinHealth]) -> list[StablecoinLine]:
    """Every coin off its peg (worst first), then the highest risk scores among the rest."""
    lines = [StablecoinLine(r, score_health(r)) for r in rows]
    off = [line for line in lines if line.off_peg]
    off.sort(key=lambda line: -abs(line.health.deviation_pct or Decimal(0)))
    rest = [line for line in lines if not line.off_peg and line.risk is not None]
    rest.sort(key=lambda line: -(line.risk.score if line.risk else 0))
    return off + rest[:RISK_ROWS]


# -- the chart -------------------------------------------------------------------------------


async def _chart(prices: PriceService, now: datetime) -> DigestChart | None:
    """BTC and ETH over seven days (hourly closes), or ``None`` without history."""
    histories: list[PriceHistory] = []
    for coin_id in MAJORS:
        try:
            _, history = await prices.get_history(coin_id, days=CHART_DAYS, interval="1h")
        except CryptoGuardError as exc:
            logger.warning("digest chart: no %s history: %s", coin_id, exc)
            continue
        if len(history.candles) >= 2:
            histories.append(history)
    if not histories:
        return None
    from tools.analysis.charts_theme import render_png

    try:
        data = await asyncio.to_thread(lambda: render_png(majors_chart_figure(histories)))
    except (ValueError, CryptoGuardError) as exc:
        logger.warning("digest chart could not be drawn: %s", exc)
        return None
    changes = ", ".join(f"{h.coin.symbol} {_change(h):+.2f}%" for h in histories)
    caption = f"Last {CHART_DAYS} days, change from the first price: {changes}."
    origin = _least_live(h.origin for h in histories)
    if origin is not DataOrigin.LIVE:
        caption += f" {origin.value.upper()} data, not live prices."
    return DigestChart(f"digest-{now:%Y%m%d-%H%M}.png", data, caption[:MAX_CAPTION])


def majors_chart_figure(histories: Sequence[PriceHistory]) -> Figure:
    """Each coin's closes as a percentage change from its first close, on one axis."""
    from tools.analysis import charts_theme as theme

    fig = theme.new_figure()
    (ax,) = theme.stacked_axes(fig, [1.0])
    colors = (theme.LINE, *theme.PALETTE)
    low, high = 0.0, 0.0
    starts, ends = [], []
    right = []
    for history, color in zip(histories, colors, strict=False):
        closes = np.asarray([c.close for c in history.candles], dtype=np.float64)
        x = theme.to_dates([c.ts for c in history.candles])
        base = closes[0] if closes[0] else math.nan
        pct = (closes / base - 1.0) * 100.0
        finite = pct[np.isfinite(pct)]
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
        ax.plot(x, pct, color=color, linewidth=2.4, zorder=10, label=history.coin.symbol)
        last = float(finite[-1]) if finite.size else math.nan
        if math.isfinite(last):
            theme.value_tag(ax, last, f"{last:+.1f}%", color)
            right.append(f"{history.coin.symbol} {last:+.1f}%")
        starts.append(history.candles[0].ts)
        ends.append(history.candles[-1].ts)
        theme.set_time_limits(ax, x)
    ax.axhline(0.0, color=theme.SPINE, linewidth=1.2, zorder=2)
    ax.set_ylim(*theme.padded_limits(low, high))
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:+.0f}%"))
    theme.legend_above(ax, len(histories))
    origin = _least_live(h.origin for h in histories)
    sources = sorted({h.source for h in histories})
    theme.add_title(
        fig,
        " and ".join(h.coin.symbol for h in histories) + f", last {CHART_DAYS} days",
        theme.subtitle(min(starts), max(ends), ", ".join(sources), origin),
        right="  ".join(right),
    )
    theme.add_watermark(fig, origin)
    return fig


def _change(history: PriceHistory) -> float:
    first, last = history.candles[0].close, history.candles[-1].close
    return (last / first - 1.0) * 100.0 if first else math.nan


def _least_live(origins: Iterable[DataOrigin]) -> DataOrigin:
    seen = set(origins)
    for origin in (DataOrigin.SIMULATED, DataOrigin.REPLAYED):
        if origin in seen:
            return origin
    return DataOrigin.LIVE
