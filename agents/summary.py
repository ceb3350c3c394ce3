"""The digest's summary paragraph written by the configured OpenAI-compatible model.

Only built when an LLM is configured; the digest falls back to its template on any
error (and when this returns ``None``, offline).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from langchain_core.messages import HumanMessage

from agents.model import ModelConfig, build_chat_model, uses_llm


def build_summariser(config: ModelConfig) -> Callable[[str], Awaitable[str]] | None:
    """``summarise(prompt) -> paragraph`` over the configured model, or ``None`` offline."""
    if not uses_llm(config):
        return None
    model = build_chat_model(config)

    async def summarise(prompt: str) -> str:
        reply = await model.ainvoke([HumanMessage(prompt)])
        return reply.text

    return summarise
