"""Builds the sentiment service for the configured market mode.

Offline mode reads headlines from a file (the bundled sample unless one is configured);
live and auto modes read the news feeds and the Fear & Greed index, falling back to the
file (and saying so) when they are unreachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.analysis.sentiment import SentimentService
from tools.analysis.sentiment_models import make_scorer
from tools.clock import Clock
from tools.market.symbols import SymbolResolver


@dataclass
class SentimentHandle:
    """The service and the HTTP clients to close with it."""

    service: SentimentService
    _clients: list[object] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        from tools.market.providers import close_client

        for client in self._clients:
            await close_client(client)  # type: ignore[arg-type]
        self._clients.clear()


def open_sentiment(
    mode: str,
    resolver: SymbolResolver,
    clock: Clock,
    *,
    model_path: Path | None = None,
    headlines_path: Path | None = None,
) -> SentimentHandle:
    """The sentiment service for market ``mode`` (``offline``, ``live`` or ``auto``)."""
    scorer = make_scorer(model_path)
    if mode == "offline":
        service = SentimentService(
            None, None, resolver, scorer, clock, offline_headlines_path=headlines_path
        )
        return SentimentHandle(service)
    from tools.market.providers import RetryPolicy, build_client
    from tools.market.providers.news import NEWS_USER_AGENT, FearGreedClient, NewsClient

    # In auto mode the headline file stands behind the feeds, so give up on them quickly.
    policy = RetryPolicy(max_attempts=2) if mode == "auto" else RetryPolicy()
    news_http = build_client("", user_agent=NEWS_USER_AGENT)
    fng_http = build_client("https://api.alternative.me")
    service = SentimentService(
        NewsClient(news_http, clock=clock, policy=policy),
        FearGreedClient(fng_http, clock=clock, policy=policy),
        resolver,
        scorer,
        clock,
        offline_headlines_path=headlines_path,
    )
    return SentimentHandle(service, [news_http, fng_http])
