"""Word lists of the offline language understanding: coins, currencies, time zones, words.

Coin names come from the embedded catalogue (:mod:`tools.market.catalog`) plus a small
table of names people use; everything here is lower-case and built once at import.
"""

from __future__ import annotations

from tools.market.catalog import ALIASES, COINS, STABLECOINS
from tools.settings_parse import ZONE_ALIASES

_ID_TO_SYMBOL: dict[str, str] = {c.id: c.symbol for c in COINS}
_ID_TO_SYMBOL.update({s.id: s.symbol for s in STABLECOINS})

#: Names people use that the catalogue lacks (lower-case -> ticker).
_EXTRA_NAMES: dict[str, str] = {
    "bitcoins": "BTC",
    "btc": "BTC",
    "sats": "BTC",
    "ether": "ETH",
    "ethers": "ETH",
    "eth": "ETH",
    "avalanche": "AVAX",
    "ripple": "XRP",
    "binance coin": "BNB",
    "shiba": "SHIB",
    "shiba inu": "SHIB",
    "tether": "USDT",
    "usd coin": "USDC",
    "usd-coin": "USDC",
    "hedera": "HBAR",
    "toncoin": "TON",
    "eth classic": "ETC",
    "ethereum classic": "ETC",
    "bitcoin cash": "BCH",
    "internet computer": "ICP",
    "near protocol": "NEAR",
    "cosmos": "ATOM",
    "polkadot": "DOT",
    "chainlink": "LINK",
    "dogwifhat": "WIF",
    "ethena": "USDE",
    "ethena usde": "USDE",
    "paypal usd": "PYUSD",
    "first digital usd": "FDUSD",
    "trueusd": "TUSD",
    "true usd": "TUSD",
    "stasis euro": "EURS",
    "euro coin": "EURC",
}

#: Lower-case names, tickers and aliases -> upper-case ticker.
COIN_NAMES: dict[str, str] = {}
for _id, _symbol, _name in [(c.id, c.symbol, c.name) for c in COINS] + [
    (s.id, s.symbol, s.name) for s in STABLECOINS
]:
    COIN_NAMES[_symbol.lower()] = _symbol
    COIN_NAMES[_name.lower()] = _symbol
    COIN_NAMES[_id.replace("-", " ")] = _symbol
for _alias, _coin_id in ALIASES.items():
    if _coin_id in _ID_TO_SYMBOL:
        COIN_NAMES[_alias] = _ID_TO_SYMBOL[_coin_id]
COIN_NAMES.update(_EXTRA_NAMES)
COIN_NAMES.pop("avalanche 2", None)

#: Upper-case tickers of stablecoins.
STABLE_TICKERS: frozenset[str] = frozenset(s.symbol for s in STABLECOINS)

#: Every known ticker.
KNOWN_TICKERS: frozenset[str] = frozenset(COIN_NAMES.values())

#: Coin words that are also ordinary English: a coin only with supporting evidence
#: (upper case, ``$`` prefix, a quantity before it, "price of ...", ...).
AMBIGUOUS_COIN_WORDS: frozenset[str] = frozenset(
    {
        "near", "ton", "dot", "etc", "op", "hype", "optimism", "stellar", "apt", "atom", "uni",
        "link", "fil", "arb", "cosmos", "sats",
    }
)  # fmt: skip

#: Quote currencies (lower-case phrase -> lower-case code).
CURRENCIES: dict[str, str] = {
    "usd": "usd", "us dollar": "usd", "us dollars": "usd", "dollar": "usd", "dollars": "usd",
    "bucks": "usd", "usdollars": "usd",
    "eur": "eur", "euro": "eur", "euros": "eur",
    "gbp": "gbp", "pound": "gbp", "pounds": "gbp", "sterling": "gbp", "quid": "gbp",
    "jpy": "jpy", "yen": "jpy",
    "chf": "chf", "swiss franc": "chf", "swiss francs": "chf", "franc": "chf", "francs": "chf",
    "cad": "cad", "canadian dollar": "cad", "canadian dollars": "cad",
    "aud": "aud", "australian dollar": "aud", "australian dollars": "aud",
    "inr": "inr", "rupee": "inr", "rupees": "inr",
    "krw": "krw", "won": "krw",
    "cny": "cny", "yuan": "cny", "rmb": "cny", "renminbi": "cny",
    "rub": "rub", "ruble": "rub", "rubles": "rub", "rouble": "rub", "roubles": "rub",
    "lira": "try", "brl": "brl", "reais": "brl",
    "mxn": "mxn", "peso": "mxn", "pesos": "mxn",
    "sgd": "sgd", "hkd": "hkd", "nzd": "nzd", "sek": "sek", "nok": "nok", "dkk": "dkk",
    "pln": "pln", "zloty": "pln", "zar": "zar", "rand": "zar",
    "btc": "btc", "bitcoin": "btc", "eth": "eth", "ether": "eth", "ethereum": "eth",
    "sats": "sats",
}  # fmt: skip

#: Currency codes that stand alone as a quote currency ("btc eur").
BARE_CURRENCY_CODES: frozenset[str] = frozenset(
    {"usd", "eur", "gbp", "jpy", "chf", "cad", "aud", "inr", "krw", "cny", "rub", "brl",
     "mxn", "sgd", "hkd", "nzd", "sek", "nok", "dkk", "pln", "zar"}
)  # fmt: skip

