"""Price charts: candles or a close line, indicator overlays, volume, an RSI or MACD panel.

Candles are two collections whatever the number of bars (a ``LineCollection`` of wicks
and a ``PolyCollection`` of bodies, built from numpy arrays), so 1,000 candles cost
about what 100 do. Above :data:`AUTO_LINE_BARS` bars, ``style="auto"`` draws a line:
candles that narrow are unreadable on a phone.

Overlay names: ``bbands`` (Bollinger 20, 2 sigma), ``sma<N>`` and ``ema<N>`` (``sma20``,
``ema50``; N from 2 to 400). Panels: ``rsi`` (14) and ``macd`` (12/26/9).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tools.analysis import charts_theme as theme
from tools.analysis import indicators
from tools.analysis.bars import Bars, FloatArray
from tools.errors import UserInputError
from tools.market.types import INTERVALS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Locator

__all__ = [
    "AUTO_LINE_BARS",
    "OVERLAY_HELP",
    "PANELS",
    "STYLES",
    "Overlay",
    "check_panel",
    "check_style",
    "parse_overlays",
    "price_chart",
    "price_figure",
]

AUTO_LINE_BARS = 300
STYLES = ("auto", "candles", "line")
PANELS = ("rsi", "macd")
MAX_OVERLAYS = 6
MIN_PERIOD, MAX_PERIOD = 2, 400
OVERLAY_HELP = f"bbands, sma<N> or ema<N> (N from {MIN_PERIOD} to {MAX_PERIOD}, e.g. sma20, ema50)"
_MA = re.compile(r"^(sma|ema)[\s_-]?(\d{1,4})$")
_BB_ALIASES = {"bbands", "bb", "bollinger"}


@dataclass(frozen=True, slots=True)
class Overlay:
    """A validated overlay: ``kind`` is ``bbands``, ``sma`` or ``ema``."""

    kind: str
    period: int

    @property
    def name(self) -> str:
        """The canonical name (``bbands``, ``sma20``)."""
        return "bbands" if self.kind == "bbands" else f"{self.kind}{self.period}"

    @property
    def label(self) -> str:
        """The legend label."""
        if self.kind == "bbands":
            return f"Bollinger {self.period}, 2σ"
        return f"{self.kind.upper()} {self.period}"


def parse_overlays(names: Iterable[str] | str | None) -> tuple[Overlay, ...]:
    """Validate overlay names (case-insensitive; duplicates dropped).

    Raises:
        UserInputError: An unknown name, a period out of range, or too many overlays.
    """
    if names is None:
        return ()
    if isinstance(names, str):
        names = [n for n in re.split(r"[,\s]+", names) if n]
    parsed: list[Overlay] = []
    for raw in names:
        text = str(raw).strip().lower()
        if text in _BB_ALIASES:
            overlay = Overlay("bbands", 20)
        elif match := _MA.match(text):
            period = int(match.group(2))
            if not MIN_PERIOD <= period <= MAX_PERIOD:
                raise UserInputError(
                    f"Moving average periods go from {MIN_PERIOD} to {MAX_PERIOD}; "
                    f"got {_shown(raw)}."
                )
            overlay = Overlay(match.group(1), period)
        else:
            raise UserInputError(f"Unknown overlay {_shown(raw)}. Use {OVERLAY_HELP}.")
        if overlay not in parsed:
            parsed.append(overlay)
    if len(parsed) > MAX_OVERLAYS:
        raise UserInputError(f"At most {MAX_OVERLAYS} overlays per chart.")
    return tuple(parsed)


def check_panel(panel: str | None) -> str | None:
    """Validate a lower panel name (``rsi``, ``macd`` or none).

    Raises:
        UserInputError: Any other name.
    """
    if panel is None:
        return None
    text = str(panel).strip().lower()
    if text in ("", "none"):
        return None
    if text not in PANELS:
        raise UserInputError(f"Unknown panel {_shown(panel)}. Use {' or '.join(PANELS)} (or none).")
    return text


def check_style(style: str) -> str:
    """Validate a chart style (``auto``, ``candles``, ``line``).

    Raises:
        UserInputError: Any other name.
    """
    text = str(style).strip().lower()
    if text == "candle":
        text = "candles"
    if text not in STYLES:
        raise UserInputError(f"Unknown chart style {_shown(style)}. Use {', '.join(STYLES)}.")
    return text


def price_chart(
    bars: Bars,
    *,
    style: str = "auto",
    overlays: Iterable[str] | str | None = (),
    panel: str | None = None,
    volume: bool = True,
) -> bytes:
    """Render a price chart to PNG bytes (1200 x 800 px).

    Args:
        bars: The bars to draw (oldest first).
        style: ``candles``, ``line``, or ``auto`` (candles up to 300 bars, else a line).
        overlays: Overlay names, see the module docstring.
        panel: ``rsi``, ``macd`` or ``None``.
        volume: Draw a volume panel (skipped when the bars carry no volume).

    Raises:
        UserInputError: No bars, or a bad style, overlay or panel name.
    """
    return theme.render_png(price_figure(bars, style=style, overlays=overlays, panel=panel,
                                   volume=volume))  # fmt: skip


def price_figure(
    bars: Bars,
    *,
    style: str = "auto",
    overlays: Iterable[str] | str | None = (),
    panel: str | None = None,
    volume: bool = True,
) -> Figure:
    """Build the price chart's figure without rendering it (see :func:`price_chart`)."""
    kind = check_style(style)
    chosen = parse_overlays(overlays)
    lower = check_panel(panel)
    n = len(bars)
    if n == 0:
        raise UserInputError("Nothing to chart: there are no bars.")
    if kind == "auto":
        kind = "candles" if n <= AUTO_LINE_BARS else "line"
    bar_s = INTERVALS.get(bars.interval) or _median_step(bars.ts)
    x = theme.to_dates(bars.ts) + bar_s / 2 / 86400  # centre each bar within its period
    width = bar_s / 86400
    show_volume = (
        volume and bool(np.isfinite(bars.volume).any()) and bool(np.nansum(np.abs(bars.volume)) > 0)
    )

    fig = theme.new_figure()
    ratios = [3.2] + ([0.8] if show_volume else []) + ([1.3] if lower else [])
    axes = theme.stacked_axes(fig, ratios)
    ax = axes[0]

    low, high = float(np.nanmin(bars.low)), float(np.nanmax(bars.high))
    if kind == "candles":
        _draw_candles(ax, x, bars, width * 0.72)
    else:
        ax.plot(x, bars.close, color=theme.LINE, linewidth=2.2, zorder=10)
        low, high = float(np.nanmin(bars.close)), float(np.nanmax(bars.close))
    for i, overlay in enumerate(chosen):
        color = theme.PALETTE[i % len(theme.PALETTE)]
        low, high = _draw_overlay(ax, x, bars.close, overlay, color, low, high)
    ax.set_ylim(*theme.padded_limits(low, high))
    if kind == "line":
        ax.fill_between(x, bars.close, ax.get_ylim()[0], color=theme.LINE, alpha=0.07, zorder=5)
    ax.set_xlim(x[0] - width, x[-1] + width)
    ax.yaxis.set_major_formatter(theme.value_formatter())
    theme.legend_above(ax, len(ax.get_legend_handles_labels()[0]))

    first, last = float(bars.close[0]), float(bars.close[-1])
    color = theme.UP if last >= first else theme.DOWN
    theme.value_tag(ax, last, theme.format_value(last), color)
    row = 1
    if show_volume:
        _draw_volume(axes[row], x, bars, width * 0.72)
        row += 1
    if lower == "rsi":
        _draw_rsi(axes[row], x, bars.close)
    elif lower == "macd":
        _draw_macd(axes[row], x, bars.close, width * 0.72)

    vs = bars.vs_currency.upper()
    change = (last / first - 1.0) * 100.0 if first else math.nan
    theme.add_title(
        fig,
        f"{bars.symbol}/{vs} · {bars.interval} {'candles' if kind == 'candles' else 'closes'}",
        theme.subtitle(bars.time(0), bars.time(n - 1), bars.source, bars.origin),
        right=f"{theme.format_value(last)} {vs}  {change:+.2f}%",
        right_color=color,
    )
    theme.add_watermark(fig, bars.origin)
    return fig


