"""Users, groups and who is in which group."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authgate.errors import ConflictError, NotFoundError
from authgate.storage import models as m
from authgate.storage.store import names
from authgate.storage.store.base import StoreBase, now
from authgate.storage.store.sessions import revoke_live_sessions, revoke_others


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
    passwordless: bool = False  # may sign in with a passkey alone


async def user_info(db: AsyncSession, user: m.User) -> UserInfo:
    return UserInfo(
        user.id,
        user.uid,
        user.username,
        user.email,
        user.name,
        user.disabled,
        await names.group_names(db, user.id),
        user.password_hash,
        bool(user.passwordless),
    )


class _Disabling(Protocol):
    """What ``set_disabled`` needs: this part's ``_update_user`` and the sessions part."""

    async def _update_user(self, username: str, **values: Any) -> None: ...

    async def revoke_user_sessions(self, username: str) -> int: ...


class UserStore(StoreBase):
    async def add_user(
        self,
        username: str,
        *,
        email: str = "",
        name: str = "",
        password_hash: str | None = None,
        groups: Sequence[str] = (),
    ) -> UserInfo:
        if not names.NAME.match(username):
            raise ConflictError(
                f"user name {username!r} is not valid: letters, digits and . _ @ + - only"
            )
        async with self._tx() as db:
            twin = await db.scalar(
                select(m.User.username).where(func.lower(m.User.username) == username.lower())
            )
            if twin == username:
                raise ConflictError(f"user {username!r} already exists")
            if twin is not None:  # apps that compare names case-blind would merge the two
                raise ConflictError(
                    f"user {username!r} would differ from user {twin!r} only in case"
                )
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
            try:
                await db.flush()
            except IntegrityError as exc:  # another replica added the same name just now
                raise ConflictError(f"user {username!r} already exists") from exc
            for group in groups:
                gid = await names.group_id(db, group, create=True)
                db.add(m.Membership(user_id=user.id, group_id=gid))
            await self._commit_change(db)
        return await self.get_user(username)

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
            return await user_info(db, user)

    async def find_user_by_uid(self, uid: str) -> UserInfo | None:
        """The user with this stable id (sessions and pending sign-ins name users by it)."""
        async with self._tx() as db:
            user = await db.scalar(select(m.User).where(m.User.uid == uid))
            return None if user is None else await user_info(db, user)

    async def list_users(self) -> list[UserInfo]:
        async with self._tx() as db:
            users = (await db.scalars(select(m.User).order_by(m.User.username))).all()
            return [await user_info(db, u) for u in users]

    async def count_users(self) -> int:
        async with self._tx() as db:
            return int(await db.scalar(select(func.count(m.User.id))) or 0)

    async def set_password(self, username: str, password_hash: str) -> None:
        await self._update_user(username, password_hash=password_hash)

    async def change_password(self, user_id: int, password_hash: str, keep: str) -> set[str]:
        """A user's own new password: stored, and every session of theirs ended but portal
        session ``keep`` (the browser that changed it) and its app sessions, in one
        transaction; the ids ended."""
        async with self._tx() as db:
            await db.execute(
                update(m.User).where(m.User.id == user_id).values(password_hash=password_hash)
            )
            ended = await revoke_others(db, user_id, keep)
            await self._commit_change(db)
        return ended

    async def set_disabled(self: _Disabling, username: str, disabled: bool) -> None:
        await self._update_user(username, disabled=disabled)
        if disabled:
            await self.revoke_user_sessions(username)

    async def _update_user(self, username: str, **values: Any) -> None:
        async with self._tx() as db:
            uid = await names.user_id(db, username)
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
            uid = await names.user_id(db, username)
            if values:
                await db.execute(update(m.User).where(m.User.id == uid).values(**values))
            if disabled:
                await db.execute(revoke_live_sessions(uid))
            if groups is not None:
                await db.execute(delete(m.Membership).where(m.Membership.user_id == uid))
                for group in dict.fromkeys(groups):
                    gid = await names.group_id(db, group, create=True)
                    db.add(m.Membership(user_id=uid, group_id=gid))
            await self._commit_change(db)
        return await self.get_user(username)

    async def delete_user(self, username: str) -> None:
        async with self._tx() as db:
            uid = await names.user_id(db, username)
            await db.execute(delete(m.Session).where(m.Session.user_id == uid))
            await db.execute(delete(m.Membership).where(m.Membership.user_id == uid))
            await db.execute(delete(m.AppBinding).where(m.AppBinding.user_id == uid))
            await db.execute(delete(m.User).where(m.User.id == uid))
            await self._commit_change(db)

    async def add_to_group(self, username: str, group: str) -> None:
        async with self._tx() as db:
            uid = await names.user_id(db, username)
            gid = await names.group_id(db, group, create=True)
            exists = await db.get(m.Membership, (uid, gid))
            if exists is None:
                db.add(m.Membership(user_id=uid, group_id=gid))
            await self._commit_change(db)

    async def remove_from_group(self, username: str, group: str) -> None:
        async with self._tx() as db:
            uid = await names.user_id(db, username)
            gid = await names.group_id(db, group)
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
            await names.group_id(db, name, create=True)
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
            gid = await names.group_id(db, name)
            await db.execute(delete(m.Membership).where(m.Membership.group_id == gid))
            await db.execute(delete(m.AppBinding).where(m.AppBinding.group_id == gid))
            await db.execute(delete(m.Group).where(m.Group.id == gid))
            await self._commit_change(db)
