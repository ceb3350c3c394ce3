"""``PriceService``: the market capability every front-end, job and agent tool calls.

It validates and resolves user input, asks the configured ``MarketData`` and returns
reports that carry their own provenance: which coin an ambiguous ticker became, which
values are cached or stale (with their age), and a notice whenever the numbers are
simulated or replayed rather than live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tools.clock import Clock, SystemClock
from tools.errors import LimitError, UnsupportedCurrencyError, UserInputError
from tools.market.base import MarketData
from tools.market.format import format_age
from tools.market.peg_risk import RiskScore, score_health
from tools.market.stablecoins import PegSeverity, PegThresholds, StablecoinHealth, assess
from tools.market.symbols import Resolution, SymbolResolver
from tools.market.types import DataOrigin, PriceHistory, Quote

#: Quote currencies accepted everywhere (CoinGecko supports all of them).
SUPPORTED_VS: frozenset[str] = frozenset({"usd", "eur", "gbp", "jpy", "chf", "btc", "eth"})
MAX_SYMBOLS = 25
MAX_TOP = 100
DEFAULT_STABLECOIN_ROWS = 10
OFFLINE_LABEL = "Offline market: SIMULATED prices, not live data."
REPLAY_LABEL = "Some prices are REPLAYED from a recorded scenario, not live data."


@dataclass(frozen=True, slots=True)
class PriceReport:
    """Quotes for the coins asked about, in the order asked."""

    quotes: list[Quote]
    vs_currency: str
    notes: list[str] = field(default_factory=list)
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class TopReport:
    """The largest coins by market cap, with the day's best and worst movers among them."""

    quotes: list[Quote]
    gainers: list[Quote]
    losers: list[Quote]
    vs_currency: str
    notes: list[str] = field(default_factory=list)
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class StablecoinReport:
    """Peg health of stablecoins, largest supply first."""

    rows: list[StablecoinHealth]
    tracked: int
    notes: list[str] = field(default_factory=list)
    notice: str | None = None
    #: Depeg risk score per symbol (rows whose deviation is unknown have none).
    risk: dict[str, RiskScore] = field(default_factory=dict)


