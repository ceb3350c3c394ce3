"""Argument extraction for the state-changing tools, with minimal sanity checks.

Obviously invalid requests (a threshold of 0 or below, a percentage over 1000, a negative
quantity, a trade dated in the future, weights that do not add up to 100%) come back as a
refusal :class:`ChatIntent` instead of a call: validation is the tools' job, but a
mutating call is never made with nonsense.
"""

from __future__ import annotations

import re

from agents.offline import entities as ent
from agents.offline.extract import Duration, Number, before
from agents.offline.intents import BUY_RE, COMPARE_RE, MOVE_VERB, SELL_RE, is_down
from agents.offline.lexicon import STABLE_TICKERS
from agents.offline.parsed import Args, Batch, Parsed
from agents.offline.parsed import num as _num
from agents.offline.parsed import refuse as _refuse
from agents.offline.parsed import unclear as _unclear
from agents.offline.types import ChatIntent

#: A percentage above this is not a sensible alert threshold.
MAX_PERCENT = 1000.0

# --- alerts ---------------------------------------------------------------------------------

_UP_MOVE = re.compile(
    r"\b(?:pump\w*|ris\w*|rose|jump\w*|gain\w*|surg\w*|spik\w*|climb\w*|rall\w*|moon\w*|"
    r"goes\s+up|go\s+up|up)\b"
)
_DOWN_MOVE = re.compile(
    r"\b(?:dump\w*|drop\w*|fall\w*|fell|crash\w*|tank\w*|plung\w*|declin\w*|los[et]\w*|"
    r"goes\s+down|go\s+down|down|dip\w*|sink\w*|slid\w*|slump\w*)\b"
)
_ANY_MOVE = re.compile(
    r"\beither\s+(?:way|direction)\b|\bup\s+or\s+down\b|\bany\s+direction\b|\bboth\s+ways\b"
)
_RECURRING = re.compile(
    r"\b(?:every\s+(?:single\s+)?time|each\s+time|whenever|recurring|repeat\w*|keep\s+"
    r"(?:alerting|notifying|pinging|reminding|telling)|always|not\s+just\s+once|each\s+occurrence)\b"
)
_DEPEG = re.compile(
    r"\bde-?peg\w*|\bpeg\b|\boff\s+(?:the\s+)?peg|\blos(?:es|ing)\s+(?:its|the)\s+peg"
)
_PORTFOLIO = re.compile(
    r"\bportfolio\b|\bholdings\b|\bnet\s+worth\b|\bbalance\b|\bbags\b|\baccount\b"
)


def _window(d: Duration) -> str:
    hours = d.days(m_is_minutes=True) * 24
    if hours < 1:
        return f"{round(hours * 60)}m"
    if hours <= 72:
        return f"{_num(round(hours, 2))}h"
    return f"{_num(round(hours / 24, 2))}d"


