"""``SentimentService``: news-headline sentiment for one coin or the whole market.

How a report is made:

1. **Headlines.** The live news source (:class:`tools.market.providers.NewsClient`) is read
   at most every ``news_ttl_s`` seconds. If it fails, a batch fetched within the last
   ``stale_news_s`` seconds is used and its age stated; failing that (or with no live
   source: offline mode) the offline headline file is used, and the report says
   ``offline: bundled sample headlines, not live news``. A sample is never passed off as
   news.
2. **Selection.** Headlines published within ``max_age_hours`` of the reference time count
   (the reference is now for live news, the newest headline for a file, whose dates are
   fixed). Undated headlines are left out (their recency is unknown), duplicates (same link
   or same title) are counted once. For a coin, :class:`tools.analysis.headlines.CoinMatcher`
   keeps the headlines that mention it; with no coin, all of them count (market-wide).
3. **Scores.** The scorer (VADER by default) gives each title a compound score in
   ``[-1, 1]``. The aggregate is the recency-weighted mean, weight ``0.5 ** (age_h /
   half_life_hours)`` (12 h half-life by default: a day-old headline counts a quarter as
   much as a fresh one).
4. **Label** of the aggregate score ``s`` (:func:`label_for`):

   =========================  ==============
   ``s <= -0.35``             very bearish
   ``-0.35 < s <= -0.10``     bearish
   ``-0.10 < s <   0.10``     neutral
   ``0.10 <= s <   0.35``     bullish
   ``s >= 0.35``              very bullish
   =========================  ==============

   Single headlines count as positive or negative at ``|score| >= 0.05`` (VADER's usual
   cut-off); the aggregate needs more, because averaging many mostly neutral headlines
   shrinks it: 0.10 is about a third of the headlines clearly one way, 0.35 most of them.
   Fewer than :data:`MIN_CONFIDENT` headlines add a "weak evidence" note.
5. **Context.** The Crypto Fear & Greed Index (market-wide, daily) is added when its source
   answers; without it the report says so. It never changes the headline score.

No headline for the coin gives a report with ``score=None`` and a plain message, never an
invented number.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from tools.analysis.headlines import CoinMatcher, HeadlineFile, load_headline_file
from tools.analysis.sentiment_models import SentimentScorer
from tools.clock import Clock
from tools.errors import UpstreamError
from tools.market.cache import TTLCache
from tools.market.format import format_age
from tools.market.providers.news import FearGreedReading, Headline, NewsBatch
from tools.market.symbols import SymbolResolver
from tools.market.types import CoinRef

logger = logging.getLogger(__name__)

#: Thresholds on the weighted mean score (see the module docstring).
VERY_BEARISH_MAX = -0.35
BEARISH_MAX = -0.10
BULLISH_MIN = 0.10
VERY_BULLISH_MIN = 0.35
#: A single headline is positive/negative from this absolute score on.
HEADLINE_POLARITY = 0.05
#: Fewer headlines than this make a report "weak evidence".
MIN_CONFIDENT = 3
#: Published times this far in the future (clock skew) still count as "now".
FUTURE_SKEW = timedelta(hours=1)

OFFLINE_NOTICE = "offline: bundled sample headlines, not live news"


class SentimentLabel(StrEnum):
    """The verbal label of an aggregate score."""

    VERY_BEARISH = "very bearish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"
    BULLISH = "bullish"
    VERY_BULLISH = "very bullish"


class NewsOrigin(StrEnum):
    """Where the headlines of a report came from."""

    LIVE = "live"
    CACHED = "cached"
    OFFLINE = "offline"


def label_for(score: float) -> SentimentLabel:
    """The label of an aggregate score (thresholds in the module docstring)."""
    if score <= VERY_BEARISH_MAX:
        return SentimentLabel.VERY_BEARISH
    if score <= BEARISH_MAX:
        return SentimentLabel.BEARISH
    if score < BULLISH_MIN:
        return SentimentLabel.NEUTRAL
    if score < VERY_BULLISH_MIN:
        return SentimentLabel.BULLISH
    return SentimentLabel.VERY_BULLISH


class HeadlineSource(Protocol):
    """A live source of headlines (:class:`tools.market.providers.NewsClient`)."""

    async def fetch_headlines(self) -> NewsBatch:
        """Fetch the current headlines; raise an ``UpstreamError`` when none can be read."""
        ...


class FearGreedSource(Protocol):
    """A source of the Fear & Greed Index (:class:`tools.market.providers.FearGreedClient`)."""

    async def latest(self) -> FearGreedReading:
        """The latest reading; raise an ``UpstreamError`` when unavailable."""
        ...


@dataclass(frozen=True, slots=True)
class ScoredHeadline:
    """A headline with its score and weight in the aggregate.

    Attributes:
        headline: The headline.
        score: Compound score in ``[-1, 1]``.
        weight: Recency weight in ``(0, 1]``.
        age_hours: Hours before the report's reference time.
    """

    headline: Headline
    score: float
    weight: float
    age_hours: float

    @property
    def contribution(self) -> float:
        """``score * weight``: how much this headline pulled the aggregate."""
        return self.score * self.weight


@dataclass(frozen=True, slots=True)
class SentimentReport:
    """Headline sentiment for a coin or the market, with its provenance.

    Attributes:
        coin: The coin, or ``None`` for the market as a whole.
        score: Recency-weighted mean compound score in ``[-1, 1]``; ``None`` when no
            headline matched.
        label: The score's label; ``None`` with the score.
        method: Scorer used (``"vader"``, ``"transformers:<model>"``).
        headlines_used: Headlines that went into the score.
        headlines_scanned: Recent, dated, distinct headlines that were searched.
        positive: Used headlines with score >= 0.05.
        negative: Used headlines with score <= -0.05.
        neutral: The rest of the used headlines.
        top_positive: The headlines that pulled the score up most, strongest first.
        top_negative: The headlines that pulled it down most, strongest first.
        fear_greed: Market-wide Fear & Greed reading, when available.
        origin: Live, cached or offline headlines.
        sources: Feeds (or the file) the headlines came from.
        failed_sources: Feeds that did not answer.
        window_start: Oldest publication time that counted.
        window_end: The reference time (now, or the file's newest headline).
        generated_at: When the report was made.
        notice: Set whenever the headlines are not live news; show it first.
        message: Set when there is no score, saying why.
        notes: Further provenance (ambiguous ticker, failed feeds, weak evidence...).
    """

    coin: CoinRef | None
    score: float | None
    label: SentimentLabel | None
    method: str
    headlines_used: int
    headlines_scanned: int
    positive: int
    negative: int
    neutral: int
    top_positive: tuple[ScoredHeadline, ...]
    top_negative: tuple[ScoredHeadline, ...]
    fear_greed: FearGreedReading | None
    origin: NewsOrigin
    sources: tuple[str, ...]
    failed_sources: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    generated_at: datetime
    notice: str | None = None
    message: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """``"Bitcoin (BTC)"`` or ``"the crypto market"``."""
        return f"{self.coin.name} ({self.coin.symbol})" if self.coin else "the crypto market"


@dataclass(frozen=True, slots=True)
class _Pool:
    headlines: tuple[Headline, ...]
    origin: NewsOrigin
    sources: tuple[str, ...]
    failed: tuple[str, ...]
    reference: datetime
    notice: str | None
    notes: tuple[str, ...]


class SentimentService:
    """Headline sentiment for a coin or the market.

    Live::

        news = NewsClient(build_client("", user_agent=NEWS_USER_AGENT))
        fng = FearGreedClient(build_client("https://api.alternative.me"))
        service = SentimentService(news, fng, resolver, make_scorer(model_path), SystemClock())

    Offline (bundled sample, or ``offline_headlines_path``)::

        service = SentimentService(None, None, resolver, VaderScorer(), SystemClock())

    Args:
        news_source: Live headlines; ``None`` for offline mode.
        fear_greed_source: Fear & Greed Index; ``None`` to leave it out.
        resolver: Resolves the user's symbol; its coins feed the headline matcher.
        scorer: Sentiment scorer.
        clock: Time source.
        offline_headlines_path: Headline file for offline mode and for live outages
            (default: the bundled sample).
        max_age_hours: Headlines older than this (before the reference time) are ignored.
        half_life_hours: Recency half-life of a headline's weight.
        top_n: Driving headlines listed per side.
        news_ttl_s: How long a fetched batch is reused.
        stale_news_s: How old a cached batch may be when the feeds fail.
    """

    def __init__(
        self,
        news_source: HeadlineSource | None,
        fear_greed_source: FearGreedSource | None,
        resolver: SymbolResolver,
        scorer: SentimentScorer,
        clock: Clock,
        offline_headlines_path: Path | str | None = None,
        max_age_hours: float = 48.0,
        *,
        half_life_hours: float = 12.0,
        top_n: int = 3,
        news_ttl_s: float = 300.0,
        stale_news_s: float = 3600.0,
    ) -> None:
        if max_age_hours <= 0 or half_life_hours <= 0:
            raise ValueError("max_age_hours and half_life_hours must be positive")
        self._news = news_source
        self._fear_greed = fear_greed_source
        self._resolver = resolver
        self._scorer = scorer
        self._clock = clock
        self._offline_path = offline_headlines_path
        self._offline: HeadlineFile | None = None
        self.max_age = timedelta(hours=max_age_hours)
        self.half_life_hours = half_life_hours
        self.top_n = top_n
        self.stale_news_s = stale_news_s
        self._news_cache: TTLCache[str, NewsBatch] = TTLCache(
            news_ttl_s, max_entries=1, clock=clock
        )
        self._fng_cache: TTLCache[str, FearGreedReading] = TTLCache(
            600.0, max_entries=1, clock=clock
        )

    @property
    def offline(self) -> bool:
        """Whether the service reads only the headline file."""
        return self._news is None

    async def analyse(self, symbol: str | None = None) -> SentimentReport:
        """Sentiment of recent headlines about ``symbol``, or market-wide without one.

        Args:
            symbol: Ticker or name (``"btc"``, ``"Bitcoin"``); ``None``/blank for the market.

        Returns:
            The report; ``score`` is ``None`` (with ``message``) when no headline matched.

        Raises:
            InvalidSymbolError: The symbol cannot be a coin.
            UnknownSymbolError: No coin matches it.
            ConfigurationError: The offline headline file is needed but unusable.
        """
        coin: CoinRef | None = None
        notes: list[str] = []
        if symbol is not None and symbol.strip():
            resolution = await self._resolver.resolve(symbol)
            coin = resolution.coin
            if resolution.note:
                notes.append(resolution.note)
        pool, fear_greed = await asyncio.gather(self._pool(), self._latest_fear_greed())
        notes.extend(pool.notes)
        start = pool.reference - self.max_age
        recent = _distinct(
            h
            for h in pool.headlines
            if h.published is not None and start <= h.published <= pool.reference + FUTURE_SKEW
        )
        undated = sum(1 for h in pool.headlines if h.published is None)
        if undated:
            notes.append(f"{undated} undated headline(s) left out.")
        if coin is None:
            chosen = recent
        else:
            matcher = CoinMatcher([*self._resolver.coins(), coin])
            chosen = matcher.select(recent, coin)
        if fear_greed is None and self._fear_greed is not None:
            notes.append("Fear & Greed Index unavailable right now.")

        report = SentimentReport(
            coin=coin,
            score=None,
            label=None,
            method=self._scorer.method,
            headlines_used=0,
            headlines_scanned=len(recent),
            positive=0,
            negative=0,
            neutral=0,
            top_positive=(),
            top_negative=(),
            fear_greed=fear_greed,
            origin=pool.origin,
            sources=pool.sources,
            failed_sources=pool.failed,
            window_start=start,
            window_end=pool.reference,
            generated_at=self._clock.now(),
            notice=pool.notice,
            notes=notes,
        )
        if not chosen:
            return replace(report, message=self._no_headlines_message(coin, len(recent), pool))

        scores = await asyncio.to_thread(self._scorer.score, [h.title for h in chosen])
        scored = [self._scored(h, s, pool.reference) for h, s in zip(chosen, scores, strict=True)]
        total_weight = sum(s.weight for s in scored)
        score = max(-1.0, min(1.0, sum(s.contribution for s in scored) / total_weight))
        if self._scorer.note:
            notes.append(self._scorer.note)
        if len(scored) < MIN_CONFIDENT:
            notes.append(f"Only {len(scored)} headline(s): weak evidence, read with care.")
        ups = sorted((s for s in scored if s.score >= HEADLINE_POLARITY), key=_pull, reverse=True)
        downs = sorted((s for s in scored if s.score <= -HEADLINE_POLARITY), key=_pull)
        return replace(
            report,
            score=score,
            label=label_for(score),
            method=self._scorer.method,
            headlines_used=len(scored),
            positive=len(ups),
            negative=len(downs),
            neutral=len(scored) - len(ups) - len(downs),
            top_positive=tuple(ups[: self.top_n]),
            top_negative=tuple(downs[: self.top_n]),
        )

    # -- headlines ------------------------------------------------------------------------

    async def _pool(self) -> _Pool:
        if self._news is None:
            return await self._from_file(live_failed=False)
        news = self._news
        try:
            batch = await self._news_cache.get_or_load("news", news.fetch_headlines)
        except UpstreamError as exc:
            logger.warning("Live news unavailable: %s", exc)
            hit = self._news_cache.get("news")
            if hit is not None and hit.age_seconds <= self.stale_news_s:
                age = format_age(hit.age_seconds)
                return self._from_batch(
                    hit.value,
                    NewsOrigin.CACHED,
                    notice=f"Live news feeds are unreachable; using headlines fetched {age} ago.",
                )
            return await self._from_file(live_failed=True)
        return self._from_batch(batch, NewsOrigin.LIVE, notice=None)

    def _from_batch(self, batch: NewsBatch, origin: NewsOrigin, notice: str | None) -> _Pool:
        failed = tuple(f.source for f in batch.failures)
        notes = (f"Feeds that did not answer: {', '.join(failed)}.",) if failed else ()
        return _Pool(
            headlines=batch.headlines,
            origin=origin,
            sources=batch.sources,
            failed=failed,
            reference=self._clock.now(),
            notice=notice,
            notes=notes,
        )

    async def _from_file(self, *, live_failed: bool) -> _Pool:
        if self._offline is None:
            self._offline = await asyncio.to_thread(load_headline_file, self._offline_path)
        file = self._offline
        newest, oldest = file.newest, file.oldest
        what = OFFLINE_NOTICE if file.bundled else f"offline: headlines from {file.path.name}"
        if not file.bundled:
            what += ", not live news"
        if newest is not None and oldest is not None:
            what += f" (dated {oldest:%Y-%m-%d} to {newest:%Y-%m-%d})"
        notice = f"Live news feeds are unreachable; {what}." if live_failed else f"{what}."
        return _Pool(
            headlines=file.headlines,
            origin=NewsOrigin.OFFLINE,
            sources=("bundled sample" if file.bundled else file.path.name,),
            failed=(),
            reference=newest or self._clock.now(),
            notice=notice[0].upper() + notice[1:],
            notes=(),
        )

    async def _latest_fear_greed(self) -> FearGreedReading | None:
        source = self._fear_greed
        if source is None:
            return None
        try:
            return await self._fng_cache.get_or_load("fng", source.latest)
        except UpstreamError as exc:
            logger.info("Fear & Greed Index unavailable: %s", exc)
            hit = self._fng_cache.get("fng")
            return hit.value if hit is not None and hit.age_seconds <= 86_400 else None

    # -- scoring --------------------------------------------------------------------------

    def _scored(self, headline: Headline, score: float, reference: datetime) -> ScoredHeadline:
        published = headline.published or reference  # undated headlines never get here
        age_h = max(0.0, (reference - published).total_seconds() / 3600)
        weight = math.pow(0.5, age_h / self.half_life_hours)
        return ScoredHeadline(headline, max(-1.0, min(1.0, score)), weight, age_h)

    def _no_headlines_message(self, coin: CoinRef | None, scanned: int, pool: _Pool) -> str:
        hours = self.max_age.total_seconds() / 3600
        window = f"{hours:g} h"
        where = ", ".join(pool.sources) or "no source"
        if coin is None:
            return (
                f"No dated headlines from the last {window} ({where}), so there is no "
                "sentiment score."
            )
        return (
            f"No headline from the last {window} mentions {coin.name} ({coin.symbol}) "
            f"({scanned} scanned from {where}), so there is no sentiment score for it."
        )


def _pull(scored: ScoredHeadline) -> float:
    return scored.contribution


def _distinct(headlines: Iterable[Headline]) -> list[Headline]:
    """Drop repeats of the same story (same link, or same title ignoring case/spacing)."""
    seen: set[str] = set()
    out: list[Headline] = []
    for headline in headlines:
        keys = {"t:" + " ".join(headline.title.lower().split())}
        if headline.url:
            keys.add("u:" + headline.url.split("?", 1)[0].rstrip("/"))
        if keys & seen:
            continue
        seen |= keys
        out.append(headline)
    return out
