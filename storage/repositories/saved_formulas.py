"""Saved formulas: custom indicator formulas a user keeps under a short name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select

from storage.models import SavedFormula, User
from storage.repositories._base import Repository, translating

__all__ = ["SavedFormulaRepository"]


class SavedFormulaRepository(Repository):
    """Create, find, list and delete one owner's saved formulas.

    Every method takes the owner's user id: a formula is only ever found through its
    owner, so another user's formula looks exactly like a missing one.
    """

    async def get(self, owner_id: int, name: str) -> SavedFormula | None:
        """Return the owner's formula called ``name``, or ``None``."""
        stmt = select(SavedFormula).where(
            SavedFormula.owner_id == owner_id, SavedFormula.name == name
        )
        with translating("loading a saved formula"):
            return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_owner(self, owner_id: int) -> Sequence[SavedFormula]:
        """The owner's formulas, by name."""
        stmt = (
            select(SavedFormula)
            .where(SavedFormula.owner_id == owner_id)
            .order_by(SavedFormula.name)
        )
        with translating("listing saved formulas"):
            return (await self.session.scalars(stmt)).all()

    async def count_for_owner(self, owner_id: int, *, lock: bool = False) -> int:
        """How many formulas the owner has saved.

        Args:
            owner_id: The user.
            lock: First lock the owner's ``users`` row until the transaction ends
                (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers
                anyway), so a count-then-insert cap check holds under concurrency.
        """
        with translating("counting saved formulas"):
            if lock:
                await self.session.execute(
                    select(User.id).where(User.id == owner_id).with_for_update()
                )
            stmt = select(func.count()).where(SavedFormula.owner_id == owner_id)
            return int((await self.session.execute(stmt)).scalar_one())

    async def create(
        self, owner_id: int, name: str, formula: str, *, now: datetime
    ) -> SavedFormula:
        """Store a formula.

        Raises:
            DuplicateError: The owner already has a formula with this name.
            ConstraintError: The owner does not exist, or a value is too long
                (PostgreSQL; callers validate lengths first).
        """
        row = SavedFormula(owner_id=owner_id, name=name, formula=formula, created_at=now)
        await self._insert(row, "saving a formula")
        return row

    async def delete(self, owner_id: int, name: str) -> bool:
        """Delete the owner's formula called ``name``; ``False`` if there was none."""
        stmt = delete(SavedFormula).where(
            SavedFormula.owner_id == owner_id, SavedFormula.name == name
        )
        with translating("deleting a saved formula"):
            result = cast(CursorResult[Any], await self.session.execute(stmt))
        return bool(result.rowcount)
