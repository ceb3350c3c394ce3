"""Crypto news headlines from RSS/Atom feeds, and the Crypto Fear & Greed Index.

:class:`NewsClient` reads the public feeds of major crypto news sites (:data:`DEFAULT_FEEDS`)
concurrently. Every feed is fetched with httpx through :func:`request_body` (the shared
retry, ``Retry-After`` and circuit-breaker path, one breaker per feed) and the bytes are
parsed with feedparser. feedparser is handed a byte stream, never a URL or a string: given
a string it would fetch URLs or open local files itself.

A feed that fails (timeout, 429, 5xx, an HTML error or challenge page, XML that is not a
feed) is logged and reported in :attr:`NewsBatch.failures`; the others still count. Only when
every feed fails does :meth:`NewsClient.fetch_headlines` raise :class:`NewsUnavailableError`.
A well-formed feed with no items is not an error.

:class:`FearGreedClient` reads the latest value of Alternative.me's Crypto Fear & Greed
Index (``https://api.alternative.me/fng/?limit=1``), a market-wide 0-100 gauge updated daily.

Feeds were checked against the sites' published feed addresses; they move now and then,
so redirects are followed and the list is configurable.
"""

from __future__ import annotations

import asyncio
import calendar
import html
import io
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tools.clock import Clock, Sleeper, SystemClock
from tools.market.providers.breaker import CircuitBreaker
from tools.market.providers.http import (
    MalformedResponseError,
    ProviderError,
    RetryPolicy,
    display_name,
    request_body,
    request_json,
)
from tools.market.providers.parsing import expect_dict, numeric_text

logger = logging.getLogger(__name__)

NEWS_PROVIDER = "news"
FEAR_GREED_PROVIDER = "alternative_me"
FEAR_GREED_URL = "https://api.alternative.me/fng/"

#: ``User-Agent`` for feed requests (pass to ``build_client``); some sites refuse blank ones.
NEWS_USER_AGENT = "CryptoGuard/1.0 (news reader; RSS/Atom)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)

#: A chat answer should not wait long for one slow feed: two attempts, short backoff.
NEWS_POLICY = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=2.0, max_retry_after=10.0)

