"""Price series from CSV files: recorded scenarios for replays, tests and backtests.

:func:`load_price_series` reads a CSV with the stdlib ``csv`` module (no pandas, so
importing this module stays cheap) and returns a :class:`PriceSeries`: UTC timestamps
with ``Decimal`` prices, sorted and de-duplicated, plus OHLCV candles when the file has
``open``/``high``/``low``/``close`` columns.

Columns are found by name (case-insensitive) unless given:

* time: a well-known name (``timestamp``, ``datetime``, ``date``, ``time``,
  ``hour_start_utc``, ``updatedAt``, ``dateTimeAt``, ``snapped_at``, ...), else any name
  containing ``time`` or ``date``;
* price: ``price``, then ``close``, then well-known names (``price_usd``,
  ``price_usd_close``, ``answer``, ``value``, ...), then names containing ``price`` or
  ``close`` (names that look like a minimum, maximum or change are used last).

Times may be ISO 8601 (with or without ``Z`` or an offset; naive times are UTC),
``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS``, unix seconds or milliseconds. Lines starting
with ``#`` are comments. Rows whose time or price is empty, NaN, not a number, zero or
negative are skipped and counted. Chainlink feeds publish ``answer`` as price x 1e8:
pass ``scale=Decimal("1e-8")``, or let the loader detect it (an ``answer`` column whose
median exceeds 1000 is scaled by 1e-8 and ``scale_detected`` is set).
"""

from __future__ import annotations

import bisect
import csv
import logging
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tools.errors import UserInputError
from tools.market.types import Candle

logger = logging.getLogger(__name__)

#: Well-known time column names (normalised), best first.
TIME_NAMES: tuple[str, ...] = (
    "timestamp",
    "datetime",
    "date_time",
    "date",
    "time",
    "ts",
    "hour_start_utc",
    "updatedat",
    "updated_at",
    "datetimeat",
    "snapped_at",
    "open_time",
    "opentime",
    "time_utc",
    "date_utc",
    "timestamp_utc",
    "unix",
    "startedat",
    "started_at",
)
#: Well-known price column names (normalised), best first after ``price`` and ``close``.
PRICE_NAMES: tuple[str, ...] = (
    "price",
    "close",
    "price_usd",
    "price_usd_close",
    "close_price",
    "closing_price",
    "adj_close",
    "answer",
    "value",
    "rate",
    "last",
    "last_price",
    "mid",
    "usd",
)
#: Name fragments of columns that are a price, but not the price (used last).
_SECONDARY = ("min", "max", "low", "high", "open", "change", "pct", "percent", "volume")
#: Chainlink ``answer`` columns above this median are in 1e-8 units.
ANSWER_AUTO_SCALE_MEDIAN = Decimal(1000)
ANSWER_SCALE = Decimal("1e-8")