class PriceService:
    """Prices, rankings, history and stablecoin health.

    Args:
        market: The market data source (live, auto or offline).
        resolver: Symbol resolver over the same market.
        thresholds: Peg severity thresholds.
        disagreement_pct: Source spread (percent) above which a price is disputed.
        stale_after_s: A provider timestamp older than this is shown as stale.
        clock: Time source.
    """

    def __init__(
        self,
        market: MarketData,
        resolver: SymbolResolver,
        *,
        thresholds: PegThresholds | None = None,
        disagreement_pct: Decimal = Decimal("0.5"),
        stale_after_s: float = 900.0,
        clock: Clock | None = None,
    ) -> None:
        self.market = market
        self.resolver = resolver
        self.thresholds = thresholds or PegThresholds()
        self.disagreement_pct = disagreement_pct
        self.stale_after_s = stale_after_s
        self._clock = clock or SystemClock()
        #: Recent ``(time, price_in_peg)`` samples of a stablecoin for the risk score's
        #: trend and volatility (the depeg monitor's, once the scheduler runs).
        self.peg_history: Callable[[str], Sequence[tuple[datetime, Decimal]]] | None = None

    # -- quotes ---------------------------------------------------------------------------

    async def get_quotes(self, symbols: Sequence[str], vs_currency: str = "usd") -> PriceReport:
        """Quote one or more coins.

        Raises:
            UserInputError: No symbols, too many, or an unsupported currency.
            UnknownSymbolError: A symbol matches no coin.
            MarketDataUnavailableError: No source could answer.
        """
        vs = check_vs_currency(vs_currency)
        wanted = [s for s in (str(x).strip() for x in symbols) if s]
        if not wanted:
            raise UserInputError("Name at least one coin, for example: BTC ETH.")
        if len(wanted) > MAX_SYMBOLS:
            raise LimitError(
                f"At most {MAX_SYMBOLS} coins per request; you asked for {len(wanted)}."
            )
        resolutions = await self.resolver.resolve_many(wanted)
        coins = [r.coin for r in resolutions]
        by_id = await self.market.get_quotes(coins, vs)
        notes = [r.note for r in resolutions if r.note]
        quotes: list[Quote] = []
        for resolution in resolutions:
            quote = by_id.get(resolution.coin.id)
            if quote is None:
                notes.append(f"No {vs.upper()} price is available for {resolution.coin.name}.")
                continue
            quotes.append(quote)
        notes += self._freshness_notes(quotes)
        return PriceReport(quotes, vs, notes, self._notice(q.origin for q in quotes))

    async def get_top(self, limit: int = 10, vs_currency: str = "usd") -> TopReport:
        """The ``limit`` largest coins, plus the top three gainers and losers among them."""
        vs = check_vs_currency(vs_currency)
        if not 1 <= limit <= MAX_TOP:
            raise UserInputError(
                f"The top list goes from 1 to {MAX_TOP} coins; you asked for {limit}."
            )
        quotes = await self.market.get_top(limit, vs)
        self.resolver.add(q.coin for q in quotes)
        movers = [q for q in quotes if q.change_24h_pct is not None]
        movers.sort(key=lambda q: q.change_24h_pct or Decimal(0), reverse=True)
        gainers = [q for q in movers[:3] if (q.change_24h_pct or 0) > 0]
        losers = [q for q in reversed(movers[-3:]) if (q.change_24h_pct or 0) < 0]
        notes = self._freshness_notes(quotes)
        return TopReport(quotes, gainers, losers, vs, notes, self._notice(q.origin for q in quotes))

    async def get_history(
        self, symbol: str, *, days: int = 30, interval: str = "1d", vs_currency: str = "usd"
    ) -> tuple[Resolution, PriceHistory]:
        """OHLCV history for one coin."""
        vs = check_vs_currency(vs_currency)
        resolution = await self.resolver.resolve(symbol)
        history = await self.market.get_history(resolution.coin, vs, days, interval)
        return resolution, history

    # -- stablecoins ----------------------------------------------------------------------

    async def get_stablecoin_status(self, symbols: Sequence[str] | None = None) -> StablecoinReport:
        """Peg health of the named stablecoins, or of the largest plus any that are off peg.

        Raises:
            UserInputError: A named coin is not a tracked stablecoin.
        """
        coins = await self.market.get_stablecoins()
        fx = await self.market.get_fx_usd()
        rows = [
            assess(c, fx, self.thresholds, disagreement_pct=self.disagreement_pct) for c in coins
        ]
        rows.sort(key=lambda r: r.coin.circulating or Decimal(0), reverse=True)
        if symbols:
            rows = await self._pick_stablecoins(rows, symbols)
        else:
            top = rows[:DEFAULT_STABLECOIN_ROWS]
            off_peg = [
                r
                for r in rows[DEFAULT_STABLECOIN_ROWS:]
                if r.severity not in (PegSeverity.OK, PegSeverity.UNKNOWN)
                and (r.coin.circulating or 0) >= 10_000_000
            ]
            rows = top + off_peg
        notes = sorted(
            {r.coin.note for r in rows if r.coin.note and r.coin.origin is DataOrigin.LIVE}
        )
        notes += [
            f"{r.coin.symbol}: {r.coin.note}."
            for r in rows
            if r.coin.origin is DataOrigin.REPLAYED and r.coin.note
        ]
        for row in rows:
            if row.disputed:
                notes.append(
                    f"{row.coin.symbol}: sources disagree by {row.dispersion_pct:.2f}%; "
                    "showing the median."
                )
        risk: dict[str, RiskScore] = {}
        for row in rows:
            recent = self.peg_history(row.coin.symbol) if self.peg_history else ()
            score = score_health(row, recent)
            if score is not None:
                risk[row.coin.symbol] = score
        notice = self._notice(r.coin.origin for r in rows)
        return StablecoinReport(rows, len(coins), notes, notice, risk)

    async def _pick_stablecoins(
        self, rows: list[StablecoinHealth], symbols: Sequence[str]
    ) -> list[StablecoinHealth]:
        by_symbol: dict[str, StablecoinHealth] = {}
        for health in rows:  # largest first, so a shared ticker keeps the biggest coin
            by_symbol.setdefault(health.coin.symbol.upper(), health)
        by_id = {h.coin.coin_id: h for h in rows if h.coin.coin_id}
        picked: list[StablecoinHealth] = []
        for text in symbols:
            key = text.strip().lstrip("$").upper()
            row: StablecoinHealth | None = by_symbol.get(key)
            if row is None:
                resolution = await self.resolver.resolve(text)
                row = by_id.get(resolution.coin.id)
            if row is None:
                raise UserInputError(
                    f"{text.strip()[:40]} is not a tracked stablecoin. "
                    "Try /depeg without arguments to see them."
                )
            if row not in picked:
                picked.append(row)
        return picked

    # -- labels ---------------------------------------------------------------------------

    def _freshness_notes(self, quotes: Sequence[Quote]) -> list[str]:
        now = self._clock.now()
        notes: list[str] = []
        for quote in quotes:
            if quote.cached_age_seconds is not None:
                notes.append(
                    f"{quote.coin.symbol}: providers unavailable, showing the price from "
                    f"{format_age(quote.cached_age_seconds)} ago."
                )
            elif (age := stale_age(quote.last_updated, now, self.stale_after_s)) is not None:
                notes.append(
                    f"{quote.coin.symbol}: price is stale, last updated {format_age(age)} ago."
                )
            if quote.origin is DataOrigin.REPLAYED and quote.note:
                notes.append(f"{quote.coin.symbol}: {quote.note}.")
        return notes

    def _notice(self, origins: Iterable[DataOrigin]) -> str | None:
        return data_notice(self.market, origins)


def data_notice(market: object, origins: Iterable[DataOrigin]) -> str | None:
    """The sentence users must see when any number is simulated or replayed, else ``None``.

    While the auto market has fallen back to the offline market, its own notice is used.
    """
    seen = set(origins)
    if DataOrigin.SIMULATED in seen:
        auto_notice = getattr(market, "notice", None)
        return auto_notice if isinstance(auto_notice, str) else OFFLINE_LABEL
    if DataOrigin.REPLAYED in seen:
        return REPLAY_LABEL
    return None


def check_vs_currency(vs_currency: str) -> str:
    """Normalise and validate a quote currency (``"USD"`` -> ``"usd"``)."""
    vs = str(vs_currency).strip().lower()
    if vs not in SUPPORTED_VS:
        raise UnsupportedCurrencyError(vs_currency, [c.upper() for c in SUPPORTED_VS])
    return vs


def stale_age(last_updated: datetime | None, now: datetime, stale_after_s: float) -> float | None:
    """The age in seconds of a provider timestamp older than ``stale_after_s``, else ``None``."""
    if last_updated is None:
        return None
    age = (now - last_updated).total_seconds()
    return age if age > stale_after_s else None
