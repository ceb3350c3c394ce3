"""``CRYPTOGUARD_MARKET=auto``: live data, falling back to the offline market with a notice.

When a live call fails (after the providers' own retries and cached fallbacks), the
same call is answered by the offline market and ``notice`` tells users that what they
see is simulated. Live is retried after ``retry_live_after`` seconds, so a recovered
network is picked up without a restart, and a dead one costs one failed attempt per
interval rather than one per request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from tools.clock import Clock, SystemClock
from tools.errors import MarketDataUnavailableError
from tools.market.base import MarketData
from tools.market.types import CoinRef, PriceHistory, Quote, Stablecoin

logger = logging.getLogger(__name__)

T = TypeVar("T")

OFFLINE_NOTICE = (
    "Live market data is unreachable, so these are SIMULATED prices from the offline market."
)


class AutoMarket:
    """Live first, offline when live is unreachable.

    Args:
        live: The live market.
        offline: The offline (simulated/replayed) market.
        clock: Time source.
        retry_live_after: Seconds to stay on the offline market after a live failure.
    """

    name = "auto"

    def __init__(
        self,
        live: MarketData,
        offline: MarketData,
        *,
        clock: Clock | None = None,
        retry_live_after: float = 60.0,
    ) -> None:
        self.live = live
        self.offline = offline
        self._clock = clock or SystemClock()
        self._retry_after = timedelta(seconds=retry_live_after)
        self._down_until: datetime | None = None

    @property
    def notice(self) -> str | None:
        """A sentence for users while answers come from the offline market, else ``None``."""
        return OFFLINE_NOTICE if self._live_down() else None

    def _live_down(self) -> bool:
        return self._down_until is not None and self._clock.now() < self._down_until

    def mark_live_down(self, reason: str) -> None:
        """Use the offline market for the next ``retry_live_after`` seconds."""
        if not self._live_down():
            logger.warning("Live market data unreachable (%s); using the offline market", reason)
        self._down_until = self._clock.now() + self._retry_after

    async def _route(
        self, live: Callable[[], Awaitable[T]], offline: Callable[[], Awaitable[T]]
    ) -> T:
        if not self._live_down():
            try:
                result = await live()
            except MarketDataUnavailableError as exc:
                self.mark_live_down(exc.detail or exc.user_message)
            else:
                if self._down_until is not None:
                    logger.info("Live market data is back")
                    self._down_until = None
                return result
        return await offline()

    async def get_quotes(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        """Quotes from live, else offline."""
        return await self._route(
            lambda: self.live.get_quotes(coins, vs_currency),
            lambda: self.offline.get_quotes(coins, vs_currency),
        )

    async def get_top(self, limit: int, vs_currency: str) -> list[Quote]:
        """Top list from live, else offline."""
        return await self._route(
            lambda: self.live.get_top(limit, vs_currency),
            lambda: self.offline.get_top(limit, vs_currency),
        )

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """History from live, else offline."""
        return await self._route(
            lambda: self.live.get_history(coin, vs_currency, days, interval),
            lambda: self.offline.get_history(coin, vs_currency, days, interval),
        )

    async def get_stablecoins(self) -> list[Stablecoin]:
        """Stablecoins from live, else offline."""
        return await self._route(self.live.get_stablecoins, self.offline.get_stablecoins)

    async def get_fx_usd(self) -> dict[str, Decimal]:
        """FX rates from live, else offline."""
        return await self._route(self.live.get_fx_usd, self.offline.get_fx_usd)

    async def search(self, query: str) -> list[CoinRef]:
        """Search live, else offline."""
        return await self._route(
            lambda: self.live.search(query), lambda: self.offline.search(query)
        )
