"""Tests for the offline market: determinism, liveliness, candles, stablecoins and replays."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Coroutine
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import shared_data
from tools.clock import FakeClock
from tools.errors import (
    ConfigurationError,
    UnknownSymbolError,
    UnsupportedCurrencyError,
    UserInputError,
)
from tools.market.base import MarketData
from tools.market.catalog import COINS, FX_USD, STABLECOINS
from tools.market.offline import SUPPORTED_VS, OfflineMarket, ReplaySpec, to_decimal
from tools.market.types import INTERVALS, CoinRef, DataOrigin, Quote

T = TypeVar("T")
T0 = datetime(2025, 11, 20, 12, 34, 56, tzinfo=UTC)
SHARED = shared_data.STABLECOINS
HOURLY = SHARED / "usdc_usd_chainlink_hourly_20230309_20230312.csv"
ROUNDS = SHARED / "etherisc_usdc_usd_chainlink_rounds_20221120_20230312.csv"
needs_shared = pytest.mark.skipif(
    not (HOURLY.is_file() and ROUNDS.is_file()),
    reason=f"recorded USDC depeg files not present in {SHARED}",
)

BTC = CoinRef("bitcoin", "BTC", "Bitcoin")
ETH = CoinRef("ethereum", "ETH", "Ethereum")
SHIB = CoinRef("shiba-inu", "SHIB", "Shiba Inu")
USDC = CoinRef("usd-coin", "USDC", "USD Coin")
EURC = CoinRef("euro-coin", "EURC", "EURC")
ALL_COINS = [CoinRef(c.id, c.symbol, c.name) for c in COINS] + [
    CoinRef(s.id, s.symbol, s.name) for s in STABLECOINS
]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from a synchronous (hypothesis) test."""
    return asyncio.run(coro)


def market(seed: int = 7, when: datetime = T0, **kwargs: Any) -> tuple[OfflineMarket, FakeClock]:
    clock = FakeClock(when)
    return OfflineMarket(seed=seed, clock=clock, **kwargs), clock


def quote_values(quote: Quote) -> tuple[object, ...]:
    return tuple(getattr(quote, f.name) for f in fields(quote))


def write_csv(tmp_path: Path, prices: list[str], name: str = "scenario.csv") -> Path:
    start = datetime(2023, 3, 10, tzinfo=UTC)
    lines = ["time,price"] + [
        f"{(start + timedelta(hours=i)).isoformat()},{p}" for i, p in enumerate(prices)
    ]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- interface and determinism ---------------------------------------------------------------


def test_offline_market_implements_market_data() -> None:
    m, _ = market()
    assert isinstance(m, MarketData)
    assert m.name == "offline"


async def test_same_seed_and_time_give_identical_quotes_and_history() -> None:
    a, _ = market(seed=11)
    b, _ = market(seed=11)

    qa = await a.get_quotes(ALL_COINS, "usd")
    qb = await b.get_quotes(ALL_COINS, "usd")
    ha = await a.get_history(ETH, "eur", 90, "4h")
    hb = await b.get_history(ETH, "eur", 90, "4h")

    assert len(qa) == len(ALL_COINS)
    assert {k: quote_values(v) for k, v in qa.items()} == {
        k: quote_values(v) for k, v in qb.items()
    }
    assert ha.candles == hb.candles
    assert await a.get_stablecoins() == await b.get_stablecoins()
    assert await a.get_fx_usd() == await b.get_fx_usd()


async def test_different_seeds_give_different_numbers() -> None:
    a, _ = market(seed=1)
    b, _ = market(seed=2)

    pa = await a.get_quotes([BTC, ETH], "usd")
    pb = await b.get_quotes([BTC, ETH], "usd")

    assert pa["bitcoin"].price != pb["bitcoin"].price
    assert pa["ethereum"].price != pb["ethereum"].price


def test_prices_are_the_same_in_another_process() -> None:
    m, _ = market(seed=5)
    here = m.price_at("solana", T0)
    script = (
        "from datetime import datetime, UTC\n"
        "from tools.market.offline import OfflineMarket\n"
        "when = datetime.fromisoformat('" + T0.isoformat() + "')\n"
        "print(OfflineMarket(seed=5).price_at('solana', when))\n"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}
    output = subprocess.run(  # noqa: S603 - fixed interpreter and script
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
        env=env,
    )
    assert Decimal(output.stdout.strip()) == here