#: Bodies larger than this are refused (real feeds are well under 1 MB).
MAX_FEED_BYTES = 5_000_000
#: Items kept per feed (newest first as the feed lists them).
MAX_ITEMS_PER_FEED = 50
_SUMMARY_CHARS = 400
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_XML_START = (b"<?xml", b"<rss", b"<feed", b"<rdf")
_HTML_START = (b"<!doctype html", b"<html")
_CLOUDFLARE_MARKS = (b"cloudflare", b"_cf_chl", b"/cdn-cgi/challenge-platform/")
_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One news feed.

    Attributes:
        id: Short id for logs, breakers and errors (``"coindesk"``).
        name: Display name (``"CoinDesk"``), also :attr:`Headline.source`.
        url: Absolute feed URL (RSS 2.0, RSS 1.0 or Atom).
    """

    id: str
    name: str
    url: str


#: Public feeds of major crypto news sites.
DEFAULT_FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec("coindesk", "CoinDesk", "https://www.coindesk.com/arc/outboundfeeds/rss/"),
    FeedSpec("cointelegraph", "Cointelegraph", "https://cointelegraph.com/rss"),
    FeedSpec("decrypt", "Decrypt", "https://decrypt.co/feed"),
    FeedSpec("theblock", "The Block", "https://www.theblock.co/rss.xml"),
    FeedSpec("bitcoinmagazine", "Bitcoin Magazine", "https://bitcoinmagazine.com/.rss/full/"),
)


@dataclass(frozen=True, slots=True)
class Headline:
    """One news item.

    Attributes:
        title: Plain-text headline (no HTML).
        url: Link to the article (http/https only), ``None`` when the item has none.
        source: Display name of the feed (``"CoinDesk"``).
        published: Publication (or last update) time, timezone-aware UTC; ``None`` if the
            item carries no parseable date.
        summary: Plain-text summary, clipped to a few hundred characters; may be empty.
    """

    title: str
    url: str | None
    source: str
    published: datetime | None
    summary: str = ""


@dataclass(frozen=True, slots=True)
class FeedFailure:
    """A feed that could not be read.

    Attributes:
        source: Display name of the feed.
        reason: Operator-facing reason (status and a short cause); no secrets.
    """

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class NewsBatch:
    """The headlines of every feed that answered.

    Attributes:
        headlines: Headlines in feed order (feeds in configured order).
        sources: Display names of the feeds that answered (possibly with no items).
        failures: Feeds that failed, with why.
        fetched_at: When the batch was fetched.
    """

    headlines: tuple[Headline, ...]
    sources: tuple[str, ...]
    failures: tuple[FeedFailure, ...]
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class FearGreedReading:
    """One value of the Crypto Fear & Greed Index.

    Attributes:
        value: 0 (extreme fear) to 100 (extreme greed).
        classification: The index's own label (``"Fear"``, ``"Extreme Greed"``...).
        timestamp: The day the value stands for (UTC).
        time_until_update_s: Seconds until the next value, when the API says.
        source: Who publishes the index.
    """

    value: int
    classification: str
    timestamp: datetime
    time_until_update_s: int | None = None
    source: str = "Alternative.me"


class NewsUnavailableError(ProviderError):
    """No news feed could be read (every configured feed failed)."""


# -- feeds --------------------------------------------------------------------------------


class NewsClient:
    """Reads crypto news headlines from RSS/Atom feeds.

    Args:
        client: HTTP client for the feeds (``build_client("", user_agent=NEWS_USER_AGENT)``);
            owned by the caller. Feed URLs are absolute, so it needs no base URL.
        feeds: The feeds to read.
        clock: Time source for ``fetched_at`` and the breakers.
        sleep: Sleeper between retries.
        policy: Retry policy per feed.
        max_items_per_feed: Items kept from each feed.

    Raises:
        ValueError: No feeds, or two feeds with the same id.
    """

    name = NEWS_PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        feeds: Sequence[FeedSpec] = DEFAULT_FEEDS,
        *,
        clock: Clock | None = None,
        sleep: Sleeper = asyncio.sleep,
        policy: RetryPolicy | None = None,
        max_items_per_feed: int = MAX_ITEMS_PER_FEED,
    ) -> None:
        if not feeds:
            raise ValueError("NewsClient needs at least one feed")
        ids = [f.id for f in feeds]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate feed ids: {ids}")
        self.feeds = tuple(feeds)
        self._http = client
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._policy = policy or NEWS_POLICY
        self._max_items = max_items_per_feed
        self._breakers = {
            f.id: CircuitBreaker(f.id, failure_threshold=3, reset_after=300.0, clock=self._clock)
            for f in self.feeds
        }

    def __repr__(self) -> str:
        return f"NewsClient(feeds={[f.id for f in self.feeds]})"

    async def fetch_feed(self, feed: FeedSpec) -> list[Headline]:
        """Fetch and parse one feed.

        Args:
            feed: The feed (one of :attr:`feeds`, or any other).

        Returns:
            Its headlines in feed order, at most ``max_items_per_feed``.

        Raises:
            ProviderError: The request failed or the body is not a feed.
        """
        breaker = self._breakers.get(feed.id)
        items = await request_body(
            self._http,
            feed.url,
            decode=lambda body, content_type: parse_feed(body, content_type, feed),
            headers={"Accept": FEED_ACCEPT},
            provider=feed.id,
            policy=self._policy,
            breaker=breaker,
            sleep=self._sleep,
            clock=self._clock,
            follow_redirects=True,
        )
        return items[: self._max_items]

    async def fetch_headlines(self) -> NewsBatch:
        """Fetch every feed concurrently; failures of single feeds are reported, not raised.

        Returns:
            The headlines of the feeds that answered.

        Raises:
            NewsUnavailableError: Every feed failed.
        """
        results = await asyncio.gather(
            *(self.fetch_feed(f) for f in self.feeds), return_exceptions=True
        )
        headlines: list[Headline] = []
        sources: list[str] = []
        failures: list[FeedFailure] = []
        for feed, result in zip(self.feeds, results, strict=True):
            if isinstance(result, ProviderError):
                logger.warning("News feed %s unavailable: %s", feed.name, result.detail)
                failures.append(FeedFailure(feed.name, result.detail or result.reason))
            elif isinstance(result, BaseException):
                raise result
            else:
                sources.append(feed.name)
                headlines.extend(result)
        if not sources:
            reasons = "; ".join(f"{f.source}: {f.reason}" for f in failures)
            raise NewsUnavailableError(
                NEWS_PROVIDER,
                f"all {len(failures)} feeds failed ({reasons})"[:500],
                retryable=True,
                user_message="The news feeds are not reachable right now.",
            )
        return NewsBatch(tuple(headlines), tuple(sources), tuple(failures), self._clock.now())


def parse_feed(body: bytes, content_type: str, feed: FeedSpec) -> list[Headline]:
    """Parse an RSS or Atom document into headlines.

    Args:
        body: The raw response body.
        content_type: The response's ``Content-Type`` (its charset guides decoding).
        feed: The feed the body came from (source name, base URL for relative links).

    Returns:
        Headlines in document order; items without a title are skipped.

    Raises:
        MalformedResponseError: An HTML page, an oversized or empty body, or XML that is not
            a feed.
    """
    if len(body) > MAX_FEED_BYTES:
        raise MalformedResponseError(feed.id, f"feed body over {MAX_FEED_BYTES} bytes")
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
    if not head:
        raise MalformedResponseError(feed.id, "empty body instead of a feed", retryable=True)
    if head.startswith(_HTML_START) or (
        "text/html" in content_type.lower() and not head.startswith(_XML_START)
    ):
        raise MalformedResponseError(feed.id, _html_reason(body), retryable=True)
    import feedparser  # lazy: ~40 ms of imports that only a feed fetch needs

    parsed: Any = feedparser.parse(
        io.BytesIO(body),
        response_headers={
            "content-type": content_type or "application/xml",
            "content-location": feed.url,
        },
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    entries = list(parsed.get("entries") or [])
    version = parsed.get("version") or ""
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        if not entries:
            raise MalformedResponseError(
                feed.id, f"not a readable RSS/Atom feed ({_short(problem)})", retryable=True
            )
        logger.debug("Feed %s parsed leniently: %s", feed.name, _short(problem))
    elif not version and not entries:
        raise MalformedResponseError(feed.id, "XML that is not an RSS/Atom feed", retryable=True)
    out: list[Headline] = []
    skipped = 0
    for entry in entries:
        headline = _headline(entry, feed)
        if headline is None:
            skipped += 1
        else:
            out.append(headline)
    if skipped:
        logger.debug("Skipped %d untitled items in feed %s", skipped, feed.name)
    return out


def _headline(entry: Any, feed: FeedSpec) -> Headline | None:
    title = plain_text(entry.get("title"))
    if not title:
        return None
    link = entry.get("link")
    url = link if isinstance(link, str) and link.startswith(("https://", "http://")) else None
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    return Headline(
        title=title,
        url=url,
        source=feed.name,
        published=_struct_to_utc(stamp),
        summary=plain_text(entry.get("summary"), limit=_SUMMARY_CHARS),
    )


def _struct_to_utc(value: object) -> datetime | None:
    """feedparser's dates are ``time.struct_time`` in UTC."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def plain_text(value: object, *, limit: int | None = None) -> str:
    """Text without HTML tags or entities, whitespace collapsed, optionally clipped.

    Args:
        value: A feed field (anything that is not a string gives ``""``).
        limit: Maximum length; longer text is cut at a word and ends with ``"..."``.

    Returns:
        Plain text.
    """
    if not isinstance(value, str):
        return ""
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", value))).strip()
    if limit is not None and len(text) > limit:
        cut = text[: limit - 3]
        if text[limit - 3] != " ":
            cut = cut.rsplit(" ", 1)[0]  # do not end on half a word
        text = cut.rstrip(" ,.;:") + "..."
    return text


