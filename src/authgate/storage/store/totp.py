"""A user's TOTP secret: made unconfirmed when the enrolment page is shown, confirmed by the
first right code, removed on request.

``use_totp_step`` is what makes a code single-use across workers and replicas: one UPDATE
that records the code's time step only when it is later than the last one used. A replayed
code (same step) and an older code after a newer one (smaller step) change no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from authgate.storage import models as m
from authgate.storage.store.base import StoreBase, now

UNCONFIRMED_LIFETIME = timedelta(minutes=30)  # an enrolment page's secret is kept this long


@dataclass(frozen=True)
class TotpSecret:
    secret: str  # base32
    confirmed: bool


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class TotpStore(StoreBase):
    async def totp_secret(self, user_id: int) -> TotpSecret | None:
        async with self._tx() as db:
            row = await db.get(m.TotpCredential, user_id)
        return None if row is None else TotpSecret(row.secret, row.confirmed_at is not None)

    async def begin_totp(self, user_id: int, fresh_secret: str) -> TotpSecret:
        """The secret to enrol with: the confirmed one when TOTP is on already, the one an
        earlier enrolment page showed when it is recent (the person may have scanned it),
        else ``fresh_secret``, stored unconfirmed (not a factor until confirmed)."""
        async with self._tx() as db:
            row = await db.get(m.TotpCredential, user_id)
            if row is not None and (
                row.confirmed_at is not None
                or _aware(row.created_at) > now() - UNCONFIRMED_LIFETIME
            ):
                return TotpSecret(row.secret, row.confirmed_at is not None)
            if row is None:
                db.add(m.TotpCredential(user_id=user_id, secret=fresh_secret, created_at=now()))
            else:
                row.secret, row.created_at, row.last_step = fresh_secret, now(), 0
            try:
                await db.commit()
            except IntegrityError:  # another worker made one at the same moment: use it
                await db.rollback()
                row = await db.get(m.TotpCredential, user_id)
                assert row is not None
                return TotpSecret(row.secret, row.confirmed_at is not None)
        return TotpSecret(fresh_secret, False)

    async def use_totp_step(self, user_id: int, step: int, *, confirming: bool = False) -> bool:
        """Record ``step`` as used when it is later than the last used one: True when it was
        (the code is good), False for a replay or an older code. ``confirming`` works only
        on an unconfirmed secret and confirms it; otherwise only a confirmed one counts."""
        table = m.TotpCredential
        state = table.confirmed_at.is_(None) if confirming else table.confirmed_at.is_not(None)
        values: dict[str, object] = {"last_step": step}
        if confirming:
            values["confirmed_at"] = now()
        async with self._tx() as db:
            result = await db.execute(
                update(table)
                .where(table.user_id == user_id, table.last_step < step, state)
                .values(**values)
            )
            await db.commit()
        return bool(getattr(result, "rowcount", 0))

    async def remove_totp(self, user_id: int) -> bool:
        """Remove the user's TOTP secret (confirmed or not); True when there was one."""
        async with self._tx() as db:
            result = await db.execute(
                delete(m.TotpCredential).where(m.TotpCredential.user_id == user_id)
            )
            await db.commit()
        return bool(getattr(result, "rowcount", 0))
