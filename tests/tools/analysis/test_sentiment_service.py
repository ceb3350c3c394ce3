"""SentimentService: selection, weighting, labels, fallbacks and provenance."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.tools.market.fakes import FakeMarket
from tools.analysis.headlines import CoinMatcher, load_headline_file
from tools.analysis.sentiment import (
    OFFLINE_NOTICE,
    NewsOrigin,
    SentimentLabel,
    SentimentService,
    label_for,
)
from tools.analysis.sentiment_models import VaderScorer
from tools.clock import FakeClock
from tools.errors import ConfigurationError, UnknownSymbolError
from tools.market.providers.http import ProviderError
from tools.market.providers.news import (
    FearGreedReading,
    FeedFailure,
    Headline,
    NewsBatch,
    NewsUnavailableError,
)
from tools.market.symbols import SymbolResolver, embedded_coins

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NEWS_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "news"
READING = FearGreedReading(40, "Fear", datetime(2025, 3, 1, tzinfo=UTC), 42983)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def h(title: str, hours: float | None = 1.0, url: str | None = None, source: str = "CoinDesk"):
    return Headline(title, url, source, None if hours is None else ago(hours), "")


def batch(*headlines: Headline, failures: Sequence[FeedFailure] = ()) -> NewsBatch:
    return NewsBatch(tuple(headlines), ("CoinDesk", "Decrypt"), tuple(failures), NOW)


class FakeNews:
    """Answers with the queued batches (or raises the queued errors), counting calls."""

    def __init__(self, *answers: NewsBatch | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def fetch_headlines(self) -> NewsBatch:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeFearGreed:
    def __init__(self, answer: FearGreedReading | Exception) -> None:
        self.answer = answer

    async def latest(self) -> FearGreedReading:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class TableScorer:
    """Scores by a lookup table (0 for unknown titles) and records what it was asked."""

    method = "table"

    def __init__(self, table: Mapping[str, float], note: str | None = None) -> None:
        self.table = dict(table)
        self.note = note
        self.asked: list[list[str]] = []

    def score(self, texts: Sequence[str]) -> list[float]:
        self.asked.append(list(texts))
        return [self.table.get(t, 0.0) for t in texts]


def down() -> NewsUnavailableError:
    return NewsUnavailableError("news", "all 5 feeds failed", retryable=True)


def service(
    news: FakeNews | None,
    scorer: object | None = None,
    *,
    clock: FakeClock | None = None,
    fear_greed: FakeFearGreed | None = None,
    **kw: object,
) -> SentimentService:
    return SentimentService(
        news,
        fear_greed,
        SymbolResolver(FakeMarket()),
        scorer or TableScorer({}),  # type: ignore[arg-type]
        clock or FakeClock(NOW),
        **kw,  # type: ignore[arg-type]
    )


# -- scoring and labels -------------------------------------------------------------------


async def test_recency_weighted_mean_label_counts_and_drivers() -> None:
    scorer = TableScorer(
        {
            "Bitcoin rallies": 0.8,
            "BTC slides on outflows": -0.4,
            "Bitcoin miners meet": 0.02,
            "Bitcoin ETF inflows return": 0.2,
            "Ether rallies": 0.9,
        }
    )
    news = FakeNews(
        batch(
            h("Bitcoin rallies", 0),
            h("BTC slides on outflows", 12),
            h("Bitcoin miners meet", 12),
            h("Bitcoin ETF inflows return", 24),
            h("Ether rallies", 0),
        )
    )

    report = await service(news, scorer).analyse("btc")

    weights = [1.0, 0.5, 0.5, 0.25]
    expected = (0.8 * 1 - 0.4 * 0.5 + 0.02 * 0.5 + 0.2 * 0.25) / sum(weights)
    assert report.score == pytest.approx(expected) == pytest.approx(0.2933, abs=1e-4)
    assert report.label is SentimentLabel.BULLISH
    assert report.coin is not None and report.coin.symbol == "BTC"
    assert report.subject == "Bitcoin (BTC)"
    assert (report.headlines_used, report.headlines_scanned) == (4, 5)
    assert (report.positive, report.negative, report.neutral) == (2, 1, 1)
    assert [s.headline.title for s in report.top_positive] == [
        "Bitcoin rallies",
        "Bitcoin ETF inflows return",
    ]
    assert [s.headline.title for s in report.top_negative] == ["BTC slides on outflows"]
    assert report.top_negative[0].weight == pytest.approx(0.5)
    assert report.top_negative[0].age_hours == pytest.approx(12)
    assert report.method == "table"
    assert report.origin is NewsOrigin.LIVE
    assert report.notice is None and report.message is None
    assert scorer.asked == [
        [
            "Bitcoin rallies",
            "BTC slides on outflows",
            "Bitcoin miners meet",
            "Bitcoin ETF inflows return",
        ]
    ]


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (-1.0, SentimentLabel.VERY_BEARISH),
        (-0.35, SentimentLabel.VERY_BEARISH),
        (-0.349, SentimentLabel.BEARISH),
        (-0.10, SentimentLabel.BEARISH),
        (-0.099, SentimentLabel.NEUTRAL),
        (0.0, SentimentLabel.NEUTRAL),
        (0.099, SentimentLabel.NEUTRAL),
        (0.10, SentimentLabel.BULLISH),
        (0.349, SentimentLabel.BULLISH),
        (0.35, SentimentLabel.VERY_BULLISH),
        (1.0, SentimentLabel.VERY_BULLISH),
    ],
)
def test_label_thresholds(score: float, label: SentimentLabel) -> None:
    assert label_for(score) is label


async def test_market_wide_uses_every_recent_headline() -> None:
    scorer = TableScorer({"Crypto funds see outflows": -0.5, "Ether rallies": 0.5})
    news = FakeNews(batch(h("Crypto funds see outflows", 0), h("Ether rallies", 0)))

    report = await service(news, scorer).analyse()

    assert report.coin is None and report.subject == "the crypto market"
    assert report.headlines_used == 2
    assert report.score == pytest.approx(0.0)
    assert report.label is SentimentLabel.NEUTRAL


async def test_window_undated_future_and_duplicates() -> None:
    news = FakeNews(
        batch(
            h("Bitcoin fresh", 0.5, url="https://x.test/a?utm_source=rss"),
            h("Bitcoin fresh copy", 0.5, url="https://x.test/a/"),
            h("BITCOIN   fresh", 0.7, source="Decrypt"),
            h("Bitcoin old", 48.5),
            h("Bitcoin undated", None),
            h("Bitcoin slightly future", -0.5),
            h("Bitcoin far future", -3),
        )
    )

    report = await service(news).analyse("bitcoin")

    assert report.headlines_used == 2  # "fresh" once, "slightly future"
    assert report.headlines_scanned == 2
    assert "1 undated headline(s) left out." in report.notes
    assert report.window_end == NOW and report.window_start == ago(48)


async def test_no_headline_for_the_coin_gives_a_message_not_a_score() -> None:
    scorer = TableScorer({"Bitcoin rallies": 0.8})
    report = await service(FakeNews(batch(h("Bitcoin rallies"))), scorer).analyse("SOL")

    assert report.score is None and report.label is None
    assert report.headlines_used == 0 and report.headlines_scanned == 1
    assert report.top_positive == () and report.top_negative == ()
    assert report.message is not None
    assert "Solana (SOL)" in report.message
    assert "1 scanned from CoinDesk, Decrypt" in report.message
    assert "no sentiment score" in report.message
    assert scorer.asked == []


async def test_no_recent_headline_at_all_market_wide() -> None:
    report = await service(FakeNews(batch(h("Ether rallies", 72)))).analyse(None)
    assert report.score is None
    assert report.message is not None and report.message.startswith("No dated headlines")


async def test_unknown_symbol_raises() -> None:
    with pytest.raises(UnknownSymbolError):
        await service(FakeNews(batch())).analyse("notacoin")


async def test_few_headlines_are_flagged_as_weak_evidence() -> None:
    report = await service(FakeNews(batch(h("Bitcoin rallies")))).analyse("btc")
    assert any("weak evidence" in n for n in report.notes)


# -- provenance and fallbacks -------------------------------------------------------------


async def test_failed_feeds_are_named() -> None:
    news = FakeNews(batch(h("Bitcoin rallies"), failures=[FeedFailure("The Block", "HTTP 403")]))
    report = await service(news).analyse("btc")
    assert report.failed_sources == ("The Block",)
    assert "Feeds that did not answer: The Block." in report.notes
    assert report.sources == ("CoinDesk", "Decrypt")


async def test_batches_are_reused_within_the_ttl() -> None:
    clock = FakeClock(NOW)
    news = FakeNews(batch(h("Bitcoin rallies")))
    svc = service(news, clock=clock)

    await svc.analyse("btc")
    clock.advance(120)
    await svc.analyse("eth")
    assert news.calls == 1
    clock.advance(200)
    await svc.analyse("btc")
    assert news.calls == 2


async def test_outage_uses_a_recent_batch_and_says_how_old() -> None:
    clock = FakeClock(NOW)
    scorer = TableScorer({"Bitcoin rallies": 0.6})
    news = FakeNews(batch(h("Bitcoin rallies", 0)), down())
    svc = service(news, scorer, clock=clock)
    await svc.analyse("btc")

    clock.advance(600)
    report = await svc.analyse("btc")

    assert news.calls == 2
    assert report.origin is NewsOrigin.CACHED
    assert report.notice == "Live news feeds are unreachable; using headlines fetched 10 min ago."
    assert report.score == pytest.approx(0.6)


async def test_outage_without_a_recent_batch_falls_back_to_the_bundled_sample() -> None:
    report = await service(FakeNews(down()), VaderScorer()).analyse("btc")

    assert report.origin is NewsOrigin.OFFLINE
    assert report.notice is not None
    assert report.notice.startswith(
        "Live news feeds are unreachable; offline: bundled sample headlines, not live news"
    )
    assert report.sources == ("bundled sample",)
    sample = load_headline_file()
    assert report.window_end == sample.newest
    assert report.score is not None
    assert report.method == "vader"


async def test_offline_mode_reads_the_bundled_sample_and_says_so() -> None:
    clock = FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))  # long after the sample
    svc = service(None, VaderScorer(), clock=clock)

    report = await svc.analyse("btc")

    sample = load_headline_file()
    btc = next(c for c in embedded_coins() if c.symbol == "BTC")
    expected = CoinMatcher(embedded_coins()).select(sample.headlines, btc)
    assert svc.offline
    assert sample.oldest is not None and sample.newest is not None
    dated = f"dated {sample.oldest:%Y-%m-%d} to {sample.newest:%Y-%m-%d}"
    assert report.notice == f"Offline: bundled sample headlines, not live news ({dated})."
    assert OFFLINE_NOTICE in report.notice.lower()
    assert report.origin is NewsOrigin.OFFLINE
    assert report.headlines_used == len(expected) >= 10
    assert report.label is not None
    assert report.fear_greed is None
    assert not any("Fear & Greed" in n for n in report.notes)
    assert report.generated_at == clock.now()


async def test_a_configured_offline_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    path.write_text(
        json.dumps(
            {
                "headlines": [
                    {"title": "Bitcoin rallies", "published": "2025-03-01T10:00:00Z"},
                    {"title": "Bitcoin dips", "published": "2025-02-20T10:00:00Z"},
                ]
            }
        ),
        encoding="utf-8",
    )
    scorer = TableScorer({"Bitcoin rallies": 0.5})

    report = await service(None, scorer, offline_headlines_path=path).analyse("btc")

    assert report.notice == (
        "Offline: headlines from desk.json, not live news (dated 2025-02-20 to 2025-03-01)."
    )
    assert report.sources == ("desk.json",)
    assert report.headlines_used == 1  # the other one is more than 48 h before the newest
    assert report.score == pytest.approx(0.5)


async def test_an_unusable_configured_file_is_a_configuration_error(tmp_path: Path) -> None:
    svc = service(FakeNews(down()), offline_headlines_path=tmp_path / "missing.json")
    with pytest.raises(ConfigurationError):
        await svc.analyse("btc")


async def test_fear_greed_is_context_and_its_outage_is_noted() -> None:
    news = FakeNews(batch(h("Bitcoin rallies")))
    scorer = TableScorer({"Bitcoin rallies": 0.5})

    with_fng = await service(news, scorer, fear_greed=FakeFearGreed(READING)).analyse("btc")
    broken = FakeFearGreed(ProviderError("alternative_me", "HTTP 503", status=503))
    without = await service(news, scorer, fear_greed=broken).analyse("btc")

    assert with_fng.fear_greed == READING
    assert with_fng.score == without.score == pytest.approx(0.5)  # context only
    assert without.fear_greed is None
    assert "Fear & Greed Index unavailable right now." in without.notes


async def test_scorer_fallback_note_reaches_the_report() -> None:
    scorer = TableScorer(
        {}, note="model 'finbert' not used (no model directory); scored with VADER"
    )
    report = await service(FakeNews(batch(h("Bitcoin rallies"))), scorer).analyse("btc")
    assert scorer.note in report.notes


def test_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError):
        service(None, max_age_hours=0)


async def test_live_pipeline_over_recorded_feeds() -> None:
    """NewsClient (over recorded feeds) -> SentimentService -> report, nothing mocked above."""
    import httpx
    import respx

    from tools.market.providers import FeedSpec, NewsClient, RetryPolicy

    feeds = (
        FeedSpec("coindesk", "CoinDesk", "https://www.coindesk.com/arc/outboundfeeds/rss/"),
        FeedSpec("cointelegraph", "Cointelegraph", "https://cointelegraph.com/rss"),
        FeedSpec("theblock", "The Block", "https://www.theblock.co/rss.xml"),
    )
    clock = FakeClock(datetime(2025, 3, 1, 12, 3, 17, tzinfo=UTC))
    with respx.mock(assert_all_mocked=True) as router:
        for feed, name in zip(
            feeds[:2], ("coindesk_rss.xml", "cointelegraph_rss.xml"), strict=True
        ):
            router.get(feed.url).mock(
                return_value=httpx.Response(200, content=(NEWS_FIXTURES / name).read_bytes())
            )
        router.get(feeds[2].url).mock(return_value=httpx.Response(503, text="down"))
        async with httpx.AsyncClient() as http:
            news = NewsClient(
                http, feeds, clock=clock, sleep=clock.sleep, policy=RetryPolicy(max_attempts=1)
            )
            svc = SentimentService(
                news,
                FakeFearGreed(READING),
                SymbolResolver(FakeMarket()),
                VaderScorer(),
                clock,
            )
            report = await svc.analyse("ETH")

    titles = {s.headline.title for s in report.top_positive + report.top_negative}
    assert report.origin is NewsOrigin.LIVE and report.notice is None
    assert report.sources == ("CoinDesk", "Cointelegraph")
    assert report.failed_sources == ("The Block",)
    # Ether rallies (CoinDesk), the Bybit hack (Cointelegraph), the price analysis list.
    assert report.headlines_used == 3
    assert "Ether Rallies 6% as Pectra Upgrade Date Is Confirmed" in titles
    assert "Bybit hack: Lazarus launders $300M of stolen ETH in 10 days" in titles
    assert report.fear_greed == READING
