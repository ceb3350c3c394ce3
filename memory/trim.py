"""History trimming: keep the last N exchanges, never an orphan tool message.

A ``before_model`` middleware rewrites the stored thread to start at the N-th last
human message. Cutting only at human messages keeps every tool result together with
the assistant message that asked for it, so providers never see a ToolMessage
without its tool call (or a tool call without its result).
"""

from __future__ import annotations

from typing import Any

from langchain.agents import AgentState
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import AnyMessage, HumanMessage, RemoveMessage
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.runtime import Runtime

DEFAULT_MAX_EXCHANGES = 10


def trim_history(messages: list[AnyMessage], max_exchanges: int) -> list[AnyMessage] | None:
    """The messages to keep (starting at a human message), or ``None`` if nothing to trim."""
    humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
    if len(humans) <= max_exchanges:
        return None
    return messages[humans[-max_exchanges] :]


class TrimHistoryMiddleware(AgentMiddleware[AgentState[Any], Any]):
    """Keeps the stored conversation to the last ``max_exchanges`` exchanges.

    Args:
        max_exchanges: Human messages (with their answers) to keep.
    """

    def __init__(self, max_exchanges: int = DEFAULT_MAX_EXCHANGES) -> None:
        super().__init__()
        if max_exchanges < 1:
            raise ValueError("max_exchanges must be at least 1")
        self.max_exchanges = max_exchanges

    def before_model(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Drop everything before the N-th last human message."""
        kept = trim_history(list(state["messages"]), self.max_exchanges)
        if kept is None:
            return None
        return {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *kept]}
