"""The Store: every read and write authgate makes, as async use cases over SQLAlchemy.

Changes that running servers must see at once (revocations, disabled users, group and app
changes) bump the ``revision`` row in the same transaction and call ``on_change`` so that a
server on this machine notices on its very next request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from authgate.errors import ConflictError, NotFoundError, StoreError
from authgate.forward.hosts import canonical_host
from authgate.forward.model import AppView, Identity, Rule
from authgate.forward.sessions import SessionRecord
from authgate.storage import models as m
from authgate.storage.urls import redact_url

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}$")


def now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UserInfo:
    id: int
    uid: str
    username: str
    email: str
    name: str
    disabled: bool
    groups: tuple[str, ...]
    password_hash: str | None


@dataclass(frozen=True)
class RuleSpec:
    """A rule as an admin writes it; validated by the CLI, stored as text columns."""

    action: str
    path_prefix: str = ""
    path_regex: str = ""
    methods: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def columns(self) -> dict[str, str]:
        return {
            "action": self.action,
            "path_prefix": self.path_prefix,
            "path_regex": self.path_regex,
            "methods": ",".join(m.upper() for m in self.methods),
            "networks": ",".join(self.networks),
            "users": ",".join(self.users),
            "groups": ",".join(self.groups),
        }


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


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class Store:
    def __init__(self, url: str, on_change: Callable[[int], None] | None = None) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._session = async_sessionmaker(self.engine, expire_on_commit=False)
        self._on_change = on_change

    async def close(self) -> None:
        await self.engine.dispose()

    def _tx(self) -> AsyncSession:
        return self._session()

    async def _bump(self, db: AsyncSession) -> int:
        row = await db.get(m.Revision, 1)
        if row is None:
            row = m.Revision(id=1, value=0)
            db.add(row)
        row.value += 1
        return row.value

    async def _commit_change(self, db: AsyncSession) -> None:
        value = await self._bump(db)
        try:
            await db.commit()
        except IntegrityError as exc:
            raise ConflictError("that name is already taken") from exc
        if self._on_change is not None:
            self._on_change(value)

    async def revision(self) -> int:
        async with self._tx() as db:
            value = await db.scalar(select(m.Revision.value).where(m.Revision.id == 1))
            return int(value or 0)

    async def check(self) -> None:
        """Refuse to serve on a store that is unreachable or not migrated."""
        try:
            await self.revision()
        except SQLAlchemyError as exc:
            raise StoreError(f"store {self.safe_url} is not usable: {_first_line(exc)}") from exc

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    # -- users -------------------------------------------------------------------------
    async def add_user(
        self,
        username: str,
        *,
        email: str = "",
        name: str = "",
        password_hash: str | None = None,
        groups: Sequence[str] = (),
    ) -> UserInfo:
        if not NAME.match(username):
            raise ConflictError(
                f"user name {username!r} is not valid: letters, digits and . _ @ + - only"
            )
        async with self._tx() as db:
            if await db.scalar(select(m.User.id).where(m.User.username == username)):
                raise ConflictError(f"user {username!r} already exists")
            user = m.User(
                uid=uuid.uuid4().hex,
                username=username,
                email=email,
                name=name,
                password_hash=password_hash,
                disabled=False,
                created_at=now(),
            )
            db.add(user)
            await db.flush()
            for group in groups:
                gid = await self._group_id(db, group, create=True)
                db.add(m.Membership(user_id=user.id, group_id=gid))
            await self._commit_change(db)
        return await self.get_user(username)

    async def _group_id(self, db: AsyncSession, name: str, *, create: bool = False) -> int:
        gid = await db.scalar(select(m.Group.id).where(m.Group.name == name))
        if gid is not None:
            return int(gid)
        if not create:
            raise NotFoundError("group", name)
        if not NAME.match(name):
            raise ConflictError(f"group name {name!r} is not valid")
        group = m.Group(name=name)
        db.add(group)
        await db.flush()
        return group.id

    async def _user_id(self, db: AsyncSession, username: str) -> int:
        uid = await db.scalar(select(m.User.id).where(m.User.username == username))
        if uid is None:
            raise NotFoundError("user", username)
        return int(uid)

    async def get_user(self, username: str) -> UserInfo:
        user = await self.find_user(username)
        if user is None:
            raise NotFoundError("user", username)
        return user

    async def find_user(self, username: str) -> UserInfo | None:
        async with self._tx() as db:
            user = await db.scalar(select(m.User).where(m.User.username == username))
            if user is None:
                return None
            return await self._user_info(db, user)

    async def _user_info(self, db: AsyncSession, user: m.User) -> UserInfo:
        groups = await db.scalars(
            select(m.Group.name)
            .join(m.Membership, m.Membership.group_id == m.Group.id)
            .where(m.Membership.user_id == user.id)
            .order_by(m.Group.name)
        )
        return UserInfo(
            user.id,
            user.uid,
            user.username,
            user.email,
            user.name,
            user.disabled,
            tuple(groups),
            user.password_hash,
        )

    async def list_users(self) -> list[UserInfo]:
        async with self._tx() as db:
            users = (await db.scalars(select(m.User).order_by(m.User.username))).all()
            return [await self._user_info(db, u) for u in users]

    async def count_users(self) -> int:
        async with self._tx() as db:
            return int(await db.scalar(select(func.count(m.User.id))) or 0)

    async def set_password(self, username: str, password_hash: str) -> None:
        await self._update_user(username, password_hash=password_hash)

    async def set_disabled(self, username: str, disabled: bool) -> None:
        await self._update_user(username, disabled=disabled)
        if disabled:
            await self.revoke_user_sessions(username)

    async def _update_user(self, username: str, **values: Any) -> None:
        async with self._tx() as db:
            uid = await self._user_id(db, username)
            await db.execute(update(m.User).where(m.User.id == uid).values(**values))
            await self._commit_change(db)

    async def update_user(
        self,
        username: str,
        *,
        email: str | None = None,
        name: str | None = None,
        groups: Sequence[str] | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> UserInfo:
        """Change what is given (None: leave it) in one transaction: profile, password hash,
        the exact set of groups (created when missing) and disabled, which also revokes every
        session of the user."""
        given = {"email": email, "name": name, "disabled": disabled, "password_hash": password_hash}
        values = {k: v for k, v in given.items() if v is not None}
        async with self._tx() as db:
            uid = await self._user_id(db, username)
            if values:
                await db.execute(update(m.User).where(m.User.id == uid).values(**values))
            if disabled:
                await db.execute(
                    update(m.Session)
                    .where(m.Session.user_id == uid, m.Session.revoked_at.is_(None))
                    .values(revoked_at=now())
                )
            if groups is not None:
                await db.execute(delete(m.Membership).where(m.Membership.user_id == uid))
                for group in dict.fromkeys(groups):
                    gid = await self._group_id(db, group, create=True)
                    db.add(m.Membership(user_id=uid, group_id=gid))
            await self._commit_change(db)
        return await self.get_user(username)

    async def delete_user(self, username: str) -> None:
        async with self._tx() as db:
            uid = await self._user_id(db, username)
            await db.execute(delete(m.Session).where(m.Session.user_id == uid))
            await db.execute(delete(m.Membership).where(m.Membership.user_id == uid))
            await db.execute(delete(m.AppBinding).where(m.AppBinding.user_id == uid))
            await db.execute(delete(m.User).where(m.User.id == uid))
            await self._commit_change(db)

    async def add_to_group(self, username: str, group: str) -> None:
        async with self._tx() as db:
            uid = await self._user_id(db, username)
            gid = await self._group_id(db, group, create=True)
            exists = await db.get(m.Membership, (uid, gid))
            if exists is None:
                db.add(m.Membership(user_id=uid, group_id=gid))
            await self._commit_change(db)

    async def remove_from_group(self, username: str, group: str) -> None:
        async with self._tx() as db:
            uid = await self._user_id(db, username)
            gid = await self._group_id(db, group)
            await db.execute(
                delete(m.Membership).where(
                    m.Membership.user_id == uid, m.Membership.group_id == gid
                )
            )
            await self._commit_change(db)

    # -- groups ------------------------------------------------------------------------
    async def add_group(self, name: str) -> None:
        async with self._tx() as db:
            if await db.scalar(select(m.Group.id).where(m.Group.name == name)):
                raise ConflictError(f"group {name!r} already exists")
            await self._group_id(db, name, create=True)
            await self._commit_change(db)

    async def list_groups(self) -> list[tuple[str, int]]:
        async with self._tx() as db:
            rows = await db.execute(
                select(m.Group.name, func.count(m.Membership.user_id))
                .outerjoin(m.Membership, m.Membership.group_id == m.Group.id)
                .group_by(m.Group.id)
                .order_by(m.Group.name)
            )
            return [(name, int(count)) for name, count in rows.all()]

    async def delete_group(self, name: str) -> None:
        async with self._tx() as db:
            gid = await self._group_id(db, name)
            await db.execute(delete(m.Membership).where(m.Membership.group_id == gid))
            await db.execute(delete(m.AppBinding).where(m.AppBinding.group_id == gid))
            await db.execute(delete(m.Group).where(m.Group.id == gid))
            await self._commit_change(db)

    # -- applications --------------------------------------------------------------------
    async def add_app(
        self,
        slug: str,
        *,
        url: str,
        name: str = "",
        mode: str = "single",
        cookie_domain: str = "",
        groups: Sequence[str] = (),
        users: Sequence[str] = (),
        skip_paths: Sequence[str] = (),
        strip_cookie: bool = False,
        allow_preflight: bool = False,
    ) -> AppView:
        if not SLUG.match(slug):
            raise ConflictError(
                f"app slug {slug!r} is not valid: lower-case letters, digits and - only"
            )
        async with self._tx() as db:
            if await db.scalar(select(m.Application.id).where(m.Application.slug == slug)):
                raise ConflictError(f"app {slug!r} already exists")
            app = m.Application(
                slug=slug,
                name=name or slug,
                external_url=url,
                mode=mode,
                cookie_domain=cookie_domain,
                strip_cookie=strip_cookie,
                allow_preflight=allow_preflight,
                created_at=now(),
            )
            db.add(app)
            await db.flush()
            for group in groups:
                db.add(m.AppBinding(app_id=app.id, group_id=await self._group_id(db, group)))
            for user in users:
                db.add(m.AppBinding(app_id=app.id, user_id=await self._user_id(db, user)))
            for position, regex in enumerate(skip_paths, 1):
                db.add(
                    m.AppRule(app_id=app.id, position=position, action="bypass", path_regex=regex)
                )
            await self._commit_change(db)
        return await self.get_app(slug)

    async def set_app_options(self, slug: str, **options: bool | str | None) -> AppView:
        """Change name, URL or switches (strip_cookie, allow_preflight) of an app."""
        allowed = {"name", "external_url", "strip_cookie", "allow_preflight"}
        values = {k: v for k, v in options.items() if k in allowed and v is not None}
        async with self._tx() as db:
            app_id = await self._app_id(db, slug)
            if values:
                await db.execute(
                    update(m.Application).where(m.Application.id == app_id).values(**values)
                )
            await self._commit_change(db)
        return await self.get_app(slug)

    async def update_app(
        self,
        slug: str,
        *,
        url: str,
        name: str = "",
        mode: str = "single",
        cookie_domain: str = "",
        groups: Sequence[str] = (),
        users: Sequence[str] = (),
        skip_paths: Sequence[str] = (),
        rules: Sequence[RuleSpec] = (),
        strip_cookie: bool = False,
        allow_preflight: bool = False,
        create: bool = False,
    ) -> AppView:
        """Make app ``slug`` exactly this, in one transaction: fields, switches, bindings and
        rules (``skip_paths`` as bypass rules first, then ``rules``, checked by the caller).
        ``create`` adds the app when it does not exist, so that no server ever sees a new app
        without its rules; otherwise a missing app is a NotFoundError."""
        values: dict[str, Any] = dict(
            name=name or slug,
            external_url=url,
            mode=mode,
            cookie_domain=cookie_domain,
            strip_cookie=strip_cookie,
            allow_preflight=allow_preflight,
        )
        specs = [RuleSpec("bypass", path_regex=regex) for regex in skip_paths] + list(rules)
        async with self._tx() as db:
            app = await db.scalar(select(m.Application).where(m.Application.slug == slug))
            if app is None and not create:
                raise NotFoundError("app", slug)
            if app is None:
                if not SLUG.match(slug):
                    raise ConflictError(
                        f"app slug {slug!r} is not valid: lower-case letters, digits and - only"
                    )
                app = m.Application(slug=slug, created_at=now(), **values)
                db.add(app)
                await db.flush()
            else:
                await db.execute(delete(m.AppBinding).where(m.AppBinding.app_id == app.id))
                await db.execute(delete(m.AppRule).where(m.AppRule.app_id == app.id))
                await db.execute(
                    update(m.Application).where(m.Application.id == app.id).values(**values)
                )
            for group in dict.fromkeys(groups):
                db.add(m.AppBinding(app_id=app.id, group_id=await self._group_id(db, group)))
            for user in dict.fromkeys(users):
                db.add(m.AppBinding(app_id=app.id, user_id=await self._user_id(db, user)))
            for position, spec in enumerate(specs, 1):
                db.add(m.AppRule(app_id=app.id, position=position, **spec.columns()))
            await self._commit_change(db)
        return await self.get_app(slug)

    async def add_rule(self, slug: str, rule: RuleSpec, position: int | None = None) -> int:
        """Insert a rule at ``position`` (1-based; default last); returns its position."""
        async with self._tx() as db:
            app_id = await self._app_id(db, slug)
            rows = list(
                await db.scalars(
                    select(m.AppRule).where(m.AppRule.app_id == app_id).order_by(m.AppRule.position)
                )
            )
            at = len(rows) + 1 if position is None else max(1, min(position, len(rows) + 1))
            for row in rows:
                if row.position >= at:
                    row.position += 1
            db.add(m.AppRule(app_id=app_id, position=at, **rule.columns()))
            await self._commit_change(db)
        return at

    async def delete_rule(self, slug: str, position: int) -> None:
        async with self._tx() as db:
            app_id = await self._app_id(db, slug)
            rows = list(
                await db.scalars(
                    select(m.AppRule).where(m.AppRule.app_id == app_id).order_by(m.AppRule.position)
                )
            )
            if not 1 <= position <= len(rows):
                raise NotFoundError("rule", f"{slug} #{position}")
            await db.delete(rows[position - 1])
            for index, row in enumerate(r for i, r in enumerate(rows) if i != position - 1):
                row.position = index + 1
            await self._commit_change(db)

    async def delete_app(self, slug: str) -> None:
        async with self._tx() as db:
            app_id = await self._app_id(db, slug)
            await db.execute(delete(m.AppRule).where(m.AppRule.app_id == app_id))
            await db.execute(delete(m.AppBinding).where(m.AppBinding.app_id == app_id))
            await db.execute(delete(m.Session).where(m.Session.app_id == app_id))
            await db.execute(delete(m.LoginCode).where(m.LoginCode.app_id == app_id))
            await db.execute(delete(m.Application).where(m.Application.id == app_id))
            await self._commit_change(db)

    async def _app_id(self, db: AsyncSession, slug: str) -> int:
        app_id = await db.scalar(select(m.Application.id).where(m.Application.slug == slug))
        if app_id is None:
            raise NotFoundError("app", slug)
        return int(app_id)

    async def get_app(self, slug: str) -> AppView:
        for app in await self.load_apps():
            if app.slug == slug:
                return app
        raise NotFoundError("app", slug)

    async def load_apps(self) -> list[AppView]:
        """Every app with its bindings and rules, as the hot path's frozen views."""
        async with self._tx() as db:
            apps = (await db.scalars(select(m.Application).order_by(m.Application.slug))).all()
            users = {i: n for i, n in (await db.execute(select(m.User.id, m.User.username))).all()}
            groups = {i: n for i, n in (await db.execute(select(m.Group.id, m.Group.name))).all()}
            bindings = (await db.scalars(select(m.AppBinding))).all()
            rules = (await db.scalars(select(m.AppRule).order_by(m.AppRule.position))).all()
        views = []
        for app in apps:
            bound_users = frozenset(
                users[b.user_id] for b in bindings if b.app_id == app.id and b.user_id in users
            )
            bound_groups = frozenset(
                groups[b.group_id] for b in bindings if b.app_id == app.id and b.group_id in groups
            )
            app_rules = tuple(_rule(r) for r in rules if r.app_id == app.id)
            views.append(app_view(app, bound_users, bound_groups, app_rules))
        return views

    # -- sessions ------------------------------------------------------------------------
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
                )
            )
            await db.commit()
        return sid

    async def load_session(self, session_id: str) -> SessionRecord | None:
        """A live session with its user and groups; None if unknown, revoked, expired or the
        user is disabled, or if its portal session has been revoked."""
        async with self._tx() as db:
            row = (
                await db.execute(
                    select(m.Session, m.User)
                    .join(m.User, m.User.id == m.Session.user_id)
                    .where(m.Session.id == session_id)
                )
            ).first()
            if row is None:
                return None
            sess, user = row
            if sess.revoked_at is not None or user.disabled:
                return None
            if _aware(sess.expires_at) <= now():
                return None
            if sess.parent_id:
                parent = await db.get(m.Session, sess.parent_id)
                if parent is None or parent.revoked_at is not None:
                    return None
            info = await self._user_info(db, user)
        identity = Identity(
            session_id=sess.id,
            parent_id=sess.parent_id or "",
            user_id=user.id,
            uid=user.uid,
            username=user.username,
            email=user.email,
            name=user.name,
            groups=info.groups,
            expires_at=_aware(sess.expires_at).timestamp(),
        )
        return SessionRecord(
            identity=identity,
            kind=sess.kind,
            app_id=sess.app_id,
            expires_at=_aware(sess.expires_at).timestamp(),
            last_seen=_aware(sess.last_seen).timestamp(),
        )

    async def touch_sessions(self, seen: dict[str, float]) -> None:
        if not seen:
            return
        async with self._tx() as db:
            for sid, when in seen.items():
                await db.execute(
                    update(m.Session)
                    .where(m.Session.id == sid)
                    .values(last_seen=datetime.fromtimestamp(when, UTC))
                )
            await db.commit()

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

    async def revoke_session(self, session_id: str) -> set[str]:
        async with self._tx() as db:
            if await db.get(m.Session, session_id) is None:
                raise NotFoundError("session", session_id)
        return await self.revoke_family(session_id)

    async def revoke_user_sessions(self, username: str) -> int:
        async with self._tx() as db:
            uid = await self._user_id(db, username)
            result = await db.execute(
                update(m.Session)
                .where(m.Session.user_id == uid, m.Session.revoked_at.is_(None))
                .values(revoked_at=now())
            )
            await self._commit_change(db)
            return int(getattr(result, "rowcount", 0) or 0)

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

    # -- audit ------------------------------------------------------------------------------
    async def audit(
        self,
        event: str,
        *,
        actor: str = "",
        subject: str = "",
        app: str = "",
        ip: str = "",
        decision_id: str = "",
        detail: str = "",
    ) -> None:
        async with self._tx() as db:
            db.add(
                m.AuditEvent(
                    at=now(),
                    event=event,
                    actor=actor[:150],
                    subject=subject[:300],
                    app=app[:100],
                    ip=ip[:64],
                    decision_id=decision_id,
                    detail=detail,
                )
            )
            await db.commit()

    async def audit_many(self, events: list[dict[str, str]]) -> None:
        """One multi-row insert: the hot path's queue is flushed without ORM objects."""
        at = now()
        async with self._tx() as db:
            await db.execute(insert(m.AuditEvent), [{"at": at, **event} for event in events])
            await db.commit()

    async def prune_audit(self, older_than: int) -> int:
        """Delete audit events older than ``older_than`` seconds; returns how many."""
        cutoff = now() - timedelta(seconds=older_than)
        async with self._tx() as db:
            result = await db.execute(delete(m.AuditEvent).where(m.AuditEvent.at < cutoff))
            await db.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    async def find_decision(self, decision_id: str) -> m.AuditEvent | None:
        async with self._tx() as db:
            found = await db.scalars(
                select(m.AuditEvent).where(m.AuditEvent.decision_id == decision_id).limit(1)
            )
            return found.first()

    async def list_audit(
        self, limit: int = 100, event: str = "", actor: str = ""
    ) -> list[m.AuditEvent]:
        query = select(m.AuditEvent).order_by(m.AuditEvent.id.desc()).limit(limit)
        if event:
            query = query.where(m.AuditEvent.event == event)
        if actor:
            query = query.where(m.AuditEvent.actor == actor)
        async with self._tx() as db:
            return list(await db.scalars(query))


