"""Sessions (portal and app) and the one-time codes that hand a portal session to an app."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable

from authgate.errors import NotFoundError
from authgate.forward.model import Identity
from authgate.forward.sessions import SessionRecord
from authgate.storage import models as m
from authgate.storage.store import names
from authgate.storage.store.base import StoreBase, now


@dataclass(frozen=True)
class SessionInfo:
    id: str
    username: str
    kind: str
    app: str
    parent_id: str
    created_at: datetime
    expires_at: datetime
    last_seen: datetime
    ip: str
    amr: tuple[str, ...] = ()  # how a portal session signed in (app sessions: see parent)
    user_agent: str = ""


PRUNE_BATCH = 5000  # sessions deleted per statement by the sweep
TOUCH_STEP = timedelta(seconds=30)  # last_seen is written when it moved by this much


def _methods(amr: str) -> tuple[str, ...]:
    return tuple(method for method in amr.split(",") if method)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def revoke_live_sessions(uid: int) -> Update:
    """The statement that revokes every live session of user ``uid``."""
    return (
        update(m.Session)
        .where(m.Session.user_id == uid, m.Session.revoked_at.is_(None))
        .values(revoked_at=now())
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class BrowserSession:
    """A live portal session as its owner sees it on the account page: one browser."""

    id: str
    created_at: datetime
    last_seen: datetime  # the latest of the portal session's and its app sessions'
    expires_at: datetime
    ip: str  # where it signed in from
    user_agent: str
    amr: tuple[str, ...]
    apps: tuple[str, ...]  # names of the apps it has live sessions with, sorted


def _live() -> ColumnElement[bool]:
    return and_(m.Session.revoked_at.is_(None), m.Session.expires_at > now())


def _session_row() -> Executable:
    """One row: the session ``sid``, its user, and its portal session's state when it has
    one. Built once (``_SESSION_ROW``): building it took longer than running it."""
    sess, user, parent = m.Session, m.User, aliased(m.Session)
    return (
        select(
            sess.id,
            sess.parent_id,
            sess.kind,
            sess.app_id,
            sess.expires_at,
            sess.last_seen,
            sess.revoked_at,
            sess.amr,
            user.id.label("user_id"),
            user.uid,
            user.username,
            user.email,
            user.name,
            user.disabled,
            parent.id.label("parent_found"),
            parent.revoked_at.label("parent_revoked_at"),
            parent.amr.label("parent_amr"),
        )
        .join(user, user.id == sess.user_id)
        .outerjoin(parent, parent.id == sess.parent_id)
        .where(sess.id == bindparam("sid"))
    )


_SESSION_ROW = _session_row()


def count_live() -> Select[int]:
    """The count of live sessions, answered from ``ix_sessions_unrevoked_expires_at``."""
    return select(func.count()).select_from(m.Session).where(_live())


async def revoke_others(db: AsyncSession, user_id: int, keep: str) -> set[str]:
    """Revoke every live session of user ``user_id`` but portal session ``keep`` and its
    app sessions, in ``db``'s transaction (the caller commits with a revision bump)."""
    others = and_(
        m.Session.user_id == user_id,
        m.Session.revoked_at.is_(None),
        m.Session.id != keep,
        or_(m.Session.parent_id.is_(None), m.Session.parent_id != keep),
    )
    ids = set(await db.scalars(select(m.Session.id).where(others)))
    if ids:
        await db.execute(update(m.Session).where(m.Session.id.in_(ids)).values(revoked_at=now()))
    return ids