# -- liveliness and stable history -----------------------------------------------------------


async def test_prices_move_between_ticks() -> None:
    m, clock = market()
    coins = [BTC, ETH, SHIB, USDC, EURC]
    before = await m.get_quotes(coins, "usd")
    clock.advance(60)
    after = await m.get_quotes(coins, "usd")

    for coin in coins:
        assert before[coin.id].price != after[coin.id].price, coin.symbol
        assert after[coin.id].last_updated == T0 + timedelta(seconds=60)


@pytest.mark.parametrize("interval", list(INTERVALS))
async def test_closed_bars_never_change_as_time_moves_on(interval: str) -> None:
    m, clock = market()
    first = await m.get_history(BTC, "usd", 30, interval)
    clock.advance(3 * 3600 + 17)
    second = await m.get_history(BTC, "usd", 30, interval)

    step = timedelta(seconds=INTERVALS[interval])
    closed = [c for c in first.candles if c.ts + step <= T0]
    later = {c.ts: c for c in second.candles}
    assert closed
    for candle in closed:
        if candle.ts in later:
            assert later[candle.ts] == candle
    assert second.candles[-1].close != first.candles[-1].close


async def test_last_bar_ends_at_the_current_price() -> None:
    m, _ = market()
    for vs in ("usd", "eur", "btc"):
        quote = (await m.get_quotes([ETH], vs))["ethereum"]
        history = await m.get_history(ETH, vs, 7, "1h")
        last = history.candles[-1]
        assert last.ts == T0.replace(minute=0, second=0)
        assert last.close == pytest.approx(float(quote.price), rel=1e-7)
        assert last.low <= last.close <= last.high


@pytest.mark.parametrize(
    ("coin", "vs", "exact_extremes"),
    [
        (BTC, "usd", True),
        (SHIB, "usd", True),
        (USDC, "usd", True),
        (EURC, "usd", False),  # EUR price x EUR/USD: high and low are bounds
        (BTC, "eur", False),
        (ETH, "btc", False),
    ],
)
async def test_prices_seen_during_an_hour_make_up_its_candle(
    coin: CoinRef, vs: str, exact_extremes: bool
) -> None:
    m, _ = market()
    hour = (T0 - timedelta(hours=5)).replace(minute=0, second=0)
    history = await m.get_history(coin, vs, 1, "1h")
    bar = next(c for c in history.candles if c.ts == hour)
    seen = [float(m.price_at(coin.id, hour + timedelta(seconds=s), vs)) for s in range(0, 3601, 5)]

    assert seen[0] == pytest.approx(bar.open, rel=1e-7)
    assert seen[-1] == pytest.approx(bar.close, rel=1e-7)
    assert max(seen) <= bar.high * (1 + 1e-7) and min(seen) >= bar.low * (1 - 1e-7)
    if exact_extremes:  # the path touches the bar's high and low
        assert max(seen) == pytest.approx(bar.high, rel=1e-7)
        assert min(seen) == pytest.approx(bar.low, rel=1e-7)
    else:
        assert bar.high / bar.low < 1.05
    assert len(set(seen)) > 300  # the price moves every few seconds
    for a, b in zip(history.candles, history.candles[1:], strict=False):
        assert b.open == pytest.approx(a.close, rel=1e-12)


async def test_history_shape_and_alignment() -> None:
    m, _ = market()
    daily = await m.get_history(BTC, "usd", 30, "1d")
    weekly = await m.get_history(BTC, "usd", 365, "1w")
    hourly = await m.get_history(BTC, "usd", 2, "1h")

    assert len(daily.candles) == 31
    assert all(c.ts.hour == 0 and c.ts.minute == 0 for c in daily.candles)
    assert all(c.ts.weekday() == 0 for c in weekly.candles)
    assert len(hourly.candles) == 49
    ts = [c.ts for c in hourly.candles]
    assert all(b - a == timedelta(hours=1) for a, b in zip(ts, ts[1:], strict=False))
    # Daily bars aggregate hourly bars: opens, closes, extremes and volume agree.
    day = T0.replace(hour=0, minute=0, second=0) - timedelta(days=1)
    hours = [c for c in hourly.candles if day <= c.ts < day + timedelta(days=1)]
    bar = next(c for c in daily.candles if c.ts == day)
    assert len(hours) == 24
    assert bar.open == hours[0].open and bar.close == hours[-1].close
    assert bar.high == max(h.high for h in hours) and bar.low == min(h.low for h in hours)
    assert bar.volume == pytest.approx(sum(h.volume for h in hours))
    for a, b in zip(hourly.candles, hourly.candles[1:], strict=False):
        assert b.open == a.close
    assert daily.origin is DataOrigin.SIMULATED and daily.source == "offline"