def _html_reason(body: bytes) -> str:
    match = _HTML_TITLE.search(body[:20_000])
    title = match.group(1).decode("utf-8", "replace") if match else ""
    reason = "HTML page instead of a feed"
    if any(mark in body[:20_000].lower() for mark in _CLOUDFLARE_MARKS):
        reason += " (Cloudflare)"
    title = " ".join(title.split())
    return f"{reason}: {title[:100]}" if title else reason


def _short(exc: object) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:120]


# -- Fear & Greed -------------------------------------------------------------------------


class FearGreedClient:
    """Reads Alternative.me's Crypto Fear & Greed Index.

    Args:
        client: HTTP client (``build_client("https://api.alternative.me")``); caller-owned.
        clock: Time source.
        sleep: Sleeper between retries.
        policy: Retry policy (short by default: a chat answer does not wait for it).
        breaker: Circuit breaker (a default one is made when ``None``).
    """

    name = FEAR_GREED_PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        clock: Clock | None = None,
        sleep: Sleeper = asyncio.sleep,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._http = client
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._policy = policy or NEWS_POLICY
        self._breaker = breaker or CircuitBreaker(FEAR_GREED_PROVIDER, clock=self._clock)

    async def latest(self) -> FearGreedReading:
        """The latest index value (``/fng/?limit=1``).

        Returns:
            The reading.

        Raises:
            ProviderError: The request failed, the API reported an error, or the answer
                has no usable value.
        """
        data = await request_json(
            self._http,
            FEAR_GREED_URL,
            params={"limit": 1},
            provider=FEAR_GREED_PROVIDER,
            policy=self._policy,
            breaker=self._breaker,
            sleep=self._sleep,
            clock=self._clock,
        )
        return parse_fear_greed(data)


