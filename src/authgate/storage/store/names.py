"""Names of users, groups and apps: what each may look like, and the row each one names."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from authgate.errors import ConflictError, NotFoundError
from authgate.storage import models as m

# ``\Z``, not ``$``: ``$`` also matches before a final newline, so "erin\n" would pass.
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,149}\Z")


def canonical_username(typed: str) -> str | None:
    """The one form of a typed user name that both the lookup and the login counters use:
    Unicode NFKC, surrounding white space (tab, newline, ...) stripped. None when the result
    cannot be any user's name (inner spaces, control characters, too long): such a name is
    nobody, it never aliases a user."""
    name = unicodedata.normalize("NFKC", typed[:1024]).strip()
    return name if NAME.fullmatch(name) else None


def icon_problem(icon: str) -> str:
    """Why an app's launcher icon cannot be shown as given, or "": an http(s) or data:image
    URL of at most 500 bytes, without spaces, quotes or angle brackets."""
    scheme, _, rest = icon.partition(":")
    scheme = scheme.lower()
    if len(icon) > 500:
        return "is longer than 500 bytes"
    if not (scheme in ("http", "https") and rest.startswith("//")) and not (
        scheme == "data" and rest.lower().startswith("image/")
    ):
        return "is not an http(s) or data:image URL"
    if any(ch.isspace() or ch in "\"'<>\\" for ch in icon):
        return "must not contain spaces, quotes, backslashes or angle brackets"
    return ""


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line with single spaces (a launcher description)."""
    return " ".join(text.split())[:limit]


def check_slug(slug: str) -> None:
    if not SLUG.match(slug):
        raise ConflictError(
            f"app slug {slug!r} is not valid: lower-case letters, digits and - only"
        )


async def user_id(db: AsyncSession, username: str) -> int:
    uid = await db.scalar(select(m.User.id).where(m.User.username == username))
    if uid is None:
        raise NotFoundError("user", username)
    return int(uid)


async def group_id(db: AsyncSession, name: str, *, create: bool = False) -> int:
    """The id of group ``name``; with ``create``, a missing group is added (flushed)."""
    gid = await db.scalar(select(m.Group.id).where(m.Group.name == name))
    if gid is not None:
        return int(gid)
    if not create:
        raise NotFoundError("group", name)
    if not NAME.match(name):
        raise ConflictError(f"group name {name!r} is not valid")
    twin = await db.scalar(select(m.Group.name).where(func.lower(m.Group.name) == name.lower()))
    if twin is not None:
        raise ConflictError(f"group {name!r} would differ from group {twin!r} only in case")
    group = m.Group(name=name)
    db.add(group)
    await db.flush()
    return group.id


async def app_id(db: AsyncSession, slug: str) -> int:
    found = await db.scalar(select(m.Application.id).where(m.Application.slug == slug))
    if found is None:
        raise NotFoundError("app", slug)
    return int(found)


# built once: every session in use is read again after a revision change, and building the
# statement cost more than running it
_GROUP_NAMES = (
    select(m.Group.name)
    .join(m.Membership, m.Membership.group_id == m.Group.id)
    .where(m.Membership.user_id == bindparam("uid"))
    .order_by(m.Group.name)
)


async def group_names(db: AsyncSession, uid: int) -> tuple[str, ...]:
    """The names of the groups of user ``uid``, sorted."""
    return tuple(await db.scalars(_GROUP_NAMES, {"uid": uid}))
