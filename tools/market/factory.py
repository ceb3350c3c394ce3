"""Builds the configured market (``live``, ``offline`` or ``auto``) from plain settings.

The composition root calls :func:`open_market` once; it owns the HTTP clients (one per
upstream) and closes them with the returned handle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tools.clock import Clock, SystemClock
from tools.errors import ConfigurationError
from tools.market.auto import AutoMarket
from tools.market.base import MarketData
from tools.market.live import LiveMarket

logger = logging.getLogger(__name__)

COINGECKO_URLS = {
    "public": "https://api.coingecko.com/api/v3",
    "demo": "https://api.coingecko.com/api/v3",
    "pro": "https://pro-api.coingecko.com/api/v3",
}
DEFILLAMA_STABLECOINS_URL = "https://stablecoins.llama.fi"


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """Everything needed to build a market, as plain values."""

    mode: str = "auto"
    coingecko_api_key: str | None = None
    coingecko_plan: str = "public"
    binance_base_url: str = "https://api.binance.com"
    timeout_s: float = 10.0
    quote_ttl_s: float = 60.0
    top_ttl_s: float = 120.0
    history_ttl_s: float = 900.0
    stablecoin_ttl_s: float = 300.0
    seed: int = 7
    replays: dict[str, Path] = field(default_factory=dict)
    replay_speed: float = 60.0


@dataclass
class MarketHandle:
    """The market plus what must be closed when the application stops."""

    market: MarketData
    live: LiveMarket | None = None
    _clients: list[object] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        from tools.market.providers import close_client

        for client in self._clients:
            await close_client(client)  # type: ignore[arg-type]
        self._clients.clear()


def build_offline(config: MarketConfig, clock: Clock) -> MarketData:
    """The offline market with any configured CSV replays."""
    from tools.market.offline import OfflineMarket, ReplaySpec

    replays = {}
    for symbol, path in config.replays.items():
        if not Path(path).is_file():
            raise ConfigurationError(f"Replay file for {symbol} not found: {path}")
        replays[symbol.upper()] = ReplaySpec(
            path=Path(path), symbol=symbol.upper(), speed=config.replay_speed
        )
    return OfflineMarket(seed=config.seed, clock=clock, replays=replays)


def open_market(config: MarketConfig, *, clock: Clock | None = None) -> MarketHandle:
    """Build the market for ``config.mode``.

    Raises:
        ConfigurationError: Unknown mode or a missing replay file.
    """
    clock = clock or SystemClock()
    mode = config.mode.lower()
    if mode == "offline":
        return MarketHandle(build_offline(config, clock))
    if mode not in ("live", "auto"):
        raise ConfigurationError(f"CRYPTOGUARD_MARKET must be auto, live or offline, not {mode!r}.")
    from tools.market.providers import (
        BinanceClient,
        CircuitBreaker,
        CoinGeckoClient,
        DefiLlamaClient,
        RetryPolicy,
        build_client,
    )

    # In auto mode the offline market stands behind live, so give up on live quickly.
    policy = RetryPolicy(max_attempts=2) if mode == "auto" else RetryPolicy()
    cg_http = build_client(COINGECKO_URLS[config.coingecko_plan], timeout_s=config.timeout_s)
    llama_http = build_client(DEFILLAMA_STABLECOINS_URL, timeout_s=config.timeout_s)
    binance_http = build_client(config.binance_base_url, timeout_s=config.timeout_s)
    live = LiveMarket(
        CoinGeckoClient(
            cg_http,
            api_key=config.coingecko_api_key,
            plan=config.coingecko_plan,  # type: ignore[arg-type]
            clock=clock,
            policy=policy,
            breaker=CircuitBreaker("coingecko", clock=clock),
        ),
        DefiLlamaClient(
            llama_http, clock=clock, policy=policy, breaker=CircuitBreaker("defillama", clock=clock)
        ),
        BinanceClient(
            binance_http,
            base_url=config.binance_base_url,
            clock=clock,
            policy=policy,
            breaker=CircuitBreaker("binance", clock=clock),
        ),
        clock=clock,
        quote_ttl=config.quote_ttl_s,
        top_ttl=config.top_ttl_s,
        history_ttl=config.history_ttl_s,
        stablecoin_ttl=config.stablecoin_ttl_s,
    )
    clients: list[object] = [cg_http, llama_http, binance_http]
    if mode == "live":
        return MarketHandle(live, live, clients)
    return MarketHandle(AutoMarket(live, build_offline(config, clock), clock=clock), live, clients)
