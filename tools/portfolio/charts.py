"""Portfolio charts as PNG bytes: the allocation donut and the value over time.

Both share the look of the price charts (:mod:`tools.analysis.charts_theme`: 1200 x 800
px, a two-line title, a ``SIMULATED`` / ``REPLAYED`` watermark on data that is not live).
Each ``*_chart`` function has a ``*_figure`` twin returning the matplotlib ``Figure``
before rendering, for tests. matplotlib is imported lazily (through the theme), and
nothing here uses ``pyplot``.

* :func:`allocation_donut`: the top holdings by value (the rest as ``Other``), with the
  total value in the centre.
* :func:`value_chart`: the portfolio's value over time, optionally with its cost basis.
* :func:`portfolio_charts`: both for a user's portfolio, as attachments; the daily values
  come from :meth:`PortfolioService.value_history` (the series ``risk`` measures).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tools.analysis import charts_theme as theme
from tools.analysis.charts_theme import Times, render_png, watermarks
from tools.attachments import Attachment
from tools.errors import LimitError, MarketDataUnavailableError, UserInputError
from tools.identity import UserRef
from tools.market.format import format_money
from tools.market.service import REPLAY_LABEL
from tools.market.types import DataOrigin

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tools.portfolio.service import PortfolioService

__all__ = [
    "ALLOCATION_FILENAME",
    "MAX_DAYS",
    "MAX_SLICES",
    "MIN_VALUE_POINTS",
    "OTHER",
    "allocation_donut",
    "allocation_figure",
    "group_slices",
    "portfolio_charts",
    "value_chart",
    "value_figure",
    "watermarks",
]

logger = logging.getLogger(__name__)

Amount = Decimal | float | int
Values = Sequence[Amount] | npt.NDArray[Any]

#: Holdings drawn as their own slice; the rest are summed into :data:`OTHER`.
MAX_SLICES = 8
OTHER = "Other"
#: Days of history needed before the value chart is drawn.
MIN_VALUE_POINTS = 2
#: Longest value chart, in days (as long as the risk window).
MAX_DAYS = 365
ALLOCATION_FILENAME = "portfolio-allocation.png"
MAX_CAPTION = 1024
#: Slice colours: the theme's line colour, its overlay palette, then two more.
_SLICE_COLORS = (theme.LINE, *theme.PALETTE, "#0f766e", "#a16207")
_OTHER_COLOR = "#9ca3af"
#: Slices smaller than this (percent) get no label on the ring, only in the legend.
_MIN_LABEL_PCT = 3.0


# -- allocation donut ------------------------------------------------------------------------


def group_slices(
    positions: Sequence[tuple[str, Amount | None]], max_slices: int = MAX_SLICES
) -> list[tuple[str, float]]:
    """The largest ``max_slices`` holdings by value, then ``Other`` with the rest.

    Holdings without a value or worth nothing are left out; ``Other`` appears only when
    more than ``max_slices`` holdings remain.
    """
    kept = [(str(s), float(v)) for s, v in positions if v is not None and float(v) > 0]
    kept = [(s, v) for s, v in kept if math.isfinite(v)]
    kept.sort(key=lambda item: (-item[1], item[0]))
    if len(kept) <= max_slices:
        return kept
    rest = sum(v for _, v in kept[max_slices:])
    return [*kept[:max_slices], (OTHER, rest)]


def allocation_donut(
    positions: Sequence[tuple[str, Amount | None]],
    *,
    title: str = "Portfolio allocation",
    currency: str = "USD",
    origin: DataOrigin = DataOrigin.LIVE,
    source: str | None = None,
    as_of: datetime | None = None,
) -> bytes:
    """Render the allocation of ``(symbol, value)`` holdings as a donut, to PNG bytes.

    The top :data:`MAX_SLICES` holdings get their own slice (symbol and percent), the
    rest one ``Other`` slice; the total value is written in the centre.

    Args:
        positions: ``(symbol, value)`` per holding, values in ``currency``.
        title: First line of the title.
        currency: Unit of the values.
        origin: Live, simulated or replayed (watermark when not live).
        source: Where the prices came from (shown in the subtitle).
        as_of: When the values were taken (shown in the subtitle).

    Raises:
        UserInputError: No holding with a positive value.
    """
    return render_png(allocation_figure(
        positions, title=title, currency=currency, origin=origin, source=source, as_of=as_of,
    ))  # fmt: skip


def allocation_figure(
    positions: Sequence[tuple[str, Amount | None]],
    *,
    title: str = "Portfolio allocation",
    currency: str = "USD",
    origin: DataOrigin = DataOrigin.LIVE,
    source: str | None = None,
    as_of: datetime | None = None,
) -> Figure:
    """Build the donut's figure without rendering it (see :func:`allocation_donut`)."""
    slices = group_slices(positions)
    if not slices:
        raise UserInputError("Nothing to chart: no holding has a value.")
    total = sum(v for _, v in slices)
    pcts = [v / total * 100.0 for _, v in slices]
    colors = [
        _OTHER_COLOR if s == OTHER else _SLICE_COLORS[i % len(_SLICE_COLORS)]
        for i, (s, _) in enumerate(slices)
    ]
    labels = [
        f"{s}\n{p:.1f}%" if p >= _MIN_LABEL_PCT else ""
        for (s, _), p in zip(slices, pcts, strict=True)
    ]
    fig = theme.new_figure()
    ax = fig.add_axes((theme.LEFT, theme.BOTTOM - 0.02, 0.56, theme.TOP - theme.BOTTOM + 0.02))
    ax.set_aspect("equal")
    wedges, _texts = ax.pie(
        [v for _, v in slices], labels=labels, colors=colors, startangle=90, counterclock=False,
        radius=1.0, labeldistance=1.17,
        wedgeprops={"width": 0.38, "edgecolor": theme.BACKGROUND, "linewidth": 2.0},
        textprops={"fontsize": theme.LABEL_SIZE, "color": theme.TEXT, "ha": "center"},
    )  # fmt: skip
    ax.text(0.0, 0.09, "Total value", ha="center", va="center", fontsize=theme.SUBTITLE_SIZE,
            color=theme.MUTED)  # fmt: skip
    ax.text(0.0, -0.07, _money(total, currency), ha="center", va="center",
            fontsize=theme.TITLE_SIZE, fontweight="bold", color=theme.TEXT)  # fmt: skip
    entries = [
        f"{s}  {p:.1f}%  {_money(v, currency)}" for (s, v), p in zip(slices, pcts, strict=True)
    ]
    fig.legend(
        wedges, entries, loc="center left", bbox_to_anchor=(0.64, 0.45), frameon=False,
        fontsize=theme.LEGEND_SIZE + 2, handlelength=1.2, labelspacing=0.9,
    )  # fmt: skip
    held = len([1 for _, v in positions if v is not None and float(v) > 0])
    parts = [
        f"{as_of:%d %b %Y %H:%M} UTC" if as_of is not None else "",
        f"{held} holding{'' if held == 1 else 's'}",
        theme.source_text(source, origin),
    ]
    theme.add_title(fig, title, " · ".join(p for p in parts if p))
    theme.add_watermark(fig, origin)
    return fig