def create_alert(p: Parsed) -> Args | ChatIntent:
    """Alert kind, coin, threshold, window, direction and recurrence.

    The kind follows the wording: a peg word makes ``depeg``, "RSI" with a comparison
    ``rsi_above``/``rsi_below``, the portfolio ``portfolio_above``/``portfolio_below``, a
    percentage move ``pct_change``, otherwise a price comparison."""
    low = p.low
    compare = COMPARE_RE.search(low)
    threshold_num = p.number_after(compare.end("cmp")) if compare else None
    percents = [n for n in p.numbers if n.percent]
    args: Args = {}
    if _DEPEG.search(low) and not (
        compare and not percents and threshold_num and _price_like(threshold_num)
    ):
        args["kind"] = "depeg"
        stables = [c.symbol for c in p.coins if c.symbol in STABLE_TICKERS]
        symbol = stables[0] if stables else p.symbol()
        threshold = (
            percents[0]
            if percents
            else next((n for n in p.numbers if n.value is not None and 0 < abs(n.value) < 50), None)
        )
        pct_kind = True
    elif "RSI" in p.indicators and compare:
        args["kind"] = "rsi_below" if is_down(compare.group("cmp")) else "rsi_above"
        symbol, threshold, pct_kind = p.symbol(), threshold_num, False
        if threshold is not None and threshold.value is not None and not 0 < threshold.value < 100:
            return _refuse("An RSI threshold must be between 0 and 100.")
    elif _PORTFOLIO.search(low) and not p.coins:
        below = compare is not None and is_down(compare.group("cmp"))
        args["kind"] = "portfolio_below" if below else "portfolio_above"
        symbol, threshold, pct_kind = None, threshold_num or _first(p.numbers), False
        if threshold is not None and threshold.percent:
            return _unclear(
                "Portfolio alerts take a value, not a percentage: above or below how much?"
            )
    elif percents and (MOVE_VERB.search(low) or p.durations):
        args["kind"] = "pct_change"
        symbol, threshold, pct_kind = p.symbol(), percents[0], True
        if _ANY_MOVE.search(low):
            args["direction"] = "any"
        else:
            up, down = _UP_MOVE.search(low), _DOWN_MOVE.search(low)
            if up and not down:
                args["direction"] = "up"
            elif down and not up:
                args["direction"] = "down"
        windows = [d for d in p.durations if d.context or d.compact]
        if windows:
            args["window"] = _window(windows[0])
    else:
        below = compare is not None and is_down(compare.group("cmp"))
        args["kind"] = "price_below" if below else "price_above"
        symbol, threshold, pct_kind = p.symbol(), threshold_num or _first(p.numbers), False
    if symbol is not None:
        args["symbol"] = symbol
    elif args["kind"] not in ("portfolio_above", "portfolio_below"):
        return _unclear("Which coin should the alert watch?")
    bad = _check_threshold(threshold, pct_kind, args["kind"])
    if isinstance(bad, ChatIntent):
        return bad
    if bad is not None:
        args["threshold"] = bad
    if _RECURRING.search(low):
        args["recurring"] = True
    order = ("kind", "symbol", "threshold", "window", "direction", "recurring")
    return {key: args[key] for key in order if key in args}


def _first(numbers: list[Number]) -> Number | None:
    return numbers[0] if numbers else None


def _price_like(n: Number) -> bool:
    return n.value is not None and not n.percent and 0.5 < n.value < 2


def _check_threshold(
    n: Number | None, pct_kind: bool, kind: str
) -> float | int | ChatIntent | None:
    if n is None:
        if kind == "depeg":
            return None  # the user's depeg threshold setting applies
        what = "percentage" if pct_kind else "price" if kind.startswith("price") else "value"
        return _unclear(f"At what {what} should the alert fire?")
    if n.value is None:
        return _refuse("I couldn't read that threshold; write it like 95000, 95k or 2.5.")
    if n.value <= 0:
        if pct_kind:
            return _refuse("The percentage must be positive.")
        if kind.startswith("portfolio"):
            return _refuse("The threshold must be a positive amount.")
        return _refuse("The threshold must be a positive price.")
    if pct_kind and n.value > MAX_PERCENT:
        return _refuse(f"A change of more than {MAX_PERCENT:g}% is not a sensible alert threshold.")
    return _num(n.value)


#: Most alerts one message may name for deletion (the service's bulk cap).
MAX_DELETE_IDS = 100

_ALL_ALERTS = re.compile(
    r"\b(?:all|every|each|everything|entire|whole)\b|"
    r"\b(?:my|the|these|those)\s+(?:(?:active|current|existing|price)\s+)?(?:alerts|alarms)\b"
)
_EXCEPT = re.compile(
    r"\b(?:except|but\s+not|other\s+than|apart\s+from|besides|excluding|save\s+for|keep(?:ing)?)\b"
)
#: Words that narrow "all alerts" down to some of them (not supported: deletes go by number).
_QUALIFIED = re.compile(
    r"\b(?:fired|triggered|expired|paused|inactive|old(?:er)?|depeg|rsi|pct|percent\w*|"
    r"portfolio|recurring|one-?shot|above|below|under|over)\b"
)


