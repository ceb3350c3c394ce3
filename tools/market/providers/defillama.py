"""DefiLlama stablecoins API client (``https://stablecoins.llama.fi``, keyless).

``/stablecoins?includePrices=true`` lists every tracked stablecoin with its ``pegType``
(``peggedUSD``, ``peggedEUR``, ``peggedVAR``...). Supplies are keyed by that peg type
(``{"circulating": {"peggedEUR": 1.2e8}}``) and are read under the coin's own key, so a
EUR coin's supply is in EUR and its health is judged against EUR, not $1.

``price`` is DefiLlama's USD price and is often ``null`` for small coins: such coins are
kept with ``price_usd=None``. A price that is not a positive number is treated the same
way and logged, since it means the feed changed shape.

``/stablecoinprices`` is a daily history: ``[{"date": 1609459200, "prices": {"tether":
1.0, ...}}, ...]`` keyed by CoinGecko id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from tools.clock import Clock, Sleeper, SystemClock
from tools.market.providers.breaker import CircuitBreaker
from tools.market.providers.http import RetryPolicy, request_json
from tools.market.providers.parsing import (
    expect_dict,
    expect_list,
    from_unix_seconds,
    json_number,
    positive_number,
)
from tools.market.types import DataOrigin, Stablecoin, peg_currency_of

logger = logging.getLogger(__name__)

PROVIDER = "defillama"
BASE_URL = "https://stablecoins.llama.fi"


class DefiLlamaClient:
    """Async client for DefiLlama's stablecoin endpoints.

    Args:
        client: HTTP client for ``stablecoins.llama.fi``; owned by the caller.
        base_url: API base URL.
        clock: Time source for ``fetched_at``.
        sleep: Sleeper between retries.
        policy: Retry policy.
        breaker: Circuit breaker (a default one is made when ``None``).
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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = client
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._breaker = breaker or CircuitBreaker(PROVIDER, clock=self._clock)

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
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

    async def stablecoins(self) -> list[Stablecoin]:
        """Every tracked stablecoin with its peg, USD price and supply.

        Entries without a symbol or ``pegType`` are skipped and logged.

        Returns:
            Stablecoins in DefiLlama's order (largest supply first).

        Raises:
            ProviderError: The request failed or the document has the wrong shape.
        """
        data = expect_dict(
            await self._get("/stablecoins", {"includePrices": "true"}), PROVIDER, "/stablecoins"
        )
        assets = expect_list(data.get("peggedAssets"), PROVIDER, "/stablecoins peggedAssets")
        fetched_at = self._clock.now()
        out: list[Stablecoin] = []
        no_price = 0
        for entry in assets:
            coin = _stablecoin(entry, fetched_at)
            if coin is None:
                continue
            if coin.price_usd is None:
                no_price += 1
            out.append(coin)
        if no_price:
            logger.info("DefiLlama: %d of %d stablecoins have no price", no_price, len(out))
        return out

    async def stablecoin_prices(self) -> list[tuple[datetime, dict[str, Decimal]]]:
        """Daily USD prices of stablecoins, keyed by CoinGecko id.

        Returns:
            ``(day, {coin id: price})`` oldest first; unusable prices are left out.

        Raises:
            ProviderError: The request failed or the document has the wrong shape.
        """
        rows = expect_list(await self._get("/stablecoinprices"), PROVIDER, "/stablecoinprices")
        out: list[tuple[datetime, dict[str, Decimal]]] = []
        skipped_rows = skipped_prices = 0
        for row in rows:
            when = from_unix_seconds(row.get("date")) if isinstance(row, dict) else None
            prices = row.get("prices") if isinstance(row, dict) else None
            if when is None or not isinstance(prices, dict):
                skipped_rows += 1
                continue
            day: dict[str, Decimal] = {}
            for coin_id, value in prices.items():
                price = positive_number(value)
                if price is None:
                    skipped_prices += 1
                else:
                    day[str(coin_id)] = price
            out.append((when, day))
        if skipped_rows or skipped_prices:
            logger.info(
                "DefiLlama stablecoinprices: skipped %d malformed rows and %d unusable prices",
                skipped_rows,
                skipped_prices,
            )
        out.sort(key=lambda item: item[0])
        return out


def _stablecoin(entry: object, fetched_at: datetime) -> Stablecoin | None:
    """One ``peggedAssets`` entry as a :class:`Stablecoin`, or ``None`` (logged) if unusable."""
    if not isinstance(entry, dict):
        logger.info("Skipping DefiLlama stablecoin entry of type %s", type(entry).__name__)
        return None
    symbol, peg_type = entry.get("symbol"), entry.get("pegType")
    if not (isinstance(symbol, str) and symbol.strip() and isinstance(peg_type, str) and peg_type):
        logger.info(
            "Skipping DefiLlama stablecoin id=%s: missing symbol or pegType", entry.get("id")
        )
        return None
    symbol = symbol.strip().upper()
    raw_price = entry.get("price")
    price = positive_number(raw_price)
    if price is None and raw_price is not None:
        logger.warning(
            "DefiLlama price for %s is unusable (%.40r); treated as unknown", symbol, raw_price
        )
    name, gecko_id, mechanism = entry.get("name"), entry.get("gecko_id"), entry.get("pegMechanism")
    return Stablecoin(
        symbol=symbol,
        name=name if isinstance(name, str) and name else symbol,
        coin_id=gecko_id if isinstance(gecko_id, str) and gecko_id else None,
        peg_type=peg_type,
        peg_currency=peg_currency_of(peg_type),
        peg_mechanism=mechanism if isinstance(mechanism, str) and mechanism else "unknown",
        price_usd=price,
        circulating=_supply(entry.get("circulating"), peg_type),
        circulating_prev_day=_supply(entry.get("circulatingPrevDay"), peg_type),
        circulating_prev_week=_supply(entry.get("circulatingPrevWeek"), peg_type),
        source=PROVIDER,
        origin=DataOrigin.LIVE,
        fetched_at=fetched_at,
        price_sources={PROVIDER: price} if price is not None else {},
    )


def _supply(amounts: object, peg_type: str) -> Decimal | None:
    """The supply under the coin's own peg key (``{"peggedEUR": 1.2e8}``)."""
    if not isinstance(amounts, dict):
        return None
    number = json_number(amounts.get(peg_type))
    return number if number is not None and number >= 0 else None