# -- drawing -------------------------------------------------------------------------------


def _colors(up: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    from matplotlib.colors import to_rgba

    up_rgba, down_rgba = np.array(to_rgba(theme.UP, alpha)), np.array(to_rgba(theme.DOWN, alpha))
    return np.where(up[:, None], up_rgba, down_rgba)


def rectangles(x: FloatArray, bottom: FloatArray, top: FloatArray, width: float) -> Any:
    """Vertices ``(n, 4, 2)`` of n axis-aligned rectangles centred on ``x``.

    Typed ``Any``: matplotlib's stubs ask collections for a ``Sequence`` while an
    ``(n, k, 2)`` array is what they take fastest.
    """
    left, right = x - width / 2, x + width / 2
    return np.stack(
        [np.column_stack(p) for p in ((left, bottom), (left, top), (right, top), (right, bottom))],
        axis=1,
    )


def _draw_candles(ax: Axes, x: FloatArray, bars: Bars, width: float) -> None:
    from matplotlib.collections import LineCollection, PolyCollection

    up = bars.close >= bars.open
    colors = _colors(up)
    wicks: Any = np.stack([np.column_stack((x, bars.low)), np.column_stack((x, bars.high))], 1)
    line_width = 1.6 if len(bars) <= 120 else 1.0
    ax.add_collection(LineCollection(wicks, colors=colors, linewidths=line_width, zorder=10))
    bottom, top = np.minimum(bars.open, bars.close), np.maximum(bars.open, bars.close)
    bodies = PolyCollection(
        rectangles(x, bottom, top, width), facecolors=colors, edgecolors=colors,
        linewidths=0.8, zorder=11,
    )  # fmt: skip
    ax.add_collection(bodies)


def _draw_overlay(
    ax: Axes, x: FloatArray, close: FloatArray, overlay: Overlay, color: str,
    low: float, high: float,
) -> tuple[float, float]:  # fmt: skip
    if overlay.kind == "bbands":
        upper, middle, lower = indicators.bbands(close, overlay.period)
        if np.isnan(middle).all():
            return low, high
        ax.plot(x, upper, color=color, linewidth=1.4, zorder=8, label=overlay.label)
        ax.plot(x, lower, color=color, linewidth=1.4, zorder=8)
        ax.plot(x, middle, color=color, linewidth=1.2, linestyle="--", zorder=8)
        ax.fill_between(x, lower, upper, color=color, alpha=0.08, zorder=6)
        return min(low, float(np.nanmin(lower))), max(high, float(np.nanmax(upper)))
    compute = indicators.sma if overlay.kind == "sma" else indicators.ema
    values = compute(close, overlay.period)
    if np.isnan(values).all():
        return low, high
    ax.plot(x, values, color=color, linewidth=2.0, zorder=9, label=overlay.label)
    return min(low, float(np.nanmin(values))), max(high, float(np.nanmax(values)))


def _draw_volume(ax: Axes, x: FloatArray, bars: Bars, width: float) -> None:
    from matplotlib.collections import PolyCollection

    volume = np.nan_to_num(bars.volume)
    rects = rectangles(x, np.zeros_like(volume), volume, width)
    ax.add_collection(PolyCollection(rects, facecolors=_colors(bars.close >= bars.open, 0.45),
                                     edgecolors="none", zorder=5))  # fmt: skip
    ax.set_ylim(0, float(volume.max()) * 1.15 or 1.0)
    ax.yaxis.set_major_formatter(theme.compact_formatter())
    ax.yaxis.set_major_locator(_few_ticks(3))
    theme.panel_label(ax, f"Volume ({bars.symbol})")


def _draw_rsi(ax: Axes, x: FloatArray, close: FloatArray) -> None:
    values = indicators.rsi(close, 14)
    ax.axhspan(30, 70, color=theme.PALETTE[1], alpha=0.06, zorder=1)
    for level in (30, 70):
        ax.axhline(level, color=theme.MUTED, linewidth=1.0, linestyle="--", zorder=2)
    ax.plot(x, values, color=theme.PALETTE[1], linewidth=2.0, zorder=10)
    ax.set_ylim(0, 100)
    ax.set_yticks([30, 50, 70])
    finite = values[np.isfinite(values)]
    label = f"RSI 14: {finite[-1]:.0f}" if finite.size else "RSI 14 (needs 15 bars)"
    theme.panel_label(ax, label)


def _draw_macd(ax: Axes, x: FloatArray, close: FloatArray, width: float) -> None:
    from matplotlib.collections import PolyCollection

    line, signal, hist = indicators.macd(close)
    bars = np.nan_to_num(hist)
    rects = rectangles(x, np.zeros_like(bars), bars, width)
    ax.add_collection(PolyCollection(rects, facecolors=_colors(bars >= 0, 0.5),
                                     edgecolors="none", zorder=5))  # fmt: skip
    ax.plot(x, line, color=theme.LINE, linewidth=1.8, zorder=10, label="MACD")
    ax.plot(x, signal, color=theme.PALETTE[0], linewidth=1.6, zorder=10, label="signal")
    ax.axhline(0, color=theme.MUTED, linewidth=0.8, zorder=2)
    finite = np.concatenate([v[np.isfinite(v)] for v in (line, signal, hist)])
    if finite.size:
        ax.set_ylim(*theme.padded_limits(float(finite.min()), float(finite.max()), 0.1))
    ax.yaxis.set_major_locator(_few_ticks(3))
    ax.yaxis.set_major_formatter(theme.value_formatter())
    theme.panel_label(ax, "MACD 12/26/9" if finite.size else "MACD (needs 34 bars)")


def _few_ticks(n: int) -> Locator:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=n, min_n_ticks=2)


def _median_step(ts: np.ndarray) -> int:
    return int(np.median(np.diff(ts))) if ts.shape[0] > 1 else 86400


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 24 else text[:21] + '..."'
