"""Which second factors a user has enrolled: asked at every sign-in (a user with any is asked
for one) and shown on the account page and by ``authgate user show``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from authgate.storage import models as m
from authgate.storage.store.base import StoreBase


@dataclass(frozen=True)
class Enrolled:
    totp: bool = False  # a confirmed TOTP secret
    passkeys: int = 0
    recovery_codes: int = 0  # unused ones

    @property
    def any(self) -> bool:
        """The user has a second factor: sign-in asks for it. Recovery codes alone do not
        count (they are the way back when the factor is lost)."""
        return self.totp or self.passkeys > 0


class FactorStore(StoreBase):
    async def enrolled_factors(self, user_id: int) -> Enrolled:
        async with self._tx() as db:
            totp = await db.scalar(
                select(m.TotpCredential.user_id).where(
                    m.TotpCredential.user_id == user_id,
                    m.TotpCredential.confirmed_at.is_not(None),
                )
            )
            passkeys = await db.scalar(
                select(func.count())
                .select_from(m.WebauthnCredential)
                .where(m.WebauthnCredential.user_id == user_id)
            )
            codes = await db.scalar(
                select(func.count())
                .select_from(m.RecoveryCode)
                .where(m.RecoveryCode.user_id == user_id, m.RecoveryCode.used_at.is_(None))
            )
        return Enrolled(totp is not None, int(passkeys or 0), int(codes or 0))
