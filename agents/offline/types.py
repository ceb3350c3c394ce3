"""What the offline language understanding returns: a tool call or a chat reply.

``understand`` (in :mod:`agents.offline.nlu`) turns one user message into either a
:class:`ToolIntent` (call this tool with these arguments) or a :class:`ChatIntent`
(answer in words: a greeting, help, an off-topic note, a clarifying question, a
refusal or a pointer to a slash command). :class:`TurnContext` carries the previous
turn's tool call for follow-ups such as "and SOL?".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ChatKind = Literal["greeting", "off_topic", "help", "unclear", "refusal", "command"]

#: Chat kinds by name (to turn a classifier's label into a :data:`ChatKind`).
CHAT_KINDS: dict[str, ChatKind] = {
    "greeting": "greeting",
    "off_topic": "off_topic",
    "help": "help",
    "unclear": "unclear",
    "refusal": "refusal",
}

#: Every tool of the agent's contract, by the name the model sees.
TOOL_NAMES: frozenset[str] = frozenset(
    {
        "get_price",
        "market_overview",
        "stablecoin_status",
        "price_history",
        "price_chart",
        "technical_analysis",
        "evaluate_formula",
        "backtest_strategy",
        "create_alert",
        "list_alerts",
        "delete_alert",
        "portfolio_summary",
        "record_trade",
        "portfolio_risk",
        "set_target_allocation",
        "rebalance_plan",
        "tax_report",
        "daily_digest",
        "update_settings",
        "market_sentiment",
    }
)

#: Tools that change the user's state; never called on an obviously invalid request.
MUTATING_TOOLS: frozenset[str] = frozenset(
    {"create_alert", "delete_alert", "record_trade", "set_target_allocation", "update_settings"}
)


@dataclass(frozen=True)
class ToolIntent:
    """Call ``tool`` with ``args``.

    Attributes:
        tool: A name from :data:`TOOL_NAMES`.
        args: Only the arguments the user expressed (symbols as upper-case tickers).
        confidence: How sure the recogniser is, from 0 to 1.
        more: Arguments of further calls of the same tool in the same step ("delete
            alerts 1 and 2" is ``delete_alert`` with ``{"alert_id": 1}``, then ``2``).
        for_each_alert: A tool to call once per alert that ``tool`` lists, once its
            result is in ("delete all my alerts": ``list_alerts``, then ``delete_alert``
            with each listed number).
    """

    tool: str
    args: dict[str, Any]
    confidence: float
    more: tuple[dict[str, Any], ...] = ()
    for_each_alert: str | None = None

    @property
    def calls(self) -> list[dict[str, Any]]:
        """The arguments of every call of ``tool`` asked for, in order."""
        return [self.args, *self.more]


@dataclass(frozen=True)
class ChatIntent:
    """Answer in words instead of calling a tool.

    Attributes:
        kind: ``greeting``, ``off_topic``, ``help``, ``unclear`` (a clarifying question is
            due), ``refusal`` (the request is invalid or not allowed) or ``command`` (only
            a slash command does it, such as ``/pause ID``; the reason names it).
        reason: A plain sentence for the user (why it was refused, what is missing).
    """

    kind: ChatKind
    reason: str | None = None


@dataclass(frozen=True)
class TurnContext:
    """The previous turn's tool call, for follow-ups ("and SOL?", "in eur?").

    Attributes:
        last_tool: The tool called in the previous turn.
        last_args: Its arguments.
    """

    last_tool: str | None = None
    last_args: dict[str, Any] | None = None


Intent = ToolIntent | ChatIntent
