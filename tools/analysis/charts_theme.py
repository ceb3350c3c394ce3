"""The look every chart shares, and rendering a figure to PNG bytes.

Charts are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, never
through ``pyplot``: no global figure registry, so rendering in worker threads is safe.
Nothing here touches ``matplotlib.rcParams``; sizes and colours are passed explicitly.
matplotlib is imported inside functions so that importing this module stays cheap
(``cryptoguard --help`` must stay fast).

The theme is dark on light, sized for phones: 1200 x 800 px, large type, the price axis
on the right (where traders look), a two-line title (what, then when and from where),
and a big diagonal ``SIMULATED`` / ``REPLAYED`` watermark on data that is not live.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tools.errors import UserInputError
from tools.market.types import DataOrigin

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 8.0, 100
#: Axes area of the figure (fractions): room for the title above, the price axis right.
LEFT, RIGHT, BOTTOM, TOP = 0.035, 0.885, 0.075, 0.835

BACKGROUND = "#ffffff"
TEXT = "#111827"
MUTED = "#4b5563"
GRID = "#e5e7eb"
SPINE = "#9ca3af"
UP = "#15803d"
DOWN = "#dc2626"
LINE = "#1d4ed8"
#: Overlay colours, in the order overlays are drawn.
PALETTE = ("#d97706", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f", "#374151")
WATERMARK = "#b91c1c"

TITLE_SIZE = 24
SUBTITLE_SIZE = 16
TICK_SIZE = 15
LABEL_SIZE = 15
LEGEND_SIZE = 14
TAG_SIZE = 15

#: ``gid`` of the watermark text, to find it in tests.
WATERMARK_GID = "watermark"

Times = Sequence[datetime] | npt.NDArray[Any]


def new_figure() -> Figure:
    """A blank figure of the standard size with an Agg canvas attached."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(fig)
    return fig


