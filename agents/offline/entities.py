"""Extractors for named things: coins, quote currencies, time zones, indicators, strategies,
formulas, target weights, alert ids and portfolio names.

They read a :class:`~agents.offline.text.Doc` and return values in the tool contract's
notation (upper-case tickers, IANA zone names, ``"BBANDS"``, ``"sma_crossover"``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from agents.offline.extract import before as tail
from agents.offline.extract import find_numbers
from agents.offline.lexicon import (
    AMBIGUOUS_COIN_WORDS,
    BARE_CURRENCY_CODES,
    COIN_NAMES,
    COMMON_WORDS,
    CURRENCIES,
    INDICATORS,
    STRATEGIES,
    TIMEZONE_ALIASES,
)
from agents.offline.text import Doc


def _alternation(words: Iterable[str]) -> str:
    keys = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(k).replace(r"\ ", r"[\s-]+") for k in keys)


_COIN_RE = re.compile(
    r"(?<![\w$])(?P<cash>\$)?(?P<name>" + _alternation(COIN_NAMES) + r")(?:'s)?(?![\w])"
)
_PREV_OK = frozenset(
    "of for on about into buy sell bought sold and or vs versus my short long swap chart price "
    "rsi macd ta alert backtest sentiment history analyze analyse & , check".split()
)
_NEXT_OK = frozenset(
    "price prices chart rsi macd sentiment ta technicals above below under over hits reaches "
    "drops falls goes and or , & ? worth at is trading".split()
)


@dataclass(frozen=True, slots=True)
class CoinMention:
    """A coin in the text.

    Attributes:
        symbol: Upper-case ticker (for unknown tickers, the text as written, upper-cased).
        start: Span start.
        end: Span end.
        known: Whether the catalogue knows it.
    """

    symbol: str
    start: int
    end: int
    known: bool = True


def find_coins(doc: Doc) -> list[CoinMention]:
    """Known coins mentioned in ``doc``, in order (English look-alikes need evidence)."""
    out: list[CoinMention] = []
    for m in _COIN_RE.finditer(doc.low):
        name = re.sub(r"[\s-]+", " ", m.group("name"))
        if name in AMBIGUOUS_COIN_WORDS and not (
            m.group("cash") or doc.is_upper_at(m.start("name"), m.end("name"))
        ):
            if not _coin_evidence(doc.low, m.start(), m.end()):
                continue
        out.append(CoinMention(COIN_NAMES[name], m.start(), m.end()))
    return out


def _coin_evidence(low: str, start: int, end: int) -> bool:
    before = re.findall(r"[a-z0-9]+|[&,?]", tail(low, start))
    after = re.findall(r"[a-z0-9]+|[&,?]", low[end:])
    prev = before[-1] if before else ""
    nxt = after[0] if after else ""
    if prev in _PREV_OK or nxt in _NEXT_OK or re.fullmatch(r"[\d.,]+k?", prev):
        return True
    if _AFTER_PRICE.search(tail(low, start)):
        return True
    return not before and (not after or after == ["?"])


_TOKEN_RE = re.compile(
    r"(?<![\w$])(?P<cash>\$)?(?P<tok>[A-Za-z][A-Za-z0-9]{1,19}|\d+[A-Za-z][A-Za-z0-9]{2,19})(?![\w])"
)
_NOT_TICKER = re.compile(r"\d+(?:k|m|b|h|d|w|y|mo|am|pm|st|nd|rd|th|x|min|hrs?|bn)|\d+e\d+")
_AFTER_PRICE = re.compile(
    r"\b(?:price|prices|quote|value|worth|chart|graph|cost)\s+(?:of|for)\s+(?:the\s+|a\s+)?$|"
    r"\bhow\s+much\s+(?:is|are|does|do)\s+(?:the\s+|a\s+|one\s+|1\s+)?$"
)


def find_unknown_tickers(
    doc: Doc, known: list[CoinMention], vocabulary: frozenset[str]
) -> list[CoinMention]:
    """Ticker-like tokens the catalogue does not know ("NOTAREALCOIN123", "$KASPA").

    A token counts when written as a cash tag, in capitals, mixing letters and digits, or
    right after "price of"/"how much is"; common and command words never count.
    """
    out: list[CoinMention] = []
    for m in _TOKEN_RE.finditer(doc.text):
        tok = m.group("tok")
        low = tok.lower()
        if any(k.start < m.end() and m.start() < k.end for k in known):
            continue
        if low in vocabulary or low in COMMON_WORDS or low in COIN_NAMES or low in CURRENCIES:
            continue
        if _NOT_TICKER.fullmatch(low):
            continue
        evidence = (
            bool(m.group("cash"))
            or doc.is_upper_at(m.start("tok"), m.end("tok"))
            or (any(c.isdigit() for c in tok) and len(tok) >= 5)
            or bool(_AFTER_PRICE.search(tail(doc.low, m.start())))
        )
        if evidence:
            out.append(CoinMention(tok.upper(), m.start(), m.end(), known=False))
    return out


# --- quote currency ---------------------------------------------------------------------

_CUR_ALT = _alternation(CURRENCIES)
_VS_RE = re.compile(
    r"\b(?P<prep>in|into|to|vs\.?|versus|against|denominated\s+in|priced\s+in|quoted\s+in)\s+"
    r"(?:the\s+|us\s+)?(?P<cur>" + _CUR_ALT + r")(?![\w])"
)
_CRYPTO_QUOTES = frozenset({"btc", "eth", "sats"})
_PAIR_RE = re.compile(r"(?<![\w])(?P<base>[a-z]{2,6})\s?[/-]\s?(?P<cur>" + _CUR_ALT + r")(?![\w])")
_NAMED_BEFORE_PRICE_RE = re.compile(
    r"(?<![\w$])(?P<cur>"
    + _alternation(k for k, v in CURRENCIES.items() if v not in ("btc", "eth", "sats"))
    + r")\s+(?:price|prices|value|rate|quote)\b"
)
_BARE_RE = re.compile(r"(?<![\w$.])(?P<cur>" + "|".join(sorted(BARE_CURRENCY_CODES)) + r")(?![\w])")


@dataclass(frozen=True, slots=True)
class CurrencyMention:
    """A quote currency ("in EUR", "btc/eur", "yen").

    Attributes:
        code: Lower-case currency code.
        start: Span start of the currency word.
        end: Span end.
    """

    code: str
    start: int
    end: int


def find_quote_currency(doc: Doc) -> CurrencyMention | None:
    """The currency a price should be quoted in, if the text names one."""
    low = doc.low
    for regex in (_VS_RE, _PAIR_RE):
        for m in regex.finditer(low):
            if regex is _PAIR_RE and m.group("base") not in COIN_NAMES:
                continue
            code = CURRENCIES[re.sub(r"[\s-]+", " ", m.group("cur"))]
            if regex is _VS_RE and code in _CRYPTO_QUOTES and m.group("prep")[0] in "vai":
                if m.group("prep") != "in" and m.group("prep") != "into":
                    continue  # "btc vs eth" compares two coins
            return CurrencyMention(code, m.start("cur"), m.end("cur"))
    named = _NAMED_BEFORE_PRICE_RE.search(low)  # "solana euro price"
    if named:
        code = CURRENCIES[re.sub(r"[\s-]+", " ", named.group("cur"))]
        return CurrencyMention(code, named.start("cur"), named.end("cur"))
    for m in _BARE_RE.finditer(low):
        if re.search(r"\d\s*$", tail(low, m.start())):
            continue  # "100 usd" is an amount
        return CurrencyMention(m.group("cur"), m.start(), m.end())
    return None


# --- time zones ---------------------------------------------------------------------------

_IANA_RE = re.compile(r"\b[a-z]+(?:/[a-z0-9_+\-]+){1,2}\b")
_OFFSET_RE = re.compile(r"\b(?:utc|gmt)\s?(?P<sign>[+-])\s?(?P<h>\d{1,2})(?::?00)?\b")
_SKIP_REGIONS = ("Etc/", "SystemV/", "US/", "Canada/", "Brazil/", "Chile/", "Mexico/")


@lru_cache(maxsize=1)
def _zones() -> tuple[dict[str, str], dict[str, str]]:
    """(lower-case IANA name -> name, lower-case city/alias -> name)."""
    import zoneinfo

    names = sorted(zoneinfo.available_timezones())
    by_name = {n.lower(): n for n in names}
    cities: dict[str, str] = {}
    for name in names:
        if "/" in name and not name.startswith(_SKIP_REGIONS):
            city = name.rsplit("/", 1)[1].replace("_", " ").lower()
            cities.setdefault(city, name)
    cities.update(TIMEZONE_ALIASES)
    return by_name, cities


@lru_cache(maxsize=1)
def _city_re() -> re.Pattern[str]:
    return re.compile(r"(?<![\w/])(?:" + _alternation(_zones()[1]) + r")(?![\w/])")


def find_timezone(doc: Doc, after: int = 0) -> str | None:
    """An IANA time-zone name for the zone, city or abbreviation named after ``after``."""
    by_name, cities = _zones()
    low = doc.low[after:]
    for iana in _IANA_RE.finditer(low):
        if iana.group(0) in by_name:
            return by_name[iana.group(0)]
    offset = _OFFSET_RE.search(low)
    if offset:
        hours = int(offset.group("h"))
        if hours == 0:
            return "UTC"
        sign = "-" if offset.group("sign") == "+" else "+"  # POSIX Etc names are inverted
        zone = f"Etc/GMT{sign}{hours}"
        return by_name.get(zone.lower())
    best = max(_city_re().finditer(low), key=lambda x: len(x.group(0)), default=None)
    if best is None:
        return None
    return cities.get(re.sub(r"[\s-]+", " ", best.group(0)))


# --- indicators, strategies, formulas ------------------------------------------------------

_INDICATOR_RE = re.compile(r"(?<![a-z])(?:" + _alternation(INDICATORS) + r")(?![a-z])")


def find_indicators(low: str) -> list[str]:
    """Indicator names (contract notation) mentioned in ``low``, in order, without repeats."""
    out: list[str] = []
    for m in _INDICATOR_RE.finditer(low):
        name = INDICATORS[re.sub(r"[\s-]+", " ", m.group(0))]
        if name not in out:
            out.append(name)
    return out


_STRATEGY_RES = tuple((re.compile(p), name) for p, name in STRATEGIES)
_INDICATOR_STRATEGY = {
    "RSI": "rsi_mean_reversion", "MACD": "macd_crossover", "SMA": "sma_crossover",
    "EMA": "sma_crossover", "BBANDS": "bollinger_reversion",
}  # fmt: skip


_EXPLICIT_STRATEGY = re.compile(
    r"\b(?:strateg\w*|crossover|cross|revers\w*|dca|dollar[\s-]+cost|hodl\w*|golden|held|"
    r"just\s+hold|buy[\s-]*(?:and|&|n)[\s-]*hold)\b"
)


def names_strategy(low: str) -> bool:
    """True when the text names a strategy as such ("golden cross", "dca", "rsi strategy"),
    not just an indicator."""
    return find_strategy(low) is not None and bool(
        _EXPLICIT_STRATEGY.search(low) or _STRATEGY_RES[4][0].search(low)
    )


def find_strategy(low: str) -> str | None:
    """The backtest strategy a phrase names ("golden cross" -> ``sma_crossover``)."""
    for regex, name in _STRATEGY_RES:
        if regex.search(low):
            return name
    for indicator in find_indicators(low):
        if indicator in _INDICATOR_STRATEGY:
            return _INDICATOR_STRATEGY[indicator]
    if re.search(r"\bhold(?:ing)?\b", low):
        return "buy_and_hold"
    return None


_FORMULA_TRIGGER = re.compile(
    r"\b(?:evaluate|eval|compute|calculate|calc|formula|expression)\b"
    r"(?:\s+(?:the|this|my|a))?(?:\s+(?:formula|expression))?\s*[:=]?\s*"
)
_TERM = r"(?:[a-z_]+\s*\(\s*[\d.\s,]*\)|close|open|high|low|volume|price|\d+(?:\.\d+)?)"
_EXPRESSION_RE = re.compile(
    r"\(?\s*" + _TERM + r"(?:\s*\)?\s*(?:[-+*/<>]=?|==)\s*\(?\s*" + _TERM + r")+\s*\)?"
)
_FORMULA_TAIL = re.compile(
    r"\s+(?:on|for|of|in|using|with|over|at)\s+(?:the\s+)?"
    r"(?:\d+\s?(?:m|h|d|w|min|hour|day)\w*\b|hourly|daily|weekly|last\b|past\b)"
)


_PREP_BEFORE_COIN = re.compile(r"\s+(?:on|for|of|in|with|using|at)\s+(?:the\s+)?\$?$")


def find_formula(doc: Doc, coins: list[CoinMention]) -> str | None:
    """The formula to evaluate: the expression after "evaluate"/"compute"/"formula", or an
    arithmetic expression over indicator calls ("SMA(50) - SMA(200)"), casing kept."""
    m = _FORMULA_TRIGGER.search(doc.low)
    if m:
        start, end = m.end(), len(doc.text)
    else:
        e = _EXPRESSION_RE.search(doc.low)
        if e is None or "(" not in e.group(0):
            return None
        start, end = e.start(), e.end()
    for coin in coins:
        if coin.start < start:
            continue
        window = max(0, coin.start - 48)
        prep = _PREP_BEFORE_COIN.search(doc.low, window, coin.start)
        cut = prep.start() if prep and prep.start() >= start else coin.start
        lead = re.match(r"\s*[:,]\s*", doc.low[coin.end :])
        if cut > start:
            end = min(end, cut)
        elif lead:  # "evaluate btc: rsi(14) > 70"
            start = coin.end + len(lead.group(0))
    trailer = _FORMULA_TAIL.search(doc.low, start, end)
    if trailer:
        end = trailer.start()
    formula = doc.text[start:end].strip().rstrip("?!.,;").strip()
    if not formula or not re.search(r"[a-z]", formula.lower()) and not re.search(r"\d", formula):
        return None
    return formula


# --- alert ids, portfolio names, target weights ------------------------------------------------

_ALERT_ID_RE = re.compile(
    r"(?:\balerts?|\balarms?|\brules?|\bnotifications?|\bid|\bnumber|\bno\.?|\bnr\.?)\s*"
    r"(?:#|no\.?|number|id|nr\.?)?\s*#?\s*(?P<id>-?\d+)\b|#\s*(?P<hash>-?\d+)\b|"
    r"\b(?P<ord>\d+)(?:st|nd|rd|th)\s+(?:price\s+)?(?:alert|alarm)\b"
)


#: After a named id: more ids ("alerts 3, 4 and 5", "#3 and #7", "alert 1 & alert 2").
_MORE_IDS_RE = re.compile(
    r"\s*(?:,\s*(?:and|&)?|and|&|\+|or)\s*(?:(?:alerts?|alarms?|no\.?|number|id)\s*)?#?\s*"
    r"(?P<id>\d+)\b(?!\.\d|,\d{3}\b|\s*(?:%|\$|(?:k|m|usd|x|st|nd|rd|th|more|others?)\b))"
)
#: After a named id: the end of a range ("alerts 2-4", "alerts 2 to 4", "#2 through #4").
_RANGE_END_RE = re.compile(
    r"\s*(?:-|to|through|thru|till|until)\s*#?\s*(?P<end>\d+)\b(?!\.\d|,\d{3}\b)"
)
#: Most ids one range is expanded to.
MAX_RANGE_IDS = 100


def find_alert_ids(low: str) -> list[int]:
    """Alert ids named in ``low``, in order, without repeats.

    Single ids ("alert 4", "#12", "alert number 7"), lists after one ("alerts 3, 4 and
    5", "#3 and #7") and ranges ("alerts 2-4", "2 to 4"). A range adds at most
    :data:`MAX_RANGE_IDS` ids, so a longer one still comes out longer than that.
    """
    out: list[int] = []

    def add(value: int) -> None:
        if value not in out:
            out.append(value)

    pos = 0
    while (m := _ALERT_ID_RE.search(low, pos)) is not None:
        first = int(m.group("id") or m.group("hash") or m.group("ord"))
        add(first)
        pos = m.end()
        if m.group("ord") is not None:
            continue
        last = first
        while True:
            span = _RANGE_END_RE.match(low, pos)
            if span is not None:
                end = int(span.group("end"))
                if end > last:
                    for value in range(last + 1, min(end, last + MAX_RANGE_IDS) + 1):
                        add(value)
                else:
                    add(end)
                last, pos = end, span.end()
                continue
            more = _MORE_IDS_RE.match(low, pos)
            if more is None:
                break
            last, pos = int(more.group("id")), more.end()
            add(last)
    return out


_GENERIC_PORTFOLIO = frozenset(
    "my the a whole entire overall total current own personal crypto this that your main "
    "full combined".split()
)
_PORTFOLIO_RES = (
    re.compile(r"\bportfolio\s+(?:called|named|labell?ed)\s+['\"]?(?P<name>[\w-]+)"),
    re.compile(r"\bportfolio\s*[:=]\s*['\"]?(?P<name>[\w-]+)"),
    re.compile(r"\bportfolio\s+['\"](?P<name>[^'\"]+)['\"]"),
    re.compile(
        r"\b(?:in|to|into|from|for|on|of)\s+(?:my\s+|the\s+)?['\"]?(?P<name>[\w-]+(?:\s[\w-]+)?)['\"]?\s+portfolio\b"
    ),
)


def find_portfolio_name(low: str) -> str | None:
    """A named portfolio ("in my trading portfolio", "portfolio called retirement")."""
    for regex in _PORTFOLIO_RES:
        m = regex.search(low)
        if m:
            name = m.group("name").strip()
            words = [w for w in name.split() if w not in _GENERIC_PORTFOLIO]
            if words:
                return " ".join(words)
    return None


_HALF_RE = re.compile(r"\bhalf\s+(?:in\s+|of\s+it\s+(?:in\s+)?)?")
_REST_RE = re.compile(
    r"\b(?:the\s+)?(?:rest|remainder|remaining|everything\s+else)\s+(?:in|into|to|on|as)?\s*$"
)


def find_targets(doc: Doc, coins: list[CoinMention]) -> dict[str, float] | None:
    """Target weights as written (numbers as given, ``%`` dropped), or ``None``.

    Pairs each coin with its number ("70% BTC 30% ETH", "BTC 60 ETH 30", "70/30 between
    btc and eth", "half btc half eth"); "equal"/"evenly" splits equally; "the rest in X"
    takes what is left. The caller scales percentages and checks the sum.
    """
    if not coins:
        return None
    low = _HALF_RE.sub(lambda m: "50% " + " " * (len(m.group(0)) - 4), doc.low)
    coin_spans = [(c.start, c.end) for c in coins]
    numbers = [n for n in find_numbers(low, coin_spans) if n.value is not None]
    percent_scale = any(n.percent for n in numbers)
    items: list[tuple[int, str, float]] = [(c.start, "coin", 0.0) for c in coins]
    items += [(n.start, "num", float(n.value or 0)) for n in numbers]
    items.sort()
    symbols = list(dict.fromkeys(c.symbol for c in coins))
    rest = [c.symbol for c in coins if _REST_RE.search(tail(low, c.start))]
    if not numbers:
        if len(symbols) >= 2 and re.search(
            r"\b(?:equal\w*|evenly|even\s+split|same\s+weight)", low
        ):
            return {s: 1.0 / len(symbols) for s in symbols}
        return None
    weighted = [s for s in symbols if s not in rest]
    kinds = [k for _, k, _ in items]
    values = [v for _, k, v in items if k == "num"]
    if kinds == sorted(kinds) or kinds == sorted(kinds, reverse=True):  # all numbers on one side
        pairs = list(zip(weighted, values, strict=False)) if len(values) == len(weighted) else []
    else:
        pairs = _pair_adjacent(items, coins, numbers_first=kinds[0] == "num")
    targets = {symbol: value for symbol, value in pairs}
    if not targets:
        return None
    if rest:
        whole = 100.0 if percent_scale or sum(targets.values()) > 1.5 else 1.0
        targets[rest[0]] = whole - sum(targets.values())
    return targets


def _pair_adjacent(
    items: list[tuple[int, str, float]], coins: list[CoinMention], *, numbers_first: bool
) -> list[tuple[str, float]]:
    by_start = {c.start: c.symbol for c in coins}
    pairs: list[tuple[str, float]] = []
    for i, (pos, kind, _) in enumerate(items):
        if kind != "coin":
            continue
        j = i - 1 if numbers_first else i + 1
        if 0 <= j < len(items) and items[j][1] == "num":
            pairs.append((by_start[pos], items[j][2]))
    return pairs
