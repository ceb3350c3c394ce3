"""Current values of the metrics alert rules watch, read in bulk once per tick.

A metric key names what a rule compares with its threshold (see
:mod:`tools.alerts.rules`): ``price:{coin_id}``, ``pct:{coin_id}:{window}``,
``abspct:{coin_id}:{window}``, ``rsi:{coin_id}:{interval}``, ``depeg:{coin_id}``,
``portfolio:{portfolio_id}``, ``formula:{formula_id}:{coin_id}:{interval}``.

Reading is grouped so a tick costs one batched quote request for every price metric,
one history load and one RSI computation per (coin, interval), one portfolio valuation
per portfolio. Percentage changes come from a :class:`PriceTape` of the ticks' own
prices when it covers the window, else from hourly history (or the provider's 24 h
change). A metric that cannot be read this tick is left out (and logged): its rules are
simply not evaluated, never fired on a guess.
"""

from __future__ import annotations

import asyncio
import logging
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tools.alerts.rules import window_seconds
from tools.analysis.fetch import load_bars
from tools.analysis.indicators import rsi
from tools.errors import CryptoGuardError
from tools.identity import UserRef
from tools.market.service import PriceService
from tools.market.types import CoinRef, Quote

if TYPE_CHECKING:
    from tools.analysis.formula import FormulaService
    from tools.portfolio.service import PortfolioService

logger = logging.getLogger(__name__)

RSI_PERIOD = 14
#: Bars loaded for an RSI reading (TA-Lib's RSI needs a long warm-up to settle).
RSI_BARS = 120


@dataclass(frozen=True, slots=True)
class MetricContext:
    """Who a personal metric belongs to (portfolio and formula metrics).

    Attributes:
        owner: The rule owner's identity (from storage, never from text).
        symbol: Ticker the rule is about, if any.
        portfolio: Portfolio name (portfolio metrics).
        formula: Saved formula name (formula metrics).
        base_currency: Currency of a portfolio threshold.
    """

    owner: UserRef
    symbol: str | None = None
    portfolio: str | None = None
    formula: str | None = None
    base_currency: str | None = None


class PriceTape:
    """The recent tick prices of each coin, for percentage changes over short windows.

    Args:
        max_age_s: How much history to keep (the longest window served from the tape).
    """

    def __init__(self, max_age_s: float = 2 * 86400) -> None:
        self.max_age_s = max_age_s
        self._points: dict[str, deque[tuple[float, float]]] = {}

    def record(self, coin_id: str, at: datetime, price: float) -> None:
        """Add a tick price (ignored unless finite and positive, or older than the last)."""
        if not (math.isfinite(price) and price > 0):
            return
        ts = at.timestamp()
        points = self._points.setdefault(coin_id, deque())
        if points and ts <= points[-1][0]:
            return
        points.append((ts, price))
        while points and points[0][0] < ts - self.max_age_s:
            points.popleft()

    def change_pct(self, coin_id: str, window_s: float, now: datetime) -> float | None:
        """Percent change from the price ``window_s`` ago to the latest, if the tape
        reaches back that far (within 10 % of the window), else ``None``."""
        points = self._points.get(coin_id)
        if not points:
            return None
        start = now.timestamp() - window_s
        if points[0][0] > start + 0.1 * window_s:
            return None
        times = [p[0] for p in points]
        index = max(0, bisect_right(times, start) - 1)
        before, latest = points[index][1], points[-1][1]
        return (latest / before - 1.0) * 100.0