@settings(max_examples=40, deadline=None)
@given(
    when=st.datetimes(
        min_value=datetime(2019, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC)
    ),
    coin=st.sampled_from(ALL_COINS),
    interval=st.sampled_from(list(INTERVALS)),
    vs=st.sampled_from(SUPPORTED_VS),
    days=st.integers(min_value=1, max_value=20),
)
def test_ohlc_invariants(when: datetime, coin: CoinRef, interval: str, vs: str, days: int) -> None:
    m, _ = market(seed=3, when=when)
    history = run(m.get_history(coin, vs, days, interval))

    assert history.candles
    for candle in history.candles:
        assert candle.high >= max(candle.open, candle.close)
        assert 0 < candle.low <= min(candle.open, candle.close)
        assert candle.volume >= 0
        assert candle.ts <= when


# -- realism ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 7, 42])
async def test_bitcoin_stays_within_a_realistic_range_over_a_year(seed: int) -> None:
    m, _ = market(seed=seed)
    history = await m.get_history(BTC, "usd", 365, "1h")
    reference = next(c.price_usd for c in COINS if c.id == "bitcoin")

    assert len(history.candles) >= 365 * 24
    assert min(c.low for c in history.candles) >= 0.3 * reference
    assert max(c.high for c in history.candles) <= 3 * reference
    closes = [c.close for c in history.candles]
    moves = [abs(b / a - 1) for a, b in zip(closes, closes[1:], strict=False)]
    assert 0.002 < sum(moves) / len(moves) < 0.01  # hourly moves of a fraction of a percent


@pytest.mark.parametrize("seed", [1, 7])
async def test_stablecoins_stay_within_one_percent_of_their_peg(seed: int) -> None:
    m, _ = market(seed=seed)
    for spec in STABLECOINS:
        peg_vs = "eur" if spec.peg_type == "peggedEUR" else "usd"
        history = await m.get_history(CoinRef(spec.id, spec.symbol, spec.name), peg_vs, 365, "1d")
        assert min(c.low for c in history.candles) > 0.99, spec.symbol
        assert max(c.high for c in history.candles) < 1.01, spec.symbol


async def test_twenty_four_hour_change_matches_history() -> None:
    m, _ = market()
    quotes = await m.get_quotes([BTC, SHIB, USDC], "usd")
    for coin in (BTC, SHIB, USDC):
        quote = quotes[coin.id]
        then = m.price_at(coin.id, T0 - timedelta(days=1))
        expected = (quote.price / then - 1) * 100
        assert quote.change_24h_pct is not None
        assert float(quote.change_24h_pct) == pytest.approx(float(expected), abs=2e-4)
        hourly = await m.get_history(coin, "usd", 2, "1h")
        bar_start = (T0 - timedelta(days=1)).replace(minute=0, second=0)
        bar = next(c for c in hourly.candles if c.ts == bar_start)
        assert bar.low * (1 - 1e-7) <= float(then) <= bar.high * (1 + 1e-7)


async def test_quote_fields_are_consistent() -> None:
    m, _ = market()
    quotes = await m.get_quotes(ALL_COINS, "usd")
    for quote in quotes.values():
        assert quote.price > 0
        assert len(quote.price.as_tuple().digits) <= 8
        assert quote.market_cap is not None and quote.volume_24h is not None
        assert quote.market_cap > 0 and quote.volume_24h > 0
        assert quote.volume_24h < quote.market_cap
        assert quote.source == "offline" and quote.origin is DataOrigin.SIMULATED
        assert quote.note == "simulated"
        assert quote.fetched_at == T0 and quote.last_updated == T0
    btc = quotes["bitcoin"]
    supply = next(c.supply for c in COINS if c.id == "bitcoin")
    assert float(btc.market_cap or 0) == pytest.approx(float(btc.price) * supply, rel=1e-6)
    assert quotes["shiba-inu"].price < Decimal("0.001")  # sub-cent coins keep their digits


