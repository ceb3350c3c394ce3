"""Deleting more than one alert waits for the user's yes (offline model, real tools and storage).

The OpenAI-model side of the same guard is in ``test_agent_openai.py``.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import ToolMessage

from agents.confirm import CANCELLED, MAX_PER_CONFIRMATION, confirmation_question
from agents.offline import yes_or_no
from agents.router import listed_alert_ids
from bot.app import App
from tools.identity import ChatRef, UserRef

Me = tuple[UserRef, ChatRef]


@pytest.mark.parametrize(
    "text",
    ["yes", "Yes!", "y", "confirm", "yes delete them", "Yes, delete them all please", "ok go ahead",
     "yep", "sure", "delete them", "yes remove those alerts", "I confirm"],
)  # fmt: skip
def test_explicit_yes(text: str) -> None:
    assert yes_or_no(text) == "yes"


@pytest.mark.parametrize(
    "text", ["no", "No.", "nope", "cancel", "don't delete them", "never mind", "no thanks"]
)
def test_explicit_no(text: str) -> None:
    assert yes_or_no(text) == "no"


@pytest.mark.parametrize(
    "text",
    ["yes but only #2", "show my alerts", "delete alert 3", "yes delete alert 1", "thanks",
     "", "maybe", "yes " * 40, "what would be deleted?"],
)  # fmt: skip
def test_anything_else_is_no_answer(text: str) -> None:
    assert yes_or_no(text) is None


def test_the_question_lists_at_most_the_cap() -> None:
    numbers = list(range(1, MAX_PER_CONFIRMATION + 1))
    text = confirmation_question(numbers, left_out=5)
    assert f"#{MAX_PER_CONFIRMATION}" in text and "first 20 of 25" in text
    assert "alert #7?" in confirmation_question([7])


async def _alerts(app: App, user: UserRef, count: int) -> list[int]:
    thresholds = [200_000, 300_000, 400_000, 500_000][:count]
    return [(await app.alerts.create(user, "price_above", "BTC", t)).alert.id for t in thresholds]


async def _ids(app: App, user: UserRef) -> list[int]:
    return [v.id for v in await app.alerts.list(user)]


async def test_bulk_request_asks_and_deletes_nothing_then_yes_deletes(app: App, me: Me) -> None:
    assert app.agent is not None
    a, b, c = await _alerts(app, me[0], 3)
    asked = await app.agent.reply(*me, f"delete alerts {a} and {b}")
    assert asked.tool_calls == []
    assert f"#{a}, #{b}?" in asked.text and "confirm" in asked.text
    assert await _ids(app, me[0]) == [a, b, c]

    done = await app.agent.reply(*me, "yes")
    assert [(t.name, t.args, t.status) for t in done.tool_calls] == [
        ("delete_alert", {"alert_id": a}, "ok"),
        ("delete_alert", {"alert_id": b}, "ok"),
    ]
    assert f"Deleted alert #{a}" in done.text and f"Deleted alert #{b}" in done.text
    assert await _ids(app, me[0]) == [c]
    again = await app.agent.reply(*me, "yes")  # the request was used up
    assert again.tool_calls == [] and await _ids(app, me[0]) == [c]


@pytest.mark.parametrize("answer", ["no", "cancel"])
async def test_no_deletes_nothing_and_drops_the_request(app: App, me: Me, answer: str) -> None:
    assert app.agent is not None
    a, b = await _alerts(app, me[0], 2)
    await app.agent.reply(*me, f"delete alerts {a}, {b}")
    cancelled = await app.agent.reply(*me, answer)
    assert cancelled.text == CANCELLED and cancelled.tool_calls == []
    late = await app.agent.reply(*me, "yes")
    assert late.tool_calls == [] and "Nothing is waiting" in late.text
    assert await _ids(app, me[0]) == [a, b]


async def test_any_other_message_drops_the_request_and_is_answered(app: App, me: Me) -> None:
    assert app.agent is not None
    a, b = await _alerts(app, me[0], 2)
    await app.agent.reply(*me, f"remove alerts {a} and {b}")
    listed = await app.agent.reply(*me, "show my alerts")
    assert [t.name for t in listed.tool_calls] == ["list_alerts"]
    assert (await app.agent.reply(*me, "yes")).tool_calls == []
    assert await _ids(app, me[0]) == [a, b]


async def test_a_single_delete_runs_at_once(app: App, me: Me) -> None:
    assert app.agent is not None
    a, b = await _alerts(app, me[0], 2)
    reply = await app.agent.reply(*me, f"delete alert {a}")
    assert [(t.name, t.status) for t in reply.tool_calls] == [("delete_alert", "ok")]
    assert await _ids(app, me[0]) == [b]


@pytest.mark.parametrize("request_text", ["remove all my alerts", "delete all my alerts"])
async def test_delete_all_lists_first_and_asks(app: App, me: Me, request_text: str) -> None:
    assert app.agent is not None
    other = UserRef("telegram", f"{me[0].platform_user_id}9", "Other")
    (theirs,) = await _alerts(app, other, 1)
    mine = await _alerts(app, me[0], 3)
    asked = await app.agent.reply(*me, request_text)
    assert [t.name for t in asked.tool_calls] == ["list_alerts"]
    assert ", ".join(f"#{n}" for n in mine) + "?" in asked.text
    assert await _ids(app, me[0]) == mine

    done = await app.agent.reply(*me, "yes delete them")
    assert [t.args["alert_id"] for t in done.tool_calls] == mine
    assert await _ids(app, me[0]) == [] and await _ids(app, other) == [theirs]


async def test_delete_them_all_after_a_listing(app: App, me: Me) -> None:
    assert app.agent is not None
    mine = await _alerts(app, me[0], 2)
    await app.agent.reply(*me, "show my alerts")
    asked = await app.agent.reply(*me, "delete them all")
    assert "confirm" in asked.text and await _ids(app, me[0]) == mine


@pytest.mark.parametrize("request_text", ["delete every alert", "delete all my alerts"])
async def test_delete_all_with_one_alert_needs_no_question(
    app: App, me: Me, request_text: str
) -> None:
    assert app.agent is not None
    await _alerts(app, me[0], 1)
    reply = await app.agent.reply(*me, request_text)
    assert [(t.name, t.status) for t in reply.tool_calls] == [
        ("list_alerts", "ok"),
        ("delete_alert", "ok"),
    ]
    assert await _ids(app, me[0]) == []


async def test_nothing_to_delete(app: App, me: Me) -> None:
    assert app.agent is not None
    reply = await app.agent.reply(*me, "delete every alert")
    assert [t.name for t in reply.tool_calls] == ["list_alerts"]
    assert "no active alerts" in reply.text


async def test_another_users_alerts_are_never_deleted(app: App, me: Me) -> None:
    assert app.agent is not None
    owner = UserRef("telegram", f"{me[0].platform_user_id}7", "Owner")
    a, b = await _alerts(app, owner, 2)
    await app.agent.reply(*me, f"delete alerts {a} and {b}")
    reply = await app.agent.reply(*me, "yes")
    assert [t.status for t in reply.tool_calls] == ["error", "error"]
    assert await _ids(app, owner) == [a, b]


async def test_one_confirmation_covers_at_most_the_cap(app: App, me: Me) -> None:
    assert app.agent is not None
    asked = await app.agent.reply(*me, "delete alerts 1 to 25")
    assert "#20?" in asked.text and "#21" not in asked.text and "first 20 of 25" in asked.text
    done = await app.agent.reply(*me, "yes")
    assert [t.args["alert_id"] for t in done.tool_calls] == list(range(1, 21))


def test_listed_alert_numbers_come_from_the_rows_of_a_successful_listing() -> None:
    listing = (
        "Your alerts (2):\n#3     BTC above $1  active\n       now: #9 is not a row\n#12    ETH"
    )
    assert listed_alert_ids(ToolMessage(listing, tool_call_id="c")) == [3, 12]
    failed = ToolMessage("#3 failed", tool_call_id="c", status="error")
    assert listed_alert_ids(failed) == []
