"""History trimming, thread ids and checkpointer locations."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from memory import checkpoint_location, thread_id, trim_history


def exchange(i: int, with_tool: bool) -> list:  # type: ignore[type-arg]
    messages: list = [HumanMessage(f"q{i}", id=f"h{i}")]  # type: ignore[type-arg]
    if with_tool:
        messages.append(
            AIMessage("", tool_calls=[{"name": "get_price", "args": {}, "id": f"c{i}"}], id=f"a{i}")
        )
        messages.append(ToolMessage("result", tool_call_id=f"c{i}", id=f"t{i}"))
    messages.append(AIMessage(f"answer {i}", id=f"f{i}"))
    return messages


def test_trim_keeps_last_exchanges_and_never_orphans_tool_messages() -> None:
    history = [m for i in range(15) for m in exchange(i, with_tool=i % 2 == 0)]
    kept = trim_history(history, 10)
    assert kept is not None
    assert isinstance(kept[0], HumanMessage) and kept[0].content == "q5"
    assert sum(isinstance(m, HumanMessage) for m in kept) == 10
    call_ids = {c["id"] for m in kept if isinstance(m, AIMessage) for c in m.tool_calls}
    result_ids = {m.tool_call_id for m in kept if isinstance(m, ToolMessage)}
    assert call_ids == result_ids


def test_nothing_to_trim() -> None:
    assert trim_history([m for i in range(3) for m in exchange(i, True)], 10) is None


def test_thread_ids_separate_users_and_chats() -> None:
    assert thread_id("telegram", -100123, "42") == "telegram:-100123:42"
    assert thread_id("telegram", -100123, "42") != thread_id("telegram", -100123, "43")


def test_checkpoint_locations() -> None:
    assert checkpoint_location("sqlite+aiosqlite:///data/cryptoguard.db") == (
        "sqlite",
        "data/cryptoguard-checkpoints.db",
    )
    assert checkpoint_location("sqlite+aiosqlite:////abs/x.db") == (
        "sqlite",
        "/abs/x-checkpoints.db",
    )
    assert checkpoint_location("sqlite+aiosqlite:///:memory:") == ("sqlite", ":memory:")
    assert checkpoint_location("postgresql+asyncpg://u:p@h:5432/db") == (
        "postgres",
        "postgresql://u:p@h:5432/db",
    )


async def test_processes_starting_together_set_the_checkpointer_up_once(
    empty_database_url: str,
) -> None:
    """Several processes on a fresh database: no CREATE TABLE race, no deadlock (the
    set-up's CREATE INDEX CONCURRENTLY must not wait on a blocked lock request)."""
    import asyncio
    from contextlib import AsyncExitStack

    from memory import open_checkpointer

    async def open_one(stack: AsyncExitStack) -> object:
        return await stack.enter_async_context(open_checkpointer(empty_database_url))

    async with AsyncExitStack() as stack:
        savers = await asyncio.wait_for(
            asyncio.gather(*(open_one(stack) for _ in range(3))), timeout=60
        )
    assert len(savers) == 3
