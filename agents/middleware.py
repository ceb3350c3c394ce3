"""Agent middleware: sanitised tool errors, idempotent mutations, the per-user prompt.

* Tool errors: a domain error (``CryptoGuardError``) goes back to the model as its
  plain ``user_message``; anything else is logged under an incident id and the model
  only learns that the tool failed. Raw exception text never reaches an LLM provider.
* Mutating tools are idempotent within a turn: the same call with the same arguments
  returns the first result instead of acting twice.
* The system prompt is rendered per turn with what we know about the speaker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from langchain.agents.middleware import (
    AgentMiddleware,
    ModelRequest,
    ToolCallRequest,
    ToolErrorMiddleware,
    dynamic_prompt,
)
from langchain_core.messages import ToolMessage
from langgraph.types import Command

import prompts
from tools.adapters.context import ToolContext
from tools.adapters.contract import MUTATING
from tools.errors import CryptoGuardError, new_incident_id
from tools.users import UserProfile

logger = logging.getLogger(__name__)


def tool_error_text(exc: Exception, request: ToolCallRequest) -> str:
    """What the model is told when a tool raises."""
    if isinstance(exc, CryptoGuardError):
        return exc.user_message
    incident = new_incident_id()
    logger.error(
        "incident %s: tool %s failed", incident, request.tool_call.get("name"), exc_info=exc
    )
    return (
        f"Sorry, that failed because of an internal error (incident {incident}). "
        "Please try again later."
    )


def error_middleware() -> ToolErrorMiddleware:
    """Turns every tool exception into an error ToolMessage with a sanitised text."""
    return ToolErrorMiddleware(on_error=tool_error_text)


def call_key(name: str, args: dict[str, Any]) -> str:
    """A canonical key for a tool call (name + arguments, order-insensitive)."""
    return name + ":" + json.dumps(args, sort_keys=True, default=str)


class IdempotentMutations(AgentMiddleware):
    """Answers a repeated identical mutating call from the first call's result."""

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """Run the tool unless the same mutation already ran in this turn."""
        name = request.tool_call["name"]
        context = request.runtime.context
        if name not in MUTATING or not isinstance(context, ToolContext):
            return await handler(request)
        key = call_key(name, request.tool_call["args"])
        if key in context.done:
            return ToolMessage(
                content=f"{context.done[key]} (already done a moment ago; not repeated)",
                tool_call_id=request.tool_call["id"],
                name=name,
            )
        result = await handler(request)
        if isinstance(result, ToolMessage) and result.status != "error":
            context.done[key] = str(result.content)
        return result


def profile_lines(profile: UserProfile | None) -> str:
    """What the system prompt says about the speaker."""
    if profile is None:
        return "- nothing yet"
    digest = f"on at {profile.digest_time:%H:%M}" if profile.digest_enabled else "off"
    lines = [
        f"- name: {profile.display_name or 'unknown'}",
        f"- timezone: {profile.timezone}",
        f"- base currency: {profile.base_currency}",
        f"- daily digest: {digest}",
        f"- default depeg alert threshold: {profile.depeg_threshold_pct}%",
    ]
    if profile.favourite_coins:
        lines.append(f"- coins they often ask about: {', '.join(profile.favourite_coins)}")
    return "\n".join(lines)


@dynamic_prompt
def personal_system_prompt(request: ModelRequest) -> str:
    """The system prompt with today's date and the speaker's profile."""
    context = request.runtime.context
    profile = context.profile if isinstance(context, ToolContext) else None
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    return prompts.render("system", today=today, profile=profile_lines(profile))