def delete_alert(p: Parsed) -> Args | Batch | ChatIntent:
    """The alert numbers named (one call each), or all of the user's alerts.

    "delete alert 4" is one call; "delete alerts 1 and 2", "3, 4 and 5" or "2-4" one
    call per number; "remove all my alerts" lists the alerts first, then deletes each
    listed one. Deleting more than one alert is confirmed with the user before it runs
    (the agent's bulk-delete guard), not here."""
    ids = ent.find_alert_ids(p.low)
    if any(i <= 0 for i in ids):
        return _refuse("Alert numbers are positive.")
    if len(ids) > MAX_DELETE_IDS:
        return _refuse(f"I can delete at most {MAX_DELETE_IDS} alerts in one request.")
    if len(ids) == 1:
        return {"alert_id": ids[0]}
    if ids:
        return Batch(calls=tuple({"alert_id": i} for i in ids))
    if _ALL_ALERTS.search(p.low):
        if _EXCEPT.search(p.low) or _QUALIFIED.search(p.low) or p.coins or p.unknown:
            return _unclear(
                "I can delete alerts by their numbers, or all of them. Which numbers? "
                "Say 'my alerts' to see them."
            )
        return Batch(each_listed_by="list_alerts")
    return _unclear("Which alert? Tell me its number (say 'my alerts' to see them).")


# --- portfolio changes ---------------------------------------------------------------------

_PRICE_PREP = re.compile(
    r"(?:\bat|@|\bfor|\bprice(?:d)?(?:\s+(?:of|at))?|\bpaying|\bpaid|\bcost(?:ing)?|\beach\s+at)"
    r"\s*(?:~|about|around|roughly|approx\w*)?\s*$"
)
_PER_UNIT = re.compile(
    r"\s*(?:usd|dollars?|bucks|usdt|\$|eur|euros?)?\s*(?:each|apiece|a\s+piece|per\s+\w+|/\s*\w+|ea)\b"
)
_TOTAL = re.compile(
    r"\s*(?:usd|dollars?|bucks|usdt|\$|eur|euros?)?\s*(?:total|in\s+total|altogether|overall)\b"
)
_FEE_BEFORE = re.compile(r"(?:fees?|commission)\s*(?:of|was|were|is|:|=|paid|cost)?\s*$")
_FEE_AFTER = re.compile(r"\s*(?:usd|dollars?|bucks|\$)?\s*(?:in\s+)?(?:fees?|commission)\b")


def record_trade(p: Parsed) -> Args | ChatIntent:
    """Side, coin, quantity, and the price, date, fee and portfolio when given.

    "for X each" is a unit price, "for X" or "X total" a total (divided by the quantity)."""
    buy, sell = BUY_RE.search(p.low), SELL_RE.search(p.low)
    if buy and (not sell or buy.start() < sell.start()):
        side = "buy"
    elif sell:
        side = "sell"
    else:
        return _unclear("Did you buy or sell? For example: bought 0.5 BTC at 48k.")
    found = p.quantity
    symbol = found[1].symbol if found else p.symbol()
    if symbol is None:
        return _unclear("Which coin did you trade?")
    if found is None:
        return _unclear(f"How much {symbol} did you {side}?")
    quantity = found[0]
    if quantity is None:
        return _refuse("I couldn't read the quantity; write it like 0.5 or 1,000.")
    if quantity <= 0:
        return _refuse("The quantity must be positive.")
    args: Args = {"side": side, "symbol": symbol, "quantity": _num(quantity)}
    fee: Number | None = None
    for n in p.numbers:
        if _FEE_BEFORE.search(before(p.low, n.start)) or _FEE_AFTER.match(p.low[n.end :]):
            fee = n
            break
    for n in p.numbers:
        if n is fee or n.start == found[2]:
            continue
        prep = _PRICE_PREP.search(before(p.low, n.start))
        if prep is None:
            continue
        if n.value is None or n.value <= 0:
            return _refuse("The price must be a positive number.")
        price = n.value
        after = p.low[n.end :]
        if (
            prep.group(0).strip().startswith("for")
            and not _PER_UNIT.match(after)
            or _TOTAL.match(after)
        ):
            price = n.value / quantity
        args["price"] = _num(round(price, 10))
        break
    if p.dates:
        when = p.dates[0].value
        if when is None:
            return _unclear("Which date exactly? Write it as YYYY-MM-DD.")
        if when > p.today:
            return _refuse("The trade date can't be in the future.")
        args["date"] = when.isoformat()
    if fee is not None:
        if fee.value is None or fee.value < 0:
            return _refuse("The fee must be zero or positive.")
        args["fee"] = _num(fee.value)
    name = ent.find_portfolio_name(p.low)
    if name:
        args["portfolio"] = name
    return args


