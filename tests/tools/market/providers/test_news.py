"""NewsClient and FearGreedClient against feeds and API answers in the sites' real formats.

The fixtures under ``tests/fixtures/news`` follow the formats the sites serve: CoinDesk's
Arc XP RSS 2.0 (CDATA titles, ``dc:creator``, ``media:content``), Cointelegraph's RSS 2.0
(HTML in ``description``, tracking parameters in links), an Atom 1.0 feed, an empty RSS
channel, a truncated download, an S3-style XML error, a Cloudflare challenge page and a
maintenance page served with 200, and Alternative.me's ``/fng/`` JSON. They were written
by hand in those formats (the development machine has no internet access to record live
copies); the headlines in them are illustrative.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest
import respx

from tools.clock import FakeClock
from tools.market.providers import (
    CircuitOpenError,
    FearGreedClient,
    FeedSpec,
    MalformedResponseError,
    NewsClient,
    NewsUnavailableError,
    ProviderError,
    RetryPolicy,
)
from tools.market.providers.news import (
    DEFAULT_FEEDS,
    FEAR_GREED_URL,
    MAX_FEED_BYTES,
    parse_feed,
    plain_text,
)

NEWS = Path(__file__).resolve().parents[3] / "fixtures" / "news"
RSS = "application/rss+xml; charset=utf-8"

COINDESK = FeedSpec("coindesk", "CoinDesk", "https://www.coindesk.com/arc/outboundfeeds/rss/")
COINTELEGRAPH = FeedSpec("cointelegraph", "Cointelegraph", "https://cointelegraph.com/rss")
THEBLOCK = FeedSpec("theblock", "The Block", "https://www.theblock.co/rss.xml")
RESEARCH = FeedSpec("research", "Research Desk", "https://research.example.org/feed.xml")


def body(name: str) -> bytes:
    return (NEWS / name).read_bytes()


def feed_response(name: str, status: int = 200, content_type: str = RSS, **headers: str):
    return httpx.Response(
        status, content=body(name), headers={"content-type": content_type, **headers}
    )


def make(http: httpx.AsyncClient, clock: FakeClock, feeds=(COINDESK, COINTELEGRAPH, THEBLOCK)):
    return NewsClient(
        http,
        feeds,
        clock=clock,
        sleep=clock.sleep,
        policy=RetryPolicy(max_attempts=2, jitter=False),
    )


@pytest.fixture(autouse=True)
def feedparser_never_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    """feedparser's own HTTP code must never run: bytes come from httpx only."""

    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("feedparser tried to fetch a URL itself")

    monkeypatch.setattr(feedparser.http, "get", refuse)


# -- parsing ------------------------------------------------------------------------------


def test_default_feeds_are_the_major_sites_over_https() -> None:
    names = [f.name for f in DEFAULT_FEEDS]
    assert names == ["CoinDesk", "Cointelegraph", "Decrypt", "The Block", "Bitcoin Magazine"]
    assert all(f.url.startswith("https://") for f in DEFAULT_FEEDS)
    assert DEFAULT_FEEDS[0].url == "https://www.coindesk.com/arc/outboundfeeds/rss/"


def test_coindesk_rss_items_become_headlines() -> None:
    headlines = parse_feed(body("coindesk_rss.xml"), RSS, COINDESK)

    assert len(headlines) == 6
    first = headlines[0]
    assert first.title == "Bitcoin Slides Below $80K as Spot ETF Outflows Deepen"
    assert first.url == (
        "https://www.coindesk.com/markets/2025/03/01/"
        "bitcoin-slides-below-80k-as-spot-etf-outflows-deepen"
    )
    assert first.source == "CoinDesk"
    assert first.published == datetime(2025, 3, 1, 11, 42, 31, tzinfo=UTC)
    assert first.summary.startswith("U.S.-listed spot bitcoin ETFs bled another $420 million")
    assert headlines[-1].published == datetime(2025, 2, 27, 7, 0, tzinfo=UTC)


