"""The agent graph: LangChain 1.x ``create_agent`` (a LangGraph ReAct loop) with our middleware."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelCallLimitMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from agents.confirm import BulkDeleteGuard
from agents.middleware import IdempotentMutations, error_middleware, personal_system_prompt
from memory import TrimHistoryMiddleware
from tools.adapters.context import ToolContext


def build_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    checkpointer: BaseCheckpointSaver[Any] | None,
    history_exchanges: int = 10,
    max_model_calls: int = 6,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build the ReAct agent.

    Middleware, outermost first: tool errors become sanitised messages; repeated
    mutations in one turn run once; deleting more than one alert waits for the user's
    yes; the stored history keeps the last exchanges; a run stops cleanly after
    ``max_model_calls`` model calls; the system prompt is personal.
    """
    middleware: list[Any] = [
        error_middleware(),
        IdempotentMutations(),
        BulkDeleteGuard(),
        TrimHistoryMiddleware(history_exchanges),
        ModelCallLimitMiddleware(run_limit=max_model_calls, exit_behavior="end"),
        personal_system_prompt,
    ]
    return create_agent(
        model,
        list(tools),
        context_schema=ToolContext,
        checkpointer=checkpointer,
        middleware=middleware,
    )
