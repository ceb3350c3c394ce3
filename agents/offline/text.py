"""Text normalisation for the offline language understanding.

A :class:`Doc` holds the message three ways: as written (``raw``), normalised with its
casing kept (``text``: ASCII, symbols like "€" spelled out, emojis dropped, obvious
typos of the words the recogniser relies on corrected) and lower-cased (``low``).
``text`` and ``low`` have the same length, so a span found in one is valid in the other.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from agents.offline.lexicon import COIN_NAMES, COMMON_WORDS

_REPLACE = {
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2212": "-", "\u20ac": " eur ", "\u00a3": " gbp ", "\u00a5": " jpy ", "\u2265": " >= ",
    "\u2264": " <= ", "\u2192": " to ", "\u00d7": "x", "\u2026": "...", "\u00bd": " 0.5 ",
    "\u00a2": " cents ",
}  # fmt: skip
_REPLACE_RE = re.compile("|".join(map(re.escape, _REPLACE)))
_NON_ASCII = re.compile(r"[^\x20-\x7e]+")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z]{5,}")
_GLUED_COIN = re.compile(
    r"(?<=\d)(?=(?:"
    + "|".join(sorted((w for w in COIN_NAMES if w.isalpha()), key=len, reverse=True))
    + r")\b)",
    re.IGNORECASE,
)

#: Words the recogniser keys on; a misspelling one edit away is corrected to them.
_VOCABULARY: frozenset[str] = frozenset(
    """price prices priced pricing alert alerts alarm alarms notify notification remind
    portfolio portfolios holdings balance chart charts graph candles candlestick history
    historical backtest backtesting strategy sentiment overview market markets stablecoin
    stablecoins technical technicals analysis analyze analyse indicator indicators
    bollinger stochastic average averages moving exponential formula evaluate compute
    calculate reversion crossover golden allocation allocate target targets rebalance
    rebalancing report digest timezone settings threshold delete remove cancel bought
    purchase purchased record trade trades above below under exceeds reaches drops falls
    rises pumps dumps changes moves volatility drawdown summary briefing bullish bearish
    capital hourly daily weekly monthly million thousand billion dollars euros depeg
    depegs depegged pegged minutes minute hours months years weeks yesterday today
    tomorrow january february march april june july august september october november
    december monday tuesday wednesday thursday friday saturday sunday current worth
    stable recurring every whenever percent overbought oversold risks risky movers gainers
    losers charges stale table prime deleted removed cancelled canceled changed moved dropped
    calls movies tells rises falls notifications reminders investments""".split()
) | frozenset(w for w in COIN_NAMES if w.isalpha() and len(w) >= 5)


def vocabulary() -> frozenset[str]:
    """The words the recogniser keys on (never taken for unknown tickers)."""
    return _VOCABULARY


@dataclass(frozen=True, slots=True)
class Doc:
    """One message, normalised.

    Attributes:
        raw: The message as written.
        text: ASCII, casing kept, typos corrected.
        low: ``text`` lower-cased (same length).
    """

    raw: str
    text: str
    low: str

    @property
    def mostly_upper(self) -> bool:
        """True when the message is written in capitals (so casing says nothing)."""
        letters = [c for c in self.text if c.isalpha()]
        return len(letters) >= 4 and sum(c.isupper() for c in letters) > 0.7 * len(letters)

    def is_upper_at(self, start: int, end: int) -> bool:
        """True when the span is written in capitals in a message that is not all caps."""
        span = self.text[start:end]
        return span.isupper() and not self.mostly_upper


def make_doc(raw: str) -> Doc:
    """Normalise a message (see :class:`Doc`)."""
    text = unicodedata.normalize("NFKC", raw)
    text = _REPLACE_RE.sub(lambda m: _REPLACE[m.group(0)], text)
    text = _NON_ASCII.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = _GLUED_COIN.sub(" ", text)  # "0.5btc" -> "0.5 btc"
    text = _WORD.sub(_correct_match, text)
    return Doc(raw=raw, text=text, low=text.lower())


def _correct_match(match: re.Match[str]) -> str:
    word = match.group(0)
    fixed = correct_word(word.lower())
    return word if fixed is None else fixed


@lru_cache(maxsize=4096)
def correct_word(word: str) -> str | None:
    """The vocabulary word one edit (or one swap) away from ``word``, if exactly one is.

    Known words, common English words and short words are left alone.
    """
    if len(word) < 5 or word in _VOCABULARY or word in COMMON_WORDS:
        return None
    candidates = {w for key in _deletes(word) | {word} for w in _DELETE_INDEX.get(key, ())}
    close = sorted(w for w in candidates if _one_edit(word, w))
    return close[0] if len(close) == 1 else None


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _build_index() -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for word in _VOCABULARY:
        for key in _deletes(word) | {word}:
            index.setdefault(key, set()).add(word)
    return index


_DELETE_INDEX = _build_index()


def _one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of exactly one (substitution, insertion, deletion, swap)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