async def test_other_quote_currencies() -> None:
    m, _ = market()
    fx = await m.get_fx_usd()
    usd = await m.get_quotes([BTC, ETH], "usd")
    eur = await m.get_quotes([BTC, ETH], "EUR")
    in_btc = await m.get_quotes([BTC, ETH], "btc")
    in_eth = await m.get_quotes([ETH], "eth")

    assert eur["bitcoin"].vs_currency == "eur"
    assert float(eur["bitcoin"].price) == pytest.approx(
        float(usd["bitcoin"].price / fx["EUR"]), rel=1e-6
    )
    assert in_btc["bitcoin"].price == 1 and in_eth["ethereum"].price == 1
    assert float(in_btc["ethereum"].price) == pytest.approx(
        float(usd["ethereum"].price / usd["bitcoin"].price), rel=1e-6
    )
    jpy = await m.get_quotes([BTC], "jpy")
    assert jpy["bitcoin"].price > 100 * usd["bitcoin"].price


async def test_fx_wobbles_slightly_around_the_catalogue() -> None:
    m, clock = market()
    first = await m.get_fx_usd()
    clock.advance(86400)
    later = await m.get_fx_usd()

    assert set(first) == set(FX_USD)
    assert first["USD"] == 1
    for code, rate in FX_USD.items():
        assert abs(float(first[code]) / rate - 1) < 0.06
    assert first["EUR"] != later["EUR"]


# -- stablecoins -----------------------------------------------------------------------------


async def test_stablecoins_list() -> None:
    m, _ = market()
    fx = await m.get_fx_usd()
    rows = await m.get_stablecoins()

    assert [r.symbol for r in rows] == [s.symbol for s in STABLECOINS]
    for row in rows:
        assert row.price_usd is not None and row.circulating is not None
        assert row.circulating_prev_day and row.circulating_prev_week
        assert row.price_sources == {"offline": row.price_usd}
        assert row.origin is DataOrigin.SIMULATED and row.source == "offline"
        assert row.peg_currency in ("USD", "EUR")
        peg = fx[row.peg_currency] if row.peg_currency else Decimal(1)
        assert abs(row.price_usd / peg - 1) < Decimal("0.01"), row.symbol
        assert abs(row.circulating / row.circulating_prev_day - 1) < Decimal("0.05")
    eurc = next(r for r in rows if r.symbol == "EURC")
    assert eurc.peg_currency == "EUR" and (eurc.price_usd or 0) > Decimal("1.0")
    quote = (await m.get_quotes([EURC], "eur"))["euro-coin"]
    assert abs(quote.price - 1) < Decimal("0.01")


# -- top and search --------------------------------------------------------------------------


async def test_top_is_sorted_by_market_cap_and_includes_stablecoins() -> None:
    m, _ = market()
    top = await m.get_top(10, "usd")

    assert len(top) == 10
    caps = [q.market_cap or 0 for q in top]
    assert caps == sorted(caps, reverse=True)
    assert [q.coin.market_cap_rank for q in top] == list(range(1, 11))
    assert top[0].coin.symbol == "BTC"
    assert "USDT" in {q.coin.symbol for q in top}
    everything = await m.get_top(250, "eur")
    assert len(everything) == len(ALL_COINS)
    assert all(q.vs_currency == "eur" for q in everything)


async def test_search() -> None:
    m, _ = market()

    assert [c.id for c in await m.search("BTC")][:1] == ["bitcoin"]
    assert [c.id for c in await m.search("$eth")][:1] == ["ethereum"]
    assert [c.id for c in await m.search("ether")][:1] == ["ethereum"]
    bit = [c.id for c in await m.search("bit")]
    assert bit[:2] == ["bitcoin", "bitcoin-cash"]
    usd = [c.symbol for c in await m.search("usd")]
    assert usd[:2] == ["USDT", "USDC"]  # prefixes, largest first
    assert "USDS" in usd and "PYUSD" in usd  # substring matches come later
    assert usd.index("PYUSD") > usd.index("USDD")
    assert await m.search("  ") == []
    assert await m.search("zzzz-no-such-coin") == []


# -- bad input -------------------------------------------------------------------------------


