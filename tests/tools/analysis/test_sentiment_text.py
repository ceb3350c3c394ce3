"""The compact chat rendering of sentiment reports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tools.analysis.sentiment import (
    NewsOrigin,
    ScoredHeadline,
    SentimentLabel,
    SentimentReport,
)
from tools.analysis.text_sentiment import method_label, sentiment_text
from tools.market.providers.news import FearGreedReading, Headline
from tools.market.types import CoinRef

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BTC = CoinRef("bitcoin", "BTC", "Bitcoin", 1)


def scored(title: str, score: float, hours: float, url: str | None = None) -> ScoredHeadline:
    headline = Headline(title, url, "CoinDesk", NOW - timedelta(hours=hours), "")
    return ScoredHeadline(headline, score, 0.5 ** (hours / 12), hours)


REPORT = SentimentReport(
    coin=BTC,
    score=-0.18,
    label=SentimentLabel.BEARISH,
    method="vader",
    headlines_used=14,
    headlines_scanned=60,
    positive=5,
    negative=6,
    neutral=3,
    top_positive=(scored("Bitcoin rebounds 5% as short sellers are squeezed", 0.34, 2),),
    top_negative=(
        scored(
            "Bitcoin's funding rates turn negative", -0.77, 22, url="https://www.coindesk.com/a"
        ),
    ),
    fear_greed=FearGreedReading(40, "Fear", datetime(2025, 3, 1, tzinfo=UTC)),
    origin=NewsOrigin.LIVE,
    sources=("CoinDesk", "Cointelegraph"),
    failed_sources=("The Block",),
    window_start=NOW - timedelta(hours=48),
    window_end=NOW,
    generated_at=NOW,
    notes=["Feeds that did not answer: The Block."],
)


def test_live_report() -> None:
    assert sentiment_text(REPORT).splitlines() == [
        "Bitcoin (BTC) news sentiment: bearish (-0.18), 14 headlines (5 up, 6 down, 3 flat)",
        'Pulling up: +0.34 "Bitcoin rebounds 5% as short sellers are squeezed" (CoinDesk, 2 h)',
        'Pulling down: -0.77 "Bitcoin\'s funding rates turn negative" (CoinDesk, 22 h)',
        "Fear & Greed (market-wide, Alternative.me): 40, Fear (2025-03-01)",
        "Method: VADER lexicon; live: CoinDesk, Cointelegraph; last 48 h, recent headlines "
        "weigh more",
        "Feeds that did not answer: The Block.",
    ]


def test_links_on_request() -> None:
    text = sentiment_text(REPORT, show_links=True)
    assert "\n  https://www.coindesk.com/a\n" in text


def test_offline_notice_comes_first_and_times_are_dates() -> None:
    offline = replace(
        REPORT,
        coin=None,
        origin=NewsOrigin.OFFLINE,
        sources=("bundled sample",),
        fear_greed=None,
        notice="Offline: bundled sample headlines, not live news (dated 2025-02-27 to 2025-03-01).",
        notes=[],
    )
    lines = sentiment_text(offline).splitlines()
    assert lines[0].startswith("Offline: bundled sample headlines, not live news")
    assert lines[1].startswith("The crypto market news sentiment: bearish")
    assert lines[2].endswith("(CoinDesk, 2025-03-01 10:00 UTC)")
    assert lines[-1] == (
        "Method: VADER lexicon; offline: bundled sample; 48 h up to 2025-03-01 12:00 UTC, "
        "recent headlines weigh more"
    )


def test_no_score_shows_the_message_and_no_invented_numbers() -> None:
    empty = replace(
        REPORT,
        score=None,
        label=None,
        headlines_used=0,
        positive=0,
        negative=0,
        neutral=0,
        top_positive=(),
        top_negative=(),
        message="No headline from the last 48 h mentions Solana (SOL).",
        notes=[],
        fear_greed=None,
    )
    text = sentiment_text(empty)
    assert text.splitlines()[0] == "No headline from the last 48 h mentions Solana (SOL)."
    assert "sentiment:" not in text and "Pulling" not in text


def test_long_titles_are_clipped_and_methods_named() -> None:
    long = replace(REPORT, top_positive=(scored("Bitcoin " * 40, 0.5, 1),), top_negative=())
    line = sentiment_text(long).splitlines()[1]
    assert line.endswith('Bitcoin..." (CoinDesk, 60 min)') and len(line) < 160
    assert method_label("transformers:finbert") == "model finbert"
    assert method_label("vader") == "VADER lexicon"
    assert method_label("other") == "other"