# -- value over time -------------------------------------------------------------------------


def value_chart(
    times: Times,
    total_values: Values,
    *,
    title: str = "Portfolio value",
    currency: str = "USD",
    origin: DataOrigin = DataOrigin.LIVE,
    source: str | None = None,
    cost_basis: Values | None = None,
) -> bytes:
    """Render a portfolio's value over time (an area under a line) to PNG bytes.

    Args:
        times: One time per point (epoch seconds, ``datetime64`` or datetimes).
        total_values: The portfolio's value per point, in ``currency``.
        title: First line of the title.
        currency: Unit of the value axis.
        origin: Live, simulated or replayed (watermark when not live).
        source: Where the prices came from (shown in the subtitle).
        cost_basis: Optional cost basis per point, drawn as a dashed line.

    Raises:
        UserInputError: No points.
        ValueError: The series lengths differ.
    """
    return render_png(value_figure(
        times, total_values, title=title, currency=currency, origin=origin, source=source,
        cost_basis=cost_basis,
    ))  # fmt: skip


def value_figure(
    times: Times,
    total_values: Values,
    *,
    title: str = "Portfolio value",
    currency: str = "USD",
    origin: DataOrigin = DataOrigin.LIVE,
    source: str | None = None,
    cost_basis: Values | None = None,
) -> Figure:
    """Build the value chart's figure without rendering it (see :func:`value_chart`)."""
    from matplotlib import dates as mdates

    x = theme.to_dates(np.asarray(times) if _numeric(times) else times)
    values = _floats(total_values, len(x), "total_values")
    fig = theme.new_figure()
    (ax,) = theme.stacked_axes(fig, [1.0])
    ax.fill_between(x, values, 0.0, color=theme.LINE, alpha=0.14, linewidth=0, zorder=5)
    ax.plot(x, values, color=theme.LINE, linewidth=2.6, zorder=10, label="Value")
    low, high = _finite_range(values)
    entries = 1
    if cost_basis is not None:
        basis = _floats(cost_basis, len(x), "cost_basis")
        ax.plot(x, basis, color=theme.MUTED, linewidth=2.0, linestyle="--", zorder=9,
                label="Cost basis")  # fmt: skip
        b_low, b_high = _finite_range(basis)
        low, high = min(low, b_low), max(high, b_high)
        entries = 2
    bottom, top = theme.padded_limits(low, high)
    ax.set_ylim(max(bottom, 0.0) if low >= 0 else bottom, top)
    theme.set_time_limits(ax, x)
    ax.yaxis.set_major_formatter(theme.value_formatter())
    theme.legend_above(ax, entries)
    first, last = _first_last(values)
    color = theme.UP if last >= first else theme.DOWN
    theme.value_tag(ax, last, theme.format_value(last), color)
    change = (last / first - 1.0) * 100.0 if first else math.nan
    right = (
        f"{_money(last, currency)}  {change:+.2f}%"
        if math.isfinite(change)
        else _money(last, currency)
    )
    subtitle = theme.subtitle(mdates.num2date(x[0]), mdates.num2date(x[-1]), source, origin)
    theme.add_title(fig, title, subtitle, right=right, right_color=color)
    theme.add_watermark(fig, origin)
    return fig


