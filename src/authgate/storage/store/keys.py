"""The signing keys every instance shares: cookie HMAC secrets and JWT keys, as rows.

Per kind (``hmac``, ``jwt``) the key of the highest generation that has no ``verify_until``
signs; a key rotated out keeps verifying until its ``verify_until`` and is then pruned.
The first set is made by whichever instance starts first: every instance tries to insert
generation 1 of both kinds in one transaction, the unique (kind, generation) lets exactly
one of them commit, and the others read what it made. A rotation inserts the next
generation the same way, so two rotations at one moment cannot both win.

The material comes from the caller (the store knows no key formats) and leaves only as a
``Secret``. Every change bumps the revision, so running servers load the keys again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from authgate.config.secret import Secret
from authgate.errors import ConflictError
from authgate.storage import models as m
from authgate.storage.store.base import StoreBase, now

KINDS = ("hmac", "jwt")


@dataclass(frozen=True)
class StoredKey:
    id: int
    kind: str
    generation: int
    material: Secret
    created_at: datetime
    verify_until: datetime | None  # None: this key signs

    @property
    def signs(self) -> bool:
        return self.verify_until is None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _key(row: m.SigningKey) -> StoredKey:
    until = None if row.verify_until is None else _aware(row.verify_until)
    return StoredKey(
        row.id, row.kind, row.generation, Secret(row.material), _aware(row.created_at), until
    )


class KeyStore(StoreBase):
    async def signing_keys(self, at: datetime | None = None) -> list[StoredKey]:
        """The keys that sign or still verify at ``at`` (default now): per kind, newest
        generation first."""
        moment = at or now()
        async with self._tx() as db:
            rows = await db.scalars(
                select(m.SigningKey)
                .where(or_(m.SigningKey.verify_until.is_(None), m.SigningKey.verify_until > moment))
                .order_by(m.SigningKey.kind, m.SigningKey.generation.desc())
            )
            return [_key(row) for row in rows]

    async def create_first_keys(
        self, hmac: Sequence[str], jwt: Sequence[str], older_verify_until: datetime | None = None
    ) -> bool:
        """Make the first set unless there is one: the first of ``hmac`` and of ``jwt`` sign,
        the rest (keys imported from an older data dir) verify until ``older_verify_until``.
        True when this call made it, False when another instance had (or just has)."""
        if not hmac or not jwt:
            raise ValueError("the first set needs a key of each kind")
        async with self._tx() as db:
            if await db.scalar(select(func.count()).select_from(m.SigningKey)):
                return False
            made = now()
            for kind, materials in (("hmac", hmac), ("jwt", jwt)):
                for age, material in enumerate(materials):
                    db.add(
                        m.SigningKey(
                            kind=kind,
                            generation=1 - age,
                            material=material,
                            created_at=made,
                            verify_until=None if age == 0 else (older_verify_until or made),
                        )
                    )
            try:
                await db.flush()
                await self._commit_change(db)
            except (IntegrityError, ConflictError):  # another instance inserted it first
                return False
        return True

    async def rotate_keys(
        self,
        hmac: str,
        jwt: str,
        hmac_verifies_for: timedelta,
        jwt_verifies_for: timedelta,
    ) -> list[StoredKey]:
        """``hmac`` and ``jwt`` become the signers; the keys that signed until now verify
        for the given time from now. The live keys afterwards."""
        moment = now()
        try:
            async with self._tx() as db:
                for kind, material, keep in (
                    ("hmac", hmac, hmac_verifies_for),
                    ("jwt", jwt, jwt_verifies_for),
                ):
                    last = await db.scalar(
                        select(func.max(m.SigningKey.generation)).where(m.SigningKey.kind == kind)
                    )
                    await db.execute(
                        update(m.SigningKey)
                        .where(m.SigningKey.kind == kind, m.SigningKey.verify_until.is_(None))
                        .values(verify_until=moment + keep)
                    )
                    db.add(
                        m.SigningKey(
                            kind=kind,
                            generation=(last or 0) + 1,
                            material=material,
                            created_at=moment,
                            verify_until=None,
                        )
                    )
                await db.flush()
                await self._commit_change(db)
        except (IntegrityError, ConflictError) as exc:
            # any statement may meet the other rotation's row (autoflush), not only the flush
            raise ConflictError(
                "another rotation changed the keys at the same moment; list them and "
                "rotate again if you still need to"
            ) from exc
        return await self.signing_keys()

    async def prune_keys(self, at: datetime | None = None) -> int:
        """Drop the keys whose verifying time is over; how many went."""
        moment = at or now()
        async with self._tx() as db:
            gone = await db.execute(
                delete(m.SigningKey).where(
                    m.SigningKey.verify_until.is_not(None), m.SigningKey.verify_until <= moment
                )
            )
            count = int(getattr(gone, "rowcount", 0) or 0)
            if count:
                await self._commit_change(db)
            else:
                await db.commit()
        return count
