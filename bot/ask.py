"""``cryptoguard ask``: one question, or a batch of JSONL questions, answered by the agent.

With ``--json`` each answer is one JSON object::

    {"q": ..., "answer": ..., "tool_calls": [{"name", "args", "status", "error"}],
     "attachments": [...]}

In a batch every question gets a fresh user (and so a fresh thread), answered in order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from bot.app import App
from bot.console import local_user, render_agent_reply
from tools.errors import ConfigurationError
from tools.identity import ChatRef, UserRef

CHAT = ChatRef("console", 0, private=True)


def reply_json(question: str, reply: Any) -> str:
    """The JSON line for one answered question."""
    return json.dumps(
        {
            "q": question,
            "answer": reply.text,
            "tool_calls": [asdict(call) for call in reply.tool_calls],
            "attachments": [a.filename for a in reply.attachments],
        },
        ensure_ascii=False,
        default=str,
    )


async def answer_one(app: App, question: str, as_json: bool, echo: Callable[[str], Any]) -> None:
    """Answer ``question`` as the local console user."""
    if app.agent is None:
        raise ConfigurationError("The assistant is not available.")
    reply = await app.agent.reply(local_user(), CHAT, question)
    echo(reply_json(question, reply) if as_json else render_agent_reply(reply))


async def answer_batch(
    app: App, lines: Sequence[str], as_json: bool, echo: Callable[[str], Any]
) -> None:
    """Answer each ``{"q": ...}`` line in a fresh conversation, in order."""
    if app.agent is None:
        raise ConfigurationError("The assistant is not available.")
    run = uuid.uuid4().hex[:8]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = item.get("q") if isinstance(item, dict) else None
        except json.JSONDecodeError:
            question = None
        if not isinstance(question, str):
            error = f'line {number}: expected a JSON object with a "q" string'
            echo(json.dumps({"q": None, "answer": "", "tool_calls": [], "error": error}))
            continue
        user = UserRef("console", f"batch-{run}-{number}", display_name="batch")
        try:
            reply = await app.agent.reply(user, CHAT, question)
        finally:  # a throwaway user: their alerts must never fire in a later `run`
            await app.users.forget(user)
        echo(reply_json(question, reply) if as_json else f"Q: {question}\nA: {reply.text}\n")
