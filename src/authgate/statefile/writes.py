"""The writes ``apply`` needs that the Store has no method for, on the Store's own engine.

Each runs in one transaction and bumps the revision row, as the Store's own writes do, so
running servers reload at once; the caller passes the new value on (``notify``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from authgate.errors import NotFoundError
from authgate.statefile.model import AppState
from authgate.storage import models as m
from authgate.storage.store import Store


async def _bump(db: AsyncSession) -> int:
    row = await db.get(m.Revision, 1)
    if row is None:
        row = m.Revision(id=1, value=0)
        db.add(row)
    row.value += 1
    return row.value


async def _ids(db: AsyncSession, names: Sequence[str], kind: str) -> list[int]:
    ids = []
    table = m.Group if kind == "group" else m.User
    name_column = m.Group.name if kind == "group" else m.User.username
    for name in names:
        found = await db.scalar(select(table.id).where(name_column == name))
        if found is None:
            raise NotFoundError(kind, name)
        ids.append(int(found))
    return ids


def _is_skip_path(rule: m.AppRule) -> bool:
    """A ``--skip-path`` rule: bypass on a path regex and nothing else."""
    others = (rule.path_prefix, rule.methods, rule.networks, rule.users, rule.groups)
    return rule.action == "bypass" and bool(rule.path_regex) and not any(others)


async def update_app(store: Store, slug: str, app: AppState) -> int:
    """Set an app's URL, name, mode, bindings and skip paths; other rules keep their order
    after the skip paths. Returns the new revision."""
    async with async_sessionmaker(store.engine, expire_on_commit=False)() as db:
        app_id = await db.scalar(select(m.Application.id).where(m.Application.slug == slug))
        if app_id is None:
            raise NotFoundError("app", slug)
        await db.execute(
            update(m.Application)
            .where(m.Application.id == app_id)
            .values(
                external_url=app.url,
                name=app.name or slug,
                mode=app.mode,
                cookie_domain=app.cookie_domain,
            )
        )
        await db.execute(delete(m.AppBinding).where(m.AppBinding.app_id == app_id))
        for gid in await _ids(db, app.groups, "group"):
            db.add(m.AppBinding(app_id=app_id, group_id=gid))
        for uid in await _ids(db, app.users, "user"):
            db.add(m.AppBinding(app_id=app_id, user_id=uid))
        rules = (
            await db.scalars(
                select(m.AppRule).where(m.AppRule.app_id == app_id).order_by(m.AppRule.position)
            )
        ).all()
        kept = [r for r in rules if not _is_skip_path(r)]
        for rule in rules:
            if _is_skip_path(rule):
                await db.delete(rule)
        for position, regex in enumerate(app.skip_paths, 1):
            db.add(m.AppRule(app_id=app_id, position=position, action="bypass", path_regex=regex))
        for position, rule in enumerate(kept, len(app.skip_paths) + 1):
            rule.position = position
        value = await _bump(db)
        await db.commit()
    return value


async def update_profile(store: Store, username: str, email: str, name: str) -> int:
    """Set a user's email and full name. Returns the new revision."""
    async with async_sessionmaker(store.engine, expire_on_commit=False)() as db:
        result = await db.execute(
            update(m.User).where(m.User.username == username).values(email=email, name=name)
        )
        if not getattr(result, "rowcount", 0):
            raise NotFoundError("user", username)
        value = await _bump(db)
        await db.commit()
    return value