class SessionStore(StoreBase):
    async def create_session(
        self,
        user_id: int,
        *,
        kind: str,
        lifetime: int,
        parent_id: str | None = None,
        app_id: int | None = None,
        remember: bool = False,
        ip: str = "",
        user_agent: str = "",
        expires_at: datetime | None = None,
        amr: Sequence[str] = (),
    ) -> str:
        sid = secrets.token_urlsafe(32)
        created = now()
        async with self._tx() as db:
            db.add(
                m.Session(
                    id=sid,
                    user_id=user_id,
                    kind=kind,
                    parent_id=parent_id,
                    app_id=app_id,
                    created_at=created,
                    expires_at=expires_at or created + timedelta(seconds=lifetime),
                    last_seen=created,
                    remember=remember,
                    ip=ip[:64],
                    user_agent=user_agent[:300],
                    amr=",".join(amr),
                )
            )
            await db.commit()
        return sid

    async def load_session(self, session_id: str) -> SessionRecord | None:
        """A live session with its user and groups; None if unknown, revoked, expired or the
        user is disabled, or if its portal session has been revoked. Plain rows, no ORM
        objects: every session in use is read here again after each revision change."""
        async with self._tx() as db:
            row = (await db.execute(_SESSION_ROW, {"sid": session_id})).first()
            if row is None or row.revoked_at is not None or row.disabled:
                return None
            expires_at = _aware(row.expires_at)
            if expires_at <= now():
                return None
            amr = row.amr
            if row.parent_id:
                if row.parent_found is None or row.parent_revoked_at is not None:
                    return None
                amr = row.parent_amr  # a step-up on the portal session reaches its app sessions
            groups = await names.group_names(db, row.user_id)
        identity = Identity(
            session_id=row.id,
            parent_id=row.parent_id or "",
            user_id=row.user_id,
            uid=row.uid,
            username=row.username,
            email=row.email,
            name=row.name,
            groups=groups,
            expires_at=expires_at.timestamp(),
            amr=_methods(amr),
        )
        return SessionRecord(
            identity=identity,
            kind=row.kind,
            app_id=row.app_id,
            expires_at=expires_at.timestamp(),
            last_seen=_aware(row.last_seen).timestamp(),
        )

    async def touch_sessions(self, seen: dict[str, float]) -> None:
        """Write when each session was last seen: one statement run for all of them
        (``executemany``), since a busy server touches thousands of sessions a second. A
        row is written only when its ``last_seen`` moves by ``TOUCH_STEP`` or more: on a big
        SQLite store every write dirties a page of its own, and the idle timeout does not
        need the second."""
        if not seen:
            return
        table = cast(Table, m.Session.__table__)
        statement = (
            update(table)
            .where(table.c.id == bindparam("sid"), table.c.last_seen < bindparam("moved"))
            .values(last_seen=bindparam("seen"))
        )
        rows = []
        for sid, when in seen.items():
            at = datetime.fromtimestamp(when, UTC)
            rows.append({"sid": sid, "seen": at, "moved": at - TOUCH_STEP})
        async with self._tx() as db:
            await db.execute(statement, rows)
            await db.commit()

    async def prune_sessions(self, ended_before: datetime, batch: int = PRUNE_BATCH) -> int:
        """Delete sessions that expired before ``ended_before`` (revoked ones go once they
        expire too); how many. In batches, each its own short transaction, so that a first
        sweep of a big store never holds SQLite's write lock for long. An app session
        expires with its portal session, so no live session loses its parent."""
        deleted = 0
        while True:
            async with self._tx() as db:
                ids = select(m.Session.id).where(m.Session.expires_at < ended_before).limit(batch)
                result = await db.execute(delete(m.Session).where(m.Session.id.in_(ids)))
                await db.commit()
            count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < batch:
                return deleted

    async def revoke_family(self, session_id: str) -> set[str]:
        """Revoke a session, its portal session and every app session of that portal session."""
        async with self._tx() as db:
            sess = await db.get(m.Session, session_id)
            if sess is None:
                return set()
            root = sess.parent_id or sess.id
            ids = set(await db.scalars(select(m.Session.id).where(m.Session.parent_id == root)))
            ids |= {root, session_id}
            await db.execute(
                update(m.Session).where(m.Session.id.in_(ids)).values(revoked_at=now())
            )
            await self._commit_change(db)
        return ids

    async def add_session_factors(self, session_id: str, methods: Sequence[str]) -> None:
        """Record more factors on a portal session (a step-up): its app sessions, and every
        server, see them from the next check on."""
        async with self._tx() as db:
            sess = await db.get(m.Session, session_id)
            if sess is None:
                raise NotFoundError("session", session_id)
            known = [method for method in sess.amr.split(",") if method]
            sess.amr = ",".join(known + [method for method in methods if method not in known])
            await self._commit_change(db)

    async def revoke_session(self, session_id: str) -> set[str]:
        async with self._tx() as db:
            if await db.get(m.Session, session_id) is None:
                raise NotFoundError("session", session_id)
        return await self.revoke_family(session_id)

    async def browser_sessions(self, user_id: int) -> list[BrowserSession]:
        """The user's live portal sessions, newest first, each with the apps it opened."""
        async with self._tx() as db:
            portal = (
                await db.scalars(
                    select(m.Session)
                    .where(m.Session.user_id == user_id, m.Session.kind == "portal", _live())
                    .order_by(m.Session.created_at.desc(), m.Session.id)
                )
            ).all()
            children = (
                await db.execute(
                    select(m.Session.parent_id, m.Session.last_seen, m.Application.name)
                    .join(m.Application, m.Application.id == m.Session.app_id)
                    .where(m.Session.parent_id.in_([s.id for s in portal]), _live())
                )
            ).all()
        return [_browser_session(s, [c for c in children if c[0] == s.id]) for s in portal]

    async def revoke_other_sessions(self, user_id: int, keep: str) -> set[str]:
        """End every session of the user but portal session ``keep`` and its app sessions;
        the ids ended."""
        async with self._tx() as db:
            ended = await revoke_others(db, user_id, keep)
            await self._commit_change(db)
        return ended

    async def revoke_user_sessions(self, username: str) -> int:
        async with self._tx() as db:
            uid = await names.user_id(db, username)
            result = await db.execute(revoke_live_sessions(uid))
            await self._commit_change(db)
            return int(getattr(result, "rowcount", 0) or 0)

    async def count_live_sessions(self) -> int:
        """Sessions neither expired nor revoked (the active-sessions gauge)."""
        async with self._tx() as db:
            return int((await db.execute(count_live())).scalar_one())

    async def list_sessions(self, username: str | None = None) -> list[SessionInfo]:
        async with self._tx() as db:
            query = (
                select(m.Session, m.User.username, m.Application.slug)
                .join(m.User, m.User.id == m.Session.user_id)
                .outerjoin(m.Application, m.Application.id == m.Session.app_id)
                .where(m.Session.revoked_at.is_(None), m.Session.expires_at > now())
                .order_by(m.Session.created_at)
            )
            if username:
                query = query.where(m.User.username == username)
            rows = (await db.execute(query)).all()
        return [
            SessionInfo(
                s.id,
                user,
                s.kind,
                slug or "",
                s.parent_id or "",
                _aware(s.created_at),
                _aware(s.expires_at),
                _aware(s.last_seen),
                s.ip,
                _methods(s.amr),
                s.user_agent,
            )
            for s, user, slug in rows
        ]

    # -- one-time codes --------------------------------------------------------------------
    async def create_code(
        self, session_id: str, app_id: int, nonce: str, lifetime: int = 60
    ) -> str:
        code = secrets.token_urlsafe(32)
        async with self._tx() as db:
            db.add(
                m.LoginCode(
                    code_hash=code_hash(code),
                    session_id=session_id,
                    app_id=app_id,
                    nonce=nonce,
                    expires_at=now() + timedelta(seconds=lifetime),
                    used=False,
                )
            )
            await db.execute(delete(m.LoginCode).where(m.LoginCode.expires_at < now()))
            await db.commit()
        return code

    async def consume_code(self, code: str) -> tuple[str, int, str] | None:
        """(portal session id, app id, nonce) for an unused, unexpired code; marks it used."""
        async with self._tx() as db:
            result = await db.execute(
                update(m.LoginCode)
                .where(
                    m.LoginCode.code_hash == code_hash(code),
                    m.LoginCode.used.is_(False),
                    m.LoginCode.expires_at > now(),
                )
                .values(used=True)
            )
            if not getattr(result, "rowcount", 0):
                await db.rollback()
                return None
            row = await db.get(m.LoginCode, code_hash(code))
            await db.commit()
        assert row is not None
        return row.session_id, row.app_id, row.nonce


def _browser_session(
    portal: m.Session, children: Sequence[tuple[str | None, datetime, str]]
) -> BrowserSession:
    seen = max([_aware(portal.last_seen), *(_aware(c[1]) for c in children)])
    return BrowserSession(
        id=portal.id,
        created_at=_aware(portal.created_at),
        last_seen=seen,
        expires_at=_aware(portal.expires_at),
        ip=portal.ip,
        user_agent=portal.user_agent,
        amr=tuple(method for method in portal.amr.split(",") if method),
        apps=tuple(sorted({c[2] for c in children})),
    )
