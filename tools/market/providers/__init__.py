"""Live provider clients: CoinGecko, DefiLlama, Binance, news feeds and Fear & Greed.

The only package allowed to import httpx. Every client takes an ``httpx.AsyncClient``
opened by the composition root with :func:`build_client` (one per upstream) and closed
with :func:`close_client`; requests go through :func:`request_json` (or
:func:`request_body` for RSS/Atom feeds), which retries,
honours ``Retry-After``, trips a :class:`CircuitBreaker` and turns every failure into a
:class:`ProviderError` (a :class:`tools.errors.MarketDataUnavailableError`).
"""

from tools.market.providers.binance import BinanceClient
from tools.market.providers.breaker import BreakerState, CircuitBreaker
from tools.market.providers.coingecko import CoinGeckoClient
from tools.market.providers.defillama import DefiLlamaClient
from tools.market.providers.http import (
    CircuitOpenError,
    MalformedResponseError,
    ProviderError,
    RetryPolicy,
    UnsupportedPairError,
    build_client,
    close_client,
    parse_retry_after,
    request_body,
    request_json,
)
from tools.market.providers.news import (
    DEFAULT_FEEDS,
    FearGreedClient,
    FearGreedReading,
    FeedFailure,
    FeedSpec,
    Headline,
    NewsBatch,
    NewsClient,
    NewsUnavailableError,
)
from tools.market.providers.resample import resample_market_chart

__all__ = [
    "DEFAULT_FEEDS",
    "BinanceClient",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "CoinGeckoClient",
    "DefiLlamaClient",
    "FearGreedClient",
    "FearGreedReading",
    "FeedFailure",
    "FeedSpec",
    "Headline",
    "MalformedResponseError",
    "NewsBatch",
    "NewsClient",
    "NewsUnavailableError",
    "ProviderError",
    "RetryPolicy",
    "UnsupportedPairError",
    "build_client",
    "close_client",
    "parse_retry_after",
    "request_body",
    "request_json",
    "resample_market_chart",
]
