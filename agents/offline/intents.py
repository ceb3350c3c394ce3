"""Which tool a message asks for: weighted cue phrases per tool, plus chat intents.

Each tool has a list of cue patterns (synonym classes rather than whole sentences) with
weights; a message's score for a tool is the sum of the weights of the cues it contains,
adjusted by a few structural facts (a coin is named, a number follows a comparison word,
a quantity precedes a coin after "bought"). The highest score wins when it clears
:data:`MIN_SCORE`. Greetings, help requests, off-topic chatter and requests about other
users are recognised separately.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from agents.offline.text import Doc
from agents.offline.types import ChatKind

#: The lowest score that selects a tool on its own.
MIN_SCORE = 2.5

_C = re.compile


def _cues(*pairs: tuple[str, float]) -> tuple[tuple[re.Pattern[str], float], ...]:
    return tuple((_C(p), w) for p, w in pairs)


ALERT_VERB = _C(
    r"\b(?:alert|alarm|notify|notif(?:y|ication)|ping|remind|warn|buzz|wake\s+me|"
    r"tell\s+me\s+(?:when|if|once|as\s+soon)|let\s+me\s+know|message\s+me|text\s+me|dm\s+me|"
    r"email\s+me|heads[\s-]?up|keep\s+an\s+eye|watch\s+(?:for|out)|shout)\b"
)
UP_WORDS = (
    r"above|over|exceeds?|exceeding|hits?|hitting|reach(?:es|ing)?|cross(?:es|ing)?(?:\s+above)?|"
    r"breaks?(?:\s+(?:above|through|out\s+above|past))?|tops?|passes|surpass\w*|"
    r"(?:goes|gets|rises?|climbs?|jumps?|moons?|pumps?|rallies|shoots)\s+(?:up\s+)?(?:to|above|past|over)|"
    r"(?:more|higher|greater|bigger)\s+than|at\s+least|touch(?:es)?|is\s+at|gets\s+to|"
    r"worth\s+(?:more\s+than|over|above)"
)
DOWN_WORDS = (
    r"below|under|beneath|less\s+than|lower\s+than|smaller\s+than|at\s+most|"
    r"(?:drops?|falls?|dips?|sinks?|goes|gets|crash(?:es)?|tanks?|dumps?|declines?|slips?|"
    r"plunges?|plummets?|collapses?|comes)\s+(?:back\s+)?(?:down\s+)?(?:to|below|under|beneath)|"
    r"worth\s+(?:less\s+than|under|below)"
)
_NUM = r"(?:the\s+|of\s+)?(?:\$\s?)?[-+]?\s?\.?\d"
COMPARE_RE = _C(r"(?P<cmp>\b(?:" + UP_WORDS + r")\b|\b(?:" + DOWN_WORDS + r")\b|[<>]=?)\s*" + _NUM)
DOWN_RE = _C(r"^(?:" + DOWN_WORDS + r"|<=?)$")
MOVE_VERB = _C(
    r"\b(?:chang\w*|mov\w*|swing\w*|pump\w*|dump\w*|jump\w*|drop\w*|fall\w*|fell|rise\w*|"
    r"rising|rose|spik\w*|crash\w*|surg\w*|tank\w*|plung\w*|declin\w*|gain\w*|los[et]\w*|"
    r"climb\w*|rall\w*|moon\w*|dip\w*|sink\w*|up|down|volatil\w*|move)\b"
)
BUY_RE = _C(
    r"\b(?:bought|buy|buying|purchased?|acquired?|got|grabbed|added|picked\s+up|aped(?:\s+into)?|"
    r"long(?:ed)?)\b"
)
SELL_RE = _C(
    r"\b(?:sold|sell|selling|dumped|offloaded|took\s+profits?|exited|trimmed|cashed\s+out)\b"
)
HYPOTHETICAL = _C(
    r"\bwhat\s+if\b|\bwould\b|\bshould\s+i\b|\bif\s+i\s+had\b|\bcould\s+i\b|\bwant\s+to\b|"
    r"\bgoing\s+to\b|\bplanning\b|\bthinking\s+(?:of|about)\b|\bwill\s+i\b|\bshall\s+i\b"
)
#: Verbs that delete an alert. Pausing words ("mute", "disable", "turn off") are not among
#: them: pausing is a command the agent only points to (:mod:`agents.offline.commands`).
_DELETE = (
    r"\b(?:delete|remove|cancel|stop|kill|drop|clear|dismiss|get\s+rid\s+of|erase|unset|del|"
    r"scrap|ditch|wipe|purge|nuke)\b"
)

TOOL_CUES: dict[str, tuple[tuple[re.Pattern[str], float], ...]] = {
    "get_price": _cues(
        (r"\bprices?\b|\bpricing\b", 3), (r"\bworth\b", 2), (r"\bcosts?\b", 2),
        (r"\bhow\s+much\s+(?:is|are|does|do|for)\b|\bhow\s+much'?s\b", 2.5), (r"\bvalue\b", 1.5),
        (r"\btrading\s+at\b|\bgoing\s+for\b|\bselling\s+for\b|\bchanging\s+hands\b", 3),
        (r"\bquotes?\b", 2.5), (r"\brates?\b", 1),
        (r"\bwhat(?:'?s|\s+is|\s+are)\s+(?:\$?[a-z0-9]+\s+){1,2}(?:at|doing|now|today)\W*$", 2.5),
    ),
    "market_overview": _cues(
        (r"\bmarkets?\b", 2), (r"\boverview\b", 3), (r"\btop\s+(?:\d+|ten|five|three|twenty)\b", 3),
        (r"\btop\s+(?:coins?|cryptos?|tokens?|currencies|cryptocurrencies|assets|gainers|losers|"
         r"movers)\b", 3),
        (r"\b(?:biggest|largest|best|worst)\s+(?:\d+\s+)?(?:coins?|cryptos?|tokens?|cryptocurrencies|"
         r"movers|performers)\b", 3),
        (r"\b(?:gainers|losers|movers)\b", 3), (r"\bmarket\s+caps?\b", 1),
        (r"\bmarket\s+(?:summary|snapshot|recap|update|report|conditions|wide)\b", 2),
        (r"\bhow(?:'?s|\s+is|\s+are)\s+(?:the\s+)?(?:crypto\s+|overall\s+)?"
         r"(?:market|crypto|things)\b", 3),
        (r"\brankings?\b|\bleaderboard\b", 2), (r"\bcrypto\s+(?:today|now|overall)\b", 1),
        (r"\bwhat'?s\s+moving\b|\bmarkets?\b.*\b(?:today|now|moving|doing|looking)\b", 1.5),
    ),
    "stablecoin_status": _cues(
        (r"\bstable\s?coins?\b|\bstables\b", 3), (r"\b(?:de-?peg\w*|peg|pegged|pegs)\b", 3),
        (r"\b(?:still\s+(?:at|worth|holding)|holding|stay\w*\s+at|at|worth)\s+(?:\$\s?1(?:\.00?)?|"
         r"1\s?(?:\$|dollars?|usd)|one\s+dollar|a\s+dollar|par)\b", 2.5),
    ),
    "technical_analysis": _cues(
        (r"\btechnical\s+analysis\b", 4), (r"\btechnicals?\b|\bta\b", 3), (r"\bindicators?\b", 3),
        (r"\bover(?:bought|sold)\b", 3), (r"\bsupport\b|\bresistance\b", 2),
        (r"\btrend(?:ing)?\b|\bsignals?\b|\bmomentum\b", 1.5), (r"\banaly[sz](?:e|is)\b", 2),
    ),
    "evaluate_formula": (),
    "backtest_strategy": _cues(
        (r"\bback[\s-]?test\w*\b", 6), (r"\bstrateg(?:y|ies)\b", 2), (r"\bsimulat\w*\b", 2),
        (r"\bwould\s+(?:it|that|this|i|a|an|my|the|dca|\$?\d[\w,.]*)\s+(?:have\s+)?(?:done|do|"
         r"did|perform\w*|made|make|return\w*|turned?|become|be\s+worth|earned?|gained?|lost|"
         r"end\s+up)\b", 3),
        (r"\bwhat\s+if\s+i\b.*\b(?:had|held|hodl\w*|bought|invested|put|dca\w*)\b|"
         r"\bif\s+i\s+had\s+(?:just\s+)?(?:bought|invested|held|dca)", 3),
        (r"\bhow\s+would\b|\bhow\s+much\s+would\b", 1.5),
        (r"\b(?:test|try|run|check)\b.*\bstrateg", 2),
    ),
    "create_alert": _cues(
        (ALERT_VERB.pattern, 3),
        (r"\b(?:set|create|add|make|new|put)\s+(?:up\s+)?(?:an?\s+|new\s+|price\s+|depeg\s+)*"
         r"(?:alerts?|alarms?)\b", 2),
    ),
    "list_alerts": _cues(
        (r"\balerts\b|\balarms\b|\bnotifications\b|\breminders\b", 2.5),
        (r"\bmy\s+(?:price\s+)?alerts?\b", 1),
        (r"\b(?:list|show|view|see|display|which|what|any|all|check)\b.*\balerts?\b", 1.5),
        (r"\b(?:active|running|existing|current|set\s+up|pending|open|configured|have)\b", 1),
    ),
    "delete_alert": _cues((_DELETE + r".*\b(?:alerts?|alarms?)\b|" + _DELETE + r"\s+#\s?\d", 5)),
    "portfolio_summary": _cues(
        (r"\bportfolios?\b", 3),
        (r"\bholdings?\b|\bbags?\b|\bpositions?\b|\bnet\s+worth\b|"
         r"\bp\s?&\s?l\b|\bpnl\b|\bp/l\b", 3),
        (r"\bbalances?\b", 2.5),
        (r"\bwhat\s+(?:do\s+i|i)\s+(?:own|have|hold)\b|"
         r"\bmy\s+(?:coins|crypto|assets|stack|stash|wallets?|investments?)\b", 3),
        (r"\b(?:am\s+i|i'?m)\s+(?:making|losing)\s+money\b", 3),
        (r"\bhow\s+much\s+(?:am\s+i|i'?m|have\s+i)\s+(?:up|down|made|lost)\b|"
         r"\b(?:am\s+i|i'?m)\s+(?:up|down|in\s+profit|in\s+the\s+(?:red|green))\b", 3),
        (r"\bunreali[sz]ed\b|\bprofits?\b", 1),
    ),
    "record_trade": _cues(
        (r"\b(?:record|log|add|enter|register|note|save|track)\s+"
         r"(?:a\s+|an\s+|my\s+|the\s+|this\s+|that\s+|new\s+)?"
         r"(?:trade|buy|sell|purchase|sale|transaction|fill)\b", 3),
        (r"\btrades?\b|\btransactions?\b", 1),
    ),
    "portfolio_risk": _cues(
        (r"\brisk\w*\b", 3), (r"\bvolatil\w*\b", 2.5), (r"\bdrawdowns?\b", 3),
        (r"\bvalue[\s-]+at[\s-]+risk\b|\bc?var\b", 3), (r"\bsharpe\b|\bsortino\b|\bbeta\b", 3),
        (r"\bdiversif\w*\b|\bconcentrat\w*\b|\bcorrelat\w*\b|\bexposure\b", 2.5),
    ),
    "set_target_allocation": _cues(
        (r"\btargets?\b|\ballocat\w*\b|\bweights?\b|\bweighting\b|\bsplit\b|\bmix\b", 2),
    ),
    "rebalance_plan": _cues(
        (r"\brebalanc\w*\b", 5),
        (r"\bback\s+to\s+(?:my\s+)?targets?\b|\boff\s+(?:my\s+)?targets?\b|\bdrift\w*\b|\bdeviat\w*\b|"
         r"\bout\s+of\s+balance\b|\bon\s+target\b|\bfrom\s+(?:my\s+|the\s+)?targets?\b", 3),
    ),
    "tax_report": _cues(
        (r"\btax\w*\b", 5),
        (r"\b(?:capital|reali[sz]ed)\s+(?:gains?|losses?)\b|\bcost\s+basis\b|\btax\s+lots?\b|"
         r"\b8949\b", 4),
        (r"\b(?:fifo|lifo|hifo)\b", 2),
    ),
    "daily_digest": _cues(
        (r"\bdigest\b", 3), (r"\bbrief(?:ing)?\b|\brecap\b|\bround-?up\b|\bnewsletter\b", 3),
        (r"\b(?:daily|morning|today'?s|my|day'?s)\s+(?:summary|report|update|overview)\b", 3),
        (r"\bwhat\s+did\s+i\s+miss\b|\bcatch\s+me\s+up\b", 3), (r"\bsummary\b", 1),
        (r"\bwhat\s+happened\b.*\b(?:today|overnight|while|yesterday|last\s+night)\b", 3),
    ),
    "update_settings": _cues(
        (r"\btime\s?zones?\b|\btz\b", 4), (r"\bsettings?\b|\bpreferences?\b|\bconfig\w*\b", 2),
        (r"\bdepeg\w*\s+(?:alert\s+)?(?:threshold|sensitivity|tolerance|limit|level)\b|"
         r"\bthreshold\s+for\s+(?:the\s+)?depegs?\b", 5),
    ),
    "price_history": _cues(
        (r"\bhistor(?:y|ic|ical)\b", 4),
        (r"\b(?:past|old|previous)\s+prices?\b|\bprice\s+data\b|\bohlcv?\b|\bprice\s+action\b|"
         r"\bcloses\b|\bclosing\s+prices?\b", 3),
        (r"\bhow\s+(?:did|has|have)\s+\S+(?:\s+\S+)?\s+(?:do|done|perform\w*|move|moved|go|gone|"
         r"change|changed|been|fare|fared)\b", 2.5),
        (r"\bperformance\b|\breturns?\b", 1.5),
    ),
    "price_chart": _cues(
        (r"\bplot\w*\b|\bgraph\w*\b|\bcandle\w*\b|\bvisuali[sz]\w*\b|\bdraw\b", 4),
    ),
    "market_sentiment": _cues(
        (r"\bsentiment\b", 5), (r"\bfear\s*(?:and|&|n)\s*greed\b", 4), (r"\bfear\b|\bgreed\b", 2),
        (r"\bbullish\b|\bbearish\b", 3),
        (r"\bmood\b|\bvibes?\b|\bfeel(?:ing|s)?\s+about\b|\bthink\s+(?:of|about)\b|\bsocial\b|"
         r"\bhype\b|\bopinions?\b|\bcrowd\b|"
         r"\b(?:people|traders|investors|whales|community|everyone)\s+"
         r"(?:saying|say|think|feel)\b", 2.5),
    ),
}  # fmt: skip

_CHART = _C(r"\bcharts?\b")
_INTERVAL_CHART = _C(
    r"(?:\d+\s?-?\s?(?:m|h|d|w|min|minute|hour|day|week)s?|hourly|daily|weekly)\s+charts?\b"
)
_DIGEST_SETTING = _C(
    r"\b(?:digest|summary|briefing|report)\b.*\b(?:at|to|for|around)\s+\d|"
    r"\b(?:at|around)\s+\d.*\b(?:digest|summary|briefing)\b|"
    r"(?:\d:\d\d|\d\s?[ap]\.?m\b).*\bdigest\b|\bdigest\b.*(?:\d:\d\d|\d\s?[ap]\.?m\b)|"
    r"\b(?:digest|summary|briefing)\s+time\b|"
    r"\b(?:enable|disable|turn\s+(?:on|off)|switch\s+(?:on|off)|stop|pause|resume|start|unsubscribe|"
    r"subscribe|mute|no\s+more|don'?t\s+(?:send|want|need)|do\s+not\s+(?:send|want)|cancel|activate|"
    r"deactivate)\b.*\b(?:digest|daily\s+(?:summary|report|briefing)|briefing)s?\b|"
    r"\b(?:digests?|briefings?)\b.*\b(?:on|off|anymore|any\s+more|no\s+longer)\W*$|"
    r"\b(?:turn|switch|put)\b.*\b(?:digest|briefing)\b.*\b(?:on|off)\b"
)
_PORTFOLIO_WORD = _C(r"\bportfolio\b|\bholdings\b|\bmy\s+(?:coins|crypto|assets|bags)\b")


@dataclass(frozen=True, slots=True)
class Signals:
    """Structural facts about a message that the cue scores depend on.

    Attributes:
        has_coin: A known or ticker-like coin is named.
        has_stable: A stablecoin is named.
        indicator: An indicator is named.
        formula: A formula was found (after "evaluate"/"compute" or as an expression).
        strategy: A backtest strategy is named.
        targets: Target weights were found.
        trade_quantity: A quantity is written right before a coin ("0.5 BTC").
        timezone: A time zone is named.
        has_percent: A percentage is written.
        has_duration: A time span is written ("last 60 days").
    """

    has_coin: bool = False
    has_stable: bool = False
    indicator: bool = False
    formula: bool = False
    strategy: bool = False
    targets: bool = False
    trade_quantity: bool = False
    timezone: bool = False
    has_percent: bool = False
    has_duration: bool = False


def score_tools(doc: Doc, sig: Signals) -> dict[str, float]:
    """Score every tool for ``doc`` (higher is more likely; 0 when nothing points to it)."""
    low = doc.low
    scores = {tool: sum(w for rx, w in cues if rx.search(low)) for tool, cues in TOOL_CUES.items()}
    compare = COMPARE_RE.search(low)
    alert_verb = ALERT_VERB.search(low) is not None
    side = BUY_RE.search(low) or SELL_RE.search(low)
    hypothetical = HYPOTHETICAL.search(low) is not None

    if _CHART.search(low):
        scores["price_chart"] += 1.5 if _INTERVAL_CHART.search(low) else 4
    if not sig.has_coin:
        scores["get_price"] *= 0.4
    elif scores["get_price"] == 0 and not any(v >= MIN_SCORE for v in scores.values()):
        scores["get_price"] += 1.5
    if sig.has_coin and not re.search(r"\btop\s+\w+", low):
        scores["market_overview"] -= 2
    if sig.has_stable and re.search(
        r"\b(?:safe|backed|reserves?|solvent|stable|ok|okay|fine|healthy|health|holding)\b", low
    ):
        scores["stablecoin_status"] += 2
    if sig.indicator:
        scores["technical_analysis"] += 3
    if sig.formula:
        scores["evaluate_formula"] += (
            6 if re.search(r"\b(?:evaluat|comput|calculat|formula)", low) else 4
        )
    if sig.strategy:
        scores["backtest_strategy"] += 2.5
        if re.search(r"\b(?:test|try|run|simulate)\b", low):
            scores["backtest_strategy"] += 1.5
    if sig.has_coin and re.search(r"\banaly[sz]", low):
        scores["technical_analysis"] += 1
    if compare and not (side and sig.trade_quantity):
        scores["create_alert"] += (
            2 if alert_verb or re.search(r"\b(?:if|when|once|whenever)\b", low) else 1
        )
    if (
        sig.has_percent
        and MOVE_VERB.search(low)
        and (alert_verb or re.search(r"\b(?:if|when)\b", low))
    ):
        scores["create_alert"] += 2
    settings_change = re.search(r"\b(?:threshold|sensitivity|tolerance)\b", low) and re.search(
        r"\b(?:change|set|update|make|adjust|lower|raise|increase|decrease|put)\b", low
    )
    if settings_change:
        scores["update_settings"] += 3
    elif re.search(r"\bde-?peg|\bpeg\b", low) and alert_verb:
        scores["create_alert"] += 3
    elif alert_verb and sig.has_coin and re.search(r"\d", low) and not compare:
        scores["create_alert"] += 1.5  # "price alert btc 100k"
    if compare or (
        alert_verb and re.search(r"\d", low) and not re.search(r"\balerts?\s*#?\s*\d", low)
    ):
        scores["list_alerts"] -= 3
    if scores["delete_alert"] > 0:
        scores["list_alerts"] -= 3
    if side:
        trade = 5.0 if sig.trade_quantity and sig.has_coin else 2.5 if sig.has_coin else 0.0
        if hypothetical or re.search(r"\b(?:weekly|monthly|every\s+(?:day|week|month))\b", low):
            trade -= 4
        scores["record_trade"] += trade
    if scores["portfolio_risk"] > 0 and _PORTFOLIO_WORD.search(low):
        scores["portfolio_risk"] += 1.5
    elif scores["portfolio_risk"] > 0 and sig.has_coin:
        scores["technical_analysis"] += 2.5  # "how volatile is btc": about the coin
        scores["portfolio_risk"] -= 3
    if sig.targets:
        scores["set_target_allocation"] += 5 if scores["set_target_allocation"] > 0 else 3
        scores["rebalance_plan"] -= 1.5
    elif scores["set_target_allocation"] > 0:
        scores["rebalance_plan"] += 1.5
        scores["set_target_allocation"] = 0
    if _DIGEST_SETTING.search(low):
        scores["update_settings"] += 4
    if sig.timezone and re.search(
        r"\b(?:i'?m|i\s+am|i\s+live|i\s+moved|based|located|living)\s+(?:now\s+)?(?:in|to)\b|"
        r"\w\s+time\s*$",
        low,
    ):
        scores["update_settings"] += 3
    if sig.has_duration and scores["get_price"] >= MIN_SCORE and not alert_verb:
        scores["price_history"] += 4
    if sig.has_duration and re.search(r"\bperform\w*|\breturns?\b|\bdid\b.*\bdo\b", low):
        scores["price_history"] += 2.5
    if 0 < scores["price_chart"] < MIN_SCORE and all(
        v < MIN_SCORE for k, v in scores.items() if k not in ("price_chart", "get_price")
    ):
        scores["price_chart"] = 4  # "4h chart of ETH": the chart is the request
    return scores


def confidence(best: float, second: float) -> float:
    """Map a winning score and the runner-up's to a 0-1 confidence."""
    if best <= 0:
        return 0.0
    margin = max(0.0, best - max(second, 0.0)) / best
    return round(min(0.99, (1 - math.exp(-best / 3)) * (0.5 + 0.5 * margin)), 2)


