"""API tokens and app passwords of users (``accounts.api_credentials`` makes their secrets;
only a hash is stored, found by the secret's public ``lookup`` id).

Adding and revoking bump the revision: every worker and replica drops what it remembered
of credentials (and of unknown lookups) at the next check. Disabling or deleting the user
bumps it too (``users``), and ``load_api_credential`` reports both, so the next check
refuses. ``last_used`` arrives in batches from the check (``touch_api_credentials``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from authgate.errors import NotFoundError
from authgate.storage import models as m
from authgate.storage.store import names
from authgate.storage.store.base import StoreBase, now


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _apps(text: str) -> tuple[str, ...]:
    return tuple(slug for slug in text.split("\n") if slug)


@dataclass(frozen=True)
class ApiCredentialInfo:
    """A credential as lists show it (never its secret or hash)."""

    lookup: str
    kind: str
    username: str
    apps: tuple[str, ...]  # empty: every app the user may reach
    description: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str

    def state(self, at: datetime) -> str:
        """active | revoked | expired"""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class CredentialOwner:
    """What a check needs to judge a credential: its hash, limits, state and its user."""

    lookup: str
    kind: str
    secret_hash: str
    apps: tuple[str, ...]
    expires_at: float | None  # epoch seconds
    revoked: bool
    user_id: int
    uid: str
    username: str
    email: str
    name: str
    groups: tuple[str, ...]
    disabled: bool


def _info(row: m.ApiCredential, username: str) -> ApiCredentialInfo:
    created = _aware(row.created_at)
    assert created is not None
    return ApiCredentialInfo(
        lookup=row.lookup,
        kind=row.kind,
        username=username,
        apps=_apps(row.apps),
        description=row.description,
        created_at=created,
        expires_at=_aware(row.expires_at),
        revoked_at=_aware(row.revoked_at),
        last_used_at=_aware(row.last_used_at),
        last_used_ip=row.last_used_ip,
    )


class ApiCredentialStore(StoreBase):
    async def add_api_credential(
        self,
        username: str,
        kind: str,
        lookup: str,
        secret_hash: str,
        *,
        apps: Sequence[str] = (),
        description: str = "",
        expires_at: datetime | None = None,
    ) -> ApiCredentialInfo:
        """Keep a new credential of ``username``; every app in ``apps`` must exist."""
        async with self._tx() as db:
            user_id = await names.user_id(db, username)
            for slug in apps:
                if await db.scalar(select(m.Application.id).where(m.Application.slug == slug)):
                    continue
                raise NotFoundError("app", slug)
            row = m.ApiCredential(
                user_id=user_id,
                kind=kind,
                lookup=lookup,
                secret_hash=secret_hash,
                apps="\n".join(dict.fromkeys(apps)),
                description=description[:200],
                created_at=now(),
                expires_at=expires_at,
                last_used_ip="",
            )
            db.add(row)
            await self._commit_change(db)
        return _info(row, username)

    async def list_api_credentials(
        self, username: str | None = None, kind: str | None = None
    ) -> list[ApiCredentialInfo]:
        """Credentials, oldest first; of one user and one kind when given."""
        query = (
            select(m.ApiCredential, m.User.username)
            .join(m.User, m.User.id == m.ApiCredential.user_id)
            .order_by(m.ApiCredential.created_at, m.ApiCredential.id)
        )
        if username is not None:
            query = query.where(m.User.username == username)
        if kind is not None:
            query = query.where(m.ApiCredential.kind == kind)
        async with self._tx() as db:
            rows = (await db.execute(query)).all()
        return [_info(row, user) for row, user in rows]

    async def revoke_api_credential(
        self, lookup: str, username: str | None = None
    ) -> ApiCredentialInfo:
        """Revoke the credential ``lookup`` (of ``username`` when given: a person revokes
        only their own); revoking twice is harmless. NotFoundError when there is none."""
        query = (
            select(m.ApiCredential, m.User.username)
            .join(m.User, m.User.id == m.ApiCredential.user_id)
            .where(m.ApiCredential.lookup == lookup)
        )
        if username is not None:
            query = query.where(m.User.username == username)
        async with self._tx() as db:
            found = (await db.execute(query)).first()
            if found is None:
                raise NotFoundError("credential", lookup)
            row, owner = found
            if row.revoked_at is None:
                row.revoked_at = now()
            await self._commit_change(db)
        return _info(row, owner)

    async def load_api_credential(self, lookup: str) -> CredentialOwner | None:
        """The credential ``lookup`` with its user, whatever its state; None if unknown."""
        async with self._tx() as db:
            found = (
                await db.execute(
                    select(m.ApiCredential, m.User)
                    .join(m.User, m.User.id == m.ApiCredential.user_id)
                    .where(m.ApiCredential.lookup == lookup)
                )
            ).first()
            if found is None:
                return None
            row, user = found
            groups = await names.group_names(db, user.id)
        expires = _aware(row.expires_at)
        return CredentialOwner(
            lookup=row.lookup,
            kind=row.kind,
            secret_hash=row.secret_hash,
            apps=_apps(row.apps),
            expires_at=expires.timestamp() if expires else None,
            revoked=row.revoked_at is not None,
            user_id=user.id,
            uid=user.uid,
            username=user.username,
            email=user.email,
            name=user.name,
            groups=groups,
            disabled=user.disabled,
        )

    async def touch_api_credentials(self, used: Mapping[str, tuple[float, str]]) -> None:
        """Record when and from where each credential (by lookup) was last used."""
        if not used:
            return
        async with self._tx() as db:
            for lookup, (when, ip) in used.items():
                await db.execute(
                    update(m.ApiCredential)
                    .where(m.ApiCredential.lookup == lookup)
                    .values(last_used_at=datetime.fromtimestamp(when, UTC), last_used_ip=ip[:64])
                )
            await db.commit()
