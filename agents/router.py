"""The offline model: a LangChain chat model that routes messages to tools without an LLM.

It runs the same graph as a real LLM would: on a user message it either emits tool
calls (decided by :func:`agents.offline.understand`; several for "delete alerts 1 and
2") or answers in words; once the tool results are in, it writes the final answer from
them, or, for "delete all my alerts", first calls ``delete_alert`` for each alert the
listing showed (the agent's bulk-delete guard then asks the user to confirm). It never
invents numbers: every figure in an answer comes from a tool result.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

import prompts
from agents.offline import ChatIntent, OfflineNLU, ToolIntent, TurnContext
from tools.adapters.contract import CAPABILITIES

MODEL_NAME = "cryptoguard-offline-router"


def message_text(message: BaseMessage) -> str:
    """The plain text of a message (joining text parts of multi-part content)."""
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else str(p.get("text", "")) for p in content]
    return " ".join(p for p in parts if p)


def previous_turn(messages: Sequence[BaseMessage]) -> TurnContext | None:
    """The last tool call made before the current user message, for follow-ups."""
    for message in reversed(messages):
        if isinstance(message, AIMessage) and message.tool_calls:
            call = message.tool_calls[-1]
            return TurnContext(last_tool=call["name"], last_args=dict(call["args"]))
    return None


#: An alert's row in the ``list_alerts`` result ("#12    BTC above $100,000  active; ...").
_LISTED_ALERT = re.compile(r"^#(\d+)\b", re.MULTILINE)


def listed_alert_ids(result: ToolMessage) -> list[int]:
    """The alert numbers a successful ``list_alerts`` result shows, in order."""
    if result.status == "error":
        return []
    return list(dict.fromkeys(int(n) for n in _LISTED_ALERT.findall(message_text(result))))


def tool_calls(name: str, calls: Sequence[dict[str, Any]]) -> AIMessage:
    """An assistant message calling ``name`` once per argument set."""
    return AIMessage(
        content="",
        tool_calls=[
            {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
            for args in calls
        ],
    )


def final_answer(results: Sequence[ToolMessage]) -> str:
    """The answer written from this turn's tool results (errors are already user-safe)."""
    texts = [message_text(m).strip() for m in results]
    return "\n\n".join(t for t in texts if t) or "Done."


def chat_reply(intent: ChatIntent) -> str:
    """Words for a reply that needs no tool."""
    if intent.kind == "refusal":
        return prompts.render("refusal", reason=intent.reason or "that request is not valid.")
    if intent.kind in ("unclear", "command") and intent.reason:
        return intent.reason
    return prompts.load(intent.kind)


class OfflineRouterModel(BaseChatModel):
    """A tool-calling chat model that needs no network and no weights (beyond the
    optional MiniLM encoder used by the intent recogniser).

    Attributes:
        nlu: The language understanding (cue phrases, optionally backed by MiniLM).
    """

    nlu: OfflineNLU = Field(default_factory=OfflineNLU)

    @property
    def _llm_type(self) -> str:
        return "cryptoguard-offline"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools the same way provider models do (OpenAI tool format)."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        available = {t["function"]["name"] for t in kwargs.get("tools") or []}
        message = self.respond(messages, available)
        prompt_chars = sum(len(message_text(m)) for m in messages)
        output_chars = len(message_text(message)) + len(str(message.tool_calls))
        message.usage_metadata = {
            "input_tokens": prompt_chars // 4,
            "output_tokens": output_chars // 4,
            "total_tokens": (prompt_chars + output_chars) // 4,
        }
        message.response_metadata = {"model_name": MODEL_NAME}
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, None, **kwargs)

    def respond(self, messages: Sequence[BaseMessage], available: set[str]) -> AIMessage:
        """Decide the next message: a tool call, or an answer."""
        last_human = max(
            (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=None
        )
        if last_human is None:
            return AIMessage(content=prompts.load("greeting"))
        turn = messages[last_human + 1 :]
        results = [m for m in turn if isinstance(m, ToolMessage)]
        if results:
            follow = self._for_each_listed(messages, last_human, available)
            return follow or AIMessage(content=final_answer(results))
        text = message_text(messages[last_human])
        intent = self.nlu.understand(
            text, available_tools=available, context=previous_turn(messages[:last_human])
        )
        if isinstance(intent, ToolIntent):
            if intent.tool not in available:
                capability = CAPABILITIES.get(intent.tool, "that feature")
                offered = ", ".join(
                    dict.fromkeys(CAPABILITIES[t] for t in CAPABILITIES if t in available)
                )
                return AIMessage(
                    content=prompts.render("unavailable", capability=capability, available=offered)
                )
            return tool_calls(intent.tool, intent.calls)
        return AIMessage(content=chat_reply(intent))

    def _for_each_listed(
        self, messages: Sequence[BaseMessage], last_human: int, available: set[str]
    ) -> AIMessage | None:
        """The second step of "delete all my alerts": one call per alert the list showed.

        Only after a turn whose single step was the listing the message asked for; the
        calls go out together, so the agent's bulk-delete guard asks before any runs.
        """
        turn = messages[last_human + 1 :]
        steps = [m for m in turn if isinstance(m, AIMessage)]
        if len(steps) != 1 or [c["name"] for c in steps[0].tool_calls] != ["list_alerts"]:
            return None
        intent = self.nlu.understand(
            message_text(messages[last_human]),
            available_tools=available,
            context=previous_turn(messages[:last_human]),
        )
        tool = intent.for_each_alert if isinstance(intent, ToolIntent) else None
        if tool is None or tool not in available:
            return None
        listing = next((m for m in turn if isinstance(m, ToolMessage)), None)
        ids = listed_alert_ids(listing) if listing is not None else []
        if not ids:
            return None
        return tool_calls(tool, [{"alert_id": i} for i in ids])
