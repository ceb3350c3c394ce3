"""Everything the argument builders need from one message, extracted once and lazily.

:class:`Parsed` wraps a :class:`~agents.offline.text.Doc` and exposes its coins, numbers,
dates, durations, intervals, indicators, strategy and formula, each computed on first use
(a greeting never pays for date parsing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from agents.offline import entities as ent
from agents.offline.extract import (
    ClockTime,
    DateMention,
    Duration,
    Interval,
    Number,
    before,
    find_dates,
    find_durations,
    find_intervals,
    find_numbers,
    find_times,
)
from agents.offline.lexicon import WORD_NUMBERS
from agents.offline.text import Doc
from agents.offline.types import ChatIntent

Args = dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """What a builder returns when one message asks for its tool several times.

    Attributes:
        calls: The arguments of each call, in order ("delete alerts 1 and 2").
        each_listed_by: Instead of named calls: the listing tool whose result names the
            alerts to act on ("delete all my alerts": ``list_alerts`` first).
    """

    calls: tuple[Args, ...] = ()
    each_listed_by: str | None = None


_QTY_WORD_RE = re.compile(
    r"\b(?P<w>"
    + "|".join(sorted(map(re.escape, WORD_NUMBERS), key=len, reverse=True))
    + r")\s+(?:of\s+)?$"
)


class Parsed:
    """Everything extracted from one message, computed on first use."""

    def __init__(self, doc: Doc, today: date, vocabulary: frozenset[str]) -> None:
        self.doc = doc
        self.low = doc.low
        self.today = today
        self._vocabulary = vocabulary
        #: The coin "it" refers to (from the previous turn), used when none is named.
        self.fallback_symbol: str | None = None

    @cached_property
    def coins(self) -> list[ent.CoinMention]:
        """Known coins, in order."""
        return ent.find_coins(self.doc)

    @cached_property
    def unknown(self) -> list[ent.CoinMention]:
        """Ticker-like tokens the catalogue does not know."""
        return ent.find_unknown_tickers(self.doc, self.coins, self._vocabulary)

    @cached_property
    def currency(self) -> ent.CurrencyMention | None:
        """The quote currency named, if any."""
        return ent.find_quote_currency(self.doc)

    @cached_property
    def dates(self) -> list[DateMention]:
        """Calendar dates."""
        return find_dates(self.low, self.today)

    @cached_property
    def times(self) -> list[ClockTime]:
        """Clock times."""
        return find_times(self.low)

    @cached_property
    def intervals(self) -> list[Interval]:
        """Candle intervals said as such ("hourly", "4h chart", "on the 4h", bare "4h")."""
        return [i for i in find_intervals(self.low) if not i.after_duration_word]

    @cached_property
    def durations(self) -> list[Duration]:
        """Time spans, minus those that are dates, clock times or candle intervals."""
        taken = self._spans(self.dates, self.times, [i for i in self.intervals if i.explicit])
        return [
            d for d in find_durations(self.low, taken) if not self.low[d.end :].startswith(" ago")
        ]

    @cached_property
    def numbers(self) -> list[Number]:
        """Numbers that are not part of a date, time, duration or interval."""
        taken = self._spans(self.dates, self.times, self.durations, self.intervals)
        return find_numbers(self.low, taken)

    @cached_property
    def indicators(self) -> list[str]:
        """Indicator names."""
        return ent.find_indicators(self.low)

    @cached_property
    def strategy(self) -> str | None:
        """A backtest strategy."""
        return ent.find_strategy(self.low)

    @cached_property
    def formula(self) -> str | None:
        """A formula to evaluate."""
        return ent.find_formula(self.doc, self.coins)

    @cached_property
    def quantity(self) -> tuple[float | None, ent.CoinMention, int] | None:
        """A quantity written right before a coin ("0.5 BTC", "half a btc"): its value, the
        coin and where the quantity starts."""
        for coin in self.coins:
            prior = [n for n in self.numbers if n.end <= coin.start]
            if prior and not prior[-1].percent:
                gap = self.low[prior[-1].end : coin.start]
                if re.fullmatch(r"\s*(?:x\s+|of\s+)?", gap):
                    return prior[-1].value, coin, prior[-1].start
            prefix = before(self.low, coin.start)
            m = _QTY_WORD_RE.search(prefix)
            if m:
                start = coin.start - len(prefix) + m.start()
                return float(WORD_NUMBERS[re.sub(r"\s+", " ", m.group("w"))]), coin, start
        return None

    def symbols(self) -> list[str]:
        """Known tickers, in order, without repeats (else the coin "it" refers to)."""
        found = list(dict.fromkeys(c.symbol for c in self.coins))
        if not found and not self.unknown and self.fallback_symbol:
            return [self.fallback_symbol]
        return found

    def symbol(self) -> str | None:
        """The first coin named (a known one first, else a ticker-like token, else "it")."""
        if self.coins:
            return self.coins[0].symbol
        return self.unknown[0].symbol if self.unknown else self.fallback_symbol

    def interval(self, *, skip_cadence: bool = False) -> str | None:
        """The candle interval, if one is named."""
        for i in self.intervals:
            if skip_cadence and i.value in ("1d", "1w", "1m") and i.explicit:
                continue
            return i.value
        return None

    def number_after(self, pos: int) -> Number | None:
        """The first number starting at or after ``pos``."""
        return next((n for n in self.numbers if n.start >= pos), None)

    @staticmethod
    def _spans(*groups: list[Any]) -> list[tuple[int, int]]:
        return [(x.start, x.end) for group in groups for x in group]


def num(value: float) -> int | float:
    """An int when the value is whole, else the float."""
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value


def unclear(reason: str) -> ChatIntent:
    """A clarifying question."""
    return ChatIntent("unclear", reason)


def refuse(reason: str) -> ChatIntent:
    """A refusal with its reason."""
    return ChatIntent("refusal", reason)
