"""The offline model's language understanding: one message in, a tool call or a reply out.

``understand(text, available_tools=..., context=...)`` normalises the message, refuses
requests about other users, points requests that only a slash command serves to it
(:mod:`.commands`: pausing and resuming alerts, the fired-alert history), scores every
tool on cue phrases (:mod:`.intents`), extracts the winning tool's arguments
(:mod:`.args`) and falls back to a follow-up of the previous turn, a chat intent or, when
one is configured, the sentence-embedding classifier (:mod:`.encoder`). It needs nothing
beyond the standard library and the coin catalogue, and takes well under a millisecond
per message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from datetime import date
from typing import Any

from agents.offline import args as arg
from agents.offline.answers import yes_or_no
from agents.offline.commands import alert_command
from agents.offline.entities import find_timezone, names_strategy
from agents.offline.intents import (
    MIN_SCORE,
    REFUSE_OTHER_USERS,
    Signals,
    chat_intent_kind,
    confidence,
    mentions_crypto,
    off_topic_cue,
    score_tools,
    targets_other_users,
)
from agents.offline.lexicon import COMMON_WORDS, INDICATORS, STABLE_TICKERS, TIMEZONE_ALIASES
from agents.offline.parsed import Batch, Parsed, num
from agents.offline.text import Doc, make_doc, vocabulary
from agents.offline.types import (
    CHAT_KINDS,
    MUTATING_TOOLS,
    ChatIntent,
    Intent,
    ToolIntent,
    TurnContext,
)
from prompts import render

logger = logging.getLogger(__name__)

#: Only the start of a longer message is read (requests are short; this bounds the work).
MAX_MESSAGE_CHARS = 1000

_NOT_TICKERS: frozenset[str] = (
    COMMON_WORDS
    | vocabulary()
    | frozenset(TIMEZONE_ALIASES)
    | frozenset(INDICATORS)
    | frozenset(
        "hodl ath atl gm gn wagmi ngmi fomo fud lfg dyor ama kyc apy apr roi etf sec fed cpi nft "
        "defi dex cex ai api pls plz thx tysm faq ceo usa eu uk nyc tldr btw imo fyi asap".split()
    )
)
_FOLLOW_UP = re.compile(
    r"^(?:and|&|also|plus|what\s+about|how\s+about|same\s+(?:for|with|but|in|on)|now|"
    r"ok(?:ay)?\s+(?:and|now|what\s+about)|then|but|or|instead|in|for|with|using|over|on)\b"
)
#: After a listing of alerts: "delete them all", "remove all of them", "delete those".
_DELETE_LISTED = re.compile(
    r"^(?:(?:ok(?:ay)?|yes|now|then|so|please|pls|and)\s+)*"
    r"(?:delete|remove|clear|cancel|drop|kill|wipe|purge|get\s+rid\s+of)\s+"
    r"(?:them(?:\s+all)?|all(?:\s+of\s+them)?|those|these|both|everything|all\s+(?:those|these))"
    r"(?:\s+(?:please|pls|now))?\W*$"
)
_NOTHING_TO_CONFIRM = render("confirm_nothing_pending")
_UNCLEAR = (
    "I'm not sure what you'd like me to do. Try: 'price of BTC', 'alert me if ETH goes above "
    "4k', 'my portfolio', or say 'help'."
)

#: A sentence-embedding intent classifier: text -> (label, similarity) or ``None``.
Classifier = Callable[[str], tuple[str, float] | None]


class OfflineNLU:
    """Understands messages without a language model.

    Args:
        classifier: Optional embedding classifier consulted when no cue phrase decides
            (see :func:`agents.offline.encoder.load_classifier`).
        today: Returns today's date (for "yesterday", "last year"); defaults to the
            system date.
    """

    def __init__(
        self, *, classifier: Classifier | None = None, today: Callable[[], date] | None = None
    ) -> None:
        self._classifier = classifier
        self._today = today or date.today

    def understand(
        self,
        text: str,
        *,
        available_tools: Collection[str],
        context: TurnContext | None = None,
    ) -> Intent:
        """Decide which tool ``text`` asks for, with which arguments, or how to reply.

        Args:
            text: The user's message.
            available_tools: Tools the agent can call now; used only to break near-ties.
                A tool outside it is still returned (the caller says "not available yet").
            context: The previous turn, for follow-ups ("and SOL?", "alert me if it drops").

        Returns:
            A :class:`ToolIntent` or a :class:`ChatIntent`.
        """
        intent = self._understand(text, available_tools, context)
        if (
            isinstance(intent, ChatIntent)
            and intent.kind in ("unclear", "off_topic")
            and yes_or_no(text) is not None
        ):
            return ChatIntent("unclear", _NOTHING_TO_CONFIRM)  # a "yes" with no question asked
        return intent

    def _understand(
        self, text: str, available_tools: Collection[str], context: TurnContext | None
    ) -> Intent:
        doc = make_doc(text[:MAX_MESSAGE_CHARS])
        if not re.search(r"[a-z0-9]", doc.low):
            return ChatIntent("unclear", _UNCLEAR)
        if targets_other_users(doc):
            return ChatIntent("refusal", REFUSE_OTHER_USERS)
        last = context.last_tool if context else None
        command = alert_command(doc, last)
        if command is not None:
            return command  # pausing, resuming, fired alerts: no tool, only a command
        p = Parsed(doc, self._today(), _NOT_TICKERS)
        scores = score_tools(doc, _signals(p))
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0] not in available_tools))
        (tool, best), second = ranked[0], ranked[1][1]
        if last == "list_alerts" and _DELETE_LISTED.match(doc.low):
            return ToolIntent("list_alerts", {}, 0.7, for_each_alert="delete_alert")

        if best < MIN_SCORE:
            kind = chat_intent_kind(doc)
            if kind is not None and not (kind == "off_topic" and (p.coins or last)):
                return ChatIntent(kind)
        elif off_topic_cue(doc) and best < 4 and not p.coins:
            return ChatIntent("off_topic")

        if context and last and last not in MUTATING_TOOLS and last in arg.TOOL_ARGS:
            restrategy = last == "backtest_strategy" and _names_strategy(p)
            if best < MIN_SCORE or restrategy or (tool == last and _FOLLOW_UP.match(doc.low)):
                follow = _follow_up(last, context.last_args or {}, p)
                if follow is not None:
                    return follow

        if best < MIN_SCORE:
            if p.coins or p.unknown:
                tool, best = "get_price", MIN_SCORE
            else:
                return self._fallback(doc, p, context)
        return _past_price(_build(tool, p, context, confidence(best, second)), p)

    def _fallback(self, doc: Doc, p: Parsed, context: TurnContext | None) -> Intent:
        if self._classifier is not None:
            guess = self._classifier(doc.text)
            if guess is not None:
                label, similarity = guess
                logger.debug("embedding fallback: %s (%.2f)", label, similarity)
                if label in arg.BUILDERS:
                    return _build(label, p, context, round(similarity * 0.8, 2))
                if label in CHAT_KINDS:
                    return ChatIntent(CHAT_KINDS[label])
        if mentions_crypto(doc) or re.search(r"\d", doc.low) or len(doc.low.split()) < 3:
            return ChatIntent("unclear", _UNCLEAR)
        return ChatIntent("off_topic")


def _past_price(intent: Intent, p: Parsed) -> Intent:
    """A price question about a past day ("price of BTC on 2024-01-01", "ETH yesterday") is a
    point lookup in the price history, not a current quote."""
    if not isinstance(intent, ToolIntent) or intent.tool != "get_price":
        return intent
    symbols = intent.args.get("symbols") or []
    past = [d.value for d in p.dates if d.value is not None and d.value < p.today]
    if len(symbols) != 1 or len(past) != 1:
        return intent
    args = {"symbol": symbols[0], "date": past[0].isoformat()}
    return ToolIntent("price_history", args, intent.confidence)


def _signals(p: Parsed) -> Signals:
    return Signals(
        has_coin=bool(p.coins or p.unknown),
        has_stable=any(c.symbol in STABLE_TICKERS for c in p.coins),
        indicator=bool(p.indicators),
        formula=p.formula is not None and bool(re.search(r"[(*/+<>-]", p.formula)),
        strategy=names_strategy(p.low),
        targets=bool(p.coins) and _has_targets(p),
        trade_quantity=p.quantity is not None,
        timezone=find_timezone(p.doc) is not None,
        has_percent=any(n.percent for n in p.numbers),
        has_duration=bool(p.durations),
    )


def _has_targets(p: Parsed) -> bool:
    if not re.search(
        r"%|\btargets?\b|\ballocat|\bweights?\b|\bsplit\b|\bhalf\b|/\d|\bequal", p.low
    ):
        return False
    return isinstance(arg.set_target_allocation(p), dict) or bool(
        re.search(r"\d\s*%.*\d\s*%|\bhalf\b.*\bhalf\b", p.low)
    )


def _build(tool: str, p: Parsed, context: TurnContext | None, conf: float) -> Intent:
    if context is not None and not p.coins and not p.unknown:
        p.fallback_symbol = _single_symbol(context.last_args)
    result = arg.BUILDERS[tool](p)
    if isinstance(result, ChatIntent):
        return result
    if isinstance(result, Batch):
        if result.each_listed_by is not None:
            return ToolIntent(result.each_listed_by, {}, conf, for_each_alert=tool)
        first, *rest = result.calls
        return ToolIntent(tool, first, conf, more=tuple(rest))
    return ToolIntent(tool, result, conf)


def _names_strategy(p: Parsed) -> bool:
    """A strategy is named as such, or through its indicator ("try macd instead")."""
    return p.strategy is not None and (names_strategy(p.low) or bool(p.indicators))


def _single_symbol(args: dict[str, Any] | None) -> str | None:
    if not args:
        return None
    symbol = args.get("symbol")
    if isinstance(symbol, str) and symbol:
        return symbol
    symbols = args.get("symbols")
    if isinstance(symbols, list) and len(symbols) == 1 and isinstance(symbols[0], str):
        return symbols[0]
    return None


def _follow_up(tool: str, last_args: dict[str, Any], p: Parsed) -> ToolIntent | None:
    """The previous call again, with whatever this message changes ("and SOL?", "in eur?")."""
    allowed = arg.TOOL_ARGS[tool]
    new: dict[str, Any] = {}
    symbols = list(dict.fromkeys(p.symbols() + [u.symbol for u in p.unknown]))
    cur = p.currency
    if cur is not None and len(symbols) > 1:
        symbols = [s for s in symbols if s.lower() != cur.code] or symbols
    if symbols:
        if tool == "stablecoin_status":
            symbols = [s for s in symbols if s in STABLE_TICKERS]
            if symbols:
                new["symbols"] = symbols
        elif "symbols" in allowed:
            new["symbols"] = [
                s for s in symbols if s.lower() != (cur.code if cur else "")
            ] or symbols
        elif "symbol" in allowed:
            new["symbol"] = symbols[0]
    if "vs_currency" in allowed and cur is not None:
        new["vs_currency"] = cur.code
    if "days" in allowed and (days := arg.days_of(p)) is not None:
        new["days"] = days
    if "period" in allowed and (period := arg.period_of(p)) is not None:
        new["period"] = period
    if "interval" in allowed and (interval := p.interval()) is not None:
        new["interval"] = interval
    if "indicators" in allowed and p.indicators:
        new["indicators"] = p.indicators
    if "strategy" in allowed and _names_strategy(p):
        new["strategy"] = p.strategy
    if "initial_capital" in allowed and (capital := arg.capital_of(p)) is not None:
        new["initial_capital"] = num(capital)
    if tool == "market_overview":
        new.update(arg.market_overview(p))
    if tool == "tax_report":
        new.update(arg.tax_report(p))
    if not new:
        return None
    merged = {k: v for k, v in last_args.items() if k in allowed}
    merged.update(new)
    return ToolIntent(tool, merged, 0.6)


_DEFAULT = OfflineNLU()


def understand(
    text: str,
    *,
    available_tools: Collection[str],
    context: TurnContext | None = None,
) -> Intent:
    """Understand one message with the lexical recogniser (see :meth:`OfflineNLU.understand`)."""
    return _DEFAULT.understand(text, available_tools=available_tools, context=context)