# --- chat intents ---------------------------------------------------------------------------

_GREETING = _C(
    r"^(?:(?:hi+|hello+|hey+|heya|hiya|yo|sup|howdy|greetings|gm|gn|hola|bonjour|hallo|salut|ciao|"
    r"good\s+(?:morning|afternoon|evening|day|night)|morning|evening|what'?s\s+up|wassup|"
    r"how\s+are\s+you(?:\s+doing)?(?:\s+today)?|how'?s\s+it\s+going|nice\s+to\s+meet\s+you|"
    r"thanks?|thank\s+you|thx|ty|tysm|cheers|much\s+appreciated|appreciate\s+it|great|awesome|cool|"
    r"nice|perfect|ok(?:ay)?|got\s+it|bye|goodbye|see\s+(?:you|ya)|cya|later|good\s+bot|lol)"
    r"(?:\s+(?:there|bot|buddy|friend|mate|guys|all|everyone|cryptoguard|again|ser|fren|a\s+lot|"
    r"so\s+much|very\s+much|man|dude|for\s+(?:the\s+)?(?:help|info)|you|too))*\s*)+$"
)
_HELP = _C(
    r"^(?:/?help|/?start|menu|commands|\?+|options|features)$|\bwhat\s+(?:can|do|else\s+can)\s+you\s+do\b|"
    r"\bhow\s+(?:do|does|can)\s+(?:i\s+)?(?:use\s+)?(?:you|this(?:\s+bot)?|it)(?:\s+work)?\b|\bwho\s+are\s+you\b|"
    r"\bwhat\s+are\s+you\b|\bwhat\s+(?:commands|features|tools)\b|\bhelp\s+me\b|\bhow\s+to\s+use\b|"
    r"\bshow\s+(?:me\s+)?(?:the\s+)?(?:commands|options)\b|\bcapabilit\w*\b|\bwhat\s+can\s+i\s+(?:ask|do)\b"
)
_OFF_TOPIC = _C(
    r"\b(?:weather|forecast|jokes?|poem|poetry|recipe|cook\w*|bake|football|soccer|basketball|"
    r"baseball|nba|nfl|movies?|films?|songs?|lyrics|story|stories|translate|homework|essay|"
    r"capital\s+of|president|prime\s+minister|who\s+won|girlfriend|boyfriend|dating|meaning\s+of\s+life|"
    r"sing|dance|pizza|pasta|cats?|dogs?|holiday|vacation|flight|hotel|sports?|game\s+last|"
    r"horoscope|zodiac|write\s+(?:me\s+)?(?:a|an)\b|tell\s+me\s+about\s+yourself)\b"
)
_CRYPTO_WORD = _C(r"\b(?:crypto\w*|coins?|tokens?|blockchain|defi|nft|wallet|exchange|trading)\b")
_OTHER_USERS = _C(
    r"\buser[\s_-]?(?:id)?\s*[#:=]?\s*\d+|\buser_?ids?\b|\busers'|"
    r"\b(?:all|every|each|other|another|any|some\s+other|everyone|somebody|someone)\s+"
    r"(?:of\s+the\s+|the\s+|else'?s?\s+)?(?:users?|people'?s?|members?|customers?|else'?s?)\b|"
    r"\beveryone'?s\b|\bsomeone\s+else'?s?\b|\bother\s+people'?s?\b|"
    r"\bignore\s+(?:all\s+|any\s+|your\s+|the\s+|previous\s+|prior\s+|above\s+|earlier\s+)*"
    r"(?:rules|instructions|prompts?|restrictions|guidelines)\b|"
    r"\b(?:as|i\s+am|i'?m)\s+(?:an?\s+|the\s+)?(?:admin|administrator|root|superuser|moderator|operator)\b|"
    r"\badmin\s+(?:mode|access|rights)\b|\bsystem\s+prompt\b|\bjailbreak\b|\bsudo\b|\bdrop\s+table\b|"
    r"\b(?:for|of|on\s+behalf\s+of)\s+(?:@\w+|\w+'s\s+account)"
)

