"""The depeg monitor: one small state machine per stablecoin, fed one price sample at a time.

Each coin has a *confirmed* severity (ok, warning, high, critical) and, while its price
points elsewhere, *pending* streaks: for each tier between the confirmed one and the
sample's, the time of the first sample of the streak and how many usable samples it has
lasted. A tier is confirmed once its streak has held for ``persist_samples`` usable
samples **and** ``persist_minutes`` minutes (both are minimums; the defaults, 2 samples
and 0 minutes, make it "two samples in a row"; ``persist_samples=1`` with
``persist_minutes=10`` makes it "ten minutes", which takes at least two samples).

* Escalation: when the price has held at or beyond a higher tier, that tier is confirmed
  and announced (a jump from ok straight to critical announces critical only).
* Easing: a lower tier counts only once the deviation is ``recovery_margin_pct`` inside
  its boundary (hysteresis), e.g. back to high needs ``|deviation| < critical - margin``.
  A confirmed drop to a lower, still off-peg tier is announced once per tier and episode
  as a partial recovery (``RECOVERED`` with ``severity`` high or warning: "recovered from
  critical to high; still off peg").
* Recovery: back under ``warn - margin`` for the persistence period confirms ok and
  announces ``RECOVERED`` with ``severity`` ok; that ends the episode.
* An episode runs from the first confirmed off-peg tier to the recovery. Within one,
  no tier is announced twice: a re-escalation to a tier already announced (or a second
  drop to a tier already announced as eased) is silent, so a price flapping around a
  boundary produces at most one message per tier.

Samples that are stale, disputed, without a peg currency, or whose price is missing,
NaN, infinite, zero or negative are skipped and logged (INFO once per symbol and reason,
DEBUG after): they neither fire nor count towards persistence, and they do not break a
streak. Samples not newer than the coin's last usable one are duplicates and skipped too.

The monitor keeps the last ``recent_size`` usable ``(time, price_in_peg)`` samples per coin
to feed the risk score (:mod:`tools.market.peg_risk`). Its whole state round-trips through
JSON (:meth:`DepegMonitor.dump_state` / :meth:`DepegMonitor.load_state`), so a restart
mid-episode neither repeats nor loses a message.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from tools.market.peg_risk import RiskScore, score_deviation
from tools.market.stablecoins import PegSeverity, PegThresholds, StablecoinHealth

logger = logging.getLogger(__name__)

STATE_VERSION = 1
HUNDRED = Decimal(100)
#: Confirmable severities, lowest first.
LEVELS: tuple[PegSeverity, ...] = (
    PegSeverity.OK,
    PegSeverity.WARNING,
    PegSeverity.HIGH,
    PegSeverity.CRITICAL,
)
_RANK = {level: rank for rank, level in enumerate(LEVELS)}


class DepegEventKind(StrEnum):
    """What a depeg message announces (the severity words users read)."""

    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"
    RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class PegSample:
    """One observation of a stablecoin's price against its own peg.

    Attributes:
        symbol: Upper-case ticker (``"USDC"``).
        at: When the price was observed (timezone-aware; naive times are taken as UTC).
        price_in_peg: Price in the peg currency (``0.9987`` EUR for a EUR coin).
        peg_currency: ISO code of the peg (``"USD"``, ``"EUR"``); ``None`` skips the sample.
        disputed: Sources disagree beyond the tolerance: skipped.
        stale: The price is too old to act on: skipped.
        health: The coin's full peg health, for the risk score (supply, dispersion...).
    """

    symbol: str
    at: datetime
    price_in_peg: Decimal | None
    peg_currency: str | None
    disputed: bool = False
    stale: bool = False
    health: StablecoinHealth | None = None


@dataclass(frozen=True, slots=True)
class DepegEvent:
    """A message the monitor wants sent.

    Attributes:
        symbol: The stablecoin.
        kind: warning, high, critical or recovered.
        at: Time of the sample that confirmed the change.
        price_in_peg: That sample's price in the peg currency.
        deviation_pct: That sample's signed deviation from the peg, percent.
        previous: Confirmed severity before the change.
        severity: Confirmed severity after it (``ok`` for a full recovery; ``high`` or
            ``warning`` for a partial one).
        peg_currency: ISO code of the peg.
        risk: Depeg risk score at that sample.
        message: Plain text users get (no markup).
    """

    symbol: str
    kind: DepegEventKind
    at: datetime
    price_in_peg: Decimal
    deviation_pct: Decimal
    previous: PegSeverity
    severity: PegSeverity
    peg_currency: str
    risk: RiskScore | None
    message: str

    @property
    def back_on_peg(self) -> bool:
        """True for the recovery that ends an episode (not a partial one)."""
        return self.kind is DepegEventKind.RECOVERED and self.severity is PegSeverity.OK


@dataclass(slots=True)
class _Streak:
    since: datetime
    count: int


@dataclass(slots=True)
class _Coin:
    """Mutable state of one coin (see the module docstring)."""

    recent: deque[tuple[datetime, Decimal]]
    confirmed: PegSeverity = PegSeverity.OK
    peak: PegSeverity = PegSeverity.OK
    eased: set[PegSeverity] = field(default_factory=set)
    episode_since: datetime | None = None
    up: dict[PegSeverity, _Streak] = field(default_factory=dict)
    down: dict[PegSeverity, _Streak] = field(default_factory=dict)
    last_at: datetime | None = None
    last_deviation: Decimal | None = None
    ok_deviation: Decimal | None = None
    skip_reason: str | None = None


class DepegMonitor:
    """Turns stablecoin price samples into warning/high/critical/recovered messages.

    Args:
        thresholds: Tier boundaries (absolute deviation, percent); must satisfy
            ``0 < warn < high < critical``.
        persist_samples: Usable samples a new tier must hold for (at least 1).
        persist_minutes: Minutes a new tier must hold for, from its first sample (0: off).
            Both conditions must be met.
        recovery_margin_pct: Hysteresis: a lower tier counts only this far (percentage
            points) inside its boundary. Capped at half the warn threshold.
        recent_size: Usable samples kept per coin for the risk score.

    Raises:
        ValueError: A setting is out of range.
    """

    def __init__(
        self,
        thresholds: PegThresholds,
        *,
        persist_samples: int = 2,
        persist_minutes: float = 0,
        recovery_margin_pct: Decimal = Decimal("0.1"),
        recent_size: int = 24,
    ) -> None:
        if not 0 < thresholds.warn_pct < thresholds.high_pct < thresholds.critical_pct:
            raise ValueError(
                "depeg thresholds must satisfy 0 < warn < high < critical, got "
                f"{thresholds.warn_pct}, {thresholds.high_pct}, {thresholds.critical_pct}"
            )
        if persist_samples < 1:
            raise ValueError(f"persist_samples must be at least 1, got {persist_samples}")
        if not (math.isfinite(persist_minutes) and persist_minutes >= 0):
            raise ValueError(f"persist_minutes must be 0 or more, got {persist_minutes}")
        margin = Decimal(recovery_margin_pct)
        if not margin.is_finite() or margin < 0:
            raise ValueError(f"recovery_margin_pct must be 0 or more, got {recovery_margin_pct}")
        if recent_size < 2:
            raise ValueError(f"recent_size must be at least 2, got {recent_size}")
        self.thresholds = thresholds
        self.persist_samples = int(persist_samples)
        self.persist_minutes = float(persist_minutes)
        self.recovery_margin_pct = min(margin, thresholds.warn_pct / 2)
        self.recent_size = recent_size
        self._coins: dict[str, _Coin] = {}

    # -- queries ---------------------------------------------------------------------------

    def symbols(self) -> list[str]:
        """Symbols the monitor has state for, sorted."""
        return sorted(self._coins)

    def severity(self, symbol: str) -> PegSeverity:
        """Confirmed severity of ``symbol`` (``unknown`` before its first usable sample)."""
        coin = self._coins.get(symbol.strip().upper())
        if coin is None or coin.last_at is None:
            return PegSeverity.UNKNOWN
        return coin.confirmed

    def recent(self, symbol: str) -> list[tuple[datetime, Decimal]]:
        """The recent usable ``(time, price_in_peg)`` samples of ``symbol``, oldest first."""
        coin = self._coins.get(symbol.strip().upper())
        return list(coin.recent) if coin else []

    def confirmed_deviation(self, symbol: str) -> Decimal | None:
        """Absolute deviation (percent) as confirmed by the monitor, for user "depeg" rules.

        While the coin is confirmed on peg, this is the ``|deviation|`` of the last sample
        that agreed (an unconfirmed excursion does not show); while a depeg is confirmed,
        the last usable sample's ``|deviation|``, never below the warn threshold until the
        recovery is confirmed. So the value crosses the warn threshold exactly when the
        monitor confirms a depeg or its recovery. ``None`` before any agreeing sample.
        """
        coin = self._coins.get(symbol.strip().upper())
        if coin is None or coin.last_deviation is None:
            return None
        if coin.confirmed is PegSeverity.OK:
            return coin.ok_deviation
        return max(abs(coin.last_deviation), self.thresholds.warn_pct)

    # -- the state machine -------------------------------------------------------------------

    def observe(self, sample: PegSample) -> list[DepegEvent]:
        """Feed one sample; return the messages it triggers (usually none)."""
        symbol = sample.symbol.strip().upper()
        coin = self._coins.get(symbol)
        if coin is None:
            coin = self._coins[symbol] = _Coin(recent=deque(maxlen=self.recent_size))
        at = sample.at if sample.at.tzinfo is not None else sample.at.replace(tzinfo=UTC)
        price, reason = _usable_price(sample)
        if reason is None and coin.last_at is not None and at <= coin.last_at:
            reason = "not newer than the previous sample"
        if reason is not None or price is None:
            self._skip(symbol, coin, at, reason or "no price")
            return []
        if coin.skip_reason is not None:
            logger.info("%s: usable samples again at %s", symbol, at.isoformat())
            coin.skip_reason = None

        deviation = (price - 1) * HUNDRED
        size = abs(deviation)
        previous = coin.confirmed
        new = self._advance(coin, at, size)
        events: list[DepegEvent] = []
        if new is not None:
            events = self._confirm(coin, symbol, sample, at, price, deviation, new)
        coin.last_at, coin.last_deviation = at, deviation
        if coin.confirmed is PegSeverity.OK and self.thresholds.classify(size) is PegSeverity.OK:
            coin.ok_deviation = size
        coin.recent.append((at, price))
        if new is not None and not events:
            logger.info("%s: severity %s -> %s at %s (not announced)", symbol, previous, new, at)
        return events

    def _advance(self, coin: _Coin, at: datetime, size: Decimal) -> PegSeverity | None:
        """Update the pending streaks with one sample; the tier to confirm, if any."""
        up_tier = self.thresholds.classify(size)
        down_tier = self.thresholds.classify(size + self.recovery_margin_pct)
        rank = _RANK[coin.confirmed]
        if _RANK[up_tier] > rank:
            coin.down.clear()
            _extend(coin.up, LEVELS[rank + 1 : _RANK[up_tier] + 1], at)
            held = [level for level in coin.up if self._held(coin.up[level], at)]
            return max(held, key=_RANK.__getitem__) if held else None
        if _RANK[down_tier] < rank:
            coin.up.clear()
            _extend(coin.down, LEVELS[_RANK[down_tier] : rank], at)
            held = [level for level in coin.down if self._held(coin.down[level], at)]
            return min(held, key=_RANK.__getitem__) if held else None
        coin.up.clear()
        coin.down.clear()
        return None

    def _held(self, streak: _Streak, at: datetime) -> bool:
        minutes = (at - streak.since).total_seconds() / 60
        return streak.count >= self.persist_samples and minutes >= self.persist_minutes

    def _confirm(
        self,
        coin: _Coin,
        symbol: str,
        sample: PegSample,
        at: datetime,
        price: Decimal,
        deviation: Decimal,
        new: PegSeverity,
    ) -> list[DepegEvent]:
        """Make ``new`` the confirmed tier; the message it deserves, if any."""
        previous = coin.confirmed
        rising = _RANK[new] > _RANK[previous]
        streaks = coin.up if rising else coin.down
        since = streaks[new].since
        coin.confirmed = new
        # Streaks at or before the confirmed tier are used up; those beyond it go on.
        beyond = [
            lvl
            for lvl in streaks
            if (_RANK[lvl] > _RANK[new] if rising else _RANK[lvl] < _RANK[new])
        ]
        for level in [lvl for lvl in streaks if lvl not in beyond]:
            del streaks[level]

        kind: DepegEventKind | None = None
        if rising:
            if previous is PegSeverity.OK and coin.peak is PegSeverity.OK:
                coin.episode_since = since
            if _RANK[new] > _RANK[coin.peak]:
                kind, coin.peak = DepegEventKind(new.value), new
        elif new is PegSeverity.OK:
            if coin.peak is not PegSeverity.OK:
                kind = DepegEventKind.RECOVERED
        elif _RANK[new] < _RANK[coin.peak] and new not in coin.eased:
            kind = DepegEventKind.RECOVERED
            coin.eased.add(new)
        events: list[DepegEvent] = []
        if kind is not None:
            currency = (sample.peg_currency or "").strip().upper()
            risk = self._risk(coin, sample, deviation)
            text = self._message(
                symbol, kind, price, deviation, previous, new, currency, coin, since, risk
            )
            events.append(
                DepegEvent(
                    symbol=symbol,
                    kind=kind,
                    at=at,
                    price_in_peg=price,
                    deviation_pct=deviation,
                    previous=previous,
                    severity=new,
                    peg_currency=currency,
                    risk=risk,
                    message=text,
                )
            )
        if new is PegSeverity.OK:  # the episode is over
            coin.peak, coin.eased, coin.episode_since = PegSeverity.OK, set(), None
        return events

    def _risk(self, coin: _Coin, sample: PegSample, deviation: Decimal) -> RiskScore | None:
        health = sample.health
        try:
            return score_deviation(
                deviation,
                list(coin.recent),
                supply_change_1d_pct=health.supply_change_1d_pct if health else None,
                supply_change_7d_pct=health.supply_change_7d_pct if health else None,
                dispersion_pct=health.dispersion_pct if health else None,
                peg_mechanism=health.coin.peg_mechanism if health else None,
            )
        except (ValueError, ArithmeticError):  # a score is a nicety; the alert still goes out
            logger.warning("%s: risk score unavailable", sample.symbol, exc_info=True)
            return None

    def _message(
        self,
        symbol: str,
        kind: DepegEventKind,
        price: Decimal,
        deviation: Decimal,
        previous: PegSeverity,
        new: PegSeverity,
        currency: str,
        coin: _Coin,
        since: datetime,
        risk: RiskScore | None,
    ) -> str:
        side = "below" if deviation < 0 else "above"
        where = f"{price:.4f} {currency}, {abs(deviation):.2f}% {side} its 1 {currency} peg"
        if kind is DepegEventKind.RECOVERED and new is PegSeverity.OK:
            band = _num(self.thresholds.warn_pct - self.recovery_margin_pct)
            started = coin.episode_since or since
            text = (
                f"{symbol} depeg recovered: {where}, back within {band}% "
                f"(off peg since {_when(started)}, worst tier {coin.peak.value})."
            )
        elif kind is DepegEventKind.RECOVERED:
            text = (
                f"{symbol} depeg recovered from {previous.value} to {new.value}: {where}; "
                f"still off peg ({new.value} from {_num(self._bound(new))}%)."
            )
        else:
            origin = (
                f"since {_when(since)}"
                if previous is PegSeverity.OK
                else f"up from {previous.value}, since {_when(since)}"
            )
            text = (
                f"{symbol} depeg {kind.value}: {where} "
                f"({kind.value} from {_num(self._bound(new))}%, {origin})."
            )
        if risk is not None:
            text += f" Depeg {risk.summary()}."
        return text

    def _bound(self, level: PegSeverity) -> Decimal:
        return {
            PegSeverity.WARNING: self.thresholds.warn_pct,
            PegSeverity.HIGH: self.thresholds.high_pct,
            PegSeverity.CRITICAL: self.thresholds.critical_pct,
        }.get(level, Decimal(0))

    def _skip(self, symbol: str, coin: _Coin, at: datetime, reason: str) -> None:
        if coin.skip_reason != reason:
            logger.info("%s: sample at %s skipped: %s", symbol, at.isoformat(), reason)
            coin.skip_reason = reason
        else:
            logger.debug("%s: sample at %s skipped: %s", symbol, at.isoformat(), reason)

    # -- persistence -------------------------------------------------------------------------

    def dump_state(self, symbols: Iterable[str] | None = None) -> dict[str, object]:
        """The monitor's state as a JSON-serialisable dict.

        Args:
            symbols: Only these coins (e.g. the ones observed this tick); all by default.
                The ``coins`` objects of several dumps can be merged into one state.
        """
        wanted = None if symbols is None else {s.strip().upper() for s in symbols}
        coins = {
            symbol: _dump_coin(coin)
            for symbol, coin in sorted(self._coins.items())
            if wanted is None or symbol in wanted
        }
        return {
            "version": STATE_VERSION,
            "thresholds": [
                str(self.thresholds.warn_pct),
                str(self.thresholds.high_pct),
                str(self.thresholds.critical_pct),
            ],
            "coins": coins,
        }

    @classmethod
    def load_state(
        cls, state: dict[str, Any] | None, thresholds: PegThresholds, **kwargs: Any
    ) -> DepegMonitor:
        """A monitor with ``thresholds`` (and ``kwargs``) resuming from ``dump_state`` output.

        A missing, foreign-version or malformed state starts fresh (logged); a malformed
        coin entry is dropped on its own.
        """
        monitor = cls(thresholds, **kwargs)
        if not state:
            return monitor
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            logger.warning("depeg monitor state not understood; starting fresh")
            return monitor
        coins = state.get("coins")
        if not isinstance(coins, dict):
            logger.warning("depeg monitor state has no coins; starting fresh")
            return monitor
        for symbol, data in coins.items():
            try:
                monitor._coins[str(symbol)] = _load_coin(data, monitor.recent_size)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                logger.warning("depeg monitor state for %s is malformed; dropped", symbol)
        return monitor


# -- helpers ------------------------------------------------------------------------------------


def _usable_price(sample: PegSample) -> tuple[Decimal | None, str | None]:
    """The sample's price, or why it cannot be used."""
    if sample.stale:
        return None, "stale price"
    if sample.disputed:
        return None, "sources disagree (disputed price)"
    if not sample.peg_currency or not str(sample.peg_currency).strip():
        return None, "no peg currency (variable peg)"
    raw: object = sample.price_in_peg
    if raw is None:
        return None, "no price"
    if isinstance(raw, bool):
        return None, f"unusable price {raw!r}"
    try:
        price = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None, f"unusable price {str(raw)[:40]!r}"
    if not price.is_finite():
        return None, f"non-finite price {price}"
    if price <= 0:
        return None, f"non-positive price {price}"
    return price, None


