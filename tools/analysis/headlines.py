"""Which headlines are about which coin, and the offline headline file.

:class:`CoinMatcher` decides whether a headline mentions a coin:

* the ticker as a word, case-sensitive and optionally with a ``$`` (``BTC``, ``$SOL``,
  ``BTC/USD``; not ``btc`` inside ``btcturk``, and ``OP`` or ``TON`` only in capitals, so
  "op-ed" and "tons" do not count);
* the name or an alias as a word, case-insensitive (``Bitcoin``, ``bitcoin's``, ``ether``),
  except names that are everyday English words (:data:`COMMON_WORD_NAMES`: "Stellar",
  "Optimism", "Avalanche"...), which count only capitalised as written;
* a name inside a longer coin name does not count for the shorter one ("Bitcoin Cash" is
  not Bitcoin, "Ethereum Classic" is not Ethereum).

Title and summary are both searched. Matching is lexical, so a headline that names a coin
only in passing still counts; the report says how many headlines were used.

The offline headline file (:data:`BUNDLED_HEADLINES`, or one the operator configures) is
JSON: ``{"about": "...", "headlines": [{"title", "url", "source", "published",
"summary"}]}`` with ISO 8601 timestamps that carry a zone (``2025-03-01T09:30:00Z``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tools.errors import ConfigurationError
from tools.market.catalog import ALIASES
from tools.market.providers.news import Headline
from tools.market.types import CoinRef

#: The sample shipped with CryptoGuard (used offline and when every live feed fails).
BUNDLED_HEADLINES = Path(__file__).resolve().parent / "data" / "headlines_sample.json"

#: Coin names (lower-case) that are also ordinary words: matched only as capitalised.
COMMON_WORD_NAMES: frozenset[str] = frozenset(
    {"stellar", "optimism", "avalanche", "near", "cosmos", "pepe", "bonk"}
)

_MIN_TICKER = 2
_MIN_NAME = 3


class CoinMatcher:
    """Finds the headlines that mention a coin.

    Args:
        coins: Every known coin (for the "longer name" rule), e.g. ``resolver.coins()``.
        aliases: Extra names (lower-case) mapped to coin ids (default: the catalogue's).
    """

    def __init__(self, coins: Iterable[CoinRef], aliases: Mapping[str, str] | None = None) -> None:
        self._coins = list(coins)
        self._aliases = dict(ALIASES if aliases is None else aliases)
        self._cache: dict[str, _CoinPatterns] = {}

    def mentions(self, headline: Headline, coin: CoinRef) -> bool:
        """Whether the headline's title or summary mentions ``coin``."""
        patterns = self._patterns(coin)
        return patterns.search(headline.title) or patterns.search(headline.summary)

    def select(self, headlines: Iterable[Headline], coin: CoinRef) -> list[Headline]:
        """The headlines that mention ``coin``, in order."""
        return [h for h in headlines if self.mentions(h, coin)]

    def _patterns(self, coin: CoinRef) -> _CoinPatterns:
        cached = self._cache.get(coin.id)
        if cached is None:
            cached = _CoinPatterns.build(coin, self._coins, self._aliases)
            self._cache[coin.id] = cached
        return cached


@dataclass(frozen=True, slots=True)
class _CoinPatterns:
    ticker: re.Pattern[str] | None
    names: re.Pattern[str] | None
    exact_names: re.Pattern[str] | None
    longer: re.Pattern[str] | None

    @classmethod
    def build(
        cls, coin: CoinRef, coins: list[CoinRef], aliases: Mapping[str, str]
    ) -> _CoinPatterns:
        symbol = coin.symbol.upper()
        ticker = (
            re.compile(rf"(?<![A-Za-z0-9$])\$?{re.escape(symbol)}(?![A-Za-z0-9])")
            if len(symbol) >= _MIN_TICKER
            else None
        )
        # An alias equal to the ticker ("ton", "dot") is the ticker: capitals only.
        words = {coin.name.strip()} | {
            alias
            for alias, coin_id in aliases.items()
            if coin_id == coin.id and alias.upper() != symbol
        }
        words = {w for w in words if len(w) >= _MIN_NAME}
        loose = sorted((w for w in words if w.lower() not in COMMON_WORD_NAMES), key=len)
        exact = sorted((w for w in words if w.lower() in COMMON_WORD_NAMES), key=len)
        own = {w.lower() for w in words}
        longer = sorted(
            {
                other.name
                for other in coins
                if other.id != coin.id
                and other.name.lower() not in own
                and any(_contains_word(other.name, w) for w in words)
            },
            key=len,
            reverse=True,
        )
        return cls(
            ticker=ticker,
            names=_alternation(loose, re.IGNORECASE),
            exact_names=_alternation(exact, 0),
            longer=_alternation(longer, re.IGNORECASE),
        )

    def search(self, text: str) -> bool:
        if not text:
            return False
        if self.ticker is not None and self.ticker.search(text):
            return True
        if self.longer is not None:
            text = self.longer.sub(" ", text)
        return any(p is not None and p.search(text) for p in (self.names, self.exact_names))


def _alternation(words: list[str], flags: int) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w$])(?:{body})(?!\w)", flags)


