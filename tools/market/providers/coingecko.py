"""CoinGecko API v3 client: batched quotes, top lists, history, search and fiat rates.

Plans and authentication:

* ``public`` (keyless) and ``demo`` use ``https://api.coingecko.com/api/v3``; a demo key
  goes in the ``x-cg-demo-api-key`` header. A key given with plan ``public`` is sent as
  a demo key.
* ``pro`` uses ``https://pro-api.coingecko.com/api/v3`` with ``x-cg-pro-api-key``.

The key travels only in a request header, never in the URL, so it cannot appear in
logged paths or errors (see :mod:`tools.market.providers.http`).

Keyless CoinGecko allows roughly 10-30 calls a minute per IP, so quotes for many coins
go out as one ``/simple/price`` request (split only when the URL would pass ~7,000
characters), and free plans see 365 days of history: longer requests are clamped and the
clamp is stated in ``PriceHistory.note``.

``/coins/{id}/market_chart`` returns points, not bars (5-minute points for 1 day, hourly
for 2-90 days, daily beyond). :func:`resample_market_chart` turns them into OHLC bars
aligned to UTC boundaries (weeks start on Monday, like Binance). ``total_volumes`` is a
rolling 24 h volume in the quote currency, so a bar's volume is estimated: a day uses the
day's last 24 h value, a shorter bar that value times ``bar length / 24 h``, a week the sum
of its days. ``Candle.volume`` is in base-asset units (as Binance reports it), so the
estimate is divided by the bar's (or day's) closing price.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

import httpx

from tools.clock import Clock, Sleeper, SystemClock
from tools.errors import ConfigurationError, UserInputError
from tools.market.providers.breaker import CircuitBreaker
from tools.market.providers.http import ProviderError, RetryPolicy, request_json
from tools.market.providers.parsing import (
    expect_dict,
    expect_list,
    from_iso,
    from_unix_seconds,
    json_number,
    positive_number,
)
from tools.market.providers.resample import resample_market_chart
from tools.market.types import INTERVALS, CoinRef, DataOrigin, PriceHistory, Quote

logger = logging.getLogger(__name__)

Plan = Literal["public", "demo", "pro"]

PROVIDER = "coingecko"
BASE_URLS: dict[str, str] = {
    "public": "https://api.coingecko.com/api/v3",
    "demo": "https://api.coingecko.com/api/v3",
    "pro": "https://pro-api.coingecko.com/api/v3",
}
KEY_HEADERS: dict[str, str] = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}

#: Longest ``/simple/price`` URL we send before splitting the id list.
MAX_URL_CHARS = 7000
#: ``/coins/markets`` page size limit.
MARKETS_PER_PAGE_MAX = 250
#: History available to public and demo plans.
FREE_HISTORY_DAYS = 365


class CoinGeckoClient:
    """Async client for the CoinGecko API.

    Args:
        client: HTTP client for CoinGecko (from ``build_client``); owned by the caller.
        api_key: Demo or pro API key, if any.
        plan: ``"public"``, ``"demo"`` or ``"pro"``.
        clock: Time source for ``fetched_at``.
        sleep: Sleeper between retries.
        policy: Retry policy.
        breaker: Circuit breaker (a default one is made when ``None``).

    Raises:
        ConfigurationError: Unknown plan, or ``demo``/``pro`` without a key.
    """

    name = PROVIDER

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str | None = None,
        plan: Plan = "public",
        clock: Clock | None = None,
        sleep: Sleeper = asyncio.sleep,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        if plan not in BASE_URLS:
            raise ConfigurationError(f"CoinGecko plan must be public, demo or pro, not {plan!r}.")
        if plan != "public" and not api_key:
            raise ConfigurationError(f"The CoinGecko {plan} plan needs an API key.")
        if plan == "public" and api_key:
            logger.info("CoinGecko key given with plan 'public'; sending it as a demo key")
            plan = "demo"
        self.plan: Plan = plan
        self.base_url = BASE_URLS[plan]
        self._http = client
        self._headers = {KEY_HEADERS[plan]: api_key} if api_key else {}
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._policy = policy or RetryPolicy()
        self._breaker = breaker or CircuitBreaker(PROVIDER, clock=self._clock)

    def __repr__(self) -> str:
        return f"CoinGeckoClient(plan={self.plan!r}, keyed={bool(self._headers)})"

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
        return await request_json(
            self._http,
            self.base_url + path,
            params=params,
            headers=self._headers,
            provider=PROVIDER,
            policy=self._policy,
            breaker=self._breaker,
            sleep=self._sleep,
            clock=self._clock,
        )

    # -- endpoints ------------------------------------------------------------------------

    async def ping(self) -> str:
        """Check that CoinGecko answers.

        Returns:
            CoinGecko's greeting (``"(V3) To the Moon!"``).

        Raises:
            ProviderError: CoinGecko is unreachable or answered badly.
        """
        data = expect_dict(await self._get("/ping"), PROVIDER, "/ping")
        return str(data.get("gecko_says", ""))

    async def simple_price(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        """Quote many coins in one request (``/simple/price``).

        The id list is split only when the URL would exceed :data:`MAX_URL_CHARS`.
        Coins without a usable price (null, missing, zero, negative, NaN, not a number)
        are omitted and logged.

        Args:
            coins: Coins to quote (duplicates are asked once).
            vs_currency: Quote currency (``"usd"``).

        Returns:
            Quotes keyed by coin id.

        Raises:
            ProviderError: The request failed.
        """
        vs = vs_currency.lower()
        by_id: dict[str, CoinRef] = {}
        for coin in coins:
            by_id.setdefault(coin.id, coin)
        if not by_id:
            return {}
        fixed: dict[str, str | int] = {
            "vs_currencies": vs,
            "include_market_cap": "true",
            "include_24hr_vol": "true",
            "include_24hr_change": "true",
            "include_last_updated_at": "true",
            "precision": "full",
        }
        quotes: dict[str, Quote] = {}
        for chunk in self._id_chunks(list(by_id), "/simple/price", fixed):
            data = expect_dict(
                await self._get("/simple/price", {"ids": ",".join(chunk), **fixed}),
                PROVIDER,
                "/simple/price",
            )
            fetched_at = self._clock.now()
            for coin_id in chunk:
                entry = data.get(coin_id)
                if entry is None:
                    logger.info("CoinGecko returned no price for %s in %s", coin_id, vs)
                    continue
                quote_ = _simple_quote(by_id[coin_id], vs, entry, fetched_at)
                if quote_ is not None:
                    quotes[coin_id] = quote_
        return quotes

    def _id_chunks(self, ids: list[str], path: str, fixed: dict[str, str | int]) -> list[list[str]]:
        """Split ``ids`` so that each request URL stays under :data:`MAX_URL_CHARS`."""
        base = len(str(httpx.URL(self.base_url + path, params=fixed))) + len("&ids=")
        chunks: list[list[str]] = [[]]
        length = base
        for coin_id in ids:
            cost = len(quote(coin_id, safe="")) + (len("%2C") if chunks[-1] else 0)
            if chunks[-1] and length + cost > MAX_URL_CHARS:
                chunks.append([])
                length = base
                cost = len(quote(coin_id, safe=""))
            chunks[-1].append(coin_id)
            length += cost
        return chunks

    async def coins_markets(
        self, vs_currency: str, limit: int, *, ids: Sequence[str] | None = None
    ) -> list[Quote]:
        """List coins by market cap, largest first (``/coins/markets``).

        Args:
            vs_currency: Quote currency.
            limit: How many coins; pages of up to 250 are fetched as needed.
            ids: Restrict the list to these coin ids.

        Returns:
            Up to ``limit`` quotes, largest market cap first.

        Raises:
            ProviderError: A page request failed.
        """
        if limit < 1:
            return []
        vs = vs_currency.lower()
        per_page = min(limit, MARKETS_PER_PAGE_MAX)
        pages = math.ceil(limit / per_page)
        out: list[Quote] = []
        seen: set[str] = set()
        for page in range(1, pages + 1):
            params: dict[str, str | int] = {
                "vs_currency": vs,
                "order": "market_cap_desc",
                "per_page": per_page,
                "page": page,
                "sparkline": "false",
                "price_change_percentage": "24h",
                "precision": "full",
            }
            if ids:
                params["ids"] = ",".join(ids)
            page_data = await self._get("/coins/markets", params)
            rows = expect_list(page_data, PROVIDER, "/coins/markets")
            fetched_at = self._clock.now()
            for row in rows:
                quote_ = _market_quote(row, vs, fetched_at)
                if quote_ is not None and quote_.coin.id not in seen:
                    seen.add(quote_.coin.id)
                    out.append(quote_)
            if len(rows) < per_page:
                break
        return out[:limit]

    async def market_chart(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """OHLCV history resampled from ``/coins/{id}/market_chart`` points.

        Args:
            coin: The coin.
            vs_currency: Quote currency.
            days: Days of history; clamped to 365 on public/demo plans (noted).
            interval: Bar length, one of :data:`tools.market.types.INTERVALS`.

        Returns:
            Bars oldest first, with a note on granularity (and any clamp).

        Raises:
            UserInputError: Unknown interval or non-positive ``days``.
            ProviderError: The request failed or returned no usable points.
        """
        if interval not in INTERVALS:
            raise UserInputError(f"Interval must be one of {', '.join(INTERVALS)}.")
        if days < 1:
            raise UserInputError("History needs at least one day.")
        vs = vs_currency.lower()
        notes: list[str] = []
        if self.plan != "pro" and days > FREE_HISTORY_DAYS:
            notes.append(f"CoinGecko free history covers {FREE_HISTORY_DAYS} days (asked {days})")
            days = FREE_HISTORY_DAYS
        path = f"/coins/{quote(coin.id, safe='')}/market_chart"
        data = expect_dict(
            await self._get(path, {"vs_currency": vs, "days": days}), PROVIDER, "market_chart"
        )
        prices = _points(data.get("prices"), positive=True)
        volumes = _points(data.get("total_volumes"), positive=False)
        if not prices:
            raise ProviderError(PROVIDER, f"market_chart for {coin.id}: no usable price points")
        granularity = "5-minute" if days <= 1 else "hourly" if days <= 90 else "daily"
        notes.append(
            f"OHLC built from CoinGecko {granularity} prices; volume estimated from rolling 24h"
        )
        return PriceHistory(
            coin=coin,
            vs_currency=vs,
            interval=interval,
            candles=resample_market_chart(prices, volumes, INTERVALS[interval]),
            source=PROVIDER,
            origin=DataOrigin.LIVE,
            fetched_at=self._clock.now(),
            note="; ".join(notes),
        )

    async def search(self, query: str) -> list[CoinRef]:
        """Search coins by name or symbol (``/search``).

        Args:
            query: Free text.

        Returns:
            Matching coins ordered by market-cap rank (unranked last).

        Raises:
            ProviderError: The request failed.
        """
        text = query.strip()
        if not text:
            return []
        data = expect_dict(await self._get("/search", {"query": text}), PROVIDER, "/search")
        refs: list[CoinRef] = []
        for item in data.get("coins") or []:
            if not isinstance(item, dict):
                continue
            coin_id, symbol, name = item.get("id"), item.get("symbol"), item.get("name")
            if not (isinstance(coin_id, str) and isinstance(symbol, str) and coin_id and symbol):
                logger.debug("Skipping CoinGecko search entry without id/symbol")
                continue
            refs.append(
                CoinRef(
                    id=coin_id,
                    symbol=symbol.upper(),
                    name=name if isinstance(name, str) and name else symbol,
                    market_cap_rank=_rank(item.get("market_cap_rank")),
                )
            )
        refs.sort(key=lambda c: (c.market_cap_rank is None, c.market_cap_rank or 0))
        return refs

    async def exchange_rates(self) -> dict[str, Decimal]:
        """USD value of one unit of each fiat currency (``/exchange_rates``).

        CoinGecko gives every rate relative to BTC; ``EUR`` is ``usd_value / eur_value``.

        Returns:
            Upper-case ISO code to USD per unit (``{"USD": 1, "EUR": 1.08...}``).

        Raises:
            ProviderError: The request failed or has no usable USD rate.
        """
        data = expect_dict(await self._get("/exchange_rates"), PROVIDER, "/exchange_rates")
        rates = expect_dict(data.get("rates"), PROVIDER, "/exchange_rates rates")
        usd = rates.get("usd")
        usd_value = positive_number(usd.get("value")) if isinstance(usd, dict) else None
        if usd_value is None:
            raise ProviderError(PROVIDER, "exchange_rates without a usable USD rate")
        out: dict[str, Decimal] = {}
        for code, rate in rates.items():
            if not isinstance(rate, dict) or rate.get("type") != "fiat":
                continue
            value = positive_number(rate.get("value"))
            if value is None:
                logger.info("Skipping CoinGecko exchange rate %s: %r", code, rate.get("value"))
                continue
            out[code.upper()] = usd_value / value
        return out


# -- parsing ------------------------------------------------------------------------------


def _simple_quote(coin: CoinRef, vs: str, entry: object, fetched_at: datetime) -> Quote | None:
    if not isinstance(entry, dict):
        logger.info("Skipping CoinGecko price for %s: entry is %s", coin.id, type(entry).__name__)
        return None
    price = positive_number(entry.get(vs))
    if price is None:
        logger.info("Skipping CoinGecko price for %s: %s", coin.id, _shown(entry.get(vs)))
        return None
    return Quote(
        coin=coin,
        vs_currency=vs,
        price=price,
        change_24h_pct=json_number(entry.get(f"{vs}_24h_change")),
        market_cap=positive_number(entry.get(f"{vs}_market_cap")),
        volume_24h=_non_negative(entry.get(f"{vs}_24h_vol")),
        last_updated=from_unix_seconds(entry.get("last_updated_at")),
        source=PROVIDER,
        origin=DataOrigin.LIVE,
        fetched_at=fetched_at,
    )


def _market_quote(row: object, vs: str, fetched_at: datetime) -> Quote | None:
    if not isinstance(row, dict):
        return None
    coin_id, symbol, name = row.get("id"), row.get("symbol"), row.get("name")
    if not (isinstance(coin_id, str) and isinstance(symbol, str) and coin_id and symbol):
        logger.info("Skipping CoinGecko markets row without id/symbol")
        return None
    raw_price = row.get("current_price")
    price = positive_number(raw_price)
    if price is None:
        logger.info("Skipping CoinGecko price for %s: %s", coin_id, _shown(raw_price))
        return None
    change = row.get("price_change_percentage_24h_in_currency")
    if change is None:
        change = row.get("price_change_percentage_24h")
    return Quote(
        coin=CoinRef(
            id=coin_id,
            symbol=symbol.upper(),
            name=name if isinstance(name, str) and name else symbol.upper(),
            market_cap_rank=_rank(row.get("market_cap_rank")),
        ),
        vs_currency=vs,
        price=price,
        change_24h_pct=json_number(change),
        market_cap=positive_number(row.get("market_cap")),
        volume_24h=_non_negative(row.get("total_volume")),
        last_updated=from_iso(row.get("last_updated")),
        source=PROVIDER,
        origin=DataOrigin.LIVE,
        fetched_at=fetched_at,
    )


def _non_negative(value: object) -> Decimal | None:
    number = json_number(value)
    return number if number is not None and number >= 0 else None


def _rank(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _points(raw: object, *, positive: bool) -> list[tuple[int, float]]:
    """``[[ms, value], ...]`` as sorted ``(unix seconds, value)``; unusable points dropped."""
    if not isinstance(raw, list):
        return []
    out: list[tuple[int, float]] = []
    dropped = 0
    for item in raw:
        if not (isinstance(item, list | tuple) and len(item) >= 2):
            dropped += 1
            continue
        ts, value = json_number(item[0]), json_number(item[1])
        if ts is None or value is None or value < 0 or (positive and value == 0):
            dropped += 1
            continue
        out.append((int(ts) // 1000, float(value)))
    if dropped:
        logger.info("Dropped %d unusable CoinGecko market_chart points", dropped)
    out.sort(key=lambda p: p[0])
    return out
