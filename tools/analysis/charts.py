"""Charts as PNG bytes, and ``ChartService``, which turns a coin and a range into one.

Every chart shares the theme of :mod:`tools.analysis.charts_theme` (1200 x 800 px, dark on
light, large type, a title with what, when and from where, and a ``SIMULATED`` or
``REPLAYED`` watermark on data that is not live). Each ``*_chart`` function has a
``*_figure`` twin that returns the matplotlib ``Figure`` before rendering, for tests and
for callers that want to add to it.

* :func:`price_chart`: candles or a close line, overlays, volume, an RSI or MACD panel
  (in :mod:`tools.analysis.charts_price`).
* :func:`equity_chart`: an equity curve (and a benchmark) over its drawdown.
* :func:`stablecoin_chart`: a stablecoin's price against its peg and severity bands.
* :func:`series_chart`: any series (a custom formula); 0/1 signals as steps.

Rendering is CPU work (0.1-0.3 s): ``ChartService`` runs it in a worker thread so the event
loop keeps answering other users meanwhile. Nothing here uses ``pyplot``.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tools.analysis import charts_theme as theme
from tools.analysis.charts_price import (
    AUTO_LINE_BARS,
    OVERLAY_HELP,
    PANELS,
    STYLES,
    Overlay,
    check_panel,
    check_style,
    parse_overlays,
    price_chart,
    price_figure,
)
from tools.analysis.charts_theme import Times, render_png, watermarks
from tools.analysis.history import check_range, history_bars
from tools.attachments import Attachment
from tools.errors import UserInputError
from tools.market.format import format_money, format_pct
from tools.market.service import PriceService
from tools.market.types import DataOrigin

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "AUTO_LINE_BARS",
    "OVERLAY_HELP",
    "PANELS",
    "STYLES",
    "ChartService",
    "Overlay",
    "check_panel",
    "check_style",
    "equity_chart",
    "equity_figure",
    "parse_overlays",
    "price_chart",
    "price_figure",
    "render_png",
    "series_chart",
    "series_figure",
    "stablecoin_chart",
    "stablecoin_figure",
    "watermarks",
]

Values = Sequence[float] | Sequence[Decimal] | npt.NDArray[Any]
#: Telegram's caption limit; Discord's is larger.
MAX_CAPTION = 1024
#: Severity bands of the stablecoin chart: inside warn, warn-high, high-critical, beyond.
_BAND_COLORS = ("#dcfce7", "#fef9c3", "#ffedd5", "#fee2e2")


# -- equity ----------------------------------------------------------------------------------


def equity_chart(
    times: Times,
    equity: Values,
    drawdown: Values | None = None,
    benchmark: Values | None = None,
    *,
    title: str = "Equity curve",
    currency: str = "USD",
    source: str | None = None,
    origin: DataOrigin = DataOrigin.LIVE,
    equity_label: str = "Strategy",
    benchmark_label: str = "Benchmark",
) -> bytes:
    """Render an equity curve over its drawdown to PNG bytes.

    Args:
        times: One time per point (datetimes, ``datetime64`` or epoch seconds).
        equity: Portfolio value per point.
        drawdown: Drawdown per point as a fraction (``-0.25`` is 25 % below the peak;
            positive values are read as the same fraction below the peak). ``None``
            computes it from ``equity``.
        benchmark: Optional comparison curve in the same units (buy and hold).
        title: First line of the title.
        currency: Unit of the equity axis.
        source: Where the prices came from (shown in the subtitle).
        origin: Live, simulated or replayed (watermark when not live).
        equity_label: Legend label of ``equity``.
        benchmark_label: Legend label of ``benchmark``.

    Raises:
        UserInputError: No points.
        ValueError: The series lengths differ.
    """
    return render_png(equity_figure(
        times, equity, drawdown, benchmark, title=title, currency=currency, source=source,
        origin=origin, equity_label=equity_label, benchmark_label=benchmark_label,
    ))  # fmt: skip


def equity_figure(
    times: Times,
    equity: Values,
    drawdown: Values | None = None,
    benchmark: Values | None = None,
    *,
    title: str = "Equity curve",
    currency: str = "USD",
    source: str | None = None,
    origin: DataOrigin = DataOrigin.LIVE,
    equity_label: str = "Strategy",
    benchmark_label: str = "Benchmark",
) -> Figure:
    """Build the equity chart's figure without rendering it (see :func:`equity_chart`)."""
    x = theme.to_dates(times)
    values = _floats(equity, len(x), "equity")
    if drawdown is None:
        peak = np.fmax.accumulate(values)
        dd = np.where(peak > 0, values / peak - 1.0, 0.0) * 100.0
    else:
        dd = -np.abs(_floats(drawdown, len(x), "drawdown")) * 100.0
    fig = theme.new_figure()
    ax, ax_dd = theme.stacked_axes(fig, [3.0, 1.25])
    ax.plot(x, values, color=theme.LINE, linewidth=2.4, zorder=10, label=equity_label)
    low, high = _finite_range(values)
    if benchmark is not None:
        bench = _floats(benchmark, len(x), "benchmark")
        ax.plot(x, bench, color=theme.MUTED, linewidth=1.8, linestyle="--", zorder=9,
                label=benchmark_label)  # fmt: skip
        b_low, b_high = _finite_range(bench)
        low, high = min(low, b_low), max(high, b_high)
    ax.set_ylim(*theme.padded_limits(low, high))
    theme.set_time_limits(ax, x)
    ax.yaxis.set_major_formatter(theme.value_formatter())
    theme.legend_above(ax, 2 if benchmark is not None else 1)
    first, last = _first_last(values)
    color = theme.UP if last >= first else theme.DOWN
    theme.value_tag(ax, last, theme.format_value(last), color)

    ax_dd.fill_between(x, dd, 0.0, color=theme.DOWN, alpha=0.28, linewidth=0, zorder=5)
    ax_dd.plot(x, dd, color=theme.DOWN, linewidth=1.4, zorder=6)
    worst = float(np.nanmin(dd)) if np.isfinite(dd).any() else 0.0
    ax_dd.set_ylim(min(worst * 1.15, -1.0), 0.0)
    ax_dd.yaxis.set_major_formatter(_percent_formatter())
    ax_dd.yaxis.set_major_locator(_few_ticks(3))
    theme.panel_label(ax_dd, f"Drawdown (max {worst:.1f}%)", bottom=True)

    change = (last / first - 1.0) * 100.0 if first else math.nan
    theme.add_title(
        fig, title, _subtitle(x, source, origin),
        right=f"{theme.format_value(last)} {currency.upper()}  {change:+.2f}%", right_color=color,
    )  # fmt: skip
    theme.add_watermark(fig, origin)
    return fig


