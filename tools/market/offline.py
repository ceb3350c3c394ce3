"""The offline market: a deterministic simulated market, plus CSV scenario replays.

``OfflineMarket`` implements :class:`tools.market.base.MarketData` without any network:

* Every catalogue coin (:data:`tools.market.catalog.COINS`) follows a seeded,
  mean-reverting random walk around its reference price with its own volatility and
  rare jumps (see :mod:`tools.market.offline_sim`). The same seed and clock time give
  the same numbers in every process; prices move between ticks (10-second knots within
  the hour) while closed bars never change.
* Stablecoins (:data:`tools.market.catalog.STABLECOINS`) sit at their peg (EUR coins at
  the simulated EUR rate) times a mean-reverting deviation of a few basis points, with
  a slowly drifting circulating supply. They are also ordinary coins in top lists.
* Fiat rates wobble slightly around :data:`tools.market.catalog.FX_USD`.
* A :class:`ReplaySpec` replaces a coin's price by a recorded CSV series played on
  wall-clock time (:mod:`tools.market.offline_replay`); such quotes, histories and
  stablecoin rows are labelled ``REPLAYED`` with the file and data time.

Everything else is labelled ``SIMULATED``. History candles carry volume in coin units
(like Binance klines); quote volumes are in the quote currency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np

from tools.clock import Clock, SystemClock
from tools.errors import (
    ConfigurationError,
    UnknownSymbolError,
    UnsupportedCurrencyError,
    UserInputError,
)
from tools.market.catalog import ALIASES, COINS, FX_USD, STABLECOIN_RANKS, STABLECOINS
from tools.market.offline_replay import Replay, ReplaySpec
from tools.market.offline_sim import (
    HOUR_S,
    HOURS_PER_YEAR,
    ChunkCache,
    HourBars,
    PathParams,
    SimPath,
    hour_position,
    hour_start,
)
from tools.market.series import load_price_series
from tools.market.types import (
    INTERVALS,
    Candle,
    CoinRef,
    DataOrigin,
    PriceHistory,
    Quote,
    Stablecoin,
    peg_currency_of,
)

__all__ = ["OfflineMarket", "ReplaySpec", "SUPPORTED_VS", "to_decimal"]

#: Quote currencies the offline market prices in.
SUPPORTED_VS: tuple[str, ...] = ("usd", "eur", "gbp", "jpy", "chf", "btc", "eth")
_CRYPTO_VS = {"btc": "bitcoin", "eth": "ethereum"}
SOURCE = "offline"
SIMULATED_NOTE = "simulated"
MAX_TOP = 250
MAX_DAYS = 3650
MAX_SEARCH_RESULTS = 25
DAY = timedelta(days=1)

# Model parameters (log units). Coins revert to their reference price with a ~90-day
# half-life; about one jump of ~6 hourly sigmas every six weeks.
COIN_HALF_LIFE_H = 90 * 24
COIN_JUMP_PROB = 1 / 1000
COIN_JUMP_SIGMA = 6.0
#: Stationary standard deviation of a stablecoin's peg deviation, by mechanism.
PEG_DEVIATION_STD = {"fiat-backed": 0.0003, "crypto-backed": 0.0006, "algorithmic": 0.0012}
PEG_HALF_LIFE_H = 8.0
SUPPLY_STD, SUPPLY_HALF_LIFE_H = 0.05, 90 * 24
FX_STD, FX_HALF_LIFE_H = 0.012, 30 * 24
STABLECOIN_TURNOVER = 0.15  # daily volume / supply


def _params_from_std(mu: float, std: float, half_life_h: float, *, intra: bool) -> PathParams:
    phi = 2.0 ** (-1.0 / half_life_h)
    return PathParams(mu, std * math.sqrt(1.0 - phi**2), half_life_h, intra_hour=intra)


@dataclass(slots=True)
class _Asset:
    """One priced coin: its reference, its simulated paths and any replay."""

    ref: CoinRef
    supply: float | None  # coins: circulating; stablecoins: base of the drifting supply
    path: SimPath | None  # log price (coins) or log peg deviation (stablecoins)
    turnover: float  # daily volume as a fraction of supply
    peg: str | None = None
    supply_path: SimPath | None = None
    replay: Replay | None = None


class OfflineMarket:
    """A deterministic, lively simulated market with optional CSV replays.

    Args:
        seed: Simulation seed; the same seed and clock time give the same numbers.
        clock: Time source (inject a ``FakeClock`` in tests).
        replays: Recorded series that drive some coins' prices, keyed by symbol.

    Raises:
        ConfigurationError: A replay file cannot be used or its speed is not positive.
    """

    name = "offline"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        replays: Mapping[str, ReplaySpec] | None = None,
    ) -> None:
        self.seed = seed
        self._clock = clock or SystemClock()
        #: Wall-clock time at which replays show their first data point.
        self.started_at = self._clock.now()
        self._cache = ChunkCache()
        self._fx = {
            code: SimPath(
                f"fx:{code}",
                _params_from_std(math.log(rate), FX_STD, FX_HALF_LIFE_H, intra=False),
                seed=seed,
                cache=self._cache,
            )
            for code, rate in FX_USD.items()
            if code != "USD"
        }
        self._assets: dict[str, _Asset] = {}
        for coin in COINS:
            sigma_h = coin.annual_vol / math.sqrt(HOURS_PER_YEAR)
            params = PathParams(
                math.log(coin.price_usd),
                sigma_h,
                COIN_HALF_LIFE_H,
                COIN_JUMP_PROB,
                COIN_JUMP_SIGMA,
            )
            self._assets[coin.id] = _Asset(
                ref=CoinRef(coin.id, coin.symbol, coin.name, coin.rank),
                supply=coin.supply,
                path=SimPath(f"coin:{coin.id}", params, seed=seed, cache=self._cache),
                turnover=0.025 * (coin.annual_vol / 0.55) ** 1.5,
            )
        for stable in STABLECOINS:
            std = PEG_DEVIATION_STD.get(stable.mechanism, 0.001)
            self._assets[stable.id] = _Asset(
                ref=CoinRef(stable.id, stable.symbol, stable.name, STABLECOIN_RANKS.get(stable.id)),
                supply=stable.supply,
                path=SimPath(
                    f"peg:{stable.id}",
                    _params_from_std(0.0, std, PEG_HALF_LIFE_H, intra=True),
                    seed=seed,
                    cache=self._cache,
                ),
                turnover=STABLECOIN_TURNOVER,
                peg=peg_currency_of(stable.peg_type),
                supply_path=SimPath(
                    f"supply:{stable.id}",
                    _params_from_std(0.0, SUPPLY_STD, SUPPLY_HALF_LIFE_H, intra=False),
                    seed=seed,
                    cache=self._cache,
                ),
            )
        for key, spec in (replays or {}).items():
            self._add_replay(key, spec)

    # -- setup -----------------------------------------------------------------------------

    def _add_replay(self, key: str, spec: ReplaySpec) -> None:
        symbol = (spec.symbol or key).strip().lstrip("$").upper()
        if not symbol:
            raise ConfigurationError(f"Replay {key!r} needs a symbol.")
        if not (math.isfinite(spec.speed) and spec.speed > 0):
            raise ConfigurationError(f"Replay speed for {symbol} must be positive.")
        try:
            series = load_price_series(
                spec.path,
                time_column=spec.time_column,
                price_column=spec.price_column,
                scale=spec.scale,
            )
        except UserInputError as exc:
            raise ConfigurationError(
                f"Replay for {symbol}: {exc.user_message}", detail=str(spec.path)
            ) from exc
        asset = self._find_symbol(symbol)
        if asset is None:
            ref = CoinRef(f"replay-{symbol.lower()}", symbol, f"{symbol} (replay)", None)
            asset = self._assets[ref.id] = _Asset(ref, None, None, 0.0)
        if asset.replay is not None:
            raise ConfigurationError(f"{symbol} is replayed twice; keep one file per coin.")
        asset.replay = Replay(spec, series, self.started_at)

    def _find_symbol(self, symbol: str) -> _Asset | None:
        """The largest coin with this ticker, or the coin with this id."""
        lowered = symbol.lower()
        matches = [a for a in self._assets.values() if a.ref.symbol.upper() == symbol]
        if matches:
            return min(matches, key=_rank_key)
        return self._assets.get(lowered) or self._assets.get(ALIASES.get(lowered, ""))

    # -- MarketData ------------------------------------------------------------------------

    async def get_quotes(self, coins: Sequence[CoinRef], vs_currency: str) -> dict[str, Quote]:
        """Return quotes keyed by coin id; coins this market does not know are omitted.

        Raises:
            UnsupportedCurrencyError: ``vs_currency`` is not one of :data:`SUPPORTED_VS`.
        """
        vs = _check_vs(vs_currency)
        now = self._clock.now()
        rates = self._rate(vs, now), self._rate(vs, now - DAY)
        result: dict[str, Quote] = {}
        for coin in coins:
            asset = self._assets.get(coin.id)
            if asset is not None and coin.id not in result:
                result[coin.id] = self._quote(asset, vs, now, rates)
        return result

    async def get_top(self, limit: int, vs_currency: str) -> list[Quote]:
        """Return the ``limit`` largest coins by simulated market cap (stablecoins included).

        Raises:
            UserInputError: ``limit`` is outside 1..250.
            UnsupportedCurrencyError: Unknown quote currency.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TOP:
            raise UserInputError(
                f"The top list goes from 1 to {MAX_TOP} coins; you asked for {_shown(limit)}."
            )
        vs = _check_vs(vs_currency)
        now = self._clock.now()
        rates = self._rate(vs, now), self._rate(vs, now - DAY)
        quotes = [
            self._quote(a, vs, now, rates) for a in self._assets.values() if a.supply is not None
        ]
        quotes.sort(key=lambda q: (-(q.market_cap or 0), _rank_key_ref(q.coin)))
        return [
            replace(q, coin=replace(q.coin, market_cap_rank=i))
            for i, q in enumerate(quotes[:limit], start=1)
        ]

    async def get_history(
        self, coin: CoinRef, vs_currency: str, days: int, interval: str
    ) -> PriceHistory:
        """Return OHLCV bars over the last ``days`` days at ``interval``, oldest first.

        Bars are UTC-aligned (weeks start on Monday); the last bar is in progress and
        ends at the current price. Candle volume is in coin units.

        Raises:
            UserInputError: Bad ``days`` or ``interval``.
            UnsupportedCurrencyError: Unknown quote currency.
            UnknownSymbolError: The coin is not part of the offline market.
        """
        if interval not in INTERVALS:
            raise UserInputError(
                f"Interval must be one of {', '.join(INTERVALS)}; got {_shown(interval)}."
            )
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise UserInputError(
                f"History covers 1 to {MAX_DAYS} days; you asked for {_shown(days)}."
            )
        vs = _check_vs(vs_currency)
        asset = self._assets.get(coin.id)
        if asset is None:
            raise UnknownSymbolError(coin.symbol or coin.id)
        now = self._clock.now()
        bar_hours = INTERVALS[interval] // HOUR_S
        h_first, _ = hour_position(now - timedelta(days=days))
        h0 = (h_first // bar_hours) * bar_hours
        bars = self._convert(asset, self._usd_bars(asset, h0, now), vs, h0, now)
        origin, note = self._provenance(asset, now)
        return PriceHistory(
            coin=asset.ref,
            vs_currency=vs,
            interval=interval,
            candles=_aggregate(bars, h0, bar_hours),
            source=SOURCE,
            origin=origin,
            fetched_at=now,
            note=note,
        )

    async def get_stablecoins(self) -> list[Stablecoin]:
        """Return every catalogue stablecoin with its simulated (or replayed) price and supply."""
        now = self._clock.now()
        rows: list[Stablecoin] = []
        for spec in STABLECOINS:
            asset = self._assets[spec.id]
            price = self.price_at(spec.id, now)
            origin, note = self._provenance(asset, now)
            rows.append(
                Stablecoin(
                    symbol=spec.symbol,
                    name=spec.name,
                    coin_id=spec.id,
                    peg_type=spec.peg_type,
                    peg_currency=peg_currency_of(spec.peg_type),
                    peg_mechanism=spec.mechanism,
                    price_usd=price,
                    circulating=_whole(self._supply(asset, now)),
                    circulating_prev_day=_whole(self._supply(asset, now - DAY)),
                    circulating_prev_week=_whole(self._supply(asset, now - 7 * DAY)),
                    source=SOURCE,
                    origin=origin,
                    fetched_at=now,
                    price_sources={SOURCE: price},
                    note=note,
                )
            )
        return rows

    async def get_fx_usd(self) -> dict[str, Decimal]:
        """Return the USD value of one unit of each fiat currency (slightly wobbling)."""
        now = self._clock.now()
        return {code: to_decimal(self._fx_usd(code, now)) for code in FX_USD}

    async def search(self, query: str) -> list[CoinRef]:
        """Return coins whose ticker, id or name matches ``query``, best match first.

        Exact tickers come first, then exact ids, names and aliases, then prefixes, then
        substrings; ties go to the larger coin.
        """
        text = query.strip().lstrip("$").strip().lower()
        if not text:
            return []
        alias = ALIASES.get(text)
        scored: list[tuple[int, tuple[int, str], CoinRef]] = []
        for asset in self._assets.values():
            ref = asset.ref
            fields = (ref.symbol.lower(), ref.id.lower(), ref.name.lower())
            if fields[0] == text:
                tier = 0
            elif text in fields[1:] or ref.id == alias:
                tier = 1
            elif any(f.startswith(text) for f in fields):
                tier = 2
            elif any(text in f for f in fields):
                tier = 3
            else:
                continue
            scored.append((tier, _rank_key_ref(ref), ref))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [ref for _, _, ref in scored[:MAX_SEARCH_RESULTS]]

    # -- public helpers --------------------------------------------------------------------

    @property
    def coins(self) -> list[CoinRef]:
        """Every coin this market prices (catalogue, stablecoins, replay-only coins)."""
        return [a.ref for a in self._assets.values()]

    def price_at(self, coin_id: str, when: datetime, vs_currency: str = "usd") -> Decimal:
        """The price of a coin at any time, as its quotes would show it.

        Raises:
            UnknownSymbolError: The coin is not part of the offline market.
            UnsupportedCurrencyError: Unknown quote currency.
        """
        vs = _check_vs(vs_currency)
        asset = self._assets.get(coin_id)
        if asset is None:
            raise UnknownSymbolError(coin_id)
        if asset.replay is not None and vs == "usd":
            return asset.replay.price_at(when)
        return to_decimal(self._usd(asset, when) / self._rate(vs, when))

    # -- model -----------------------------------------------------------------------------

    def _quote(self, asset: _Asset, vs: str, now: datetime, rates: tuple[float, float]) -> Quote:
        usd_now, usd_then = self._usd(asset, now), self._usd(asset, now - DAY)
        value = usd_now / rates[0]
        if asset.replay is not None and vs == "usd":
            price = asset.replay.price_at(now)
        else:
            price = to_decimal(value)
        change = (value / (usd_then / rates[1]) - 1.0) * 100.0
        supply = self._supply(asset, now)
        volume = None
        if asset.path is not None and asset.supply is not None:
            units = asset.path.volume_window(now) * asset.supply * asset.turnover / 24.0
            volume = to_decimal(units * value, 10)
        origin, note = self._provenance(asset, now)
        return Quote(
            coin=asset.ref,
            vs_currency=vs,
            price=price,
            change_24h_pct=Decimal(f"{change:.4f}"),
            market_cap=to_decimal(value * supply, 10) if supply is not None else None,
            volume_24h=volume,
            last_updated=now,
            source=SOURCE,
            origin=origin,
            fetched_at=now,
            note=note,
        )

    def _provenance(self, asset: _Asset, now: datetime) -> tuple[DataOrigin, str]:
        if asset.replay is not None:
            return DataOrigin.REPLAYED, asset.replay.note(now)
        return DataOrigin.SIMULATED, SIMULATED_NOTE

    def _fx_usd(self, code: str, when: datetime) -> float:
        """USD per unit of a fiat currency at ``when``."""
        path = self._fx.get(code)
        return 1.0 if path is None else math.exp(path.value(when))

    def _usd(self, asset: _Asset, when: datetime) -> float:
        """The asset's USD price at ``when`` as a float."""
        if asset.replay is not None:
            return asset.replay.value_at(when)
        assert asset.path is not None  # noqa: S101 - only replay-only coins lack a path
        value = math.exp(asset.path.value(when))
        if asset.peg is not None and asset.peg != "USD":
            value *= self._fx_usd(asset.peg, when)
        return value

    def _rate(self, vs: str, when: datetime) -> float:
        """USD value of one unit of the quote currency at ``when``."""
        crypto = _CRYPTO_VS.get(vs)
        if crypto is not None:
            return self._usd(self._assets[crypto], when)
        return self._fx_usd(vs.upper(), when)

    def _supply(self, asset: _Asset, when: datetime) -> float | None:
        if asset.supply is None:
            return None
        if asset.supply_path is None:
            return asset.supply
        return asset.supply * math.exp(asset.supply_path.value(when))

    def _fx_bars(self, code: str, h0: int, now: datetime) -> HourBars:
        """Hourly bars of USD per unit of ``code`` from ``h0`` to ``now`` (linear in hours)."""
        h_now, _ = hour_position(now)
        path = self._fx.get(code)
        if path is None:
            ones = np.ones(h_now - h0 + 1)
            return HourBars(ones, ones, ones, ones, ones)
        grid = np.exp(path.grid(h0, h_now))
        closes = np.append(grid[1:], self._fx_usd(code, now))
        return HourBars(
            grid, np.maximum(grid, closes), np.minimum(grid, closes), closes, np.ones_like(grid)
        )

    def _usd_bars(self, asset: _Asset, h0: int, now: datetime) -> HourBars:
        """Hourly USD bars (volume in coin units) from ``h0`` to the in-progress hour."""
        sim: HourBars | None = None
        if asset.path is not None:
            sim = asset.path.bars_until(h0, now)
        if asset.replay is not None:
            replayed = asset.replay.hour_bars(h0, now)
            volume = replayed.volume if sim is None else sim.volume
            bars = replace(replayed, volume=volume)
        else:
            assert sim is not None  # noqa: S101 - every non-replay asset has a path
            bars = sim.exp()
            if asset.peg is not None and asset.peg != "USD":
                bars = _multiply(bars, self._fx_bars(asset.peg, h0, now))
        if asset.supply is not None:
            bars = replace(bars, volume=bars.volume * (asset.supply * asset.turnover / 24.0))
        return bars

    def _convert(self, asset: _Asset, bars: HourBars, vs: str, h0: int, now: datetime) -> HourBars:
        """Hourly USD bars expressed in ``vs``."""
        if vs == "usd":
            return bars
        crypto = _CRYPTO_VS.get(vs)
        if crypto == asset.ref.id:
            ones = np.ones_like(bars.open)
            return HourBars(ones, ones, ones, ones, bars.volume)
        if crypto is None:
            rate = self._fx_bars(vs.upper(), h0, now)
        else:
            rate = self._usd_bars(self._assets[crypto], h0, now)
        return _divide(bars, rate)


# -- helpers -------------------------------------------------------------------------------


def to_decimal(value: float, digits: int = 8) -> Decimal:
    """Round a float to ``digits`` significant digits as a plain ``Decimal``.

    ``95123.4567`` becomes ``95123.457``, ``0.0000131234567`` becomes ``0.000013123457``
    and large values become integers (``1.2e12`` -> ``1200000000000``).
    """
    number = Decimal(f"{value:.{digits}g}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return number.quantize(Decimal(1))
    return number


def _whole(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(round(value))


def _check_vs(vs_currency: str) -> str:
    vs = str(vs_currency).strip().lower()
    if vs not in SUPPORTED_VS:
        raise UnsupportedCurrencyError(str(vs_currency), [c.upper() for c in SUPPORTED_VS])
    return vs


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."


def _rank_key_ref(ref: CoinRef) -> tuple[int, str]:
    return (ref.market_cap_rank if ref.market_cap_rank is not None else 10**9, ref.id)


def _rank_key(asset: _Asset) -> tuple[int, str]:
    return _rank_key_ref(asset.ref)


def _multiply(bars: HourBars, rate: HourBars) -> HourBars:
    """Bars of a product of two prices (e.g. a EUR coin's EUR price times EUR/USD).

    Open and close are exact; high and low are bounds that contain every product seen
    within the hour (the factors' extremes need not coincide).
    """
    return HourBars(
        bars.open * rate.open,
        bars.high * rate.high,
        bars.low * rate.low,
        bars.close * rate.close,
        bars.volume,
    )


def _divide(bars: HourBars, rate: HourBars) -> HourBars:
    """Bars of a ratio of two prices (a coin in EUR or BTC); extremes are bounds."""
    return HourBars(
        bars.open / rate.open,
        bars.high / rate.low,
        bars.low / rate.high,
        bars.close / rate.close,
        bars.volume,
    )


def _aggregate(bars: HourBars, h0: int, bar_hours: int) -> list[Candle]:
    """Group hourly bars (``h0`` aligned to ``bar_hours``) into candles."""
    count = len(bars.open)
    starts = np.arange(0, count, bar_hours)
    ends = np.append(starts[1:], count) - 1
    opens, closes = bars.open[starts], bars.close[ends]
    highs = np.maximum(np.maximum.reduceat(bars.high, starts), np.maximum(opens, closes))
    lows = np.minimum(np.minimum.reduceat(bars.low, starts), np.minimum(opens, closes))
    volumes = np.add.reduceat(bars.volume, starts)
    return [
        Candle(hour_start(h0 + int(s)), o, h, low, c, v)
        for s, o, h, low, c, v in zip(
            starts.tolist(),
            opens.tolist(),
            highs.tolist(),
            lows.tolist(),
            closes.tolist(),
            volumes.tolist(),
            strict=True,
        )
    ]