#: Time-zone abbreviations, countries and cities missing from the IANA city list
#: (shared with the settings parser, so what the assistant understands is what it stores).
TIMEZONE_ALIASES: dict[str, str] = ZONE_ALIASES

#: Indicator phrases (lower-case) -> indicator name of the tool contract.
INDICATORS: dict[str, str] = {
    "rsi": "RSI", "relative strength index": "RSI", "relative strength": "RSI",
    "macd": "MACD",
    "bollinger bands": "BBANDS", "bollinger band": "BBANDS", "bollinger": "BBANDS",
    "bbands": "BBANDS", "bb": "BBANDS",
    "simple moving average": "SMA", "moving averages": "SMA", "moving average": "SMA",
    "sma": "SMA", "ma": "SMA",
    "exponential moving average": "EMA", "ema": "EMA",
    "atr": "ATR", "average true range": "ATR",
    "stochastic oscillator": "STOCH", "stochastics": "STOCH", "stochastic": "STOCH",
    "stoch": "STOCH", "stoch rsi": "STOCH",
}  # fmt: skip

#: Strategy phrases -> strategy name of the tool contract, most specific first.
STRATEGIES: tuple[tuple[str, str], ...] = (
    (r"rsi\s*(?:mean[\s-]*)?revers\w*|rsi\s+(?:strategy|bounce|dip)|(?:oversold|overbought)"
     r"\s+(?:bounce|strategy)", "rsi_mean_reversion"),
    (r"bollinger\w*(?:\s+bands?)?\s*(?:mean[\s-]*)?(?:revers\w*|strategy|bounce)?|\bbb\s+revers\w*",
     "bollinger_reversion"),
    (r"macd(?:\s*[-/]?\s*(?:signal\s+)?cross\w*|\s+strategy)?", "macd_crossover"),
    (r"golden\s+cross\w*|death\s+cross\w*|(?:sma|ema|ma|moving[\s-]+averages?)\s*[-/]?\s*cross\w*|"
     r"(?:sma|ema|moving[\s-]+average)\s+strategy|trend[\s-]+following", "sma_crossover"),
    (r"\bdca\b|dollar[\s-]+cost[\s-]+averag\w*|cost[\s-]+averag\w*|recurring\s+buys?|"
     r"(?:buy|buying|bought|invest|investing|invested|put(?:ting)?)\b[\w\s$.,]{0,30}?"
     r"\b(?:every\s+(?:day|week|month|monday|friday)|weekly|monthly|daily|each\s+(?:week|month))",
     "dca"),
    (r"buy[\s-]*(?:and|&|n)[\s-]*hold|\bhodl\w*|\bjust\s+(?:held|holding|hold)\b|"
     r"\bheld\b|\bholding\s+(?:it|them)\b|passive", "buy_and_hold"),
    (r"mean[\s-]*revers\w*", "rsi_mean_reversion"),
)  # fmt: skip

#: Small number words.
WORD_NUMBERS: dict[str, float] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30, "sixty": 60, "ninety": 90, "half a": 0.5,
    "half an": 0.5, "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3,
    "several": 3, "a dozen": 12,
}  # fmt: skip

#: Common English and chat words: never an unknown ticker, never "corrected" as a typo.
COMMON_WORDS: frozenset[str] = frozenset(
    """a about above after again against ago all also alert alerts am an and any anything
    are as at back be been before being below between both but buy by can cancel chart check
    coin coins could crypto current currently daily data day days did do does doing done
    down each either else even every for from get give go going good got had has have he
    her here hey hi him his history hit hits hold how i if in info into is it its just
    know last less let like list log look make market me more most much my need new next no
    not now of off ok okay on once one only or other our out over per please pls plz price
    prices quick record remove report right rn sell set should show since so some sold
    still than thank thanks that the their them then there these they this those through
    thx to today too top tell up us use value very want was way we week weekly were what
    whats when where whether which while who why will with within would year years yes yet
    you your yours hello hey yo sup please send turn stop start help can't cant don't dont
    i'm im it's what's whats wanna gonna gimme lemme yeah nah nope yep yup hmm ok okay lol
    lmao omg wow cool nice great awesome thanks thx ty cheers plz pls asap fyi btw imo tbh
    idk brb gm gn ser fam bro dude guys folks man now then new old big small high low
    open close volume amount total each every same again also too very really quite
    alert alerts notify ping remind warn portfolio holdings balance trade trades trading
    tax taxes report digest summary overview sentiment chart graph plot history target
    targets allocation rebalance risk strategy backtest formula evaluate compute calculate
    price prices worth cost value quote rate above below under over less more than drops
    falls rises goes hits reaches crosses breaks exceeds between against vs versus
    usd eur gbp jpy chf cad aud inr krw cny rub brl mxn utc gmt cet est pst am pm
    rsi macd sma ema atr bb bbands stoch dca ta ath atl fifo lifo hifo pnl roi apy apr
    id no number please thank day week month year hour hours minute minutes h d w m y
    would could should might must shall may will can does did done doing made make
    weather joke poem story song movie game news help""".split()
)
