"""Applications: their fields and switches, who is bound to them, their rules, and the
frozen ``AppView`` the hot path judges with."""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authgate.errors import ConflictError, NotFoundError
from authgate.forward.hosts import url_host
from authgate.forward.model import AppView, Rule
from authgate.storage import models as m
from authgate.storage.store import names
from authgate.storage.store.base import StoreBase, now
from authgate.storage.store.claims import Claim, check_claim, claim_race


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the Store keeps it, one text column per field. ``check_rule`` in
    ``authgate.statefile.rules`` builds it, validated and canonical, for both the CLI and the
    state file; the Store itself stores it as it is."""

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


class AppStore(StoreBase):
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
        case_insensitive_paths: bool = False,
        require_mfa: bool | None = None,
        icon: str = "",
        description: str = "",
        jwt_bearer: bool = False,
        basic_password: bool = False,
    ) -> AppView:
        """Add an app; refused when another app holds its host or (domain mode) its cookie
        domain, or a bound group or user does not exist."""
        names.check_slug(slug)
        switches = Switches(
            strip_cookie,
            allow_preflight,
            case_insensitive_paths,
            require_mfa,
            icon,
            description,
            jwt_bearer,
            basic_password,
        )
        values = _fields(slug, url, name, mode, cookie_domain, switches)
        claim = Claim.of(url, mode, cookie_domain)
        async with self._tx() as db:
            if await db.scalar(select(m.Application.id).where(m.Application.slug == slug)):
                raise ConflictError(f"app {slug!r} already exists")
            await check_claim(db, claim, slug)
            app = m.Application(slug=slug, created_at=now(), **values)
            db.add(app)
            with claim_race(claim):
                await db.flush()
            await _bind(db, app.id, groups, users)
            _add_rules(db, app.id, _bypass(skip_paths))
            await self._commit_change(db)
        return await self.get_app(slug)

    async def set_app_options(
        self,
        slug: str,
        bindings: BindingChange | None = None,
        *,
        mfa_default: bool = False,
        **options: bool | str | None,
    ) -> AppView:
        """Change name, URL, switches (strip_cookie, allow_preflight,
        case_insensitive_paths, require_mfa, jwt_bearer, basic_password), launcher fields
        (icon, description) and bindings of an app, all in one change or none: a new URL
        must not take another app's host, and every group and user named must exist.
        ``mfa_default`` puts require_mfa back to NULL (the global default)."""
        allowed = {
            "name",
            "external_url",
            "strip_cookie",
            "jwt_bearer",
            "basic_password",
            "allow_preflight",
            "case_insensitive_paths",
            "require_mfa",
            "icon",
            "description",
        }
        values: dict[str, bool | str | None] = {
            k: v for k, v in options.items() if k in allowed and v is not None
        }
        if mfa_default:
            values["require_mfa"] = None
        async with self._tx() as db:
            app = await db.scalar(select(m.Application).where(m.Application.slug == slug))
            if app is None:
                raise NotFoundError("app", slug)
            url = str(values.get("external_url", app.external_url))
            claim = Claim.of(url, app.mode, app.cookie_domain)
            if "external_url" in values:
                await check_claim(db, claim, slug)
                values.update(claim.keys())
            if values:
                with claim_race(claim):
                    await db.execute(
                        update(m.Application).where(m.Application.id == app.id).values(**values)
                    )
            if bindings is not None:
                await _rebind(db, app.id, bindings)
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
        case_insensitive_paths: bool = False,
        require_mfa: bool | None = None,
        icon: str = "",
        description: str = "",
        jwt_bearer: bool = False,
        basic_password: bool = False,
        create: bool = False,
    ) -> AppView:
        """Make app ``slug`` exactly this, in one transaction: fields, switches, bindings and
        rules (``skip_paths`` as bypass rules first, then ``rules``, checked by the caller).
        ``create`` adds the app when it does not exist, so that no server ever sees a new app
        without its rules; otherwise a missing app is a NotFoundError. A host or cookie
        domain another app holds is a ConflictError."""
        switches = Switches(
            strip_cookie,
            allow_preflight,
            case_insensitive_paths,
            require_mfa,
            icon,
            description,
            jwt_bearer,
            basic_password,
        )
        values = _fields(slug, url, name, mode, cookie_domain, switches)
        claim = Claim.of(url, mode, cookie_domain)
        specs = _bypass(skip_paths) + list(rules)
        async with self._tx() as db:
            app = await db.scalar(select(m.Application).where(m.Application.slug == slug))
            if app is None and not create:
                raise NotFoundError("app", slug)
            if app is None:
                names.check_slug(slug)
            await check_claim(db, claim, slug)
            if app is None:
                app = m.Application(slug=slug, created_at=now(), **values)
                db.add(app)
                with claim_race(claim):
                    await db.flush()
            else:
                await db.execute(delete(m.AppBinding).where(m.AppBinding.app_id == app.id))
                await db.execute(delete(m.AppRule).where(m.AppRule.app_id == app.id))
                with claim_race(claim):
                    await db.execute(
                        update(m.Application).where(m.Application.id == app.id).values(**values)
                    )
            await _bind(db, app.id, dict.fromkeys(groups), dict.fromkeys(users))
            _add_rules(db, app.id, specs)
            await self._commit_change(db)
        return await self.get_app(slug)

    async def add_rule(self, slug: str, rule: RuleSpec, position: int | None = None) -> int:
        """Insert a rule at ``position`` (1-based; default last); returns its position."""
        async with self._tx() as db:
            app_id = await names.app_id(db, slug)
            rows = await _rules_of(db, app_id)
            at = len(rows) + 1 if position is None else max(1, min(position, len(rows) + 1))
            for row in rows:
                if row.position >= at:
                    row.position += 1
            db.add(m.AppRule(app_id=app_id, position=at, **rule.columns()))
            await self._commit_change(db)
        return at

    async def delete_rule(self, slug: str, position: int) -> None:
        async with self._tx() as db:
            rows = await _rules_of(db, await names.app_id(db, slug))
            if not 1 <= position <= len(rows):
                raise NotFoundError("rule", f"{slug} #{position}")
            await db.delete(rows[position - 1])
            for index, row in enumerate(r for i, r in enumerate(rows) if i != position - 1):
                row.position = index + 1
            await self._commit_change(db)

    async def delete_app(self, slug: str) -> None:
        async with self._tx() as db:
            app_id = await names.app_id(db, slug)
            await db.execute(delete(m.AppRule).where(m.AppRule.app_id == app_id))
            await db.execute(delete(m.AppBinding).where(m.AppBinding.app_id == app_id))
            await db.execute(delete(m.Session).where(m.Session.app_id == app_id))
            await db.execute(delete(m.LoginCode).where(m.LoginCode.app_id == app_id))
            await db.execute(delete(m.Application).where(m.Application.id == app_id))
            await self._commit_change(db)

    async def get_app(self, slug: str) -> AppView:
        for app in await self.load_apps():
            if app.slug == slug:
                return app
        raise NotFoundError("app", slug)

    async def load_apps(self) -> list[AppView]:
        """Every app with its bindings and rules, as the hot path's frozen views."""
        async with self._tx() as db:  # plain rows, not ORM objects: 10,000 apps load 3x faster
            apps = (await db.execute(select(*_columns(m.Application)).order_by("slug"))).all()
            users = {i: n for i, n in (await db.execute(select(m.User.id, m.User.username))).all()}
            groups = {i: n for i, n in (await db.execute(select(m.Group.id, m.Group.name))).all()}
            bindings = (await db.execute(select(*_columns(m.AppBinding)))).all()
            rules = (await db.execute(select(*_columns(m.AppRule)).order_by("position"))).all()
        bound: dict[int, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
        for b in bindings:  # grouped once: a scan per app is quadratic in 10,000 apps
            if b.user_id in users:
                bound[b.app_id][0].add(users[b.user_id])
            if b.group_id in groups:
                bound[b.app_id][1].add(groups[b.group_id])
        rules_of: dict[int, list[Row[Any]]] = defaultdict(list)
        for rule in rules:
            rules_of[rule.app_id].append(rule)
        views = []
        for app in apps:
            bound_users, bound_groups = bound.get(app.id, (set(), set()))
            ignore_case = bool(app.case_insensitive_paths)
            app_rules = tuple(_rule(r, ignore_case) for r in rules_of.get(app.id, ()))
            views.append(app_view(app, frozenset(bound_users), frozenset(bound_groups), app_rules))
        return views


@dataclass(frozen=True)
class BindingChange:
    """Groups and users to bind to an app and to unbind from it."""

    add_groups: tuple[str, ...] = ()
    remove_groups: tuple[str, ...] = ()
    add_users: tuple[str, ...] = ()
    remove_users: tuple[str, ...] = ()


async def _rebind(db: AsyncSession, app_id: int, change: BindingChange) -> None:
    """Carry out ``change``: every name must exist (else a NotFoundError); binding what is
    bound, or unbinding what is not, changes nothing."""
    groups = {g: await names.group_id(db, g) for g in change.add_groups + change.remove_groups}
    users = {u: await names.user_id(db, u) for u in change.add_users + change.remove_users}
    rows = await db.execute(
        select(m.AppBinding.group_id, m.AppBinding.user_id).where(m.AppBinding.app_id == app_id)
    )
    bound = set(rows.all())
    for gid in dict.fromkeys(groups[g] for g in change.add_groups):
        if (gid, None) not in bound:
            db.add(m.AppBinding(app_id=app_id, group_id=gid))
    for uid in dict.fromkeys(users[u] for u in change.add_users):
        if (None, uid) not in bound:
            db.add(m.AppBinding(app_id=app_id, user_id=uid))
    of_app = m.AppBinding.app_id == app_id
    if change.remove_groups:
        gone = [groups[g] for g in change.remove_groups]
        await db.execute(delete(m.AppBinding).where(of_app, m.AppBinding.group_id.in_(gone)))
    if change.remove_users:
        gone = [users[u] for u in change.remove_users]
        await db.execute(delete(m.AppBinding).where(of_app, m.AppBinding.user_id.in_(gone)))


@dataclass(frozen=True)
class Switches:
    strip_cookie: bool = False
    allow_preflight: bool = False
    case_insensitive_paths: bool = False
    require_mfa: bool | None = None  # None: AUTHGATE_REQUIRE_MFA decides
    icon: str = ""  # the launcher's picture of the app (an image URL)
    description: str = ""  # the launcher's line about the app
    jwt_bearer: bool = False  # the answer also carries Authorization: Bearer <the JWT>
    basic_password: bool = False  # Basic with the real password (no MFA required)


def _fields(
    slug: str, url: str, name: str, mode: str, cookie_domain: str, switches: Switches
) -> dict[str, Any]:
    """An app's columns as ``add_app`` and ``update_app`` write them (the name defaults to
    the slug), with the unique keys of its claim."""
    return dict(
        name=name or slug,
        external_url=url,
        mode=mode,
        cookie_domain=cookie_domain,
        strip_cookie=switches.strip_cookie,
        jwt_bearer=switches.jwt_bearer,
        basic_password=switches.basic_password,
        allow_preflight=switches.allow_preflight,
        case_insensitive_paths=switches.case_insensitive_paths,
        require_mfa=switches.require_mfa,
        icon=switches.icon,
        description=switches.description,
        **Claim.of(url, mode, cookie_domain).keys(),
    )


async def _rules_of(db: AsyncSession, app_id: int) -> list[m.AppRule]:
    """The rules of an app, in order."""
    return list(
        await db.scalars(
            select(m.AppRule).where(m.AppRule.app_id == app_id).order_by(m.AppRule.position)
        )
    )


async def _bind(db: AsyncSession, app_id: int, groups: Iterable[str], users: Iterable[str]) -> None:
    """Bind groups, then users, to an app; a missing one is a NotFoundError."""
    for group in groups:
        db.add(m.AppBinding(app_id=app_id, group_id=await names.group_id(db, group)))
    for user in users:
        db.add(m.AppBinding(app_id=app_id, user_id=await names.user_id(db, user)))


def _bypass(skip_paths: Iterable[str]) -> list[RuleSpec]:
    return [RuleSpec("bypass", path_regex=regex) for regex in skip_paths]


def _add_rules(db: AsyncSession, app_id: int, specs: Iterable[RuleSpec]) -> None:
    """Add ``specs`` as an app's rules 1, 2, …"""
    for position, spec in enumerate(specs, 1):
        db.add(m.AppRule(app_id=app_id, position=position, **spec.columns()))


def _columns(model: type[m.Base]) -> list[Any]:
    return list(model.__table__.columns)


def app_view(
    app: m.Application | Row[Any],
    bound_users: frozenset[str] = frozenset(),
    bound_groups: frozenset[str] = frozenset(),
    rules: tuple[Rule, ...] = (),
) -> AppView:
    return AppView(
        id=app.id,
        slug=app.slug,
        name=app.name,
        external_url=app.external_url,
        scheme=app.external_url.partition("://")[0],
        # the stored canonical host (the claim, see claims.py); NULL only for a duplicate
        host=app.host_key or url_host(app.external_url),
        mode=app.mode,
        cookie_domain=app.cookie_domain,
        bound_users=bound_users,
        bound_groups=bound_groups,
        rules=rules,
        strip_cookie=bool(app.strip_cookie),
        jwt_bearer=bool(app.jwt_bearer),
        basic_password=bool(app.basic_password),
        allow_preflight=bool(app.allow_preflight),
        case_insensitive_paths=bool(app.case_insensitive_paths),
        require_mfa=app.require_mfa,
        icon=app.icon or "",
        description=app.description or "",
    )


def _rule(row: m.AppRule | Row[Any], ignore_case: bool = False) -> Rule:
    def split(text: str) -> list[str]:
        return [part for part in text.split(",") if part]

    return Rule(
        action=row.action,
        path_prefix=row.path_prefix,
        path_regex=re.compile(row.path_regex, re.IGNORECASE if ignore_case else 0)
        if row.path_regex
        else None,
        methods=frozenset(split(row.methods)),
        networks=tuple(ipaddress.ip_network(n, strict=False) for n in split(row.networks)),
        users=frozenset(split(row.users)),
        groups=frozenset(split(row.groups)),
        ignore_case=ignore_case,
    )
