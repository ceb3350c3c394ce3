"""Binance spot klines client: true OHLCV bars for history and as a quote fallback.

``GET /api/v3/klines?symbol=BTCUSDT&interval=1h&startTime=..&limit=1000`` returns rows
``[openTime ms, "open", "high", "low", "close", "volume", closeTime, "quoteAssetVolume",
trades, "takerBuyBase", "takerBuyQuote", "ignore"]``; more than 1,000 bars are fetched
page by page with ``startTime``. ``volume`` is in base-asset units. The last bar is the
one still forming.

Pairs: ``usd`` is served by the USDT pair (said in ``PriceHistory.note``), ``eur`` by the
EUR pair; a few crypto quotes map directly. Binance answers an unknown pair with 400
``{"code": -1121, "msg": "Invalid symbol."}``, which becomes
:class:`~tools.market.providers.http.UnsupportedPairError` so the caller falls back.

A ticker names a Binance market, not a coin: an obscure token sharing the ticker "UNI"
would otherwise get Uniswap's price. Pairs are therefore only guessed for ranked coins
(``market_cap_rank`` at most ``max_rank``); ``base_assets`` maps coin ids explicitly.

Bans: Binance answers ignored 429s with 418 and a ``Retry-After``; restricted regions get
451. Both are handled (and logged) in :func:`~tools.market.providers.http.request_json`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from tools.clock import Clock, Sleeper, SystemClock
from tools.errors import UserInputError
from tools.market.providers.breaker import CircuitBreaker
from tools.market.providers.http import (
    ProviderError,
    RetryPolicy,
    UnsupportedPairError,
    request_json,
)
from tools.market.providers.parsing import expect_list, from_unix_ms, json_number, numeric_text
from tools.market.types import INTERVALS, Candle, CoinRef, DataOrigin, PriceHistory

logger = logging.getLogger(__name__)

PROVIDER = "binance"
BASE_URL = "https://api.binance.com"
KLINES_LIMIT = 1000
#: Binance error code for an unknown symbol.
INVALID_SYMBOL = -1121

#: Quote currency -> Binance quote asset.
QUOTE_ASSETS: dict[str, str] = {
    "usd": "USDT",
    "usdt": "USDT",
    "usdc": "USDC",
    "eur": "EUR",
    "btc": "BTC",
    "eth": "ETH",
}


class BinanceClient:
    """Async client for Binance spot klines.

    Args:
        client: HTTP client for Binance; owned by the caller.
        base_url: API base URL (``https://api.binance.com`` or a regional mirror).
        clock: Time source for ``startTime`` and ``fetched_at``.
        sleep: Sleeper between retries.
        policy: Retry policy.
        breaker: Circuit breaker (a default one is made when ``None``).
        max_rank: Only guess a pair from the ticker for coins ranked this high or better
            (``None`` guesses for every coin, ranked or not).
        base_assets: Explicit coin id -> Binance base asset (``{"bitcoin": "BTC"}``);
            these skip the rank check.
    """

    name = PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = BASE_URL,
        clock: Clock | None = None,
        sleep: Sleeper = asyncio.sleep,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        max_rank: int | None = 500,
        base_assets: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = client
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._breaker = breaker or CircuitBreaker(PROVIDER, clock=self._clock)
        self._max_rank = max_rank
        self._base_assets = dict(base_assets or {})

    async def _get(self, path: str, params: dict[str, str | int]) -> Any:
        return await request_json(
            self._http,
            self.base_url + path,
            params=params,
            provider=PROVIDER,
            policy=self._policy,
            breaker=self._breaker,
            sleep=self._sleep,
            clock=self._clock,
        )

    def pair_for(self, coin: CoinRef, vs_currency: str) -> str:
        """The Binance symbol for a coin in a quote currency (``BTCUSDT``).

        Raises:
            UnsupportedPairError: No Binance pair can be trusted for this coin/currency.
        """
        vs = vs_currency.lower()
        quote_asset = QUOTE_ASSETS.get(vs)
        pair_name = f"{coin.symbol.upper()}/{vs.upper()}"
        if quote_asset is None:
            raise _unsupported(pair_name, f"no Binance quote asset for {vs!r}")
        base = self._base_assets.get(coin.id)
        if base is None:
            ranked = coin.market_cap_rank is not None and (
                self._max_rank is None or coin.market_cap_rank <= self._max_rank
            )
            if not ranked and self._max_rank is not None:
                raise _unsupported(pair_name, f"{coin.id} is unranked or below the rank limit")
            base = coin.symbol.upper()
        if not (base.isascii() and base.isalnum()):
            raise _unsupported(pair_name, "ticker is not a Binance asset name")
        if base == quote_asset:
            raise _unsupported(pair_name, "base and quote are the same asset")
        return base + quote_asset

    async def klines(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """OHLCV bars for the last ``days`` days.

        Args:
            coin: The coin.
            vs_currency: Quote currency (``usd`` uses the USDT pair).
            days: Days of history (several requests beyond 1,000 bars).
            interval: Bar length, one of :data:`tools.market.types.INTERVALS`.

        Returns:
            Bars oldest first; the last one may still be forming.

        Raises:
            UserInputError: Unknown interval or non-positive ``days``.
            UnsupportedPairError: Binance does not list the pair.
            ProviderError: A request failed or returned no bars.
        """
        if interval not in INTERVALS:
            raise UserInputError(f"Interval must be one of {', '.join(INTERVALS)}.")
        if days < 1:
            raise UserInputError("History needs at least one day.")
        vs = vs_currency.lower()
        symbol = self.pair_for(coin, vs)
        bar_ms = INTERVALS[interval] * 1000
        now_ms = int(self._clock.now().timestamp() * 1000)
        start_ms = now_ms - days * 86_400_000
        max_pages = math.ceil(days * 86_400_000 / bar_ms / KLINES_LIMIT) + 1
        candles: list[Candle] = []
        seen: set[datetime] = set()
        for _ in range(max_pages):
            params: dict[str, str | int] = {
                "symbol": symbol,
                "interval": interval,
                "startTime": start_ms,
                "limit": KLINES_LIMIT,
            }
            try:
                rows = expect_list(await self._get("/api/v3/klines", params), PROVIDER, "klines")
            except ProviderError as exc:
                if exc.status == 400 and exc.error_code == INVALID_SYMBOL:
                    pair_name = f"{coin.symbol.upper()}/{vs.upper()}"
                    raise _unsupported(pair_name, exc.reason, exc.status) from exc
                raise
            last_open: int | None = None
            for row in rows:
                parsed = _candle(row)
                if parsed is None:
                    continue
                open_ms, candle = parsed
                last_open = open_ms
                if candle.ts not in seen:
                    seen.add(candle.ts)
                    candles.append(candle)
            if len(rows) < KLINES_LIMIT or last_open is None:
                break
            start_ms = last_open + bar_ms
            if start_ms > now_ms:
                break
        if not candles:
            raise ProviderError(PROVIDER, f"no klines for {symbol} {interval}")
        candles.sort(key=lambda c: c.ts)
        return PriceHistory(
            coin=coin,
            vs_currency=vs,
            interval=interval,
            candles=candles,
            source=PROVIDER,
            origin=DataOrigin.LIVE,
            fetched_at=self._clock.now(),
            note="USDT pair used as USD" if vs == "usd" else None,
        )


def _unsupported(pair_name: str, reason: str, status: int | None = None) -> UnsupportedPairError:
    return UnsupportedPairError(
        PROVIDER,
        f"{pair_name}: {reason}",
        status=status,
        user_message=f"Binance has no market for {pair_name}.",
    )


def _candle(row: object) -> tuple[int, Candle] | None:
    """One kline row as ``(open time ms, Candle)``, or ``None`` (logged) when unusable."""
    if not isinstance(row, list) or len(row) < 6:
        logger.info("Skipping malformed Binance kline row")
        return None
    open_ms = json_number(row[0])
    ts = from_unix_ms(row[0])
    values = [numeric_text(v) for v in row[1:6]]
    if open_ms is None or ts is None or any(v is None for v in values):
        logger.info("Skipping Binance kline with unusable fields at %r", row[0])
        return None
    o, h, low, c, vol = (v for v in values if v is not None)
    if min(o, h, low, c) <= 0 or vol < 0:
        logger.info("Skipping Binance kline with non-positive prices at %r", row[0])
        return None
    candle = Candle(
        ts=ts, open=float(o), high=float(h), low=float(low), close=float(c), volume=float(vol)
    )
    return int(open_ms), candle