async def test_bad_inputs() -> None:
    m, _ = market()
    with pytest.raises(UnsupportedCurrencyError, match="Unsupported currency"):
        await m.get_quotes([BTC], "xyz")
    with pytest.raises(UnsupportedCurrencyError):
        await m.get_history(BTC, "doge", 1, "1d")
    for limit in (0, 251, -3):
        with pytest.raises(UserInputError, match="1 to 250"):
            await m.get_top(limit, "usd")
    for days in (0, 3651, -1):
        with pytest.raises(UserInputError, match="1 to 3650 days"):
            await m.get_history(BTC, "usd", days, "1d")
    with pytest.raises(UserInputError, match="Interval must be one of 1h, 4h, 1d, 1w"):
        await m.get_history(BTC, "usd", 1, "5m")
    with pytest.raises(UnknownSymbolError, match="NOPE"):
        await m.get_history(CoinRef("nope", "NOPE", "Nope"), "usd", 1, "1d")
    quotes = await m.get_quotes([BTC, CoinRef("nope", "NOPE", "Nope")], "usd")
    assert set(quotes) == {"bitcoin"}
    assert await m.get_quotes([], "usd") == {}


def test_to_decimal() -> None:
    assert to_decimal(95123.4567) == Decimal("95123.457")
    assert to_decimal(0.0000131234567) == Decimal("0.000013123457")
    assert to_decimal(1.2e12, 10) == Decimal(1_200_000_000_000)
    assert str(to_decimal(1.2e12, 10)) == "1200000000000"


# -- replays ---------------------------------------------------------------------------------


async def test_replay_maps_data_points_onto_wall_clock(tmp_path: Path) -> None:
    prices = ["1.00", "0.98", "0.95", "0.91", "0.97"]
    path = write_csv(tmp_path, prices)
    spec = ReplaySpec(path, "USDC", speed=3600)
    m, clock = market(replays={"USDC": spec})

    seen = []
    for k in range(len(prices)):
        clock.set(T0 + timedelta(seconds=k))  # one data hour per wall second
        quote = (await m.get_quotes([USDC], "usd"))["usd-coin"]
        seen.append(quote.price)
        assert quote.origin is DataOrigin.REPLAYED
        data_time = datetime(2023, 3, 10, k, tzinfo=UTC).strftime("%Y-%m-%d %H:%M")
        assert quote.note == f"replayed from scenario.csv (data time {data_time} UTC)"
    assert seen == [Decimal(p) for p in prices]
    for k in range(1, len(prices)):  # just before each point's time, the previous one shows
        clock.set(T0 + timedelta(seconds=k - 0.01))
        shown = (await m.get_quotes([USDC], "usd"))["usd-coin"].price
        assert shown == Decimal(prices[k - 1])
    clock.set(T0 + timedelta(seconds=2.5))
    assert (await m.get_quotes([USDC], "usd"))["usd-coin"].price == Decimal("0.95")
    # Looping: the last point is held for one step, then the file starts again.
    clock.set(T0 + timedelta(seconds=5))
    assert (await m.get_quotes([USDC], "usd"))["usd-coin"].price == Decimal("1.00")
    clock.set(T0 + timedelta(seconds=5 + 3))
    assert (await m.get_quotes([USDC], "usd"))["usd-coin"].price == Decimal("0.91")


async def test_replay_without_loop_holds_the_last_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["1.00", "0.90", "0.80"])
    m, clock = market(replays={"USDC": ReplaySpec(path, "USDC", speed=3600, loop=False)})

    clock.advance(3600)
    quote = (await m.get_quotes([USDC], "usd"))["usd-coin"]
    assert quote.price == Decimal("0.80")
    assert quote.note is not None and "end of the recording" in quote.note


async def test_replay_history_follows_the_data(tmp_path: Path) -> None:
    prices = ["1.00", "0.98", "0.95", "0.91", "0.97"]
    path = write_csv(tmp_path, prices)
    start = datetime(2025, 11, 20, 12, tzinfo=UTC)
    m, clock = market(when=start, replays={"USDC": ReplaySpec(path, "USDC", speed=1)})
    clock.advance(3 * 3600 + 1800)

    history = await m.get_history(USDC, "usd", 1, "1h")

    assert history.origin is DataOrigin.REPLAYED
    assert history.note is not None and "scenario.csv" in history.note
    bars = {c.ts: c for c in history.candles}
    before = bars[start - timedelta(hours=1)]
    assert before.open == before.close == 1.0  # before the replay started: first value
    for k in range(3):
        bar = bars[start + timedelta(hours=k)]
        assert bar.open == float(prices[k]) and bar.close == float(prices[k + 1])
    last = history.candles[-1]
    assert last.ts == start + timedelta(hours=3) and last.close == 0.91
    daily = await m.get_history(USDC, "usd", 1, "1d")
    assert daily.candles[-1].low == 0.91 and daily.candles[-1].high == 1.0