def test_cointelegraph_html_summary_is_plain_text_and_relative_links_resolve() -> None:
    headlines = parse_feed(body("cointelegraph_rss.xml"), RSS, COINTELEGRAPH)

    # The fifth item has a blank title and is skipped.
    assert [h.title for h in headlines] == [
        "Dogecoin whales accumulate 1B DOGE as price tests key support",
        "Bybit hack: Lazarus launders $300M of stolen ETH in 10 days",
        "Cardano\u2019s Hoskinson says ADA will outlast the bear market",
        "Price analysis 2/28: BTC, ETH, XRP, BNB, SOL, DOGE, ADA, LINK, TON, AVAX",
    ]
    doge = headlines[0]
    assert doge.summary == (
        "Large holders added to their positions while DOGE price hovered near $0.20 & "
        "derivatives funding turned negative."
    )
    assert "<" not in doge.summary
    assert doge.url is not None and doge.url.endswith("utm_campaign=rss_partner_inbound")
    assert "&amp;" not in doge.url
    assert headlines[3].url is not None
    assert headlines[3].url.startswith("https://cointelegraph.com/news/price-analysis-2-28")


def test_atom_entries_use_published_then_updated_and_convert_to_utc() -> None:
    headlines = parse_feed(body("atom_feed.xml"), "application/atom+xml", RESEARCH)

    assert [h.title for h in headlines] == [
        "Stablecoin supply hits a record & USDC gains share",
        "Chainlink staking v0.2 pool fills within hours",
        "Notes on validator economics",
    ]
    record, staking, undated = headlines
    assert record.published == datetime(2025, 3, 1, 11, 30, tzinfo=UTC)
    assert record.summary == "Total stablecoin supply passed $225 billion this week."
    # No <published>: <updated> at 16:45 +01:00 is 15:45 UTC.
    assert staking.published == datetime(2025, 2, 28, 15, 45, tzinfo=UTC)
    assert (
        staking.url == "https://research.example.org/2025/02/28/chainlink-staking-pool-fills.html"
    )
    assert undated.published is None
    assert undated.summary == ""


def test_empty_feed_is_not_an_error() -> None:
    assert parse_feed(body("empty_rss.xml"), RSS, THEBLOCK) == []


def test_undefined_html_entity_is_parsed_leniently() -> None:
    headlines = parse_feed(body("entity_rss.xml"), RSS, COINDESK)
    assert [h.title for h in headlines] == ["Bitcoin Hashrate Hits New All-Time High"]


@pytest.mark.parametrize(
    ("name", "content_type", "reason"),
    [
        ("truncated_rss.xml", RSS, "not a readable RSS/Atom feed"),
        ("not_a_feed.xml", "application/xml", "XML that is not an RSS/Atom feed"),
        ("maintenance_200.html", "text/html; charset=utf-8", "HTML page instead of a feed"),
        ("cloudflare_challenge.html", RSS, "HTML page instead of a feed (Cloudflare)"),
    ],
)
def test_bodies_that_are_not_feeds_are_malformed(name: str, content_type: str, reason: str) -> None:
    with pytest.raises(MalformedResponseError) as info:
        parse_feed(body(name), content_type, COINDESK)
    assert reason in info.value.reason


def test_empty_and_oversized_bodies_are_malformed() -> None:
    with pytest.raises(MalformedResponseError, match="empty body"):
        parse_feed(b"  \n", RSS, COINDESK)
    with pytest.raises(MalformedResponseError, match="over"):
        parse_feed(b"<rss>" + b" " * MAX_FEED_BYTES, RSS, COINDESK)


def test_a_body_that_is_a_url_or_a_path_is_never_opened(tmp_path: Path) -> None:
    secret = tmp_path / "feed.xml"
    secret.write_bytes(body("coindesk_rss.xml"))
    for payload in (b"https://evil.example/feed.xml", str(secret).encode()):
        with pytest.raises(MalformedResponseError):
            parse_feed(payload, RSS, COINDESK)