# -- stablecoins -----------------------------------------------------------------------------


def stablecoin_chart(
    times: Times,
    prices: Values,
    peg: float | Decimal = 1.0,
    thresholds: Sequence[float | Decimal] = (0.5, 2.0, 5.0),
    *,
    title: str = "Stablecoin peg",
    source: str | None = None,
    origin: DataOrigin = DataOrigin.LIVE,
    currency: str = "USD",
) -> bytes:
    """Render a stablecoin's price against its peg and severity bands to PNG bytes.

    Args:
        times: One time per price.
        prices: Prices in the peg currency's unit (or in USD with ``peg`` its USD value).
        peg: The peg value.
        thresholds: Warning, high and critical deviations in percent (as in
            :class:`tools.market.stablecoins.PegThresholds`).
        title: First line of the title (``USDC/USD``).
        source: Where the prices came from.
        origin: Live, simulated or replayed (watermark when not live).
        currency: Unit of the price axis.

    Raises:
        UserInputError: No points, a non-positive peg or thresholds not increasing.
        ValueError: ``times`` and ``prices`` differ in length.
    """
    figure = stablecoin_figure(
        times, prices, peg, thresholds, title=title, source=source, origin=origin,
        currency=currency,
    )  # fmt: skip
    return render_png(figure)


