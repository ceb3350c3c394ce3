"""Bulk deletes wait for the user's yes: the agent asks before deleting more than one alert.

The rule (issue 3, section 6; RELIABILITY "Agent": destructive or bulk changes get a
confirmation step, with a cap). :class:`BulkDeleteGuard` enforces it for any model, the
offline router or an LLM, because it watches the tool calls rather than the wording:

1. The model asks to delete a second alert in one turn (two ``delete_alert`` calls in
   one message, or one after another). None of the calls of that message runs (other
   tools it calls neither: the question ends the turn): the message is replaced by a
   question that lists the alert numbers (at most :data:`MAX_PER_CONFIRMATION`), and
   the numbers are kept in the graph state (``pending_deletes``, saved by the
   checkpointer with the thread).
2. The user's next message settles it:

   * an explicit yes ("yes", "confirm", "yes delete them"): the guard answers the
     turn's first model call itself, with one ``delete_alert`` call per pending number.
     They run through the tool node like any other call (ownership checks, idempotency,
     sanitised errors), and the model then reports the outcome;
   * an explicit no ("no", "cancel"): nothing is deleted, and the agent says so;
   * anything else: the pending request is dropped and the message is handled as usual.

An LLM that follows the system prompt asks first in its own words. When the user says
yes to an assistant message that asked about deleting and named every one of the
numbers, the deletions that follow run without a second question.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import (
    AgentMiddleware,
    AgentState,
    ExtendedModelResponse,
    ModelCallResult,
    ModelRequest,
    ModelResponse,
    hook_config,
)
from langchain.agents.middleware.types import PrivateStateAttr
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.offline import yes_or_no
from agents.router import message_text, tool_calls
from prompts import render

logger = logging.getLogger(__name__)

#: The tool whose calls are guarded.
DELETE_TOOL = "delete_alert"
#: Most alerts one confirmation covers (and lists); the rest must be asked for again.
MAX_PER_CONFIRMATION = 20
#: The reply to an explicit "no".
CANCELLED = render("confirm_cancelled")

_ASKED_TO_DELETE = re.compile(r"\b(?:delet|remov)", re.IGNORECASE)


class BulkDeleteState(AgentState[Any]):
    """The agent state, with the alert numbers awaiting the user's yes."""

    pending_deletes: NotRequired[Annotated[list[int] | None, PrivateStateAttr]]