REFUSE_OTHER_USERS = "I can only see and change your own data, never another user's."


def chat_intent_kind(doc: Doc) -> ChatKind | None:
    """``"greeting"``, ``"help"``, ``"off_topic"`` or ``None`` for a message with no tool cue."""
    bare = re.sub(r"[^a-z0-9'?/ ]+", " ", doc.low)
    bare = re.sub(r"\s+", " ", bare).strip()
    if _GREETING.match(bare.replace("?", "").strip()):
        return "greeting"
    if _HELP.search(bare):
        return "help"
    if _OFF_TOPIC.search(bare):
        return "off_topic"
    return None


def off_topic_cue(doc: Doc) -> bool:
    """True when the message names something clearly outside crypto (weather, jokes, ...)."""
    return _OFF_TOPIC.search(doc.low) is not None


def mentions_crypto(doc: Doc) -> bool:
    """True when the message uses generic crypto words ("coin", "wallet", ...)."""
    return _CRYPTO_WORD.search(doc.low) is not None


def targets_other_users(doc: Doc) -> bool:
    """True when the message asks to act for, or reveal, someone other than the speaker."""
    return _OTHER_USERS.search(doc.low) is not None


def is_down(comparator: str) -> bool:
    """True when a comparison phrase ("drops below", "<") means "below"."""
    return DOWN_RE.match(re.sub(r"\s+", " ", comparator.strip())) is not None