def render_png(fig: Figure, *, quantize: bool = True) -> bytes:
    """Render a figure to PNG bytes (1200 x 800 px).

    With ``quantize`` (the default) the image is reduced to a 256-colour palette (PIL's
    fast octree): charts are flat colours plus antialiasing, so it looks the same at
    about a third of the size, which matters when a bot uploads it to a phone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    if not quantize:
        fig.savefig(buffer, format="png", dpi=DPI, facecolor=fig.get_facecolor())
        return buffer.getvalue()
    from PIL import Image

    canvas.draw()
    width, height = canvas.get_width_height()
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    paletted = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    paletted.save(buffer, format="PNG")
    return buffer.getvalue()


def style_axes(ax: Axes, *, show_dates: bool) -> None:
    """Grid, spines, tick sizes and the right-hand value axis."""
    ax.set_facecolor(BACKGROUND)
    ax.grid(True, color=GRID, linewidth=1.0)
    ax.set_axisbelow(True)
    for side in ("top", "left"):
        ax.spines[side].set_visible(False)
    for side in ("right", "bottom"):
        ax.spines[side].set_color(SPINE)
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax.tick_params(axis="both", labelsize=TICK_SIZE, colors=TEXT, length=4)
    ax.tick_params(axis="x", labelbottom=show_dates)


def stacked_axes(fig: Figure, ratios: Sequence[float]) -> list[Axes]:
    """Axes stacked top to bottom with these height ratios, sharing the date axis.

    Only the bottom axes shows dates; all are styled with :func:`style_axes`.
    """
    grid = fig.add_gridspec(len(ratios), 1, height_ratios=list(ratios), hspace=0.06,
                            left=LEFT, right=RIGHT, bottom=BOTTOM, top=TOP)  # fmt: skip
    top = fig.add_subplot(grid[0])
    axes = [top] + [fig.add_subplot(grid[row], sharex=top) for row in range(1, len(ratios))]
    for i, ax in enumerate(axes):
        style_axes(ax, show_dates=i == len(axes) - 1)
    date_axis(axes[-1])
    return axes


def date_axis(ax: Axes) -> None:
    """Concise UTC date ticks (``Nov``, ``08``, ``15``...) with a few labels only."""
    from matplotlib import dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=8, tz="UTC")
    locator.maxticks[mdates.HOURLY] = 11  # 3-4 day ranges: every 12 h without a warning
    formatter = mdates.ConciseDateFormatter(
        locator, tz="UTC", show_offset=False,
        formats=["%Y", "%b", "%d %b", "%H:%M", "%H:%M", "%S.%f"],
        zero_formats=["", "%Y", "%b", "%d %b", "%H:%M", "%H:%M"],
    )  # fmt: skip
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)


def to_dates(times: Times) -> npt.NDArray[np.float64]:
    """Matplotlib date numbers from epoch seconds (``int64``), ``datetime64`` or datetimes.

    Raises:
        UserInputError: No times at all.
    """
    from matplotlib import dates as mdates

    if isinstance(times, np.ndarray):
        if times.size == 0:
            raise UserInputError("Nothing to chart: there are no data points.")
        if np.issubdtype(times.dtype, np.datetime64):
            values = times.astype("datetime64[s]")
        else:
            values = times.astype(np.int64).astype("datetime64[s]")
        return np.asarray(mdates.date2num(values), dtype=np.float64)
    if len(times) == 0:
        raise UserInputError("Nothing to chart: there are no data points.")
    return np.asarray(mdates.date2num(list(times)), dtype=np.float64)


def add_title(fig: Figure, title: str, subtitle: str, right: str = "", right_color: str = TEXT
              ) -> None:  # fmt: skip
    """The two-line header: ``title`` (and a value at the right end), then ``subtitle``."""
    fig.text(LEFT, 0.955, title, fontsize=TITLE_SIZE, fontweight="bold", color=TEXT, va="center")
    if right:
        fig.text(RIGHT, 0.955, right, fontsize=TITLE_SIZE, fontweight="bold",
                 color=right_color, ha="right", va="center")  # fmt: skip
    fig.text(LEFT, 0.908, subtitle, fontsize=SUBTITLE_SIZE, color=MUTED, va="center")


def add_watermark(fig: Figure, origin: DataOrigin) -> None:
    """Stamp ``SIMULATED`` or ``REPLAYED`` across the figure when the data is not live."""
    if origin is DataOrigin.LIVE:
        return
    fig.text(
        0.46, 0.47, origin.value.upper(), fontsize=110, fontweight="bold", color=WATERMARK,
        alpha=0.13, rotation=22, ha="center", va="center", zorder=100, gid=WATERMARK_GID,
    )  # fmt: skip


def watermarks(fig: Figure) -> list[str]:
    """The watermark texts on a figure (empty for live data)."""
    return [t.get_text() for t in fig.texts if t.get_gid() == WATERMARK_GID]


def source_text(source: str | None, origin: DataOrigin) -> str:
    """``source: offline (SIMULATED)``, ``source: binance``; ``""`` when nothing is known."""
    label = f"source: {source}" if source else ""
    if origin is DataOrigin.LIVE:
        return label
    return f"{label} ({origin.value.upper()})" if label else f"{origin.value.upper()} data"


def subtitle(start: datetime, end: datetime, source: str | None, origin: DataOrigin) -> str:
    """The second title line: the time range, then the source when known."""
    return " · ".join(p for p in (range_text(start, end), source_text(source, origin)) if p)


def range_text(start: datetime, end: datetime) -> str:
    """``22 Aug 2025 - 20 Nov 2025 (90 days)``; with times for ranges under three days."""
    seconds = (end - start).total_seconds()
    if seconds < 3 * 86400:
        hours = round(seconds / 3600)
        return (f"{start:%d %b %Y %H:%M} - {end:%d %b %H:%M} UTC "
                f"({hours} hour{'' if hours == 1 else 's'})")  # fmt: skip
    days = round(seconds / 86400)
    return f"{start:%d %b %Y} - {end:%d %b %Y} ({days} days)"


def legend_above(ax: Axes, count: int) -> None:
    """The legend in one row just above the axes, where it hides no data."""
    if count:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=count, frameon=False,
                  fontsize=LEGEND_SIZE, borderaxespad=0.2, handlelength=1.6,
                  columnspacing=1.2)  # fmt: skip


def value_tag(ax: Axes, value: float, text: str, color: str) -> None:
    """A filled label on the value axis at ``value`` (the last price, the last equity)."""
    ax.annotate(
        text, xy=(1.0, value), xycoords=("axes fraction", "data"), xytext=(5, 0),
        textcoords="offset points", ha="left", va="center", fontsize=TAG_SIZE, color="white",
        fontweight="bold", annotation_clip=False, zorder=50,
        bbox={"boxstyle": "round,pad=0.25", "facecolor": color, "edgecolor": color},
    )  # fmt: skip


def panel_label(ax: Axes, text: str, *, bottom: bool = False) -> None:
    """A small label in the top-left (or bottom-left) corner of a panel (``RSI 14``)."""
    box = {"facecolor": BACKGROUND, "edgecolor": "none", "alpha": 0.8, "pad": 1.5}
    ax.text(0.006, 0.07 if bottom else 0.93, text, transform=ax.transAxes, fontsize=LABEL_SIZE,
            color=MUTED, va="bottom" if bottom else "top", ha="left", zorder=40,
            bbox=box)  # fmt: skip


def format_value(value: float, step: float | None = None) -> str:
    """A price or amount for an axis or a tag: thousands separators, sensible decimals.

    With ``step`` (the tick spacing) the decimals show exactly what tells ticks apart;
    without it, four significant digits below 1 and two decimals below 1,000.
    """
    if not math.isfinite(value):
        return ""
    if step is not None and step > 0:
        places = max(0, -math.floor(math.log10(step) + 1e-9))
        if abs(step / 10**-places - round(step / 10**-places)) > 1e-6:
            places += 1
        return f"{value:,.{min(places, 10)}f}"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    if magnitude == 0:
        return "0"
    return f"{value:.{min(10, 3 - math.floor(math.log10(magnitude)))}f}"


def format_compact(value: float) -> str:
    """``1.2K``, ``3.4M``, ``5.6B`` for volume axes."""
    magnitude = abs(value)
    for threshold, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{value:.3g}"


def value_formatter() -> Formatter:
    """A tick formatter that prints prices with separators and just enough decimals."""
    from matplotlib.ticker import Formatter

    class _ValueFormatter(Formatter):
        step: float | None = None

        def format_ticks(self, values: Any) -> list[str]:
            ticks = [float(v) for v in values]
            diffs = [b - a for a, b in zip(ticks, ticks[1:], strict=False) if b > a]
            self.step = min(diffs) if diffs else None
            return [self(v) for v in ticks]

        def __call__(self, x: float, pos: int | None = None) -> str:
            return format_value(x, self.step)

    return _ValueFormatter()


def compact_formatter() -> Formatter:
    """A tick formatter for volumes (``1.2M``)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: "" if x == 0 else format_compact(x))


def set_time_limits(ax: Axes, x: npt.NDArray[np.float64]) -> None:
    """X limits around the data with a 1 % margin, so edge labels are not cut off."""
    span = float(x[-1] - x[0])
    pad = span * 0.01 if span > 0 else 0.5
    ax.set_xlim(float(x[0]) - pad, float(x[-1]) + pad)


def padded_limits(low: float, high: float, pad: float = 0.04) -> tuple[float, float]:
    """Axis limits around ``[low, high]`` with ``pad`` of the span on each side."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0
    span = high - low
    if span <= 0:
        span = abs(high) * 0.01 or 1.0
    return low - span * pad, high + span * pad