def _extend(
    streaks: dict[PegSeverity, _Streak], levels: tuple[PegSeverity, ...], at: datetime
) -> None:
    """Continue the streaks of ``levels`` (start missing ones at ``at``); drop the others."""
    for level in [lvl for lvl in streaks if lvl not in levels]:
        del streaks[level]
    for level in levels:
        streak = streaks.get(level)
        if streak is None:
            streaks[level] = _Streak(since=at, count=1)
        else:
            streak.count += 1


def _num(value: Decimal) -> str:
    """``Decimal("0.50")`` -> ``"0.5"``, ``Decimal("5")`` -> ``"5"``."""
    return format(value.normalize(), "f")


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _parse_at(text: object) -> datetime:
    if not isinstance(text, str):
        raise TypeError("time must be a string")
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _opt_at(text: object) -> datetime | None:
    return None if text is None else _parse_at(text)


def _opt_dec(text: object) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def _dump_streaks(streaks: dict[PegSeverity, _Streak]) -> dict[str, list[object]]:
    return {level.value: [s.since.isoformat(), s.count] for level, s in streaks.items()}


def _load_streaks(data: object) -> dict[PegSeverity, _Streak]:
    if not isinstance(data, dict):
        raise TypeError("streaks must be an object")
    out: dict[PegSeverity, _Streak] = {}
    for level, (since, count) in data.items():
        out[_level(level)] = _Streak(since=_parse_at(since), count=int(count))
    return out


