"""``AgentService.reply``: the only way into the agent graph.

Front-ends pass the platform identity (``UserRef``), the chat and the text. The service
applies the per-user guardrails, runs one turn of the graph in the user's thread with
the identity in the runtime context, and returns the answer, any attachments and a
trace of the tool calls. Failures become friendly replies; nothing raw reaches users.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph

from agents.guard import TokenBudget, TurnLimiter
from agents.router import final_answer, message_text
from memory import thread_id
from tools.adapters.context import ToolContext
from tools.attachments import Attachment
from tools.errors import CryptoGuardError, LLMUnavailableError, new_incident_id
from tools.identity import ChatRef, UserRef
from tools.users import UserService

logger = logging.getLogger(__name__)

STEP_LIMIT_TEXT = (
    "I couldn't finish that in a reasonable number of steps. Please ask again more "
    "specifically, one thing at a time."
)
CALL_LIMIT_PREFIX = "Model call limits exceeded"


@dataclass(frozen=True, slots=True)
class ToolCallTrace:
    """One tool call of a turn: what the model asked for and how it went."""

    name: str
    args: dict[str, Any]
    status: Literal["ok", "error"]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AgentReply:
    """The outcome of one turn."""

    text: str
    attachments: list[Attachment] = field(default_factory=list)
    tool_calls: list[ToolCallTrace] = field(default_factory=list)
    incident: str | None = None


def trace_turn(messages: Sequence[BaseMessage]) -> list[ToolCallTrace]:
    """Pair each tool call of the turn with its result."""
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    trace: list[ToolCallTrace] = []
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            result = results.get(call["id"] or "")
            ok = result is not None and result.status != "error"
            error = None if ok or result is None else message_text(result)
            trace.append(
                ToolCallTrace(call["name"], dict(call["args"]), "ok" if ok else "error", error)
            )
    return trace


def is_llm_error(exc: BaseException) -> bool:
    """True for errors raised by the OpenAI client (only loaded when that model is used)."""
    openai = sys.modules.get("openai")
    return openai is not None and isinstance(exc, openai.APIError)


class AgentService:
    """Runs agent turns.

    Args:
        graph: The compiled agent (from :func:`agents.graph.build_agent`).
        users: Registers the speaker and loads their profile.
        limiter: Per-user turn limits.
        budget: Per-user daily token budget (``None`` for the offline model).
        recursion_limit: Graph steps allowed per turn.
        max_message_chars: Longest accepted message.
    """

    def __init__(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        users: UserService,
        *,
        limiter: TurnLimiter,
        budget: TokenBudget | None = None,
        recursion_limit: int = 16,
        max_message_chars: int = 2000,
    ) -> None:
        self.graph = graph
        self.users = users
        self.limiter = limiter
        self.budget = budget
        self.recursion_limit = recursion_limit
        self.max_message_chars = max_message_chars

    def _config(
        self, user: UserRef, chat: ChatRef, callbacks: list[Any] | None = None
    ) -> RunnableConfig:
        thread = thread_id(user.platform, chat.chat_id, user.platform_user_id)
        config: RunnableConfig = {
            "configurable": {"thread_id": thread},
            "recursion_limit": self.recursion_limit,
        }
        if callbacks:
            config["callbacks"] = callbacks
        return config

    async def reply(self, user: UserRef, chat: ChatRef, text: str) -> AgentReply:
        """Answer one message from ``user`` in ``chat``."""
        text = (text or "").strip()
        if not text:
            return AgentReply("Ask me something, for example: price of BTC.")
        if len(text) > self.max_message_chars:
            return AgentReply(
                f"That message is too long ({len(text)} characters); "
                f"please keep it under {self.max_message_chars}."
            )
        key = (user.platform, user.platform_user_id)
        try:
            self.limiter.check(key)
            if self.budget is not None:
                self.budget.check(key)
        except CryptoGuardError as exc:
            return AgentReply(exc.user_message)
        profile = await self.users.ensure(user, chat)
        context = ToolContext(user=user, chat=chat, profile=profile)
        human = HumanMessage(content=text, id=f"human-{uuid.uuid4().hex}")
        usage = UsageMetadataCallbackHandler()
        config = self._config(user, chat, callbacks=[usage])
        logger.debug("agent turn in %s: %r", config["configurable"]["thread_id"], text)
        try:
            result = await self.graph.ainvoke({"messages": [human]}, config=config, context=context)
        except GraphRecursionError:
            await self._close_open_calls(config)
            return AgentReply(STEP_LIMIT_TEXT)
        except CryptoGuardError as exc:
            return AgentReply(exc.user_message)
        except Exception as exc:  # the edge of the agent: log with an incident id, apologise
            incident = new_incident_id()
            if is_llm_error(exc):
                logger.warning("incident %s: LLM endpoint failed: %s", incident, type(exc).__name__)
                text = f"{LLMUnavailableError().user_message} (incident {incident})"
                return AgentReply(text, incident=incident)
            logger.exception("incident %s: agent turn failed", incident)
            return AgentReply(
                f"Sorry, something went wrong on our side (incident {incident}). Please try again.",
                incident=incident,
            )
        finally:
            if self.budget is not None:
                spent = sum(u.get("total_tokens", 0) for u in usage.usage_metadata.values())
                self.budget.record(key, spent)
        return self._reply_from(result["messages"], human.id or "")

    def _reply_from(self, messages: Sequence[BaseMessage], human_id: str) -> AgentReply:
        start = next((i for i, m in enumerate(messages) if m.id == human_id), None)
        turn = list(messages[start + 1 :]) if start is not None else []
        trace = trace_turn(turn)
        attachments = [
            item
            for m in turn
            if isinstance(m, ToolMessage)
            for item in (m.artifact if isinstance(m.artifact, list) else [m.artifact])
            if isinstance(item, Attachment)
        ]
        last = turn[-1] if turn else None
        text = message_text(last).strip() if isinstance(last, AIMessage) else ""
        if text.startswith(CALL_LIMIT_PREFIX):
            text = STEP_LIMIT_TEXT
        if not text:
            text = final_answer([m for m in turn if isinstance(m, ToolMessage)])
        return AgentReply(text, attachments, trace)

    async def _close_open_calls(self, config: RunnableConfig) -> None:
        """After a step-limit abort, answer dangling tool calls so the thread stays valid."""
        snapshot = await self.graph.aget_state(config)
        messages = snapshot.values.get("messages", []) if snapshot.values else []
        last = messages[-1] if messages else None
        if isinstance(last, AIMessage) and last.tool_calls:
            closing = [
                ToolMessage(
                    "Stopped: step limit reached.", tool_call_id=c["id"] or "", status="error"
                )
                for c in last.tool_calls
            ]
            await self.graph.aupdate_state(config, {"messages": closing}, as_node="tools")

    async def reset(self, user: UserRef, chat: ChatRef) -> None:
        """Forget the conversation of ``user`` in ``chat`` (a new thread starts)."""
        checkpointer = self.graph.checkpointer
        if checkpointer is not None and not isinstance(checkpointer, bool):
            await checkpointer.adelete_thread(
                thread_id(user.platform, chat.chat_id, user.platform_user_id)
            )