def _contains_word(longer: str, word: str) -> bool:
    if longer.lower() == word.lower():
        return False
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", longer, re.IGNORECASE) is not None


# -- offline headline file ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeadlineFile:
    """Headlines read from a file (the bundled sample or a configured one).

    Attributes:
        path: Where they came from.
        headlines: The headlines, in file order.
        about: The file's own description, if any.
        bundled: Whether this is CryptoGuard's bundled sample.
    """

    path: Path
    headlines: tuple[Headline, ...]
    about: str
    bundled: bool

    @property
    def newest(self) -> datetime | None:
        """The latest publication time in the file."""
        stamps = [h.published for h in self.headlines if h.published is not None]
        return max(stamps) if stamps else None

    @property
    def oldest(self) -> datetime | None:
        """The earliest publication time in the file."""
        stamps = [h.published for h in self.headlines if h.published is not None]
        return min(stamps) if stamps else None


def load_headline_file(path: Path | str | None = None) -> HeadlineFile:
    """Read an offline headline file.

    Args:
        path: The file; ``None`` for the bundled sample.

    Returns:
        Its headlines.

    Raises:
        ConfigurationError: The file is missing, not JSON, or an item is unusable (the
            detail names the item).
    """
    file = BUNDLED_HEADLINES if path is None else Path(path).expanduser()
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _file_error(file, f"cannot read it ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise _file_error(file, f"not valid JSON ({exc})") from exc
    items = raw.get("headlines") if isinstance(raw, dict) else raw
    about = raw.get("about", "") if isinstance(raw, dict) else ""
    if not isinstance(items, list) or not items:
        raise _file_error(file, 'expected a non-empty "headlines" list')
    headlines = tuple(_headline_item(file, i, item) for i, item in enumerate(items))
    return HeadlineFile(
        path=file,
        headlines=headlines,
        about=about if isinstance(about, str) else "",
        bundled=file == BUNDLED_HEADLINES,
    )


def _headline_item(file: Path, index: int, item: object) -> Headline:
    if not isinstance(item, dict):
        raise _file_error(file, f"item {index} is not an object")
    title, url = item.get("title"), item.get("url")
    source, summary = item.get("source"), item.get("summary", "")
    if not isinstance(title, str) or not title.strip():
        raise _file_error(file, f"item {index} has no title")
    if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        raise _file_error(file, f"item {index}: url must be an http(s) address or null")
    return Headline(
        title=" ".join(title.split()),
        url=url,
        source=source if isinstance(source, str) and source.strip() else file.name,
        published=_timestamp(file, index, item.get("published")),
        summary=" ".join(summary.split()) if isinstance(summary, str) else "",
    )


def _timestamp(file: Path, index: int, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _file_error(file, f"item {index}: published must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _file_error(file, f"item {index}: bad timestamp {value[:40]!r}") from exc
    if when.tzinfo is None:
        raise _file_error(file, f"item {index}: timestamp {value[:40]!r} has no time zone")
    return when.astimezone(UTC)


def _file_error(file: Path, reason: str) -> ConfigurationError:
    return ConfigurationError(
        f"The offline headline file {file.name} cannot be used.", detail=f"{file}: {reason}"
    )