async def test_replayed_stablecoin_drives_the_stablecoin_list(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["1.00", "0.93"])
    m, clock = market(replays={"usdc": ReplaySpec(path, "usdc", speed=3600)})
    clock.advance(1)

    rows = {r.symbol: r for r in await m.get_stablecoins()}

    assert rows["USDC"].price_usd == Decimal("0.93")
    assert rows["USDC"].origin is DataOrigin.REPLAYED
    assert rows["USDC"].note is not None and "scenario.csv" in rows["USDC"].note
    assert rows["USDT"].origin is DataOrigin.SIMULATED
    eur = (await m.get_quotes([USDC], "eur"))["usd-coin"]
    fx = await m.get_fx_usd()
    assert float(eur.price) == pytest.approx(0.93 / float(fx["EUR"]), rel=1e-6)


async def test_replay_of_an_unknown_symbol_registers_a_coin(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["2.5", "2.0"], name="terra.csv")
    m, _ = market(replays={"UST": ReplaySpec(path, "UST", speed=60)})

    found = await m.search("ust")
    assert found[0].id == "replay-ust" and found[0].symbol == "UST"
    quote = (await m.get_quotes(found[:1], "usd"))["replay-ust"]
    assert quote.price == Decimal("2.5") and quote.origin is DataOrigin.REPLAYED
    assert quote.market_cap is None and quote.volume_24h is None
    history = await m.get_history(found[0], "usd", 2, "1h")
    assert all(c.volume == 0 for c in history.candles)
    assert "replay-ust" not in {q.coin.id for q in await m.get_top(250, "usd")}


def test_bad_replays_are_configuration_errors(tmp_path: Path) -> None:
    good = write_csv(tmp_path, ["1.0"])
    with pytest.raises(ConfigurationError, match="speed"):
        OfflineMarket(replays={"USDC": ReplaySpec(good, "USDC", speed=0)})
    with pytest.raises(ConfigurationError, match="missing.csv"):
        OfflineMarket(replays={"USDC": ReplaySpec(tmp_path / "missing.csv", "USDC")})
    with pytest.raises(ConfigurationError, match="twice"):
        OfflineMarket(replays={"a": ReplaySpec(good, "USDC"), "b": ReplaySpec(good, "usd-coin")})


@needs_shared
async def test_real_usdc_depeg_replay_reaches_the_march_2023_low() -> None:
    m, clock = market(replays={"USDC": ReplaySpec(HOURLY, "USDC", speed=3600)})

    lowest: tuple[Decimal, str] = (Decimal(2), "")
    for _ in range(81):
        quote = (await m.get_quotes([USDC], "usd"))["usd-coin"]
        lowest = min(lowest, (quote.price, quote.note or ""))
        clock.advance(1)
    assert Decimal("0.88") <= lowest[0] <= Decimal("0.90")
    assert "usdc_usd_chainlink_hourly_20230309_20230312.csv" in lowest[1]
    assert "2023-03-11" in lowest[1]


@needs_shared
async def test_real_chainlink_rounds_replay_in_the_stablecoin_list() -> None:
    m, clock = market(replays={"USDC": ReplaySpec(ROUNDS, "USDC", speed=86400)})
    # 2023-03-11 07:51 UTC is about 110.1 data days after the first round.
    low_time = datetime(2023, 3, 11, 7, 51, 23, tzinfo=UTC)
    first_time = datetime(2022, 11, 20, 5, 16, 35, tzinfo=UTC)
    clock.advance((low_time - first_time).total_seconds() / 86400)

    row = next(r for r in await m.get_stablecoins() if r.symbol == "USDC")

    assert row.origin is DataOrigin.REPLAYED
    assert row.price_usd is not None and Decimal("0.88") <= row.price_usd <= Decimal("0.90")
    history = await m.get_history(USDC, "usd", 1, "1h")
    assert Decimal("0.88") <= Decimal(str(min(c.low for c in history.candles))) <= Decimal("0.90")
