"""The alert tools inside the real agent graph (middleware included), driven by a scripted
chat model: identity from the runtime context, sanitised errors, one alert per repeated
call in a turn, and no reach into another user's alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable

from agents.graph import build_agent
from storage import Database
from tools.adapters.alerts import alert_tools
from tools.adapters.context import ToolContext
from tools.identity import ChatRef, UserRef

from .test_alert_service import ALICE, BOB, make, stored


class Script:
    """The model's replies in order: a list of ``(tool, args)`` calls, or the final text."""

    def __init__(self, steps: list[Any]) -> None:
        self.steps = list(steps)


class ScriptedModel(BaseChatModel):
    """Replies from a :class:`Script` (shared, so copies of the model share the position)."""

    script: Any

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(  # type: ignore[override]
        self, tools: Sequence[Any], **kwargs: Any
    ) -> Runnable[Any, BaseMessage]:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        steps = self.script.steps
        step = steps.pop(0) if steps else "done"
        if isinstance(step, str):
            message = AIMessage(content=step)
        else:
            calls = [
                {"name": name, "args": args, "id": f"call-{uuid.uuid4().hex[:8]}"}
                for name, args in step
            ]
            message = AIMessage(content="", tool_calls=calls)
        return ChatResult(generations=[ChatGeneration(message=message)])


async def run_turn(
    db: Database, user: UserRef, script: list[Any], **setup: Any
) -> list[ToolMessage]:
    """One agent turn; the tool messages it produced."""
    s = make(db, **setup)
    model = ScriptedModel(script=Script(script))
    graph = build_agent(model, alert_tools(s.alerts), checkpointer=None)
    context = ToolContext(user=user, chat=ChatRef(user.platform, 1))
    result = await graph.ainvoke(
        {"messages": [HumanMessage("go")]}, config={"recursion_limit": 30}, context=context
    )
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


async def test_create_list_and_delete_through_the_agent(db: Database) -> None:
    create = {"kind": "price_above", "symbol": "BTC", "threshold": 500000}
    results = await run_turn(db, ALICE, [[("create_alert", create)], [("list_alerts", {})]])
    assert [r.status for r in results] == ["success", "success"]
    assert str(results[0].content).startswith("Alert #1 set: BTC above $500,000 (one-shot).")
    assert "BTC is $" in str(results[0].content)
    assert "Over the last 30 days" in str(results[0].content)
    assert "#1" in str(results[1].content) and "BTC above $500,000" in str(results[1].content)
    results = await run_turn(db, ALICE, [[("delete_alert", {"alert_id": 1})]])
    assert results[0].content == "Deleted alert #1: BTC above $500,000."
    assert await stored(db, ALICE) == [(1, "price_above", "deleted")]


async def test_the_same_create_twice_in_one_turn_makes_one_alert(db: Database) -> None:
    create = {"kind": "pct_change", "symbol": "SOL", "threshold": "5%", "window": "1h"}
    results = await run_turn(db, ALICE, [[("create_alert", create)], [("create_alert", create)]])
    assert len(results) == 2 and all(r.status == "success" for r in results)
    assert "already done a moment ago" in str(results[1].content)
    assert await stored(db, ALICE) == [(1, "pct_change", "active")]


async def test_parallel_identical_creates_make_one_alert(db: Database) -> None:
    create = {"kind": "price_below", "symbol": "ETH", "threshold": "1k"}
    results = await run_turn(db, ALICE, [[("create_alert", create), ("create_alert", create)]])
    assert sorted(r.status for r in results) == ["error", "success"]
    refused = next(r for r in results if r.status == "error")
    assert str(refused.content).startswith("You already have this alert: #1")
    assert await stored(db, ALICE) == [(1, "price_below", "active")]


async def test_invalid_alerts_are_refused_with_the_reason_and_change_nothing(
    db: Database,
) -> None:
    results = await run_turn(
        db,
        ALICE,
        [
            [
                ("create_alert", {"kind": "price_above", "symbol": "BTC", "threshold": -5}),
                ("create_alert", {"kind": "price_above", "symbol": "BTC", "threshold": "1e309"}),
                ("create_alert", {"kind": "depeg", "symbol": "ETH", "threshold": 1}),
                ("create_alert", {"kind": "price_above", "threshold": 5}),
                ("create_alert", {"kind": "moon", "symbol": "BTC", "threshold": 5}),
            ]
        ],
    )
    assert [r.status for r in results] == ["error"] * 5
    texts = [str(r.content) for r in results]
    assert "cannot be negative" in texts[0]
    assert "out of range" in texts[1]
    assert "not a tracked stablecoin" in texts[2]
    assert "Which coin" in texts[3]
    assert "Unknown alert kind" in texts[4]
    assert all("Traceback" not in t and "incident" not in t for t in texts)
    assert await stored(db, ALICE) == []


async def test_another_users_alert_cannot_be_deleted(db: Database) -> None:
    create = {"kind": "price_below", "symbol": "ETH", "threshold": 1000}
    await run_turn(db, ALICE, [[("create_alert", create)]])
    results = await run_turn(db, BOB, [[("delete_alert", {"alert_id": 1}), ("list_alerts", {})]])
    assert results[0].status == "error" and results[0].content == "You have no alert #1."
    assert results[1].content == "You have no active alerts."
    assert await stored(db, ALICE) == [(1, "price_below", "active")]


async def test_tools_have_no_user_argument() -> None:
    tools = alert_tools(None)  # type: ignore[arg-type]
    for tool in tools:
        properties = set(tool.tool_call_schema.model_json_schema().get("properties", {}))  # type: ignore[union-attr]
        assert not properties & {"user", "user_id", "runtime", "owner"}, tool.name
    assert [t.name for t in tools] == ["create_alert", "list_alerts", "delete_alert"]
