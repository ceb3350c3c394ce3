"""AlertService on both SQL dialects with the offline (simulated) market."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from storage import AlertRepository, AuditLogRepository, Database, UserRepository
from tools.alerts.rules import AlertKind, rule_spec
from tools.alerts.service import AlertService
from tools.alerts.text import render_alert_list, render_created, render_history
from tools.analysis.formula import FormulaService
from tools.clock import FakeClock
from tools.errors import LimitError, NotFoundError, UnknownSymbolError, UserInputError
from tools.identity import UserRef
from tools.market.factory import MarketConfig, open_market
from tools.market.service import OFFLINE_LABEL, PriceService
from tools.market.symbols import SymbolResolver
from tools.market.types import Candle, CoinRef, PriceHistory
from tools.portfolio.service import PortfolioService
from tools.users import UserService

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
ALICE = UserRef("telegram", "1001", "Alice")
BOB = UserRef("discord", "2002", "Bob")

#: Price of a coin ``k`` hours before now (the close of the hourly bar ending then).
Script = Callable[[int], float]


class ScriptedMarket:
    """The offline market, with scripted hourly histories for some coins."""

    def __init__(self, inner: Any, scripts: dict[str, Script]) -> None:
        self._inner = inner
        self.scripts = scripts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        script = self.scripts.get(coin.id)
        if script is None or interval != "1h":
            return await self._inner.get_history(coin, vs_currency, days, interval)
        candles = []
        for k in range(days * 24 - 1, -1, -1):
            opened = NOW - (k + 1) * HOUR
            price = script(k)
            candles.append(Candle(opened, price, price, price, price, 1.0))
        real = await self._inner.get_history(coin, vs_currency, 1, interval)
        return PriceHistory(
            coin, vs_currency, "1h", candles, "scripted", real.origin, NOW, real.note
        )


@dataclass
class Setup:
    alerts: AlertService
    prices: PriceService
    users: UserService
    portfolios: PortfolioService
    formulas: FormulaService
    clock: FakeClock
    db: Database


def make(db: Database, *, max_active: int = 100, scripts: dict[str, Script] | None = None) -> Setup:
    clock = FakeClock(NOW)
    handle = open_market(MarketConfig(mode="offline"), clock=clock)
    market: Any = ScriptedMarket(handle.market, scripts or {})
    prices = PriceService(market, SymbolResolver(market, clock=clock), clock=clock)
    users = UserService(db, clock=clock)
    portfolios = PortfolioService(db, prices, clock=clock)
    formulas = FormulaService(prices, db, clock=clock)
    alerts = AlertService(
        db,
        prices,
        users,
        portfolios=portfolios,
        formulas=formulas,
        clock=clock,
        max_active=max_active,
    )
    return Setup(alerts, prices, users, portfolios, formulas, clock, db)


async def stored(db: Database, user: UserRef) -> list[tuple[int, str, str]]:
    """(id, kind, status) of every alert row of ``user``, deleted ones included."""
    async with db.transaction(readonly=True) as session:
        owner = await UserRepository(session).get_by_platform_id(
            user.platform, user.platform_user_id
        )
        if owner is None:
            return []
        rows = await AlertRepository(session).list_for_owner(owner.id, status=None)
        deleted = await AlertRepository(session).list_for_owner(owner.id, status="deleted")
        return sorted((r.id, r.kind, r.status) for r in [*rows, *deleted])


async def audit_actions(db: Database) -> list[str]:
    async with db.transaction(readonly=True) as session:
        rows = await AuditLogRepository(session).list_recent(limit=100)
        return [r.action for r in reversed(rows)]


# -- create ---------------------------------------------------------------------------------


async def test_create_price_alert_replies_with_distance_and_history(db: Database) -> None:
    s = make(db)
    quote = (await s.prices.get_quotes(["BTC"])).quotes[0]
    threshold = (quote.price * Decimal("1.03")).quantize(Decimal(1))
    result = await s.alerts.create(ALICE, "price_above", "bitcoin", str(threshold))
    view = result.alert
    assert (view.kind, view.symbol, view.coin_id) == (AlertKind.PRICE_ABOVE, "BTC", "bitcoin")
    assert view.status == "active" and not view.recurring and view.cooldown_s == 0
    assert view.threshold == threshold and view.current == quote.price
    assert result.message == f"Alert #{view.id} set: BTC above ${threshold:,} (one-shot)."
    assert view.distance is not None
    assert view.distance.startswith("BTC is $") and "a 3.0% rise reaches your $" in view.distance
    assert view.gap_pct == Decimal("3.00")
    assert result.backtest.fired is not None and result.backtest.days == 30
    assert result.notice == OFFLINE_LABEL
    text = render_created(result)
    assert "Over the last 30 days this rule would" in text and OFFLINE_LABEL in text
    assert await stored(db, ALICE) == [(view.id, "price_above", "active")]
    assert await audit_actions(db) == ["alerts.create"]


async def test_already_beyond_is_said(db: Database) -> None:
    s = make(db)
    result = await s.alerts.create(ALICE, "price_below", "ETH", "1m")
    assert any("already past the trigger" in n for n in result.notes)
    assert result.alert.gap_pct == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "price_above", "symbol": "NOTACOINXYZ", "threshold": 5}, UnknownSymbolError, ""),
        ({"kind": "price_above", "symbol": "BTC", "threshold": "-5"}, UserInputError, "negative"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": "1e309"}, UserInputError, "range"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": "100,5"}, UserInputError, "comma"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": "abc"}, UserInputError, "number"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": "0"}, UserInputError, "above 0"),
        ({"kind": "price_above", "symbol": "BTC", "threshold": "1e9"}, UserInputError, "1,000x"),
        ({"kind": "price_below", "symbol": "BTC", "threshold": "10"}, UserInputError, "1,000x"),
        ({"kind": "depeg", "symbol": "BTC", "threshold": 1}, UserInputError, "not a tracked"),
        ({"kind": "depeg", "symbol": "NOTACOINXYZ"}, UnknownSymbolError, ""),
        ({"kind": "depeg", "symbol": "USDC", "threshold": 51}, UserInputError, "out of range"),
        (
            {"kind": "pct_change", "symbol": "SOL", "threshold": 5, "window": "45d"},
            UserInputError,
            "5 minutes to 30 days",
        ),
        ({"kind": "rsi_above", "symbol": "BTC", "threshold": 120}, UserInputError, "0 and 100"),
        (
            {"kind": "formula_above", "symbol": "BTC", "threshold": 1, "formula": "nope"},
            NotFoundError,
            "no saved formula",
        ),
        ({"kind": "portfolio_below", "threshold": "20k"}, NotFoundError, "no portfolio yet"),
    ],
)
async def test_invalid_requests_store_nothing(
    db: Database, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    s = make(db)
    with pytest.raises(error, match=message or None):
        await s.alerts.create(ALICE, **kwargs)
    assert await stored(db, ALICE) == []
    assert await audit_actions(db) == []


async def test_every_kind_can_be_created_and_maps_to_an_engine_rule(db: Database) -> None:
    s = make(db)
    await s.portfolios.record_trade(ALICE, "buy", "BTC", "0.5", 50000, "2026-06-01")
    await s.formulas.save(ALICE, "gap", "RSI(14) - RSI(28)")
    await s.users.update_settings(ALICE, depeg_threshold="1.5")
    created = [
        await s.alerts.create(ALICE, "price_above", "BTC", "500k"),
        await s.alerts.create(ALICE, "price_below", "ETH", 1000),
        await s.alerts.create(ALICE, "pct_change", "SOL", "5%", "1h", "down", recurring=True),
        await s.alerts.create(ALICE, "depeg", "USDC"),
        await s.alerts.create(ALICE, "rsi_above", "BTC", 70),
        await s.alerts.create(ALICE, "rsi_below", "ETH", 30, interval="4h"),
        await s.alerts.create(ALICE, "portfolio_above", None, "1m"),
        await s.alerts.create(ALICE, "portfolio_below", "default", "20k"),
        await s.alerts.create(ALICE, "formula_above", "BTC", 10, formula="gap"),
        await s.alerts.create(ALICE, "formula_below", "BTC", "-10", formula="GAP", interval="1h"),
    ]
    assert {c.alert.kind for c in created} == set(AlertKind)
    assert all(c.alert.distance for c in created), [c.alert.description for c in created]
    depeg = created[3]
    assert depeg.alert.threshold == Decimal("1.5")
    assert "Using your default depeg threshold of 1.5%." in depeg.notes
    assert created[2].alert.description == "SOL falls 5% within 1h"
    assert created[2].alert.cooldown_s == 3600 and "at most once per 1h" in created[2].message
    assert created[6].alert.description == 'portfolio "default" worth above $1,000,000'
    assert created[9].alert.params["formula"] == "gap"
    async with db.transaction(readonly=True) as session:
        owner = await UserRepository(session).get_by_platform_id("telegram", "1001")
        assert owner is not None
        rows = await AlertRepository(session).list_for_owner(owner.id)
        specs = {r.id: rule_spec(r) for r in rows}
        portfolio_id = rows[6].params["portfolio_id"]
        formula_id = rows[8].params["formula_id"]
    metrics = [specs[c.alert.id].metric for c in created]
    assert metrics == [
        "price:bitcoin",
        "price:ethereum",
        "pct:solana:1h",
        "depeg:usd-coin",
        "rsi:bitcoin:1d",
        "rsi:ethereum:4h",
        f"portfolio:{portfolio_id}",
        f"portfolio:{portfolio_id}",
        f"formula:{formula_id}:bitcoin:1d",
        f"formula:{formula_id}:bitcoin:1h",
    ]
    assert specs[created[2].alert.id].threshold == -5.0
    assert specs[created[2].alert.id].recurring and specs[created[2].alert.id].rearm_level == -4.5
    listed = await s.alerts.list(ALICE)
    assert [v.id for v in listed] == [c.alert.id for c in created]
    assert all(v.distance for v in listed)


async def test_portfolio_alert_backtest_uses_daily_values(db: Database) -> None:
    s = make(db)
    await s.portfolios.record_trade(ALICE, "buy", "BTC", "1", 50000, "2026-06-01")
    result = await s.alerts.create(ALICE, "portfolio_below", None, "10k")
    assert result.backtest.fired == 0 and result.backtest.basis == "daily values"
    assert result.alert.distance is not None
    assert result.alert.distance.startswith('Portfolio "default" is worth $')
    await s.portfolios.record_trade(ALICE, "buy", "ETH", "2", 2000, "2026-06-01", portfolio="Long")
    named = await s.alerts.create(ALICE, "portfolio_above", "Long", "100k")
    assert named.alert.description == 'portfolio "Long" worth above $100,000'
    assert named.alert.params["portfolio_id"] != result.alert.params["portfolio_id"]
    with pytest.raises(NotFoundError, match='No portfolio named "Short". Your portfolios: '):
        await s.alerts.create(ALICE, "portfolio_above", "Short", "100k")


# -- duplicates and the cap -----------------------------------------------------------------


async def test_duplicates_are_refused_naming_the_existing_alert(db: Database) -> None:
    s = make(db)
    first = await s.alerts.create(ALICE, "price_above", "BTC", "500k")
    repeats: list[dict[str, Any]] = [
        {"threshold": "500,000"},
        {"threshold": 500000, "recurring": True},
        {"threshold": "$500k", "symbol": "bitcoin"},
    ]
    for repeat in repeats:
        args: dict[str, Any] = {"kind": "price_above", "symbol": "BTC", **repeat}
        with pytest.raises(UserInputError, match=f"already have this alert: #{first.alert.id}"):
            await s.alerts.create(ALICE, **args)
    other = await s.alerts.create(ALICE, "price_above", "BTC", "501k")
    mine = await s.alerts.create(BOB, "price_above", "BTC", "500k")  # another user's is fine
    pct = await s.alerts.create(ALICE, "pct_change", "SOL", 5, "60m")
    with pytest.raises(UserInputError, match=f"#{pct.alert.id}"):
        await s.alerts.create(ALICE, "pct_change", "SOL", "5%", "1h", "any")
    await s.alerts.pause(ALICE, first.alert.id)
    with pytest.raises(UserInputError, match="paused"):
        await s.alerts.create(ALICE, "price_above", "BTC", "500k")
    await s.alerts.delete(ALICE, first.alert.id)
    again = await s.alerts.create(ALICE, "price_above", "BTC", "500k")
    assert len({first.alert.id, other.alert.id, mine.alert.id, again.alert.id}) == 4


async def test_cap_on_active_alerts(db: Database) -> None:
    s = make(db, max_active=3)
    made = [await s.alerts.create(ALICE, "price_above", "BTC", f"{n}00k") for n in (3, 4, 5)]
    with pytest.raises(LimitError, match="3 active alerts"):
        await s.alerts.create(ALICE, "price_above", "BTC", "600k")
    await s.alerts.create(BOB, "price_above", "BTC", "600k")  # per user
    await s.alerts.pause(ALICE, made[0].alert.id)
    fourth = await s.alerts.create(ALICE, "price_above", "BTC", "600k")
    with pytest.raises(LimitError):
        await s.alerts.resume(ALICE, made[0].alert.id)
    await s.alerts.delete(ALICE, fourth.alert.id)
    resumed = await s.alerts.resume(ALICE, made[0].alert.id)
    assert resumed.status == "active"


async def test_cap_and_duplicates_hold_under_concurrency(db: Database) -> None:
    s = make(db, max_active=3)
    await s.prices.get_quotes(["BTC"])  # warm the resolver
    results = await asyncio.gather(
        *(s.alerts.create(ALICE, "price_above", "BTC", f"{200 + n}k") for n in range(8)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 3 and all(isinstance(r, LimitError) for r in refused)
    results = await asyncio.gather(
        *(s.alerts.create(BOB, "price_below", "ETH", "1000") for _ in range(6)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1 and all(isinstance(r, UserInputError) for r in refused)
    assert len([a for a in await stored(db, BOB) if a[2] == "active"]) == 1


# -- ownership, pause/resume, delete --------------------------------------------------------


async def test_other_users_alert_ids_are_not_found_and_untouched(db: Database) -> None:
    s = make(db)
    mine = (await s.alerts.create(ALICE, "price_above", "BTC", "500k")).alert
    await s.alerts.create(BOB, "price_above", "ETH", "50k")
    before = await stored(db, ALICE)
    missing = 999_999
    for action in (s.alerts.delete, s.alerts.pause, s.alerts.resume):
        with pytest.raises(NotFoundError) as theirs:
            await action(BOB, mine.id)
        with pytest.raises(NotFoundError) as absent:
            await action(BOB, missing)
        assert theirs.value.user_message == absent.value.user_message.replace(
            str(missing), str(mine.id)
        )
    with pytest.raises(NotFoundError):
        await s.alerts.delete_many(BOB, [mine.id], confirm=True)
    with pytest.raises(NotFoundError):  # a user with no alerts at all
        await s.alerts.delete(UserRef("console", "nobody"), mine.id)
    assert await stored(db, ALICE) == before
    bob_list = await s.alerts.list(BOB)
    assert [v.symbol for v in bob_list] == ["ETH"]
    assert await s.alerts.history(BOB) == []


async def test_pause_and_resume(db: Database) -> None:
    s = make(db)
    view = (await s.alerts.create(ALICE, "price_above", "BTC", "500k")).alert
    paused = await s.alerts.pause(ALICE, f"#{view.id}")
    assert paused.status == "paused"
    assert (await s.alerts.pause(ALICE, view.id)).status == "paused"  # idempotent
    report = await s.alerts.list_report(ALICE)
    assert [v.status for v in report.alerts] == ["paused"]
    assert "paused" in render_alert_list(report)
    resumed = await s.alerts.resume(ALICE, str(view.id))
    assert resumed.status == "active"
    assert await audit_actions(db) == ["alerts.create", "alerts.pause", "alerts.resume"]
    async with db.transaction() as session:
        repo = AlertRepository(session)
        owner = await UserRepository(session).get_by_platform_id("telegram", "1001")
        assert owner is not None
        row = await repo.get_owned(view.id, owner.id)
        assert row is not None
        await repo.update_status(row, "triggered")
    with pytest.raises(UserInputError, match="already fired"):
        await s.alerts.pause(ALICE, view.id)
    with pytest.raises(UserInputError, match="already fired"):
        await s.alerts.resume(ALICE, view.id)
    with pytest.raises(UserInputError, match="not an alert id"):
        await s.alerts.pause(ALICE, "twelve")


async def test_resume_after_expiry_expires(db: Database) -> None:
    s = make(db)
    view = (await s.alerts.create(ALICE, "price_above", "BTC", "500k", expires="2h")).alert
    assert view.expires_at == NOW + 2 * HOUR
    await s.alerts.pause(ALICE, view.id)
    s.clock.advance(3 * 3600)
    with pytest.raises(UserInputError, match="expired"):
        await s.alerts.resume(ALICE, view.id)
    assert await stored(db, ALICE) == [(view.id, "price_above", "expired")]


async def test_delete_one_and_many_with_confirmation(db: Database) -> None:
    s = make(db)
    ids = [
        (await s.alerts.create(ALICE, "price_above", "BTC", f"{300 + n}k")).alert.id
        for n in range(12)
    ]
    gone = await s.alerts.delete(ALICE, ids[0])
    assert gone.id == ids[0] and gone.status == "active"
    with pytest.raises(NotFoundError):
        await s.alerts.delete(ALICE, ids[0])
    one = await s.alerts.delete_many(ALICE, [ids[1]])
    assert [v.id for v in one.deleted] == [ids[1]] and not one.needs_confirmation
    prompt = await s.alerts.delete_many(ALICE, [ids[2], ids[3], ids[3]])
    assert prompt.needs_confirmation and not prompt.deleted
    assert [v.id for v in prompt.pending] == [ids[2], ids[3]]
    everything = await s.alerts.delete_many(ALICE, "all")
    assert everything.needs_confirmation and len(everything.pending) == 10
    assert "This deletes 10 alerts:" in everything.message
    assert everything.message.count("\n#") == 10
    assert len(await s.alerts.list(ALICE)) == 10  # nothing deleted yet
    done = await s.alerts.delete_many(ALICE, "all", confirm=True)
    assert len(done.deleted) == 10 and "Deleted 10 alerts" in done.message
    assert await s.alerts.list(ALICE) == []
    assert (await s.alerts.delete_many(ALICE, "all", confirm=True)).message.startswith(
        "You have no alerts"
    )
    assert await audit_actions(db) == [
        *["alerts.create"] * 12,
        "alerts.delete",
        "alerts.delete_many",
        "alerts.delete_all",
    ]
    with pytest.raises(UserInputError, match="At most 100"):
        await s.alerts.delete_many(ALICE, list(range(1, 150)))


async def test_prompt_is_capped(db: Database) -> None:
    s = make(db)
    for n in range(13):
        await s.alerts.create(ALICE, "price_above", "ETH", f"{10 + n}k")
    prompt = await s.alerts.delete_many(ALICE, "all")
    assert len(prompt.pending) == 13
    assert prompt.message.count("\n#") == 10 and "... and 3 more." in prompt.message


async def test_history_newest_first(db: Database) -> None:
    s = make(db)
    a = (await s.alerts.create(ALICE, "price_above", "BTC", "500k", recurring=True)).alert
    b = (await s.alerts.create(ALICE, "price_below", "ETH", "1000")).alert
    await s.alerts.create(BOB, "price_below", "ETH", "1000")
    async with db.transaction() as session:
        repo = AlertRepository(session)
        owner = await UserRepository(session).get_by_platform_id("telegram", "1001")
        assert owner is not None
        row_a = await repo.get_owned(a.id, owner.id)
        row_b = await repo.get_owned(b.id, owner.id)
        assert row_a is not None and row_b is not None
        await repo.record_event(row_a, fired_at=NOW - 3 * HOUR, message="a1", value=Decimal(1))
        await repo.record_event(row_b, fired_at=NOW - 2 * HOUR, message="b1")
        await repo.record_event(row_a, fired_at=NOW - HOUR, message="a2")
    await s.alerts.delete(ALICE, b.id)
    fired = await s.alerts.history(ALICE)
    assert [(f.alert_id, f.message) for f in fired] == [(a.id, "a2"), (b.id, "b1"), (a.id, "a1")]
    assert fired[2].value == Decimal(1)
    assert [f.alert_id for f in await s.alerts.history(ALICE, limit=1)] == [a.id]
    text = render_history(fired)
    assert "BTC above $500,000" in text and "(deleted since)" in text
    listed = await s.alerts.list(ALICE)
    assert listed[0].fire_count == 2 and listed[0].last_fired_at == NOW - HOUR
    with pytest.raises(UserInputError):
        await s.alerts.history(ALICE, limit=0)


# -- 30-day frequency ----------------------------------------------------------------------


def _spikes(base: float, spikes: dict[int, float]) -> Script:
    return lambda k: spikes.get(k, base)


async def test_backtest_replays_history_with_hysteresis_and_cooldown(db: Database) -> None:
    # hours before now -> close; 725 h ago is outside the 30 days and must not count
    btc = _spikes(
        90000,
        {725: 120000, 200: 101000, 199: 99500, 198: 100500, 197: 98000, 196: 100100, 50: 99999},
    )
    s = make(db, scripts={"bitcoin": btc})
    result = await s.alerts.create(ALICE, "price_above", "BTC", "100k")
    backtest = result.backtest
    assert backtest.fired == 2 and not backtest.noisy and backtest.basis == "hourly closes"
    assert backtest.last_fired == NOW - 196 * HOUR
    text = render_created(result)
    assert "would have fired twice" in text and "As a one-shot alert" in text
    below = await s.alerts.create(ALICE, "price_below", "BTC", "95000")
    # back to 90,000 after the spikes, and after the 99,999 hour: two falls through 95,000
    assert below.backtest.fired == 2 and below.backtest.last_fired == NOW - 49 * HOUR


async def test_backtest_of_percentage_moves(db: Database) -> None:
    eth = _spikes(3000, {100: 3300, 99: 3300})  # +10% then back -9.1% an hour later
    s = make(db, scripts={"ethereum": eth})
    any_way = await s.alerts.create(ALICE, "pct_change", "ETH", 5, "1h")
    up = await s.alerts.create(ALICE, "pct_change", "ETH", 5, "1h", "up")
    down = await s.alerts.create(ALICE, "pct_change", "ETH", 5, "1h", "down")
    wide = await s.alerts.create(ALICE, "pct_change", "ETH", 5, "24h", "up")
    assert (any_way.backtest.fired, up.backtest.fired, down.backtest.fired) == (2, 1, 1)
    assert up.backtest.last_fired == NOW - 100 * HOUR
    assert down.backtest.last_fired == NOW - 98 * HOUR
    assert wide.backtest.fired == 1


async def test_noisy_rules_are_flagged(db: Database) -> None:
    sol = _spikes(100.0, {k: 106.0 for k in range(10, 400, 20)})
    s = make(db, scripts={"solana": sol})
    result = await s.alerts.create(ALICE, "price_above", "SOL", 105, recurring=True)
    assert result.backtest.fired == 20 and result.backtest.noisy
    assert "That is noisy" in render_created(result)
    quiet = await s.alerts.create(ALICE, "price_above", "SOL", 110)
    assert quiet.backtest.fired == 0
    assert "would not have fired" in render_created(quiet)


async def test_depeg_backtest_uses_the_stablecoins_history(db: Database) -> None:
    usdc = _spikes(1.0, {300: 0.985, 299: 0.97, 298: 0.999})
    s = make(db, scripts={"usd-coin": usdc})
    result = await s.alerts.create(ALICE, "depeg", "USDC", 1)
    assert result.backtest.fired == 1 and "peg" in result.backtest.basis
    assert result.alert.distance is not None and "off its peg now" in result.alert.distance