def alert_number(value: object) -> int | None:
    """The alert number of a ``delete_alert`` argument (``12``, ``"12"``, ``"#12"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and (m := re.fullmatch(r"\s*#?\s*(\d+)\s*", value)):
        return int(m.group(1))
    return None


def _last_human(messages: Sequence[BaseMessage]) -> int | None:
    return max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=None)


def _deleted_in(messages: Iterable[BaseMessage]) -> list[int | None]:
    """The alert numbers of the ``delete_alert`` calls among ``messages``."""
    return [
        alert_number(call["args"].get("alert_id"))
        for m in messages
        if isinstance(m, AIMessage)
        for call in m.tool_calls
        if call["name"] == DELETE_TOOL
    ]


def confirmation_question(numbers: Sequence[int], left_out: int = 0) -> str:
    """The question asked instead of deleting ``numbers``."""
    listed = ", ".join(f"#{n}" for n in numbers)
    what = f"alert {listed}" if len(numbers) == 1 else f"these {len(numbers)} alerts: {listed}"
    lines = [render("confirm_delete", what=what)]
    if left_out:
        lines.append(
            render(
                "confirm_delete_rest",
                shown=len(numbers),
                total=len(numbers) + left_out,
                cap=MAX_PER_CONFIRMATION,
            )
        )
    lines.append(render("confirm_delete_reply"))
    return "\n".join(lines)


def confirmed_in_words(messages: Sequence[BaseMessage], numbers: Iterable[int | None]) -> bool:
    """Whether the user just said yes to an assistant question about deleting these alerts.

    True when the latest user message is an explicit yes, and the assistant message
    before it asked about deleting and named every one of ``numbers`` (at most
    :data:`MAX_PER_CONFIRMATION`, none unreadable).
    """
    wanted = list(dict.fromkeys(numbers))
    if not wanted or len(wanted) > MAX_PER_CONFIRMATION:
        return False
    last = _last_human(messages)
    if last is None or yes_or_no(message_text(messages[last])) != "yes":
        return False
    asked = next((m for m in reversed(messages[:last]) if isinstance(m, AIMessage)), None)
    if asked is None or asked.tool_calls:
        return False
    text = message_text(asked)
    if not _ASKED_TO_DELETE.search(text):
        return False
    return all(
        n is not None and re.search(rf"(?<![\d.]){n}(?!\d|\.\d)", text) is not None for n in wanted
    )


class BulkDeleteGuard(AgentMiddleware[BulkDeleteState, Any]):
    """Asks the user before more than one alert is deleted in a turn (see the module doc)."""

    state_schema = BulkDeleteState

    @hook_config(can_jump_to=["end"])
    def before_agent(self, state: BulkDeleteState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Settle a pending request with the new message: kept on yes, dropped otherwise."""
        if not state.get("pending_deletes"):
            return None
        messages = state["messages"]
        last = _last_human(messages)
        answer = yes_or_no(message_text(messages[last])) if last is not None else None
        if answer == "yes":
            return None
        update: dict[str, Any] = {"pending_deletes": None}
        if answer == "no":
            update["messages"] = [AIMessage(content=CANCELLED)]
            update["jump_to"] = "end"
        return update

    @hook_config(can_jump_to=["end"])
    async def abefore_agent(
        self, state: BulkDeleteState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """Async :meth:`before_agent`."""
        return self.before_agent(state, runtime)

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelCallResult[Any]:
        """Run confirmed deletions, or call the model and hold back a bulk delete."""
        confirmed = self._run_confirmed(request)
        if confirmed is not None:
            return confirmed
        return self._hold_bulk_delete(request, handler(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelCallResult[Any]:
        """Async :meth:`wrap_model_call`."""
        confirmed = self._run_confirmed(request)
        if confirmed is not None:
            return confirmed
        return self._hold_bulk_delete(request, await handler(request))

    def _run_confirmed(self, request: ModelRequest[Any]) -> ExtendedModelResponse[Any] | None:
        """The pending deletions as this turn's first step, when the user said yes."""
        pending = request.state.get("pending_deletes")
        messages: list[AnyMessage] = request.messages
        last = _last_human(messages)
        if not isinstance(pending, list) or not pending or last is None:
            return None
        if any(isinstance(m, AIMessage) for m in messages[last + 1 :]):
            return None
        if yes_or_no(message_text(messages[last])) != "yes":
            return None
        calls = [{"alert_id": n} for n in pending[:MAX_PER_CONFIRMATION]]
        return ExtendedModelResponse(
            model_response=ModelResponse(result=[tool_calls(DELETE_TOOL, calls)]),
            command=Command(update={"pending_deletes": None}),
        )

    def _hold_bulk_delete(
        self, request: ModelRequest[Any], response: ModelResponse[Any]
    ) -> ModelCallResult[Any]:
        """The model's response, or a question instead when it would delete in bulk."""
        message = next((m for m in reversed(response.result) if isinstance(m, AIMessage)), None)
        asked = _deleted_in([message]) if message is not None else []
        if not asked:
            return response
        messages: list[AnyMessage] = request.messages
        last = _last_human(messages)
        earlier = _deleted_in(messages[last + 1 :] if last is not None else [])
        new = [n for n in dict.fromkeys(asked) if n not in earlier]
        if not new or len(set(earlier) | set(new)) <= 1:
            return response  # one alert, or repeats (answered by the idempotency middleware)
        if confirmed_in_words(messages, [*earlier, *new]):
            return response
        numbers = [n for n in new if n is not None and n > 0]
        if not numbers:
            return response  # nothing deletable: the calls fail validation on their own
        batch = numbers[:MAX_PER_CONFIRMATION]
        logger.info("bulk delete of %d alerts held for the user's confirmation", len(numbers))
        question = AIMessage(content=confirmation_question(batch, len(numbers) - len(batch)))
        return ExtendedModelResponse(
            model_response=ModelResponse(result=[question]),
            command=Command(update={"pending_deletes": batch}),
        )
