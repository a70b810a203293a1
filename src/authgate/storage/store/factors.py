"""Which second factors a user has enrolled: asked at every sign-in (a user with any is asked
for one) and shown on the account page and by ``authgate user show``; and all of them removed
at once (``authgate user reset-mfa``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

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


@dataclass(frozen=True)
class Removed:
    """What ``remove_second_factors`` took away."""

    totp: bool = False
    passkeys: int = 0
    recovery_codes: int = 0  # unused ones


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

    async def remove_second_factors(self, user_id: int) -> Removed:
        """Remove the user's TOTP secret, passkeys, pending passkey challenges and recovery
        codes, in one transaction."""
        before = await self.enrolled_factors(user_id)
        async with self._tx() as db:
            for table in (
                m.TotpCredential,
                m.WebauthnCredential,
                m.WebauthnChallenge,
                m.RecoveryCode,
            ):
                await db.execute(delete(table).where(table.user_id == user_id))
            await db.commit()
        return Removed(before.totp, before.passkeys, before.recovery_codes)