def app_view(
    app: m.Application,
    bound_users: frozenset[str] = frozenset(),
    bound_groups: frozenset[str] = frozenset(),
    rules: tuple[Rule, ...] = (),
) -> AppView:
    scheme, _, rest = app.external_url.partition("://")
    host = canonical_host(rest.split("/", 1)[0]) or rest
    return AppView(
        id=app.id,
        slug=app.slug,
        name=app.name,
        external_url=app.external_url,
        scheme=scheme,
        host=host,
        mode=app.mode,
        cookie_domain=app.cookie_domain,
        bound_users=bound_users,
        bound_groups=bound_groups,
        rules=rules,
        strip_cookie=bool(app.strip_cookie),
        allow_preflight=bool(app.allow_preflight),
    )


def _rule(row: m.AppRule) -> Rule:
    def split(text: str) -> list[str]:
        return [part for part in text.split(",") if part]

    return Rule(
        action=row.action,
        path_prefix=row.path_prefix,
        path_regex=re.compile(row.path_regex) if row.path_regex else None,
        methods=frozenset(split(row.methods)),
        networks=tuple(ipaddress.ip_network(n, strict=False) for n in split(row.networks)),
        users=frozenset(split(row.users)),
        groups=frozenset(split(row.groups)),
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the CLI write while servers read; NORMAL sync is durable enough with WAL."""
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
