"""Passkeys (WebAuthn credentials) and the challenges handed out for them.

A challenge is kept only as its SHA-256, for five minutes, and is *taken* (deleted) by the
one answer that names it: whichever worker gets the answer can check it, and a replayed
answer finds nothing. A credential's signature counter only moves forward: ``record_use``
refuses a count that is not above the stored one (a cloned authenticator).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from authgate.errors import ConflictError
from authgate.storage import models as m
from authgate.storage.store.base import StoreBase, now
from authgate.storage.store.users import UserInfo, user_info

CHALLENGE_LIFETIME = 300  # seconds between handing out a challenge and its answer


@dataclass(frozen=True)
class Passkey:
    id: int
    user_id: int
    credential_id: str  # base64url, as the authenticator named it
    public_key: str  # base64url COSE key
    sign_count: int
    name: str
    transports: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewPasskey:
    """What a verified registration gives: the credential to keep."""

    credential_id: str
    public_key: str
    sign_count: int
    transports: tuple[str, ...]


@dataclass(frozen=True)
class TakenChallenge:
    purpose: str
    user_id: int | None


def challenge_hash(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _passkey(row: m.WebauthnCredential) -> Passkey:
    return Passkey(
        row.id,
        row.user_id,
        row.credential_id,
        row.public_key,
        int(row.sign_count),
        row.name,
        tuple(t for t in row.transports.split(",") if t),
        _aware(row.created_at),
        _aware(row.last_used_at) if row.last_used_at else None,
    )


class PasskeyStore(StoreBase):
    # -- challenges -----------------------------------------------------------------------
    async def add_challenge(
        self,
        challenge: bytes,
        purpose: str,
        user_id: int | None,
        lifetime: int = CHALLENGE_LIFETIME,
    ) -> None:
        """Keep ``challenge`` (hashed) until it is answered or ``lifetime`` seconds pass;
        challenges nobody answered in time are swept out on the way."""
        at = now()
        async with self._tx() as db:
            await db.execute(delete(m.WebauthnChallenge).where(m.WebauthnChallenge.expires_at < at))
            db.add(
                m.WebauthnChallenge(
                    challenge_hash=challenge_hash(challenge),
                    user_id=user_id,
                    purpose=purpose,
                    expires_at=at + timedelta(seconds=lifetime),
                )
            )
            await db.commit()

    async def take_challenge(self, challenge: bytes, purpose: str) -> TakenChallenge | None:
        """The challenge handed out for ``purpose``, deleted now; None when it is unknown,
        answered already (by any worker) or expired."""
        key = challenge_hash(challenge)
        async with self._tx() as db:
            row = await db.get(m.WebauthnChallenge, key)
            if row is None or row.purpose != purpose:
                return None
            user_id, expires_at = row.user_id, _aware(row.expires_at)
            result = await db.execute(
                delete(m.WebauthnChallenge).where(
                    m.WebauthnChallenge.challenge_hash == key,
                    m.WebauthnChallenge.purpose == purpose,
                )
            )
            await db.commit()
        taken = int(getattr(result, "rowcount", 0) or 0) == 1  # one answer wins a race
        return TakenChallenge(purpose, user_id) if taken and expires_at > now() else None

    async def count_challenges(self) -> int:
        async with self._tx() as db:
            return int(await db.scalar(select(func.count()).select_from(m.WebauthnChallenge)) or 0)

    # -- credentials ----------------------------------------------------------------------
    async def add_passkey(self, user_id: int, new: NewPasskey, name: str) -> Passkey:
        async with self._tx() as db:
            row = m.WebauthnCredential(
                user_id=user_id,
                credential_id=new.credential_id,
                public_key=new.public_key,
                sign_count=new.sign_count,
                name=name[:100],
                transports=",".join(new.transports)[:200],
                created_at=now(),
            )
            db.add(row)
            try:
                await db.commit()
            except IntegrityError as exc:
                raise ConflictError("this passkey is registered already") from exc
            return _passkey(row)

    async def passkeys_of(self, user_id: int) -> list[Passkey]:
        async with self._tx() as db:
            rows = await db.scalars(
                select(m.WebauthnCredential)
                .where(m.WebauthnCredential.user_id == user_id)
                .order_by(m.WebauthnCredential.created_at, m.WebauthnCredential.id)
            )
            return [_passkey(row) for row in rows]

    async def passkey_owner(self, credential_id: str) -> tuple[Passkey, UserInfo] | None:
        """The passkey with this credential id and the user it belongs to."""
        async with self._tx() as db:
            found = (
                await db.execute(
                    select(m.WebauthnCredential, m.User)
                    .join(m.User, m.User.id == m.WebauthnCredential.user_id)
                    .where(m.WebauthnCredential.credential_id == credential_id)
                )
            ).first()
            if found is None:
                return None
            row, user = found
            return _passkey(row), await user_info(db, user)

    async def record_passkey_use(self, passkey_id: int, sign_count: int) -> bool:
        """Store the counter of an answer and when it came; False (nothing stored) when the
        counter did not move forward (an authenticator that never counts keeps 0)."""
        moved = or_(
            m.WebauthnCredential.sign_count < sign_count,
            (m.WebauthnCredential.sign_count == 0) & (sign_count == 0),
        )
        async with self._tx() as db:
            result = await db.execute(
                update(m.WebauthnCredential)
                .where(m.WebauthnCredential.id == passkey_id, moved)
                .values(sign_count=sign_count, last_used_at=now())
            )
            await db.commit()
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def rename_passkey(self, user_id: int, passkey_id: int, name: str) -> bool:
        async with self._tx() as db:
            result = await db.execute(
                update(m.WebauthnCredential)
                .where(
                    m.WebauthnCredential.id == passkey_id,
                    m.WebauthnCredential.user_id == user_id,
                )
                .values(name=name[:100])
            )
            await db.commit()
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def remove_passkey(self, user_id: int, passkey_id: int) -> Passkey | None:
        """Remove one of the user's passkeys (None: no such passkey of theirs). The last one
        gone, sign-in with a passkey alone is switched off too."""
        async with self._tx() as db:
            row = await db.scalar(
                select(m.WebauthnCredential).where(
                    m.WebauthnCredential.id == passkey_id,
                    m.WebauthnCredential.user_id == user_id,
                )
            )
            if row is None:
                return None
            removed = _passkey(row)
            await db.delete(row)
            await db.flush()
            left = await db.scalar(
                select(func.count())
                .select_from(m.WebauthnCredential)
                .where(m.WebauthnCredential.user_id == user_id)
            )
            if not left:
                await db.execute(
                    update(m.User).where(m.User.id == user_id).values(passwordless=False)
                )
            await db.commit()
            return removed

    async def set_passwordless(self, user_id: int, allowed: bool) -> bool:
        """Allow (or stop) sign-in with a passkey alone; allowing needs a passkey. Returns
        whether the user may now sign in that way."""
        async with self._tx() as db:
            if allowed:
                has = await db.scalar(
                    select(m.WebauthnCredential.id)
                    .where(m.WebauthnCredential.user_id == user_id)
                    .limit(1)
                )
                allowed = has is not None
            await db.execute(
                update(m.User).where(m.User.id == user_id).values(passwordless=allowed)
            )
            await db.commit()
        return allowed