def stablecoin_figure(
    times: Times,
    prices: Values,
    peg: float | Decimal = 1.0,
    thresholds: Sequence[float | Decimal] = (0.5, 2.0, 5.0),
    *,
    title: str = "Stablecoin peg",
    source: str | None = None,
    origin: DataOrigin = DataOrigin.LIVE,
    currency: str = "USD",
) -> Figure:
    """Build the stablecoin chart's figure without rendering it (see :func:`stablecoin_chart`)."""
    peg_value = float(peg)
    levels = [float(t) for t in thresholds]
    if not (peg_value > 0 and len(levels) == 3 and 0 < levels[0] < levels[1] < levels[2]):
        raise UserInputError(
            "A peg chart needs a positive peg and three increasing thresholds in percent."
        )
    x = theme.to_dates(times)
    values = _floats(prices, len(x), "prices")
    deviation = (values / peg_value - 1.0) * 100.0

    fig = theme.new_figure()
    (ax,) = theme.stacked_axes(fig, [1.0])
    low, high = _finite_range(values)
    warn = peg_value * levels[0] / 100.0
    low, high = theme.padded_limits(min(low, peg_value - warn), max(high, peg_value + warn), 0.08)
    ax.set_ylim(low, high)
    ax.set_facecolor(_BAND_COLORS[3])
    for level, color in zip(reversed(levels), reversed(_BAND_COLORS[:3]), strict=True):
        ax.axhspan(peg_value * (1 - level / 100), peg_value * (1 + level / 100), color=color,
                   linewidth=0, zorder=0)  # fmt: skip
    for level in levels:
        for sign in (-1, 1):
            y = peg_value * (1 + sign * level / 100)
            if low < y < high:
                ax.axhline(y, color=theme.SPINE, linewidth=1.0, linestyle="--", zorder=2)
                ax.text(0.006, y, f" {sign * level:+g}%", transform=ax.get_yaxis_transform(),
                        fontsize=theme.LABEL_SIZE - 2, color=theme.MUTED, zorder=3,
                        va="bottom" if sign > 0 else "top")  # fmt: skip
    ax.axhline(peg_value, color=theme.TEXT, linewidth=1.6, zorder=4)
    ax.plot(x, values, color=theme.LINE, linewidth=2.4, zorder=10)
    theme.set_time_limits(ax, x)
    ax.yaxis.set_major_formatter(theme.value_formatter())
    _mark_worst(ax, x, values, deviation)

    last = float(values[np.isfinite(values)][-1]) if np.isfinite(values).any() else math.nan
    last_dev = (last / peg_value - 1.0) * 100.0
    color = _severity_color(abs(last_dev), levels)
    theme.value_tag(ax, last, f"{last:.4f}", color)
    theme.add_title(
        fig, f"{title} · peg {peg_value:g} {currency.upper()}", _subtitle(x, source, origin),
        right=f"{last:.4f}  {last_dev:+.2f}%", right_color=color,
    )  # fmt: skip
    theme.add_watermark(fig, origin)
    return fig


