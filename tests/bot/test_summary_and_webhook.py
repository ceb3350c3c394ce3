"""The digest summary through an OpenAI-compatible server, and webhook delivery of alerts."""

from __future__ import annotations

import pytest

from agents.model import ModelConfig
from agents.summary import build_summariser
from bot.console_digest import DigestCommands
from storage import Database
from tests.agents.chat_server import chat_server
from tools.errors import UserInputError
from tools.identity import UserRef
from tools.users import UserService

ALICE = UserRef("telegram", "1001", display_name="Alice")


async def test_summariser_talks_chat_completions() -> None:
    assert build_summariser(ModelConfig(mode="offline")) is None
    async with chat_server() as server:
        server.final("Bitcoin led a calm market.")
        summarise = build_summariser(
            ModelConfig(mode="openai", api_key="sk-test", base_url=server.base_url, model="m")
        )
        assert summarise is not None
        assert await summarise("Write one paragraph about: BTC +3%") == (
            "Bitcoin led a calm market."
        )
    (request,) = server.requests
    assert request["model"] == "m"
    assert request["messages"][-1]["content"] == "Write one paragraph about: BTC +3%"


async def test_webhook_setting_is_validated_and_shown(db: Database) -> None:
    with pytest.raises(UserInputError, match="WEBHOOK_SECRET"):
        await UserService(db).set_webhook(ALICE, "https://example.com/hook")
    users = UserService(db, webhooks=True)
    with pytest.raises(UserInputError, match="https://"):
        await users.set_webhook(ALICE, "http://example.com/hook")
    with pytest.raises(UserInputError):
        await users.set_webhook(ALICE, "ftp://example.com")
    profile, changes = await users.set_webhook(ALICE, " https://example.com/hook ")
    assert profile.webhook_url == "https://example.com/hook"
    assert changes == ["Alerts will also be posted to https://example.com/hook (signed JSON)."]

    async def save(_: object) -> str:
        raise AssertionError("no attachments here")

    console = DigestCommands(None, users, ALICE, save).commands()  # type: ignore[arg-type]
    shown = await console["settings"]([])
    assert "webhook        https://example.com/hook" in shown
    assert await console["settings"](["webhook", "off"]) == "Webhook delivery turned off."
    stored = await users.get_profile(ALICE)
    assert stored is not None and stored.webhook_url is None