class MetricReader:
    """Reads metric values for a tick.

    Args:
        prices: Market data.
        tape: Tick prices (shared with the watcher, which records every tick).
        portfolios: Portfolio valuation (portfolio metrics), if available.
        formulas: Saved formula evaluation (formula metrics), if available.
    """

    def __init__(
        self,
        prices: PriceService,
        tape: PriceTape | None = None,
        *,
        portfolios: PortfolioService | None = None,
        formulas: FormulaService | None = None,
    ) -> None:
        self.prices = prices
        self.tape = tape or PriceTape()
        self.portfolios = portfolios
        self.formulas = formulas

    async def read(
        self,
        metrics: Iterable[str],
        now: datetime,
        *,
        contexts: Mapping[str, MetricContext] | None = None,
        known: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Values of ``metrics`` now; unreadable ones are left out.

        Args:
            metrics: Metric keys.
            now: The tick time.
            contexts: Owner and names for portfolio and formula metrics.
            known: Values already computed elsewhere this tick (depeg deviations).
        """
        contexts = contexts or {}
        values: dict[str, float] = {}
        wanted = set(metrics)
        if known:
            values.update({k: v for k, v in known.items() if k in wanted})
        by_kind: dict[str, list[list[str]]] = {}
        for key in wanted - values.keys():
            parts = key.split(":")
            by_kind.setdefault(parts[0], []).append(parts)
        coin_ids = {p[1] for kind in ("price", "pct", "abspct") for p in by_kind.get(kind, [])}
        quotes = await self._quotes(coin_ids)
        for coin_id, quote in quotes.items():
            if "price:" + coin_id in wanted:
                values["price:" + coin_id] = float(quote.price)
        for kind in ("pct", "abspct"):
            for parts in by_kind.get(kind, []):
                change = await self._change(parts[1], parts[2], now, quotes.get(parts[1]))
                if change is not None:
                    values[":".join(parts)] = abs(change) if kind == "abspct" else change
        rsi_keys = by_kind.get("rsi", [])
        if rsi_keys:
            values.update(await self._rsi(rsi_keys))
        for parts in by_kind.get("portfolio", []):
            key = ":".join(parts)
            value = await self._portfolio(key, contexts.get(key))
            if value is not None:
                values[key] = value
        for parts in by_kind.get("formula", []):
            key = ":".join(parts)
            value = await self._formula(key, parts, contexts.get(key))
            if value is not None:
                values[key] = value
        return {k: v for k, v in values.items() if math.isfinite(v)}

    def record_tick(self, quotes: Iterable[Quote], now: datetime) -> None:
        """Feed the tape with this tick's prices."""
        for quote in quotes:
            self.tape.record(quote.coin.id, now, float(quote.price))

    async def _quotes(self, coin_ids: set[str]) -> dict[str, Quote]:
        if not coin_ids:
            return {}
        coins: list[CoinRef] = []
        for coin_id in sorted(coin_ids):
            found = self.prices.resolver.lookup(coin_id)
            if found is None:
                logger.warning("alert metric for unknown coin id %s skipped", coin_id)
            else:
                coins.append(found.coin)
        try:
            quotes = await self.prices.market.get_quotes(coins, "usd")
        except CryptoGuardError as exc:
            logger.warning("alert tick: no quotes this tick (%s)", exc.user_message)
            return {}
        good = {k: q for k, q in quotes.items() if _usable(q.price)}
        for coin_id in quotes.keys() - good.keys():
            logger.warning("alert tick: unusable price for %s skipped", coin_id)
        return good

    async def _change(
        self, coin_id: str, window: str, now: datetime, quote: Quote | None
    ) -> float | None:
        try:
            seconds = window_seconds(window)
        except CryptoGuardError:
            logger.warning("alert metric with bad window %r skipped", window)
            return None
        change = self.tape.change_pct(coin_id, seconds, now)
        if change is not None:
            return change
        if seconds == 86400 and quote is not None and quote.change_24h_pct is not None:
            return float(quote.change_24h_pct)
        if quote is None:
            return None
        try:
            _, history = await self.prices.get_history(
                coin_id, days=max(2, math.ceil(seconds / 86400) + 1), interval="1h"
            )
        except CryptoGuardError as exc:
            logger.warning("alert tick: no history for %s (%s)", coin_id, exc.user_message)
            return None
        start = now - timedelta(seconds=seconds)
        before = [c for c in history.candles if c.ts <= start]
        if not before:
            return None
        reference = float(before[-1].close)
        return (float(quote.price) / reference - 1.0) * 100.0 if reference > 0 else None

    async def _rsi(self, keys: list[list[str]]) -> dict[str, float]:
        async def one(parts: list[str]) -> tuple[str, float | None]:
            key = ":".join(parts)
            try:
                loaded = await load_bars(self.prices, parts[1], parts[2], RSI_BARS)
            except CryptoGuardError as exc:
                logger.warning("alert tick: no RSI for %s (%s)", key, exc.user_message)
                return key, None
            series = rsi(loaded.bars.close, RSI_PERIOD)
            return key, float(series[-1]) if len(series) else None

        results = await asyncio.gather(*(one(p) for p in keys))
        return {k: v for k, v in results if v is not None}

    async def _portfolio(self, key: str, context: MetricContext | None) -> float | None:
        if self.portfolios is None or context is None:
            return None
        try:
            report = await self.portfolios.summary(
                context.owner, context.portfolio, context.base_currency
            )
        except CryptoGuardError as exc:
            logger.warning("alert tick: no value for %s (%s)", key, exc.user_message)
            return None
        return float(report.summary.total_value)

    async def _formula(
        self, key: str, parts: list[str], context: MetricContext | None
    ) -> float | None:
        if self.formulas is None or context is None or context.formula is None:
            return None
        try:
            report = await self.formulas.evaluate(
                context.symbol or parts[2], context.formula, parts[3], user=context.owner
            )
        except CryptoGuardError as exc:
            logger.warning("alert tick: no value for %s (%s)", key, exc.user_message)
            return None
        return report.latest


def _usable(price: object) -> bool:
    try:
        value = float(price)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(value) and value > 0