def _mark_worst(ax: Axes, x: npt.NDArray[np.float64], values: npt.NDArray[np.float64],
                deviation: npt.NDArray[np.float64]) -> None:  # fmt: skip
    """Annotate the point furthest from the peg (when it is off by 0.1 % or more)."""
    from matplotlib import dates as mdates

    if not np.isfinite(deviation).any():
        return
    i = int(np.nanargmax(np.abs(deviation)))
    if abs(deviation[i]) < 0.1:
        return
    when = mdates.num2date(x[i])
    word = "low" if deviation[i] < 0 else "high"
    left_half = (x[i] - x[0]) < (x[-1] - x[0]) / 2
    ax.annotate(
        f"{word} {values[i]:.4f} ({deviation[i]:+.2f}%)\n{when:%d %b %H:%M} UTC",
        xy=(x[i], values[i]), xytext=(40 if left_half else -40, -10 if deviation[i] > 0 else 10),
        textcoords="offset points", ha="left" if left_half else "right",
        va="top" if deviation[i] > 0 else "bottom", fontsize=theme.LABEL_SIZE,
        color=theme.TEXT, zorder=30,
        arrowprops={"arrowstyle": "->", "color": theme.TEXT, "linewidth": 1.2},
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": theme.SPINE},
    )  # fmt: skip


def _severity_color(size_pct: float, levels: list[float]) -> str:
    if size_pct >= levels[1]:
        return theme.DOWN
    if size_pct >= levels[0]:
        return "#b45309"
    return theme.UP


# -- any series ------------------------------------------------------------------------------


def series_chart(
    times: Times,
    values: Values,
    title: str,
    signal: bool = False,
    *,
    source: str | None = None,
    origin: DataOrigin = DataOrigin.LIVE,
    label: str | None = None,
) -> bytes:
    """Render one series (a custom formula's output) to PNG bytes.

    Args:
        times: One time per value.
        values: The values; ``NaN`` leaves a gap (an indicator's warm-up).
        title: First line of the title (the formula).
        signal: Draw 0/1 values as steps with the "on" stretches filled.
        source: Where the input prices came from.
        origin: Live, simulated or replayed (watermark when not live).
        label: A short label for the panel (defaults to none).

    Raises:
        UserInputError: No points.
        ValueError: ``times`` and ``values`` differ in length.
    """
    return render_png(series_figure(times, values, title, signal, source=source, origin=origin,
                                    label=label))  # fmt: skip


def series_figure(
    times: Times,
    values: Values,
    title: str,
    signal: bool = False,
    *,
    source: str | None = None,
    origin: DataOrigin = DataOrigin.LIVE,
    label: str | None = None,
) -> Figure:
    """Build the series chart's figure without rendering it (see :func:`series_chart`)."""
    x = theme.to_dates(times)
    y = _floats(values, len(x), "values")
    fig = theme.new_figure()
    (ax,) = theme.stacked_axes(fig, [1.0])
    finite = y[np.isfinite(y)]
    last = float(finite[-1]) if finite.size else math.nan
    if signal:
        on = np.where(np.isfinite(y), (y > 0).astype(np.float64), np.nan)
        ax.step(x, on, where="post", color=theme.LINE, linewidth=2.2, zorder=10)
        ax.fill_between(x, 0, np.nan_to_num(on), step="post", color=theme.LINE, alpha=0.15,
                        linewidth=0, zorder=5)  # fmt: skip
        ax.set_ylim(-0.15, 1.15)
        ax.set_yticks([0, 1], ["0 off", "1 on"])
        share = float(np.nanmean(on)) * 100 if finite.size else 0.0
        right = f"{'on' if last > 0 else 'off'} now · on {share:.0f}% of the time"
    else:
        ax.plot(x, y, color=theme.LINE, linewidth=2.2, zorder=10)
        ax.set_ylim(*theme.padded_limits(*_finite_range(y)))
        ax.yaxis.set_major_formatter(theme.value_formatter())
        if math.isfinite(last):
            theme.value_tag(ax, last, theme.format_value(last), theme.LINE)
        right = theme.format_value(last) if math.isfinite(last) else ""
    theme.set_time_limits(ax, x)
    if label:
        theme.panel_label(ax, label)
    theme.add_title(fig, title, _subtitle(x, source, origin), right=right, right_color=theme.LINE)
    theme.add_watermark(fig, origin)
    return fig


# -- the service -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Request:
    overlays: tuple[Overlay, ...]
    panel: str | None
    style: str


