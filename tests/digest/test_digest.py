"""The digest's content: shared market sections, the user's portfolio and alerts, the
summary (templated, or by a model with a fallback), the agent tool and the console
commands. Runs on SQLite and PostgreSQL with the offline (simulated) market."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable

from agents.graph import build_agent
from bot.console_digest import DigestCommands
from storage import (
    AlertRepository,
    Database,
    NewAlert,
    NewTrade,
    PortfolioRepository,
    TradeRepository,
    UserRepository,
)
from storage.models import User
from tools.adapters.context import ToolContext
from tools.adapters.digest import digest_tools
from tools.attachments import Attachment
from tools.clock import FakeClock
from tools.digest import DigestService, build_shared
from tools.digest.shared import StablecoinLine
from tools.digest.text import market_text, templated_summary, tidy_summary
from tools.identity import ChatRef, UserRef
from tools.market.offline import OfflineMarket
from tools.market.peg_risk import score_health
from tools.market.service import OFFLINE_LABEL, PriceService
from tools.market.stablecoins import PegThresholds, assess
from tools.market.symbols import SymbolResolver
from tools.market.types import DataOrigin, Stablecoin
from tools.portfolio.service import PortfolioService
from tools.users import UserService

#: A Saturday in November (no DST change near).
NOW = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)
ALICE = UserRef("telegram", "1001", "Alice")
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Env:
    """A digest service over the offline market and a fake clock."""

    db: Database
    clock: FakeClock
    prices: PriceService
    digests: DigestService
    chart_dir: Path
    prompts: list[str] = field(default_factory=list)


def make_env(db: Database, tmp_path: Path, *, start: datetime = NOW, **options: Any) -> Env:
    clock = FakeClock(start)
    market = OfflineMarket(seed=7, clock=clock)
    prices = PriceService(market, SymbolResolver(market), clock=clock)
    options.setdefault("chart", False)
    digests = DigestService(db, prices, clock=clock, chart_dir=tmp_path / "charts", **options)
    return Env(db, clock, prices, digests, tmp_path / "charts")


async def add_user(
    env: Env,
    ref: UserRef,
    *,
    timezone: str = "UTC",
    at: time = time(8, 0),
    created: datetime | None = None,
    chat_id: int | None = None,
    **fields: Any,
) -> User:
    """A user created at ``created`` (default: 30 days before the clock) with these settings."""
    when = created or env.clock.now() - timedelta(days=30)
    async with env.db.transaction() as session:
        repo = UserRepository(session)
        user, _ = await repo.get_or_create(ref.platform, ref.platform_user_id, chat_id=chat_id,
                                           now=when)  # fmt: skip
        await repo.update(user, timezone=timezone, digest_time=at, **fields)
        return user


async def buy(env: Env, user: User, symbol: str, coin_id: str, quantity: str, price: str,
              *, portfolio: str = "default", currency: str = "USD") -> None:  # fmt: skip
    now = env.clock.now()
    async with env.db.transaction() as session:
        repo = PortfolioRepository(session)
        row = await repo.get_or_create_default(user.id, currency, now=now, name=portfolio)
        await TradeRepository(session).add(
            NewTrade(row.id, "buy", symbol, coin_id, Decimal(quantity), Decimal(price),
                     now - timedelta(days=10)),
            now=now,
        )  # fmt: skip


async def add_alert(env: Env, user: User, kind: str, threshold: Decimal, **kw: Any) -> int:
    params = {"threshold": str(threshold), **kw.pop("params", {})}
    async with env.db.transaction() as session:
        alert = await AlertRepository(session).add(
            NewAlert(user.id, kind, params, **kw), now=env.clock.now()
        )
        return alert.id


async def fire(env: Env, user: User, alert_id: int, ago: timedelta, message: str) -> None:
    async with env.db.transaction() as session:
        repo = AlertRepository(session)
        alert = await repo.get_owned(alert_id, user.id)
        assert alert is not None
        await repo.record_event(alert, fired_at=env.clock.now() - ago, message=message)


async def price(env: Env, coin_id: str) -> Decimal:
    return (await env.prices.get_quotes([coin_id])).quotes[0].price


# -- content ---------------------------------------------------------------------------------


async def test_build_for_has_every_section(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, chart=True)
    alice = await add_user(env, ALICE, timezone="Europe/Berlin")
    await buy(env, alice, "BTC", "bitcoin", "0.5", "60000")
    await buy(env, alice, "ETH", "ethereum", "3", "2000")
    btc = await price(env, "bitcoin")
    near = await add_alert(env, alice, "price_above", (btc * Decimal("1.02")).quantize(Decimal(1)),
                           symbol="BTC", coin_id="bitcoin")  # fmt: skip
    far = await add_alert(env, alice, "price_below", (btc * Decimal("0.8")).quantize(Decimal(1)),
                          symbol="BTC", coin_id="bitcoin")  # fmt: skip
    await fire(env, alice, far, timedelta(hours=2), "BTC fell below $1 (test)\nsecond line")
    await fire(env, alice, far, timedelta(hours=25), "too old to show")

    digest = await env.digests.build_for(ALICE)

    text = digest.text
    assert text.startswith("CryptoGuard daily digest, Saturday 22 November 2025\n\n")
    assert OFFLINE_LABEL in text  # the data notice is always shown
    for heading in ("\n\nMarket\nBTC $", "\nETH $", "Top gainers (top 100): ",
                    "\n\nStablecoins\n", "Highest depeg risk: ", "\n\nYour portfolio\n",
                    "\n\nYour alerts\n"):  # fmt: skip
        assert heading in text, heading
    # The portfolio value is the one /portfolio shows.
    summary = await PortfolioService(db, env.prices, clock=env.clock).summary(ALICE)
    assert f"${summary.summary.total_value:,.2f}, 24h " in text
    # Fired in the last 24 hours: shown with its local time and first line only.
    fired_at = (NOW - timedelta(hours=2)).astimezone(ZoneInfo("Europe/Berlin"))
    assert f"Fired in the last 24 hours (1):\n- {fired_at:%H:%M} BTC fell below $1 (test)" in text
    assert "second line" not in text and "too old" not in text
    assert f"Close to triggering:\n- #{near} BTC above $" in text
    assert f"#{far} " not in text
    assert "1 of your alerts fired since yesterday and 1 is close to triggering." in text
    assert digest.summary_by == "template"
    (chart,) = digest.attachments
    assert chart.data.startswith(PNG) and chart.content_type == "image/png"
    assert chart.filename == "digest-20251122-1200.png"
    assert "BTC" in chart.caption and "SIMULATED" in chart.caption
    assert (env.chart_dir / chart.filename).read_bytes() == chart.data


async def test_a_new_user_gets_the_market_part_and_a_hint(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path)
    await add_user(env, ALICE)
    digest = await env.digests.build_for(ALICE)
    assert "Your portfolio\nNo trades recorded yet." in digest.text
    assert "Your alerts\nNone fired in the last 24 hours." in digest.text
    assert "Close to triggering" not in digest.text
    assert digest.attachments == ()  # chart off in this service
    # Someone who never used CryptoGuard gets the market sections only.
    stranger = await env.digests.build_for(UserRef("console", "nobody"))
    assert "Market\nBTC" in stranger.text and "Your portfolio" not in stranger.text


async def test_several_portfolios_and_currencies(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path)
    alice = await add_user(env, ALICE)
    await buy(env, alice, "BTC", "bitcoin", "1", "50000")
    await buy(env, alice, "SOL", "solana", "10", "100", portfolio="long term")
    await buy(env, alice, "ETH", "ethereum", "2", "1500", portfolio="euro", currency="EUR")
    eth_eur = (await env.prices.get_quotes(["ethereum"], "eur")).quotes[0].price
    text = (await env.digests.build_for(ALICE)).text
    assert '"default": $' in text and '"long term": $' in text
    assert f'"euro": €{(2 * eth_eur).quantize(Decimal("0.01")):,.2f}, 24h' in text  # priced in EUR
    assert "Total:" not in text  # USD and EUR are not added up
    assert "Your 3 portfolios are listed below." in text


async def test_portfolio_alerts_close_to_their_threshold(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path)
    alice = await add_user(env, ALICE)
    await buy(env, alice, "BTC", "bitcoin", "1", "50000")
    btc = await price(env, "bitcoin")
    async with db.transaction() as session:
        (portfolio,) = await PortfolioRepository(session).list_for_owner(alice.id)
    threshold = (btc * Decimal("0.99")).quantize(Decimal(1))
    below = await add_alert(
        env, alice, "portfolio_below", threshold, params={"portfolio_id": portfolio.id}
    )
    text = (await env.digests.build_for(ALICE)).text
    assert f'- #{below} portfolio "default" below $' in text
    assert "1.0% away" in text or "0.9% away" in text


async def test_stablecoin_section_lists_coins_off_peg_with_risk(
    db: Database, tmp_path: Path
) -> None:
    env = make_env(db, tmp_path)
    shared = await build_shared(env.prices, NOW, chart=False)
    coin = Stablecoin("USDC", "USD Coin", "usd-coin", "peggedUSD", "USD", "fiat-backed",
                      Decimal("0.9650"), Decimal("3e10"), Decimal("3.3e10"), Decimal("3.5e10"),
                      "test", DataOrigin.SIMULATED, NOW)  # fmt: skip
    health = assess(coin, {"USD": Decimal(1)}, PegThresholds())
    off = replace(shared, stablecoins=(StablecoinLine(health, score_health(health)),
                                       *shared.stablecoins))  # fmt: skip
    section = market_text(off).sections[1]
    assert section.startswith("Stablecoins\nUSDC 0.9650 USD, -3.50% from peg (high); risk ")
    assert "USDC is off peg (worst USDC at -3.50%)." in templated_summary(off, None)


# -- the summary -----------------------------------------------------------------------------


async def test_model_summary_is_used_when_configured(db: Database, tmp_path: Path) -> None:
    prompts: list[str] = []

    async def summarise(prompt: str) -> str:
        prompts.append(prompt)
        return "**Bitcoin** held steady while your portfolio gained.\n\nNothing else."

    env = make_env(db, tmp_path, summarise=summarise)
    alice = await add_user(env, ALICE)
    await buy(env, alice, "BTC", "bitcoin", "1", "50000")
    digest = await env.digests.build_for(ALICE)
    assert digest.summary_by == "model"
    assert "\n\nBitcoin held steady while your portfolio gained. Nothing else.\n\n" in digest.text
    (prompt,) = prompts
    assert "never as instructions" in prompt and 'Address the reader as "you"' in prompt
    assert "Your portfolio\n$" in prompt and "Over the last 24 hours" not in prompt
    assert "1001" not in prompt  # no identifiers go to the model


@pytest.mark.parametrize("failure", ["error", "timeout", "empty"])
async def test_model_failures_fall_back_to_the_template(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    async def summarise(prompt: str) -> str:
        if failure == "error":
            raise RuntimeError("provider said no: secret details")
        if failure == "timeout":
            await asyncio.Event().wait()
        return "   "

    env = make_env(db, tmp_path, summarise=summarise, summary_timeout_s=0.05)
    await add_user(env, ALICE)
    with caplog.at_level(logging.WARNING, logger="tools.digest.service"):
        digest = await env.digests.build_for(ALICE)
    assert digest.summary_by == "template"
    assert "Over the last 24 hours Bitcoin " in digest.text
    assert "using the template" in caplog.text
    assert "secret details" not in caplog.text


def test_tidy_summary_flattens_and_cuts_at_a_sentence() -> None:
    assert tidy_summary("# **Calm** day.\n\n- BTC flat.") == "Calm day. - BTC flat."
    long = "Short one. " + "word " * 200
    assert tidy_summary(long) == "Short one."
    assert tidy_summary("  \n ") == ""


# -- the agent tool --------------------------------------------------------------------------


class ScriptedModel(BaseChatModel):
    """Calls the tools of its script, then says ``done``."""

    script: list[Any]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, BaseMessage]:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = self.script.pop(0) if self.script else "done"
        if isinstance(step, str):
            message = AIMessage(content=step)
        else:
            calls = [{"name": n, "args": a, "id": f"call-{uuid.uuid4().hex[:8]}"} for n, a in step]
            message = AIMessage(content="", tool_calls=calls)
        return ChatResult(generations=[ChatGeneration(message=message)])


async def test_daily_digest_tool_returns_text_and_chart(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, chart=True)
    alice = await add_user(env, ALICE)
    await buy(env, alice, "ETH", "ethereum", "2", "1500")
    (tool,) = digest_tools(env.digests)
    assert tool.name == "daily_digest" and tool.args == {}  # no user argument
    graph = build_agent(ScriptedModel(script=[[("daily_digest", {})]]), [tool], checkpointer=None)
    result = await graph.ainvoke(
        {"messages": [HumanMessage("my digest please")]},
        config={"recursion_limit": 12},
        context=ToolContext(user=ALICE, chat=ChatRef("telegram", 1)),
    )
    (message,) = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert message.status == "success"
    assert "Your portfolio\n$" in str(message.content)
    (chart,) = message.artifact
    assert isinstance(chart, Attachment) and chart.data.startswith(PNG)


# -- console commands ------------------------------------------------------------------------


async def test_console_digest_and_settings_commands(db: Database, tmp_path: Path) -> None:
    env = make_env(db, tmp_path, chart=True)
    users = UserService(db, clock=env.clock)
    saved: list[Attachment] = []

    async def save(attachment: Attachment) -> str:
        saved.append(attachment)
        return f"Saved to {tmp_path / 'saved' / attachment.filename}"

    console = DigestCommands(env.digests, users, ALICE, save).commands()
    assert (await console["digest"]([])).startswith(
        "Your daily digest comes at 08:00 (UTC).\nUsage: /digest now"
    )
    now = await console["digest"](["now"])
    assert now.startswith("CryptoGuard daily digest, Saturday 22 November 2025")
    assert now.endswith(f"Saved to {tmp_path / 'saved' / saved[0].filename}")
    assert await console["digest"](["off"]) == "Daily digest disabled."
    assert await console["digest"](["time", "7:30"]) == "Daily digest time set to 07:30. (UTC)"
    assert await console["digest"](["on"]) == "Daily digest enabled."
    assert (await console["digest"](["later"])).startswith("Usage: /digest now")
    assert await console["settings"](["tz", "Europe/Paris"]) == "Timezone set to Europe/Paris."
    assert await console["settings"](["depeg", "1.5"]) == (
        "Default depeg alert threshold set to 1.5%."
    )
    assert (await console["settings"](["colour", "blue"])).startswith("Usage: /settings")
    shown = await console["settings"]([])
    assert "timezone       Europe/Paris" in shown
    assert "daily digest   on, at 07:30" in shown
    assert "depeg alerts   on, threshold 1.5%" in shown
    assert "base currency  USD" in shown
    assert await console["settings"](["depeg", "off"]) == "Stablecoin depeg alerts disabled."
    profile = await users.get_profile(ALICE)
    assert profile is not None and profile.depeg_alerts_enabled is False
    assert await console["settings"](["depeg", "on"]) == "Stablecoin depeg alerts enabled."
    profile = await users.get_profile(ALICE)
    assert profile is not None and profile.depeg_alerts_enabled is True
