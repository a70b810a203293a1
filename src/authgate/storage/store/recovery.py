"""A user's recovery codes, as hashes (``accounts/recovery_codes`` makes and checks them).

A set is replaced whole (the old codes stop working in the same transaction); a code is used
up by one UPDATE that matches only while it is unused, so it works once across workers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update

from authgate.storage import models as m
from authgate.storage.store.base import StoreBase, now


class RecoveryCodeStore(StoreBase):
    async def replace_recovery_codes(self, user_id: int, hashes: Sequence[str]) -> None:
        """The user's codes are exactly ``hashes`` from now on, all unused."""
        created = now()
        async with self._tx() as db:
            await db.execute(delete(m.RecoveryCode).where(m.RecoveryCode.user_id == user_id))
            db.add_all(
                m.RecoveryCode(user_id=user_id, code_hash=h, created_at=created) for h in hashes
            )
            await db.commit()

    async def unused_recovery_codes(self, user_id: int) -> list[tuple[int, str]]:
        """(id, hash) of each unused code of the user."""
        table = m.RecoveryCode
        async with self._tx() as db:
            rows = await db.execute(
                select(table.id, table.code_hash).where(
                    table.user_id == user_id, table.used_at.is_(None)
                )
            )
            return [(int(code_id), str(hashed)) for code_id, hashed in rows]

    async def use_recovery_code(self, code_id: int) -> bool:
        """Mark a code used; False when it already was (another worker was first)."""
        table = m.RecoveryCode
        async with self._tx() as db:
            result = await db.execute(
                update(table)
                .where(table.id == code_id, table.used_at.is_(None))
                .values(used_at=now())
            )
            await db.commit()
        return bool(getattr(result, "rowcount", 0))

    async def remove_recovery_codes(self, user_id: int) -> int:
        """Delete every code of the user; how many were unused."""
        table = m.RecoveryCode
        async with self._tx() as db:
            unused = await db.execute(
                select(table.id).where(table.user_id == user_id, table.used_at.is_(None))
            )
            count = len(unused.all())
            await db.execute(delete(table).where(table.user_id == user_id))
            await db.commit()
        return count