class ChartService:
    """Price charts of a coin as PNG attachments.

    Args:
        prices: The market capability (symbol resolution, history, provenance).
    """

    def __init__(self, prices: PriceService) -> None:
        self.prices = prices

    async def price_chart(
        self,
        symbol: str,
        days: int = 30,
        interval: str = "1d",
        overlays: Sequence[str] | str | None = None,
        panel: str | None = None,
        *,
        style: str = "auto",
        vs_currency: str = "usd",
        volume: bool = True,
    ) -> Attachment:
        """Chart a coin over the last ``days`` days of ``interval`` bars.

        The attachment is named like ``btc-30d-1d.png``; its caption gives the symbol,
        the range, the last price and the change, and says when the data is simulated
        or replayed, or when an overlay needs more bars than the range holds.

        Raises:
            UserInputError: Bad days, interval, overlay, panel or style (checked before any
                data is fetched), an unknown coin or currency.
            LimitError: The range holds too many bars.
            MarketDataUnavailableError: No source returned any bars.
        """
        request = _Request(parse_overlays(overlays), check_panel(panel), check_style(style))
        check_range(days, interval)
        resolution, history = await self.prices.get_history(
            symbol, days=days, interval=interval, vs_currency=vs_currency
        )
        bars = history_bars(history)
        data = await asyncio.to_thread(
            price_chart, bars, style=request.style, overlays=[o.name for o in request.overlays],
            panel=request.panel, volume=volume,
        )  # fmt: skip
        first, last = Decimal(repr(float(bars.close[0]))), Decimal(repr(float(bars.close[-1])))
        change = (last / first - 1) * 100 if first else None
        vs = bars.vs_currency
        parts = [
            f"{bars.symbol}/{vs.upper()}, last {days} day{'' if days == 1 else 's'} "
            f"({interval} bars): {format_money(last, vs)} ({format_pct(change)})"
        ]
        if bars.origin is not DataOrigin.LIVE:
            parts.append(f"{bars.origin.value.upper()} data, not live prices.")
        if resolution.note:
            parts.append(resolution.note)
        parts += _too_short(len(bars), request)
        stem = re.sub(r"[^a-z0-9]+", "-", bars.symbol.lower()).strip("-") or "chart"
        return Attachment(
            filename=f"{stem}-{days}d-{interval}.png",
            content_type="image/png",
            data=data,
            caption="\n".join(parts)[:MAX_CAPTION],
        )


def _too_short(count: int, request: _Request) -> list[str]:
    """Notes for overlays and panels that need more bars than the chart has."""
    needs = [(o.name, o.period) for o in request.overlays]
    if request.panel == "rsi":
        needs.append(("RSI", 15))
    elif request.panel == "macd":
        needs.append(("MACD", 34))
    short = [f"{name} needs {n} bars" for name, n in needs if count < n]
    if not short:
        return []
    return [f"Not drawn ({count} bars in range): {', '.join(short)}."]


# -- helpers ---------------------------------------------------------------------------------


def _floats(values: Values, n: int, name: str) -> npt.NDArray[np.float64]:
    array = np.asarray([float(v) for v in values] if not isinstance(values, np.ndarray)
                       else values, dtype=np.float64)  # fmt: skip
    if array.shape != (n,):
        raise ValueError(f"{name} has {array.size} values for {n} times")
    return array


def _finite_range(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def _first_last(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return math.nan, math.nan
    return float(finite[0]), float(finite[-1])


def _subtitle(x: npt.NDArray[np.float64], source: str | None, origin: DataOrigin) -> str:
    from matplotlib import dates as mdates

    return theme.subtitle(mdates.num2date(x[0]), mdates.num2date(x[-1]), source, origin)


def _percent_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:.0f}%" if abs(v) >= 1 or v == 0 else f"{v:.1f}%")


def _few_ticks(n: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n, min_n_ticks=2)