def _level(text: object) -> PegSeverity:
    level = PegSeverity(str(text))
    if level not in _RANK:
        raise ValueError(f"not a confirmable severity: {text}")
    return level


def _dump_coin(coin: _Coin) -> dict[str, object]:
    return {
        "confirmed": coin.confirmed.value,
        "peak": coin.peak.value,
        "eased": sorted(level.value for level in coin.eased),
        "episode_since": _iso(coin.episode_since),
        "up": _dump_streaks(coin.up),
        "down": _dump_streaks(coin.down),
        "last_at": _iso(coin.last_at),
        "last_deviation": None if coin.last_deviation is None else str(coin.last_deviation),
        "ok_deviation": None if coin.ok_deviation is None else str(coin.ok_deviation),
        "skip_reason": coin.skip_reason,
        "recent": [[at.isoformat(), str(price)] for at, price in coin.recent],
    }


def _load_coin(data: object, recent_size: int) -> _Coin:
    if not isinstance(data, dict):
        raise TypeError("coin state must be an object")
    recent: deque[tuple[datetime, Decimal]] = deque(maxlen=recent_size)
    for at, price in data.get("recent", []):
        recent.append((_parse_at(at), Decimal(str(price))))
    skip = data.get("skip_reason")
    return _Coin(
        recent=recent,
        confirmed=_level(data["confirmed"]),
        peak=_level(data.get("peak", "ok")),
        eased={_level(level) for level in data.get("eased", [])},
        episode_since=_opt_at(data.get("episode_since")),
        up=_load_streaks(data.get("up", {})),
        down=_load_streaks(data.get("down", {})),
        last_at=_opt_at(data.get("last_at")),
        last_deviation=_opt_dec(data.get("last_deviation")),
        ok_deviation=_opt_dec(data.get("ok_deviation")),
        skip_reason=str(skip) if skip is not None else None,
    )