_NUMERIC = re.compile(r"^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?$")
_YYYYMMDD = re.compile(r"^(19|20|21)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Prices loaded from one CSV file.

    Attributes:
        name: The file's stem (``"usdc_usd_chainlink_hourly_20230309_20230312"``).
        path: The file read.
        time_column: Header of the column the times came from.
        price_column: Header of the column the prices came from.
        points: ``(time, price)`` pairs, UTC, sorted by time, one per timestamp (the
            last row wins when a timestamp repeats).
        candles: OHLCV bars when the file has open/high/low/close columns, else ``None``.
        scale: Factor applied to the raw prices (``None`` when none was).
        scale_detected: The scale was inferred (Chainlink ``answer`` in 1e-8 units).
        skipped: Rows skipped because their time or price was unusable.
        duplicates: Rows dropped because a later row had the same timestamp.
    """

    name: str
    path: Path
    time_column: str
    price_column: str
    points: list[tuple[datetime, Decimal]]
    candles: list[Candle] | None = None
    scale: Decimal | None = None
    scale_detected: bool = False
    skipped: int = 0
    duplicates: int = 0

    @property
    def start(self) -> datetime:
        """Time of the first point."""
        return self.points[0][0]

    @property
    def end(self) -> datetime:
        """Time of the last point."""
        return self.points[-1][0]

    def min_point(self) -> tuple[datetime, Decimal]:
        """The point with the lowest price (the earliest one on ties)."""
        return min(self.points, key=lambda p: p[1])

    def max_point(self) -> tuple[datetime, Decimal]:
        """The point with the highest price (the earliest one on ties)."""
        return max(self.points, key=lambda p: p[1])

    def value_at(self, when: datetime) -> Decimal | None:
        """The last price at or before ``when`` (``None`` before the first point)."""
        index = bisect.bisect_right(self.points, when, key=lambda p: p[0]) - 1
        return self.points[index][1] if index >= 0 else None


def load_price_series(
    path: str | Path,
    *,
    time_column: str | None = None,
    price_column: str | None = None,
    scale: Decimal | None = None,
) -> PriceSeries:
    """Read a price series from a CSV file.

    Args:
        path: The CSV file.
        time_column: Header of the time column (case-insensitive); found by name if omitted.
        price_column: Header of the price column (case-insensitive); found by name if omitted.
        scale: Multiply every price (and candle value) by this factor.

    Returns:
        The series, oldest point first.

    Raises:
        UserInputError: The file is missing or unreadable, has no header, a column cannot
            be found, or no row has a usable time and price. The message names the file
            and the columns it has.
    """
    file = Path(path)
    header, rows = _read_rows(file)
    names = [_normalise(h) for h in header]
    shown = ", ".join(h.strip() for h in header) or "(none)"
    t_idx = _pick_column(file, names, header, time_column, _time_rank, "time", shown)
    p_idx = _pick_column(
        file, names, header, price_column, _price_rank, "price", shown, exclude=t_idx
    )
    if scale is not None:
        scale = Decimal(str(scale))

    raw: list[tuple[datetime, Decimal]] = []
    bad_time = bad_price = 0
    for row in rows:
        when = parse_time(row[t_idx]) if t_idx < len(row) else None
        price = parse_price(row[p_idx]) if p_idx < len(row) else None
        if when is None:
            bad_time += 1
        elif price is None:
            bad_price += 1
        else:
            raw.append((when, price))

    detected = False
    if scale is None and names[p_idx] == "answer" and raw:
        if statistics.median(p for _, p in raw) > ANSWER_AUTO_SCALE_MEDIAN:
            scale, detected = ANSWER_SCALE, True
    skipped = bad_time + bad_price
    if not raw:
        raise UserInputError(
            f"{file.name} has no usable rows: {len(rows)} data rows, {bad_time} without a "
            f"valid time in column {header[t_idx].strip()!r}, {bad_price} without a positive "
            f"price in column {header[p_idx].strip()!r}. Columns found: {shown}."
        )
    if skipped:
        logger.info(
            "%s: skipped %d rows (%d bad times, %d bad prices)",
            file.name,
            skipped,
            bad_time,
            bad_price,
        )
    points, duplicates = _dedupe(raw, scale)
    return PriceSeries(
        name=file.stem,
        path=file,
        time_column=header[t_idx].strip(),
        price_column=header[p_idx].strip(),
        points=points,
        candles=_candles(names, rows, t_idx, scale),
        scale=scale,
        scale_detected=detected,
        skipped=skipped,
        duplicates=duplicates,
    )


def parse_time(text: str) -> datetime | None:
    """Parse a CSV time value into an aware UTC datetime (``None`` when unusable).

    Accepts ISO 8601 with or without ``Z``/offset (naive means UTC), ``YYYY-MM-DD``,
    ``YYYY-MM-DD HH:MM:SS``, ``YYYYMMDD``, unix seconds, milliseconds or microseconds.
    """
    value = text.strip()
    if not value:
        return None
    if _NUMERIC.match(value):
        if _YYYYMMDD.match(value):
            return datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC)
        try:
            number = float(value)
        except ValueError:
            return None
        magnitude = abs(number)
        if magnitude >= 1e17:  # nanoseconds
            number /= 1e9
        elif magnitude >= 1e14:  # microseconds
            number /= 1e6
        elif magnitude >= 1e11:  # milliseconds
            number /= 1e3
        try:
            return _UNIX_EPOCH + timedelta(seconds=number)
        except OverflowError:
            return None
    if value.upper().endswith(" UTC"):
        value = value[:-4].rstrip()
    value = value.replace("/", "-")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_price(text: str) -> Decimal | None:
    """Parse a CSV price into a positive finite ``Decimal`` (``None`` when unusable)."""
    value = text.strip()
    if not value or "," in value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0:
        return None
    return number


# -- helpers -------------------------------------------------------------------------------


def _read_rows(file: Path) -> tuple[list[str], list[list[str]]]:
    """Return the header and the data rows, comments and blank lines removed."""
    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except FileNotFoundError as exc:
        raise UserInputError(f"Price file not found: {file}.") from exc
    except IsADirectoryError as exc:
        raise UserInputError(f"{file} is a directory, not a CSV file.") from exc
    except UnicodeDecodeError as exc:
        raise UserInputError(f"{file.name} is not a UTF-8 text (CSV) file.") from exc
    except OSError as exc:
        raise UserInputError(f"Cannot read {file.name}: {exc.strerror or exc}.") from exc
    if not lines:
        raise UserInputError(f"{file.name} is empty: no header line with column names.")
    first = lines[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    parsed = list(csv.reader(lines, delimiter=delimiter))
    header = parsed[0]
    rows = [row for row in parsed[1:] if any(cell.strip() for cell in row)]
    return header, rows


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _time_rank(name: str) -> int | None:
    if name in TIME_NAMES:
        return TIME_NAMES.index(name)
    if "time" in name or "date" in name:
        return len(TIME_NAMES)
    return None


def _price_rank(name: str) -> int | None:
    if name in PRICE_NAMES:
        return PRICE_NAMES.index(name)
    base = len(PRICE_NAMES)
    if "price" not in name and "close" not in name:
        return None
    if any(part in name for part in _SECONDARY) and "close" not in name:
        return base + 3
    if "price" in name and "close" in name:
        return base
    return base + 1 if "close" in name else base + 2


def _pick_column(
    file: Path,
    names: list[str],
    header: list[str],
    wanted: str | None,
    rank: Callable[[str], int | None],
    kind: str,
    shown: str,
    *,
    exclude: int | None = None,
) -> int:
    """Index of the named column, or of the best-ranked candidate."""
    if wanted is not None:
        key = _normalise(wanted)
        if key in names:
            return names.index(key)
        raise UserInputError(
            f"{file.name} has no column {wanted!r} for the {kind}. Columns found: {shown}."
        )
    best: tuple[int, int] | None = None
    for index, name in enumerate(names):
        if index == exclude:
            continue
        score = rank(name)
        if score is not None and (best is None or (score, index) < best):
            best = (score, index)
    if best is None:
        raise UserInputError(
            f"{file.name}: cannot tell which column holds the {kind}. Columns found: {shown}. "
            f"Name it explicitly ({kind}_column=...)."
        )
    return best[1]


def _dedupe(
    raw: list[tuple[datetime, Decimal]], scale: Decimal | None
) -> tuple[list[tuple[datetime, Decimal]], int]:
    """Sort by time, keep the last row per timestamp, apply ``scale``."""
    by_time: dict[datetime, Decimal] = {}
    for when, price in raw:
        by_time[when] = price * scale if scale is not None else price
    points = sorted(by_time.items())
    return points, len(raw) - len(points)


def _candles(
    names: list[str], rows: list[list[str]], t_idx: int, scale: Decimal | None
) -> list[Candle] | None:
    """OHLCV bars when the file has open/high/low/close columns."""
    try:
        cols = [names.index(n) for n in ("open", "high", "low", "close")]
    except ValueError:
        return None
    v_idx = next((i for i, n in enumerate(names) if n == "volume"), None)
    if v_idx is None:
        v_idx = next((i for i, n in enumerate(names) if "volume" in n), None)
    factor = scale if scale is not None else Decimal(1)
    bars: dict[datetime, Candle] = {}
    for row in rows:
        if max(*cols, t_idx) >= len(row):
            continue
        when = parse_time(row[t_idx])
        values = [parse_price(row[i]) for i in cols]
        if when is None or any(v is None for v in values):
            continue
        o, h, low, c = (float(v * factor) for v in values if v is not None)
        volume = parse_price(row[v_idx]) if v_idx is not None and v_idx < len(row) else None
        bars[when] = Candle(
            ts=when,
            open=o,
            high=max(h, o, c),
            low=min(low, o, c),
            close=c,
            volume=float(volume) if volume is not None else 0.0,
        )
    return [bars[t] for t in sorted(bars)] or None