def set_target_allocation(p: Parsed) -> Args | ChatIntent:
    """Target weights as fractions that add up to 1."""
    targets = ent.find_targets(p.doc, p.coins)
    if not targets:
        return _unclear("Tell me the weights, for example: 60% BTC, 40% ETH.")
    if any(v <= 0 for v in targets.values()):
        return _refuse("Each target weight must be positive.")
    percent = any(n.percent for n in p.numbers) or sum(targets.values()) > 1.5
    weights = {k: v / 100 if percent else v for k, v in targets.items()}
    total = sum(weights.values())
    if abs(total - 1) > 0.01:
        return _refuse(f"Target weights must add up to 100% (these add up to {total * 100:g}%).")
    args: Args = {"targets": {k: round(v, 6) for k, v in weights.items()}}
    name = ent.find_portfolio_name(p.low)
    if name:
        args["portfolio"] = name
    return args


# --- settings -------------------------------------------------------------------------------

_TZ_CUE = re.compile(
    r"\btime\s?zones?\b|\btz\b|\b(?:i'?m|i\s+am|i\s+live|i'?ve\s+moved|i\s+moved|based|located|"
    r"living)\s+(?:now\s+)?(?:in|to)\b|\blocal\s+time\b|\bmy\s+time\b"
)
_DIGEST_WORD = re.compile(r"\b(?:digest|summary|briefing|report|newsletter)s?\b")
_DIGEST_OFF = re.compile(
    r"\b(?:disable|turn\s+off|switch\s+off|stop|pause|unsubscribe|mute|no\s+more|"
    r"don'?t\s+(?:send|want|need)|do\s+not\s+(?:send|want)|cancel|deactivate|off|anymore|"
    r"no\s+longer)\b"
)
_DIGEST_ON = re.compile(
    r"\b(?:enable|turn\s+on|switch\s+on|start|resume|subscribe|activate|on|re-?enable)\b"
)


def update_settings(p: Parsed) -> Args | ChatIntent:
    """Time zone, digest time, digest on/off and depeg threshold, as named."""
    args: Args = {}
    cue = _TZ_CUE.search(p.low)
    if cue:
        zone = ent.find_timezone(p.doc, after=cue.start())
        if zone is None:
            return _unclear("Which time zone? For example Europe/London, Asia/Tokyo or UTC.")
        args["timezone"] = zone
    digest = _DIGEST_WORD.search(p.low)
    if digest:
        times = p.times
        bare = re.search(r"\b(?:at|to|around|for)\s+(?P<h>\d{1,2})(?![\d:.apmh%])", p.low)
        if times:
            if times[0].value is None:
                return _refuse("That is not a valid time of day; use HH:MM, like 07:30.")
            args["digest_time"] = times[0].value
        elif bare and int(bare.group("h")) <= 23:
            args["digest_time"] = f"{int(bare.group('h')):02d}:00"
        if _DIGEST_OFF.search(p.low):
            args["digest_enabled"] = False
        elif _DIGEST_ON.search(p.low) and "digest_time" not in args:
            args["digest_enabled"] = True
    threshold = re.search(r"\bthreshold|sensitivity|tolerance\b", p.low)
    if threshold and re.search(r"de-?peg", p.low):
        n = p.number_after(threshold.start())
        if n is not None:
            if n.value is None or n.value <= 0 or n.value > 100:
                return _refuse("The depeg threshold must be a percentage between 0 and 100.")
            args["depeg_threshold"] = _num(n.value)
    if not args:
        return _unclear(
            "What should I change? Your time zone, the digest time (HH:MM), turning the "
            "digest on or off, or the depeg threshold."
        )
    return args