def test_plain_text_strips_tags_entities_and_clips_at_a_word() -> None:
    assert plain_text("<p>Ether&nbsp;<b>rallies</b> &amp; more</p>") == "Ether rallies & more"
    assert plain_text(None) == ""
    clipped = plain_text("word " * 50, limit=22)
    assert clipped == "word word word word..."
    assert len(clipped) <= 22


# -- NewsClient over HTTP -----------------------------------------------------------------


async def test_fetch_headlines_reads_every_feed(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    coindesk = router.get(COINDESK.url).mock(return_value=feed_response("coindesk_rss.xml"))
    router.get(COINTELEGRAPH.url).mock(return_value=feed_response("cointelegraph_rss.xml"))
    router.get(THEBLOCK.url).mock(return_value=feed_response("empty_rss.xml"))

    batch = await make(http, clock).fetch_headlines()

    assert batch.sources == ("CoinDesk", "Cointelegraph", "The Block")
    assert batch.failures == ()
    assert len(batch.headlines) == 10
    assert {h.source for h in batch.headlines} == {"CoinDesk", "Cointelegraph"}
    assert batch.fetched_at == clock.now()
    accept = coindesk.calls[0].request.headers["accept"]
    assert accept.startswith("application/rss+xml")


async def test_one_failing_feed_is_reported_and_the_others_still_count(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(COINDESK.url).mock(return_value=feed_response("coindesk_rss.xml"))
    router.get(COINTELEGRAPH.url).mock(return_value=httpx.Response(503, text="upstream down"))
    blocked = router.get(THEBLOCK.url).mock(
        return_value=feed_response(
            "cloudflare_challenge.html", 403, "text/html; charset=UTF-8", **{"cf-ray": "91a2"}
        )
    )

    batch = await make(http, clock).fetch_headlines()

    assert batch.sources == ("CoinDesk",)
    assert len(batch.headlines) == 6
    failures = {f.source: f.reason for f in batch.failures}
    assert set(failures) == {"Cointelegraph", "The Block"}
    assert "HTTP 503" in failures["Cointelegraph"]
    assert "HTTP 403" in failures["The Block"] and "Cloudflare" in failures["The Block"]
    assert blocked.call_count == 1  # a 403 is not retried


async def test_429_with_retry_after_is_retried_after_the_asked_delay(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(COINDESK.url).mock(
        side_effect=[
            httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "3"}),
            feed_response("coindesk_rss.xml"),
        ]
    )

    headlines = await make(http, clock, (COINDESK,)).fetch_feed(COINDESK)

    assert route.call_count == 2
    assert clock.slept == [3.0]
    assert len(headlines) == 6


async def test_429_that_persists_fails_only_that_feed(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(COINDESK.url).mock(return_value=httpx.Response(429, text="slow down"))
    router.get(COINTELEGRAPH.url).mock(return_value=feed_response("cointelegraph_rss.xml"))

    batch = await make(http, clock, (COINDESK, COINTELEGRAPH)).fetch_headlines()

    assert batch.sources == ("Cointelegraph",)
    assert [f.source for f in batch.failures] == ["CoinDesk"]
    assert "HTTP 429" in batch.failures[0].reason


async def test_malformed_2xx_is_retried_once(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(COINDESK.url).mock(return_value=feed_response("truncated_rss.xml"))

    with pytest.raises(MalformedResponseError):
        await make(http, clock, (COINDESK,)).fetch_feed(COINDESK)
    assert route.call_count == 2


async def test_html_page_with_200_is_not_taken_for_a_feed(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(COINDESK.url).mock(
        return_value=feed_response("maintenance_200.html", content_type="text/html")
    )
    with pytest.raises(MalformedResponseError, match="HTML page instead of a feed"):
        await make(http, clock, (COINDESK,)).fetch_feed(COINDESK)


async def test_every_feed_failing_raises_news_unavailable(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(COINDESK.url).mock(side_effect=httpx.ConnectError("no route to host"))
    router.get(COINTELEGRAPH.url).mock(return_value=feed_response("not_a_feed.xml"))

    with pytest.raises(NewsUnavailableError) as info:
        await make(http, clock, (COINDESK, COINTELEGRAPH)).fetch_headlines()

    assert info.value.user_message == "The news feeds are not reachable right now."
    assert "CoinDesk" in info.value.reason and "Cointelegraph" in info.value.reason


async def test_redirects_to_a_moved_feed_are_followed(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    moved = FeedSpec("decrypt", "Decrypt", "https://decrypt.co/feed")
    router.get("https://decrypt.co/feed").mock(
        return_value=httpx.Response(301, headers={"Location": "https://decrypt.co/feed/"})
    )
    router.get("https://decrypt.co/feed/").mock(return_value=feed_response("coindesk_rss.xml"))

    headlines = await make(http, clock, (moved,)).fetch_feed(moved)

    assert len(headlines) == 6
    assert {h.source for h in headlines} == {"Decrypt"}


async def test_a_feed_that_keeps_failing_trips_its_own_breaker(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    down = router.get(COINDESK.url).mock(return_value=httpx.Response(502, text="bad gateway"))
    router.get(COINTELEGRAPH.url).mock(return_value=feed_response("cointelegraph_rss.xml"))
    client = make(http, clock, (COINDESK, COINTELEGRAPH))

    for _ in range(3):
        await client.fetch_headlines()
    calls = down.call_count
    with pytest.raises(CircuitOpenError):
        await client.fetch_feed(COINDESK)
    assert down.call_count == calls
    batch = await client.fetch_headlines()
    assert batch.sources == ("Cointelegraph",)
    assert down.call_count == calls


def test_news_client_rejects_empty_or_duplicate_feed_lists() -> None:
    http = httpx.AsyncClient()
    with pytest.raises(ValueError, match="at least one"):
        NewsClient(http, ())
    with pytest.raises(ValueError, match="duplicate"):
        NewsClient(http, (COINDESK, COINDESK))


async def test_max_items_per_feed(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(COINDESK.url).mock(return_value=feed_response("coindesk_rss.xml"))
    client = NewsClient(http, (COINDESK,), clock=clock, max_items_per_feed=2)
    assert len(await client.fetch_feed(COINDESK)) == 2


# -- Fear & Greed -------------------------------------------------------------------------


def fng(http: httpx.AsyncClient, clock: FakeClock) -> FearGreedClient:
    return FearGreedClient(
        http, clock=clock, sleep=clock.sleep, policy=RetryPolicy(max_attempts=2, jitter=False)
    )


def json_fixture(name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=body(name), headers={"content-type": "application/json; charset=utf-8"}
    )


async def test_fear_greed_latest(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(FEAR_GREED_URL).mock(return_value=json_fixture("fng_latest.json"))

    reading = await fng(http, clock).latest()

    assert route.calls[0].request.url.params["limit"] == "1"
    assert reading.value == 40
    assert reading.classification == "Fear"
    assert reading.timestamp == datetime(2025, 3, 1, tzinfo=UTC)
    assert reading.time_until_update_s == 42983
    assert reading.source == "Alternative.me"


async def test_fear_greed_api_error_is_a_provider_error(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(FEAR_GREED_URL).mock(return_value=json_fixture("fng_error.json"))
    with pytest.raises(ProviderError, match="Invalid limit"):
        await fng(http, clock).latest()


async def test_fear_greed_value_outside_0_100_is_malformed(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    router.get(FEAR_GREED_URL).mock(return_value=json_fixture("fng_bad_value.json"))
    with pytest.raises(MalformedResponseError, match="not 0-100"):
        await fng(http, clock).latest()


async def test_fear_greed_html_and_429(
    router: respx.MockRouter, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    route = router.get(FEAR_GREED_URL).mock(
        side_effect=[
            httpx.Response(429, text="rate limited", headers={"Retry-After": "2"}),
            feed_response("maintenance_200.html", content_type="text/html"),
            feed_response("maintenance_200.html", content_type="text/html"),
        ]
    )
    client = fng(http, clock)
    with pytest.raises(MalformedResponseError, match="HTML page instead of JSON"):
        await client.latest()  # 429, then HTML
    assert clock.slept[0] == 2.0
    assert route.call_count == 2
