"""Extractors for numbers, durations, intervals, dates and clock times in user text.

Every extractor works on lower-cased, normalised text (``Doc.low``) and returns matches
with their spans, so callers can tell which words a value came from and skip spans that
another extractor already claimed. Unreadable values (``"1e400"``, the ambiguous decimal
comma ``"1,5"``, ``"25:00"``) come back as ``None`` rather than as a guess.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from agents.offline.lexicon import WORD_NUMBERS

#: Largest magnitude accepted as a number (anything bigger is a typo or an attack).
MAX_NUMBER = 1e15

_SUFFIX = {
    "k": 1e3, "thousand": 1e3, "grand": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "mil": 1e6,
    "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9, "t": 1e12, "tn": 1e12,
    "trillion": 1e12,
}  # fmt: skip

_NUMBER_RE = re.compile(
    r"(?<![\w.])(?P<sign>[-+](?=\s?\$?\s?\.?\d))?\s?(?P<cur>\$\s?)?(?P<sign2>-)?"
    r"(?P<body>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:,\d+)+|\d+(?:\.\d+)?|\.\d+)"
    r"(?:e(?P<exp>[-+]?\d+))?"
    r"(?:\s?(?P<suf>k|mm|mn|m|bn|b|tn|t|thousand|grand|million|mil|billion|trillion)(?![a-z0-9]))?"
    r"(?P<pct>\s?(?:%|percent\b|pct\b|per\s?cent\b))?(?P<cents>\s?cents?\b)?"
    r"(?![a-z0-9]|\.\d)"
)


@dataclass(frozen=True, slots=True)
class Number:
    """A number in the text.

    Attributes:
        value: The value, or ``None`` when unreadable (overflow, ambiguous comma).
        start: Span start in the text.
        end: Span end.
        percent: Written with ``%``/``percent``.
        dollar: Written with ``$``.
    """

    value: float | None
    start: int
    end: int
    percent: bool = False
    dollar: bool = False


def parse_number(text: str) -> float | None:
    """Read one number as people write it; ``None`` if it is not exactly one readable number.

    ``"95k"`` -> 95000, ``"$10,000"`` -> 10000, ``"1.5m"`` -> 1500000, ``"1e3"`` -> 1000,
    ``"3%"`` -> 3; ``"1e400"``, ``"1,5"`` and ``"abc"`` -> ``None``.
    """
    text = text.strip().lower()
    found = find_numbers(text)
    if len(found) != 1 or found[0].start != 0 or found[0].end != len(text):
        return None
    return found[0].value


def find_numbers(low: str, taken: list[tuple[int, int]] | None = None) -> list[Number]:
    """Every number in ``low`` outside the ``taken`` spans, in order."""
    out: list[Number] = []
    for m in _NUMBER_RE.finditer(low):
        start, end = m.start(), m.end()
        while start < end and low[start] == " ":
            start += 1
        if taken and _overlaps(start, end, taken):
            continue
        negative = (m.group("sign") or "") == "-" or m.group("sign2") == "-"
        value = _value(m.group("body"), m.group("exp"), m.group("suf"), negative)
        if value is not None and m.group("cents"):
            value /= 100
        out.append(Number(value, start, end, bool(m.group("pct")), bool(m.group("cur"))))
    return out


def _value(body: str, exp: str | None, suffix: str | None, negative: bool) -> float | None:
    if "," in body and not re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", body):
        return None  # "1,5" or "100,5": a decimal comma or a typo; do not guess
    try:
        number = Decimal(body.replace(",", ""))
        if exp is not None:
            if abs(int(exp)) > 30:
                return None
            number = number.scaleb(int(exp))
    except (InvalidOperation, ValueError):
        return None
    value = float(number) * _SUFFIX.get(suffix or "", 1.0)
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        return None
    return -value if negative else value


def before(text: str, end: int, width: int = 48) -> str:
    """The ``width`` characters before ``end`` (context checks stay linear in the text)."""
    return text[max(0, end - width) : end]


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def word_number(text: str) -> float | None:
    """A digit string or a small number word ("a", "two", "half a") as a number."""
    text = text.strip().lower()
    if text in WORD_NUMBERS:
        return float(WORD_NUMBERS[text])
    return parse_number(text)


# --- durations ------------------------------------------------------------------------

_WORD_NUM = (
    r"\d+(?:\.\d+)?|a\s+couple\s+of|couple\s+of|a\s+few|half\s+an?|an?|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|sixty|ninety|few|several"
)
_UNIT = (
    r"minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?|"
    r"h|d|w|m|y|mo"
)
_DURATION_RE = re.compile(
    r"(?P<ctx>\b(?:last|past|previous|prior|over|for|in|within|during|next|the)\s+"
    r"(?:the\s+)?(?:last\s+|past\s+|previous\s+)?)?"
    r"(?<![\d.])(?P<n>" + _WORD_NUM + r")?\s?-?\s?(?P<unit>" + _UNIT + r")(?![a-z0-9])"
)
_UNIT_DAYS = {"min": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7, "mo": 30, "y": 365}
_MONEY_BEFORE = re.compile(
    r"(?:\$|above|below|over|under|at|than|to|with|of|hits?|reach(?:es)?|exceeds?|worth|"
    r"capital|invest(?:ing)?|put(?:ting)?|starting)\s*$"
)


@dataclass(frozen=True, slots=True)
class Duration:
    """A stretch of time in the text ("6 months", "24h", "a week", "last year").

    Attributes:
        amount: How many units.
        unit: ``min``, ``h``, ``d``, ``w``, ``mo``, ``y``, or ``m`` for a bare compact
            "6m" (months for periods, minutes for windows and intervals).
        start: Span start.
        end: Span end.
        context: The word before it ("last", "in", "over", ...), or ``""``.
        compact: Written as digits glued to a one-letter unit ("24h").
    """

    amount: float
    unit: str
    start: int
    end: int
    context: str = ""
    compact: bool = False

    def days(self, *, m_is_minutes: bool = False) -> float:
        """The length in days."""
        unit = self.unit
        if unit == "m":
            unit = "min" if m_is_minutes else "mo"
        return self.amount * _UNIT_DAYS[unit]


def find_durations(low: str, taken: list[tuple[int, int]] | None = None) -> list[Duration]:
    """Every duration in ``low`` outside ``taken``, in order."""
    out: list[Duration] = []
    for m in _DURATION_RE.finditer(low):
        n_text, unit_text, ctx = m.group("n"), m.group("unit"), (m.group("ctx") or "").strip()
        compact = n_text is not None and n_text[-1:].isdigit() and low[m.start("unit") - 1] != " "
        if len(unit_text) <= 2 and unit_text not in ("mo",) and not compact:
            continue  # a lone "d" or "m" is not a unit
        unit = _unit(unit_text)
        if n_text is None:
            if not ctx or ctx.split()[-1] not in ("last", "past", "previous", "prior"):
                continue
            amount = 1.0  # "last month", "past year"
        else:
            parsed = word_number(n_text)
            if parsed is None or parsed <= 0:
                continue
            amount = parsed
        start = m.start("ctx") if m.group("ctx") else m.start("n") if n_text else m.start("unit")
        if taken and _overlaps(start, m.end(), taken):
            continue
        if compact and unit == "m" and "." in n_text:
            continue  # "1.5m" is 1.5 million
        if compact and unit == "m" and _MONEY_BEFORE.search(before(low, m.start("n"))):
            continue  # "above 2m", "with 1m": money, not months
        first = ctx.split()[0] if ctx else ""
        out.append(Duration(amount, unit, start, m.end(), first, compact))
    return out


def _unit(text: str) -> str:
    if text in ("m",):
        return "m"
    if text.startswith("mi"):
        return "min"
    if text.startswith("mo"):
        return "mo"
    return text[0]


# --- candle intervals ---------------------------------------------------------------------

_INTERVAL_RE = re.compile(
    r"\b(?P<n>1|2|3|4|5|6|8|12|15|30|one|four|five|fifteen|thirty)\s?-?\s?"
    r"(?P<u>minutes?|mins?|m|hours?|hrs?|hr|h|days?|d|weeks?|wk|w)(?P<ly>ly)?\b"
    r"(?P<tail>\s+(?:chart|candles?|candlesticks?|timeframe|time\s+frame|interval|tf|bars?))?"
    r"|\b(?P<word>hourly|daily|weekly|minutely)\b"
)
_DURATION_CONTEXT = re.compile(r"\b(?:last|past|previous|over|for|in|within|during|next)\s+$")


@dataclass(frozen=True, slots=True)
class Interval:
    """A candle interval ("1h", "4h", "1d", "1w", "15m").

    Attributes:
        value: The interval in contract notation.
        start: Span start.
        end: Span end.
        explicit: Said as an interval ("hourly", "4h chart", "on the 4h"), not just "4h".
        after_duration_word: Preceded by "last", "for", "in", ... (so probably a duration).
    """

    value: str
    start: int
    end: int
    explicit: bool
    after_duration_word: bool


def find_intervals(low: str) -> list[Interval]:
    """Every candle-interval mention in ``low``, in order."""
    out: list[Interval] = []
    for m in _INTERVAL_RE.finditer(low):
        prefix = before(low, m.start())
        if m.group("word"):
            value = {"hourly": "1h", "daily": "1d", "weekly": "1w", "minutely": "1m"}[
                m.group("word")
            ]
            out.append(Interval(value, m.start(), m.end(), True, False))
            continue
        if _MONEY_BEFORE.search(prefix):
            continue  # "above 1m" is an amount
        n = int(word_number(m.group("n")) or 0)
        unit = _unit(m.group("u"))
        suffix = {"min": "m", "h": "h", "d": "d", "w": "w", "m": "m"}.get(unit)
        if suffix is None or (unit in ("d", "w") and n != 1):
            continue
        explicit = bool(m.group("tail") or m.group("ly")) or bool(
            re.search(r"\b(?:on|using|with|the|of)\s+(?:the\s+)?$", prefix)
        )
        out.append(
            Interval(
                f"{n}{suffix}",
                m.start(),
                m.end(),
                explicit,
                bool(_DURATION_CONTEXT.search(prefix)),
            )
        )
    return out


# --- dates ----------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DATE_RES = (
    ("iso", re.compile(r"\b(?P<y>\d{4})[-/.](?P<mo>\d{1,2})[-/.](?P<d>\d{1,2})\b")),
    ("dmy", re.compile(r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<y>\d{4}|\d{2})\b")),
    ("md", re.compile(
        r"\b" + _MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{4}))?"
    )),
    ("dm", re.compile(
        r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+(?P<y>\d{4}))?\b"
    )),
    ("rel", re.compile(
        r"\b(?:the\s+day\s+before\s+yesterday|yesterday|today|this\s+morning|tonight|"
        r"(?P<n>" + _WORD_NUM + r")\s+(?P<u>days?|weeks?|months?)\s+ago|"
        r"last\s+(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|month))\b"
    )),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DateMention:
    """A calendar date in the text.

    Attributes:
        value: The date, or ``None`` when it is invalid or ambiguous ("03/04/2024").
        start: Span start.
        end: Span end.
    """

    value: date | None
    start: int
    end: int


def find_dates(low: str, today: date) -> list[DateMention]:
    """Every date in ``low`` (absolute or relative to ``today``), in order."""
    out: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for kind, regex in _DATE_RES:
        for m in regex.finditer(low):
            if _overlaps(m.start(), m.end(), taken):
                continue
            if (
                kind == "rel"
                and m.group("wd") in ("week", "month")
                and re.search(
                    r"\b(?:for|over|in|during|within|the|past)\s+$", before(low, m.start())
                )
            ):
                continue  # "over the last month" is a span, not a date
            value = _date_value(kind, m, today)
            if kind == "md" and m.group("mon") == "may" and m.group("y") is None:
                if not re.search(r"\b(?:on|since|from)\s+$", before(low, m.start())):
                    continue  # "may 5" without "on": too likely the verb
            taken.append((m.start(), m.end()))
            out.append(DateMention(value, m.start(), m.end()))
    return sorted(out, key=lambda d: d.start)


def _date_value(kind: str, m: re.Match[str], today: date) -> date | None:
    try:
        if kind == "iso":
            return date(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
        if kind == "dmy":
            a, b, y = int(m.group("a")), int(m.group("b")), int(m.group("y"))
            y = y + 2000 if y < 100 else y
            if a > 12 >= b:
                return date(y, b, a)
            if b > 12 >= a:
                return date(y, a, b)
            return date(y, a, b) if a == b else None  # 03/04/2024: day or month first?
        if kind in ("md", "dm"):
            month = _MONTHS[m.group("mon")[:3]]
            day = int(m.group("d"))
            if m.group("y"):
                return date(int(m.group("y")), month, day)
            guess = date(today.year, month, day)
            return guess if guess <= today else date(today.year - 1, month, day)
        return _relative(m, today)
    except ValueError:
        return None


def _relative(m: re.Match[str], today: date) -> date | None:
    text = m.group(0)
    if text.startswith("the day before"):
        return today - timedelta(days=2)
    if text == "yesterday":
        return today - timedelta(days=1)
    if text in ("today", "this morning", "tonight"):
        return today
    if m.group("n"):
        n = word_number(m.group("n")) or 0
        per = {"d": 1, "w": 7, "m": 30}[m.group("u")[0]]
        return today - timedelta(days=round(n * per))
    what = m.group("wd")
    if what == "week":
        return today - timedelta(days=7)
    if what == "month":
        return today - timedelta(days=30)
    back = (today.weekday() - _WEEKDAYS.index(what)) % 7 or 7
    return today - timedelta(days=back)


# --- clock times --------------------------------------------------------------------------

_TIME_RES = (
    re.compile(r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s?(?P<ap>a\.?m\.?|p\.?m\.?)(?![a-z])"),
    re.compile(r"\b(?P<h>\d{1,2})[:h](?P<m>\d{2})\b"),
    re.compile(r"\b(?P<word>noon|midday|midnight)\b"),
    re.compile(
        r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s+(?:o'?clock\s+)?(?:in\s+the\s+|at\s+)?"
        r"(?P<part>morning|afternoon|evening|night)\b"
    ),
)


@dataclass(frozen=True, slots=True)
class ClockTime:
    """A time of day.

    Attributes:
        value: ``"HH:MM"`` (24-hour), or ``None`` when invalid ("25:00", "13pm").
        start: Span start.
        end: Span end.
    """

    value: str | None
    start: int
    end: int


def find_times(low: str) -> list[ClockTime]:
    """Every clock time in ``low``, in order."""
    out: list[ClockTime] = []
    taken: list[tuple[int, int]] = []
    for regex in _TIME_RES:
        for m in regex.finditer(low):
            if _overlaps(m.start(), m.end(), taken):
                continue
            taken.append((m.start(), m.end()))
            out.append(ClockTime(_time_value(m), m.start(), m.end()))
    return sorted(out, key=lambda t: t.start)


def _time_value(m: re.Match[str]) -> str | None:
    groups = m.groupdict()
    if groups.get("word"):
        return "00:00" if groups["word"] == "midnight" else "12:00"
    hour, minute = int(groups["h"]), int(groups.get("m") or 0)
    marker = (groups.get("ap") or "").replace(".", "")
    part = groups.get("part")
    if marker or part:
        if not 1 <= hour <= 12:
            return None
        pm = marker == "pm" or part in ("afternoon", "evening") or (part == "night" and hour > 5)
        hour = hour % 12 + (12 if pm else 0)
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"