# -- for a user's portfolio ------------------------------------------------------------------


async def portfolio_charts(
    service: PortfolioService, user: UserRef, portfolio: str | None = None, days: int = 90
) -> list[Attachment]:
    """The allocation donut and the value chart of ``days`` days, as PNG attachments.

    Draws what can be drawn: nothing for an empty portfolio, only the donut when there
    are fewer than :data:`MIN_VALUE_POINTS` days of values (or their history is not
    available). Files: ``portfolio-allocation.png`` and ``portfolio-value-{days}d.png``.

    Raises:
        NotFoundError: A named portfolio that does not exist.
        UserInputError: ``days`` outside 2 to 365.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 2 <= days <= MAX_DAYS:
        raise UserInputError(f"The value chart covers 2 to {MAX_DAYS} days; you asked for {days}.")
    page = await service.list_trades(user, portfolio, per_page=1)
    if page.total == 0:
        return []
    currency = page.trades[0].currency
    report = await service.summary(user, portfolio, base=currency)
    origin = _origin_of(report.notice)
    source = ", ".join(report.sources) or None
    name = report.portfolio
    attachments: list[Attachment] = []
    positions = [(p.symbol, p.value) for p in report.summary.positions if p.value]
    if positions:
        data = await asyncio.to_thread(
            allocation_donut, positions, title=f'Portfolio "{name}": allocation',
            currency=currency, origin=origin, source=source,
        )  # fmt: skip
        total = sum((v for _, v in positions if v is not None), Decimal(0))
        caption = [f'Allocation of portfolio "{name}": {format_money(total, currency)} in total.']
        attachments.append(_png(ALLOCATION_FILENAME, data, caption, report.notice))

    try:
        times, by_symbol, notes, history_origin = await service.value_history(user, portfolio, days)
    except (UserInputError, LimitError, MarketDataUnavailableError) as exc:
        logger.info("no value chart for %s: %s", name, exc)  # nothing held in the window...
        return attachments
    if len(times) < MIN_VALUE_POINTS:
        return attachments
    totals = np.sum(np.asarray(list(by_symbol.values()), dtype=np.float64), axis=0)
    data = await asyncio.to_thread(
        value_chart, np.asarray(times, dtype=np.int64), totals,
        title=f'Portfolio "{name}": value, {days} days', currency=currency,
        origin=history_origin, source=source,
    )  # fmt: skip
    last = Decimal(repr(float(totals[-1])))
    caption = [f'Value of portfolio "{name}" over {days} days: {format_money(last, currency)} now.']
    caption += notes
    notice = report.notice if history_origin is not DataOrigin.LIVE else None
    attachments.append(_png(f"portfolio-value-{days}d.png", data, caption, notice))
    return attachments


# -- helpers ---------------------------------------------------------------------------------


def _origin_of(notice: str | None) -> DataOrigin:
    """The origin behind a :func:`~tools.market.service.data_notice` sentence."""
    if notice is None:
        return DataOrigin.LIVE
    return DataOrigin.REPLAYED if notice == REPLAY_LABEL else DataOrigin.SIMULATED


def _png(filename: str, data: bytes, caption: list[str], notice: str | None) -> Attachment:
    lines = [*caption, notice] if notice else caption
    return Attachment(filename, "image/png", data, "\n".join(lines)[:MAX_CAPTION])


def _money(value: float, currency: str) -> str:
    return format_money(Decimal(repr(round(float(value), 2))), currency)


def _numeric(times: Times) -> bool:
    """Epoch seconds given as a plain list (the theme reads those only as an array)."""
    if isinstance(times, np.ndarray) or len(times) == 0:
        return False
    return isinstance(times[0], int | float | np.integer | np.floating)


def _floats(values: Values, n: int, what: str) -> npt.NDArray[np.float64]:
    array = np.asarray([float(v) for v in values], dtype=np.float64)
    if len(array) != n:
        raise ValueError(f"{what} has {len(array)} points, times has {n}")
    return array


def _finite_range(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def _first_last(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    return float(finite[0]), float(finite[-1])
