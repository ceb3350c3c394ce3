"""Which headlines mention which coin, and the offline headline file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.analysis.headlines import (
    BUNDLED_HEADLINES,
    CoinMatcher,
    load_headline_file,
)
from tools.errors import ConfigurationError
from tools.market.providers.news import Headline
from tools.market.symbols import embedded_coins
from tools.market.types import CoinRef

COINS = {c.symbol: c for c in embedded_coins()}
BTC, ETH, SOL, TON, OP = (
    COINS["BTC"],
    COINS["ETH"],
    COINS["SOL"],
    COINS["TON"],
    CoinRef("optimism", "OP", "Optimism", 55),
)
XLM = COINS["XLM"]
MATCHER = CoinMatcher([*embedded_coins(), OP])


def h(title: str, summary: str = "") -> Headline:
    return Headline(title=title, url=None, source="test", published=None, summary=summary)


@pytest.mark.parametrize(
    ("title", "coin", "expected"),
    [
        ("Bitcoin slides below $80,000", BTC, True),
        ("bitcoin's hashrate hits a record", BTC, True),
        ("BTC/USD holds support", BTC, True),
        ("$BTC options traders pile into calls", BTC, True),
        ("BTC-denominated loans grow", BTC, True),
        ("Exchange BTCTurk adds new pairs", BTC, False),
        ("Bitcoin Cash jumps 12% after listing", BTC, False),
        ("Bitcoin Cash jumps while Bitcoin stalls", BTC, True),
        ("Ether rallies as upgrade date is set", ETH, True),
        ("Ethereum Classic hashrate climbs", ETH, False),
        ("ETH/BTC ratio slumps", ETH, True),
        ("ETH/BTC ratio slumps", BTC, True),
        ("Solana DEX suffers exploit", SOL, True),
        ("Miners shipped tons of rigs", TON, False),
        ("Toncoin slides as activity cools", TON, True),
        ("TON slides as activity cools", TON, True),
        ("An op-ed on regulation", OP, False),
        ("OP token unlock looms", OP, True),
        ("Optimism upgrade goes live", OP, True),
        ("Analysts voice optimism about the rebound", OP, False),
        ("Miners report stellar quarter", XLM, False),
        ("Stellar partners with payment firm", XLM, True),
        ("Nothing about coins here", BTC, False),
    ],
)
def test_mentions(title: str, coin: CoinRef, expected: bool) -> None:
    assert MATCHER.mentions(h(title), coin) is expected


def test_summary_mentions_count_and_select_keeps_order() -> None:
    items = [
        h("Liquidations pass $1 billion", "Most hit bitcoin and ether longs."),
        h("Dogecoin payments go live"),
        h("BTC miners sell reserves"),
    ]
    assert MATCHER.select(items, BTC) == [items[0], items[2]]
    assert MATCHER.select(items, ETH) == [items[0]]


def test_a_coin_unknown_to_the_matcher_still_matches_by_ticker_and_name() -> None:
    new = CoinRef("berachain-bera", "BERA", "Berachain", 150)
    matcher = CoinMatcher(embedded_coins())
    assert matcher.mentions(h("Berachain mainnet goes live"), new)
    assert matcher.mentions(h("BERA slides 10%"), new)
    assert not matcher.mentions(h("Bera slides 10%"), COINS["BTC"])


# -- offline file -------------------------------------------------------------------------


def test_bundled_sample_is_a_realistic_dated_spread_across_coins() -> None:
    file = load_headline_file()

    assert file.bundled and file.path == BUNDLED_HEADLINES
    assert 55 <= len(file.headlines) <= 80
    assert "not real news" in file.about
    assert all(
        x.published is not None and x.published.utcoffset() is not None for x in file.headlines
    )
    assert file.oldest is not None and file.newest is not None
    assert (file.newest - file.oldest).total_seconds() / 3600 < 48
    covered = {
        symbol
        for symbol, coin in COINS.items()
        if any(MATCHER.mentions(x, coin) for x in file.headlines)
    }
    assert {"BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "BNB", "LINK", "AVAX", "USDT"} <= covered
    titles = [x.title for x in file.headlines]
    assert len(set(titles)) == len(titles)


def write(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "headlines.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def test_a_configured_file_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            {"title": "  Bitcoin   rallies ", "published": "2025-03-01T09:30:00+01:00"},
            {"title": "Ether slides", "url": "https://example.org/a", "source": "Desk"},
        ],
    )
    file = load_headline_file(path)
    first, second = file.headlines
    assert not file.bundled
    assert first.title == "Bitcoin rallies"
    assert (
        first.published is not None and first.published.isoformat() == "2025-03-01T08:30:00+00:00"
    )
    assert first.source == "headlines.json"
    assert second.published is None and second.source == "Desk"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"headlines": []}, "non-empty"),
        ([{"title": ""}], "item 0 has no title"),
        ([{"title": "x", "published": "2025-03-01T09:30:00"}], "no time zone"),
        ([{"title": "x", "published": "yesterday"}], "bad timestamp"),
        ([{"title": "x", "url": "javascript:alert(1)"}], "url must be"),
        (["just text"], "not an object"),
    ],
)
def test_unusable_files_are_configuration_errors(
    tmp_path: Path, payload: object, reason: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_headline_file(write(tmp_path, payload))
    assert info.value.detail is not None and reason in info.value.detail
    assert "headlines.json cannot be used" in info.value.user_message


def test_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_headline_file(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_headline_file(broken)
