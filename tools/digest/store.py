"""Bulk reads and writes for the digest sweep, through the repositories only (no SQL here).

Digests are handled in batches of users; everything a batch needs takes a handful of
statements: the users' portfolios with their trades, the alerts fired in the last
24 hours (``AlertRepository.events_since``), their active alerts
(``AlertRepository.active_for_owners``), which of them already have a digest on record,
and, in one transaction, the ``digest_log`` claims and the outbox rows.

Three of these use bulk repository methods that this checkout may not have yet
(``PortfolioRepository.list_with_trades``, ``DigestLogRepository.recorded`` and
``try_record_many``). Until it does, each function gives the same answer with one
statement per user (correct, several times slower); the bulk method is used as soon as
the repository has it. Messages are queued with ``OutboxRepository.enqueue_many``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from storage import (
    DigestLogRepository,
    NewMessage,
    OutboxRepository,
    PortfolioRepository,
)
from storage.models import Portfolio, Trade
from tools.portfolio.lots import TradeRecord

__all__ = [
    "PortfolioTrades",
    "claim_digests",
    "enqueue_all",
    "load_portfolios",
    "recorded_digests",
]

#: Ids per ``IN (...)`` list (PostgreSQL allows 32767 parameters per statement).
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class PortfolioTrades:
    """One portfolio with its whole trade history, detached from the database.

    Attributes:
        owner_id: The user.
        portfolio_id: The portfolio's id.
        name: Its name (``"default"``...).
        currency: Upper-case quote currency of its trades.
        trades: Trades in execution order.
        coin_ids: Coin id per upper-case ticker traded.
    """

    owner_id: int
    portfolio_id: int
    name: str
    currency: str
    trades: tuple[TradeRecord, ...]
    coin_ids: dict[str, str]


async def load_portfolios(
    session: Any, owner_ids: Sequence[int]
) -> dict[int, list[PortfolioTrades]]:
    """Every portfolio of these users with its trades, by owner (oldest portfolio first)."""
    pairs: list[tuple[Portfolio, Sequence[Trade]]] = []
    repo = PortfolioRepository(session)
    for start in range(0, len(owner_ids), _CHUNK):
        pairs.extend(await repo.list_with_trades(list(owner_ids[start : start + _CHUNK])))
    out: dict[int, list[PortfolioTrades]] = {}
    for portfolio, rows in pairs:
        out.setdefault(portfolio.owner_id, []).append(_detached(portfolio, rows))
    return out


async def recorded_digests(
    session: Any, claims: Iterable[tuple[int, date]]
) -> set[tuple[int, date]]:
    """Which ``(user id, local date)`` pairs already have a digest on record."""
    wanted = set(claims)
    if not wanted:
        return set()
    repo = DigestLogRepository(session)
    users = sorted({u for u, _ in wanted})
    dates = sorted({d for _, d in wanted})
    found: set[tuple[int, date]] = set()
    for start in range(0, len(users), _CHUNK):
        found |= set(await repo.recorded(users[start : start + _CHUNK], dates))
    return found & wanted


async def claim_digests(
    session: Any, claims: Sequence[tuple[int, date]], *, now: datetime
) -> set[tuple[int, date]]:
    """Record these digests (race-safe); returns the claims this caller got, in a
    transaction that must also queue their messages."""
    ordered = sorted(set(claims))  # one lock order for every sweep (no deadlocks)
    return set(await DigestLogRepository(session).try_record_many(ordered, now=now))


async def enqueue_all(session: Any, messages: Sequence[NewMessage], *, now: datetime) -> int:
    """Queue messages in one statement (existing idempotency keys are skipped); returns
    how many were created."""
    return int(await OutboxRepository(session).enqueue_many(messages, now=now))


def _detached(portfolio: Portfolio, rows: Sequence[Trade]) -> PortfolioTrades:
    records = tuple(
        TradeRecord(
            t.id,
            "sell" if t.side == "sell" else "buy",
            t.symbol.upper(),
            t.quantity,
            t.price,
            t.fee,
            t.executed_at,
        )
        for t in rows
    )
    return PortfolioTrades(
        owner_id=portfolio.owner_id,
        portfolio_id=portfolio.id,
        name=portfolio.name,
        currency=(portfolio.base_currency or "USD").upper(),
        trades=records,
        coin_ids={t.symbol.upper(): t.coin_id for t in rows},
    )
