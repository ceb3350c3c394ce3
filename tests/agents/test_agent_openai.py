"""The agent end to end over the OpenAI path: real ChatOpenAI, a local chat-completions
server, real tools on the offline market, real storage and checkpointer (SQLite and
PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.app import App, open_app
from bot.settings import Settings
from tools.adapters.contract import CAPABILITIES
from tools.clock import FakeClock
from tools.identity import ChatRef, UserRef

from .chat_server import ChatServer, chat_server

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
ALICE = UserRef("telegram", "1001", "Alice")
BOB = UserRef("telegram", "1002", "Bob")


@pytest.fixture
def DM() -> ChatRef:  # noqa: N802 - reads like the constant it replaces
    """A chat of its own per test: checkpoint threads on PostgreSQL outlive one test."""
    return ChatRef("telegram", uuid.uuid4().int % 10**12)


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    async with chat_server() as s:
        yield s


@pytest.fixture
async def app(database_url: str, server: ChatServer) -> AsyncIterator[App]:
    settings = Settings(
        _env_file=None,
        market="offline",
        llm="openai",
        database_url=database_url,
        openai={"api_key": "sk-test-secret-key", "base_url": server.base_url, "model": "local"},
        agent={"turns_per_minute": 100, "max_model_calls": 4},
    )
    async with open_app(settings, clock=FakeClock(NOW), with_agent=True) as application:
        yield application


async def test_tool_call_then_answer(app: App, server: ChatServer, DM: ChatRef) -> None:
    assert app.agent is not None
    server.tool_call("get_price", {"symbols": ["BTC"]})
    server.final("Bitcoin is trading around the price shown.")
    reply = await app.agent.reply(ALICE, DM, "price of btc?")
    assert reply.text == "Bitcoin is trading around the price shown."
    assert [(c.name, c.args, c.status) for c in reply.tool_calls] == [
        ("get_price", {"symbols": ["BTC"]}, "ok")
    ]
    first, second = server.requests
    names = [t["function"]["name"] for t in first["tools"]]
    assert set(names) >= {"get_price", "market_overview", "stablecoin_status", "update_settings"}
    assert set(names) <= set(CAPABILITIES)
    for tool in first["tools"]:
        assert "user" not in str(tool["function"]["parameters"]).lower().replace("user's", "")
    assert first["messages"][0]["role"] == "system"
    tool_result = second["messages"][-1]
    assert tool_result["role"] == "tool" and "BTC (Bitcoin): $" in tool_result["content"]
    assert server.headers[0]["Authorization"] == "Bearer sk-test-secret-key"


async def test_domain_errors_reach_the_model_sanitised(
    app: App, server: ChatServer, DM: ChatRef
) -> None:
    assert app.agent is not None
    server.tool_call("get_price", {"symbols": ["NOTAREALCOIN123"]})
    server.final("I could not find that coin.")
    reply = await app.agent.reply(ALICE, DM, "price of NOTAREALCOIN123")
    assert reply.tool_calls[0].status == "error"
    assert reply.tool_calls[0].error == 'Unknown coin "NOTAREALCOIN123".'
    assert server.requests[1]["messages"][-1]["content"] == 'Unknown coin "NOTAREALCOIN123".'


async def test_unexpected_tool_errors_never_leak_to_the_provider(
    app: App, server: ChatServer, monkeypatch: pytest.MonkeyPatch, DM: ChatRef
) -> None:
    assert app.agent is not None

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("secret internals at /etc/passwd")

    monkeypatch.setattr(app.prices, "get_top", broken)
    server.tool_call("market_overview", {"limit": 5})
    server.final("Sorry, that failed.")
    reply = await app.agent.reply(ALICE, DM, "top 5")
    sent = str(server.requests)
    assert "secret internals" not in sent and "incident" in sent
    assert reply.tool_calls[0].status == "error"


async def test_settings_change_uses_the_platform_identity(
    app: App, server: ChatServer, DM: ChatRef
) -> None:
    assert app.agent is not None
    server.tool_call("update_settings", {"timezone": "Asia/Tokyo"})
    server.final("Done.")
    await app.agent.reply(ALICE, DM, "set my timezone to tokyo")
    alice = await app.users.get_profile(ALICE)
    bob = await app.users.ensure(BOB)
    assert alice is not None and alice.timezone == "Asia/Tokyo"
    assert bob.timezone == "UTC"


async def test_same_mutation_twice_in_one_turn_runs_once(
    app: App, server: ChatServer, DM: ChatRef
) -> None:
    assert app.agent is not None
    server.tool_call("update_settings", {"depeg_threshold": 1.5})
    server.tool_call("update_settings", {"depeg_threshold": 1.5})
    server.final("Done.")
    reply = await app.agent.reply(ALICE, DM, "set my depeg threshold to 1.5%")
    assert [c.status for c in reply.tool_calls] == ["ok", "ok"]
    assert "not repeated" in server.requests[2]["messages"][-1]["content"]


async def test_follow_ups_share_the_thread_and_reset_clears_it(
    app: App, server: ChatServer, DM: ChatRef
) -> None:
    assert app.agent is not None
    server.final("ETH answer")
    await app.agent.reply(ALICE, DM, "price of ETH?")
    server.final("SOL answer")
    await app.agent.reply(ALICE, DM, "and SOL?")
    history = [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"]
    assert history == ["price of ETH?", "and SOL?"]
    # another user in the same chat has their own thread
    server.final("hi bob")
    await app.agent.reply(BOB, DM, "hello")
    assert [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"] == [
        "hello"
    ]
    await app.agent.reset(ALICE, DM)
    server.final("fresh")
    await app.agent.reply(ALICE, DM, "new question")
    assert [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"] == [
        "new question"
    ]


async def test_a_model_calling_tools_in_a_loop_is_stopped(
    app: App, server: ChatServer, DM: ChatRef
) -> None:
    assert app.agent is not None
    for i in range(10):
        server.tool_call("market_overview", {"limit": i + 1})
    reply = await app.agent.reply(ALICE, DM, "loop forever")
    assert "reasonable number of steps" in reply.text
    assert 2 <= len(server.requests) <= 4  # stopped by max_model_calls
    # the thread is still usable afterwards
    server.script.clear()
    server.final("fine")
    assert (await app.agent.reply(ALICE, DM, "hello")).text == "fine"


async def test_provider_failure_is_a_friendly_message(
    app: App, server: ChatServer, DM: ChatRef
) -> None:
    assert app.agent is not None
    server.status = 500
    reply = await app.agent.reply(ALICE, DM, "price of btc")
    assert "language model is not answering" in reply.text and reply.incident


async def test_guardrails_on_input(app: App, server: ChatServer, DM: ChatRef) -> None:
    assert app.agent is not None
    assert "Ask me something" in (await app.agent.reply(ALICE, DM, "   ")).text
    assert "too long" in (await app.agent.reply(ALICE, DM, "x" * 5000)).text
    assert server.requests == []


@pytest.fixture
def CAROL() -> UserRef:  # noqa: N802 - a user of her own per test: PostgreSQL data outlives one
    return UserRef("telegram", str(uuid.uuid4().int % 10**9), "Carol")


async def _two_alerts(app: App, user: UserRef) -> list[int]:
    created = [await app.alerts.create(user, "price_above", "BTC", t) for t in (2e5, 3e5)]
    return [c.alert.id for c in created]


async def _alerts_of(app: App, user: UserRef) -> list[int]:
    return [v.id for v in await app.alerts.list(user)]


async def test_two_deletes_in_one_response_wait_for_a_yes(
    app: App, server: ChatServer, DM: ChatRef, CAROL: UserRef
) -> None:
    assert app.agent is not None
    a, b = await _two_alerts(app, CAROL)
    server.tool_calls([("delete_alert", {"alert_id": a}), ("delete_alert", {"alert_id": b})])
    asked = await app.agent.reply(CAROL, DM, "delete both my alerts")
    assert asked.tool_calls == [] and f"#{a}, #{b}?" in asked.text
    assert len(server.requests) == 1 and await _alerts_of(app, CAROL) == [a, b]

    server.final("Both alerts are gone.")
    done = await app.agent.reply(CAROL, DM, "yes")
    assert done.text == "Both alerts are gone."
    assert [(t.name, t.args, t.status) for t in done.tool_calls] == [
        ("delete_alert", {"alert_id": a}, "ok"),
        ("delete_alert", {"alert_id": b}, "ok"),
    ]
    assert await _alerts_of(app, CAROL) == []
    assert len(server.requests) == 2  # the confirmed deletions did not ask the model again
    sent = server.requests[-1]["messages"]
    assert [m["role"] for m in sent[-5:]] == ["assistant", "user", "assistant", "tool", "tool"]
    assert f"#{a}, #{b}?" in sent[-5]["content"] and sent[-4]["content"] == "yes"


async def test_anything_but_yes_cancels_the_llms_bulk_delete(
    app: App, server: ChatServer, DM: ChatRef, CAROL: UserRef
) -> None:
    assert app.agent is not None
    a, b = await _two_alerts(app, CAROL)
    server.tool_calls([("delete_alert", {"alert_id": a}), ("delete_alert", {"alert_id": b})])
    await app.agent.reply(CAROL, DM, "delete both my alerts")
    server.final("Here is the price.")
    other = await app.agent.reply(CAROL, DM, "what's the btc price")
    assert other.text == "Here is the price." and await _alerts_of(app, CAROL) == [a, b]


async def test_deletes_one_after_another_stop_at_the_second(
    app: App, server: ChatServer, DM: ChatRef, CAROL: UserRef
) -> None:
    assert app.agent is not None
    a, b = await _two_alerts(app, CAROL)
    server.tool_call("delete_alert", {"alert_id": a})
    server.tool_call("delete_alert", {"alert_id": b})
    reply = await app.agent.reply(CAROL, DM, "delete both my alerts")
    assert [(t.name, t.status) for t in reply.tool_calls] == [("delete_alert", "ok")]
    assert f"alert #{b}?" in reply.text and await _alerts_of(app, CAROL) == [b]


async def test_a_yes_to_the_llms_own_question_naming_the_alerts_is_enough(
    app: App, server: ChatServer, DM: ChatRef, CAROL: UserRef
) -> None:
    assert app.agent is not None
    a, b = await _two_alerts(app, CAROL)
    server.final(f"Shall I delete alerts #{a} and #{b}? Please confirm.")
    await app.agent.reply(CAROL, DM, "delete both my alerts")
    server.tool_calls([("delete_alert", {"alert_id": a}), ("delete_alert", {"alert_id": b})])
    server.final("Deleted both.")
    done = await app.agent.reply(CAROL, DM, "yes")
    assert [t.status for t in done.tool_calls] == ["ok", "ok"] and done.text == "Deleted both."
    assert await _alerts_of(app, CAROL) == []


async def test_a_yes_to_a_vague_question_is_asked_again(
    app: App, server: ChatServer, DM: ChatRef, CAROL: UserRef
) -> None:
    assert app.agent is not None
    a, b = await _two_alerts(app, CAROL)
    server.final("Do you want me to delete all of them?")
    await app.agent.reply(CAROL, DM, "clean up my alerts")
    server.tool_calls([("delete_alert", {"alert_id": a}), ("delete_alert", {"alert_id": b})])
    asked = await app.agent.reply(CAROL, DM, "yes")
    assert asked.tool_calls == [] and f"#{a}, #{b}?" in asked.text
    assert await _alerts_of(app, CAROL) == [a, b]