def parse_fear_greed(data: object) -> FearGreedReading:
    """Parse an ``/fng/`` answer (its first, i.e. latest, data point).

    Args:
        data: The decoded JSON.

    Returns:
        The reading.

    Raises:
        ProviderError: ``metadata.error`` is set.
        MalformedResponseError: No data point, or a value outside 0-100, or no label/time.
    """
    doc = expect_dict(data, FEAR_GREED_PROVIDER, "/fng/")
    metadata = doc.get("metadata")
    if isinstance(metadata, dict) and metadata.get("error"):
        raise ProviderError(FEAR_GREED_PROVIDER, f"API error: {str(metadata['error'])[:150]}")
    rows = doc.get("data")
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        raise MalformedResponseError(FEAR_GREED_PROVIDER, "/fng/ without data points")
    row = rows[0]
    value = numeric_text(row.get("value"))
    if value is None or value != value.to_integral_value() or not 0 <= value <= 100:
        raise MalformedResponseError(
            FEAR_GREED_PROVIDER, f"index value {str(row.get('value'))[:20]!r} is not 0-100"
        )
    label = row.get("value_classification")
    if not isinstance(label, str) or not label.strip():
        raise MalformedResponseError(FEAR_GREED_PROVIDER, "index value without classification")
    stamp = numeric_text(row.get("timestamp"))
    if stamp is None or stamp <= 0:
        raise MalformedResponseError(FEAR_GREED_PROVIDER, "index value without timestamp")
    try:
        when = datetime.fromtimestamp(int(stamp), tz=UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise MalformedResponseError(FEAR_GREED_PROVIDER, "index timestamp out of range") from exc
    until = numeric_text(row.get("time_until_update"))
    return FearGreedReading(
        value=int(value),
        classification=" ".join(label.split()),
        timestamp=when,
        time_until_update_s=int(until) if until is not None and until >= 0 else None,
        source=display_name(FEAR_GREED_PROVIDER),
    )
