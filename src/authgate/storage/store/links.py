"""One-time account links: an invitation (a new user chooses a first password) or a reset
(an existing user chooses a new one).

Only the sha256 of a link's token is stored. A link works once and for a limited time; a new
link for a user ends that user's earlier unused ones (its expiry is moved to now). Using a
link sets the password, ends the user's sessions and marks the link used in one
transaction whose first statement claims the link, so of two browsers posting the same link
at once exactly one wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, delete, select, update

from authgate.storage import models as m
from authgate.storage.store import names
from authgate.storage.store.base import StoreBase, now
from authgate.storage.store.sessions import code_hash, revoke_live_sessions

INVITE = "invite"
RESET = "reset"
PURPOSES = (INVITE, RESET)
LINK_LIFETIME = 24 * 3600


@dataclass(frozen=True)
class AccountLink:
    """A link as the store knows it (never its token)."""

    user_id: int
    username: str
    purpose: str  # INVITE | RESET
    created_at: datetime
    expires_at: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _link(row: m.AccountLink, username: str) -> AccountLink:
    return AccountLink(
        row.user_id, username, row.purpose, _aware(row.created_at), _aware(row.expires_at)
    )


def _with_username() -> Select[m.AccountLink, str]:
    return select(m.AccountLink, m.User.username).join(m.User, m.User.id == m.AccountLink.user_id)


def _usable(token: str, at: datetime) -> list[ColumnElement[bool]]:
    """The conditions of a link that still works: this token, unused, unexpired, and its
    user not disabled."""
    enabled = select(m.User.id).where(m.User.disabled.is_(False))
    return [
        m.AccountLink.token_hash == code_hash(token),
        m.AccountLink.used_at.is_(None),
        m.AccountLink.expires_at > at,
        m.AccountLink.user_id.in_(enabled),
    ]


class LinkStore(StoreBase):
    async def create_link(
        self, username: str, purpose: str, lifetime: int = LINK_LIFETIME
    ) -> tuple[str, AccountLink]:
        """A new link for ``username``: its token (shown once, never stored) and the link.
        The user's earlier unused links stop working; long-expired links are forgotten."""
        if purpose not in PURPOSES:
            raise ValueError(f"a link is for one of {PURPOSES}, not {purpose!r}")
        token = secrets.token_urlsafe(32)
        created = now()
        async with self._tx() as db:
            user_id = await names.user_id(db, username)
            row = m.AccountLink(
                token_hash=code_hash(token),
                user_id=user_id,
                purpose=purpose,
                created_at=created,
                expires_at=created + timedelta(seconds=lifetime),
            )
            await db.execute(
                update(m.AccountLink)
                .where(
                    m.AccountLink.user_id == user_id,
                    m.AccountLink.used_at.is_(None),
                    m.AccountLink.expires_at > created,
                )
                .values(expires_at=created)
            )
            forgotten = created - timedelta(days=30)
            await db.execute(delete(m.AccountLink).where(m.AccountLink.expires_at < forgotten))
            db.add(row)
            await db.commit()
        return token, _link(row, username)

    async def find_link(self, token: str) -> AccountLink | None:
        """The link of ``token`` when it still works, else None (unknown, used, expired,
        ended by a newer one, or its user disabled: all alike)."""
        async with self._tx() as db:
            found = (await db.execute(_with_username().where(*_usable(token, now())))).first()
        return None if found is None else _link(found[0], found[1])

    async def use_link(self, token: str, password_hash: str) -> AccountLink | None:
        """Claim the link of ``token`` and, in the same transaction, give its user
        ``password_hash`` and end every session of theirs. None when the link does not work
        (any reason) or another request claimed it first."""
        at = now()
        async with self._tx() as db:
            # the claim comes first: it takes the write lock before anything is read
            claimed = await db.execute(
                update(m.AccountLink).where(*_usable(token, at)).values(used_at=at)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                await db.rollback()
                return None
            found = (
                await db.execute(
                    _with_username().where(m.AccountLink.token_hash == code_hash(token))
                )
            ).one()
            row, username = found[0], found[1]
            await db.execute(
                update(m.User).where(m.User.id == row.user_id).values(password_hash=password_hash)
            )
            await db.execute(revoke_live_sessions(row.user_id))
            link = _link(row, username)
            await self._commit_change(db)
        return link

    async def pending_link(self, user_id: int) -> AccountLink | None:
        """The user's link that still works, if any (at most one: a new one ends the rest)."""
        async with self._tx() as db:
            found = (
                await db.execute(
                    _with_username()
                    .where(
                        m.AccountLink.user_id == user_id,
                        m.AccountLink.used_at.is_(None),
                        m.AccountLink.expires_at > now(),
                    )
                    .order_by(m.AccountLink.created_at.desc())
                    .limit(1)
                )
            ).first()
        return None if found is None else _link(found[0], found[1])
