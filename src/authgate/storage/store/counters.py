"""Login counters: failed sign-ins per window and the lock they led to, shared by every worker
and replica through the database (``storage.redis`` keeps the same in Redis).

A counter is named by a ``scope`` ("account", "device", "address") and a key inside it; the
scopes never mix, so a user name can never be mistaken for an address. A row lives until both
its window and its lock have passed and is then pruned by time, never because the table grew:
an active lock is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from authgate.storage import models as m
from authgate.storage.store.base import StoreBase, now


@dataclass(frozen=True)
class Count:
    """Failures in the current window, and until when the counter's owner is locked."""

    failures: int = 0
    locked_until: datetime | None = None

    def locked_at(self, moment: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > moment

    def wait_at(self, moment: datetime) -> int:
        """Whole seconds left of the lock (0 when not locked)."""
        if self.locked_until is None or self.locked_until <= moment:
            return 0
        return max(1, int((self.locked_until - moment).total_seconds() + 0.999))


class LoginCounters(Protocol):
    """What the login guard needs of a counter backend (the Store, or Redis)."""

    async def read_counter(self, scope: str, key: str, *, at: datetime) -> Count: ...

    async def add_failure(self, scope: str, key: str, *, window: int, at: datetime) -> Count: ...

    async def lock_counter(self, scope: str, key: str, *, until: datetime) -> None: ...

    async def clear_counter(self, scope: str, key: str) -> bool: ...

    async def prune_counters(self, *, at: datetime | None = None) -> int: ...

    async def count_counters(self, scope: str) -> int: ...

    async def close(self) -> None: ...


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class CounterStore(StoreBase):
    async def read_counter(self, scope: str, key: str, *, at: datetime) -> Count:
        """The counter as it stands at ``at``; an ended window counts no failures."""
        async with self._tx() as db:
            row = await db.get(m.LoginCounter, (scope, key))
        if row is None:
            return Count()
        window_ends = _aware(row.window_ends)
        failures = row.failures if window_ends is not None and window_ends > at else 0
        return Count(failures, _aware(row.locked_until))

    async def add_failure(self, scope: str, key: str, *, window: int, at: datetime) -> Count:
        """Count one failure in one statement (workers never lose a count): a window ends
        ``window`` seconds after its first failure and the next failure starts a new one."""
        table = m.LoginCounter
        ends = at + timedelta(seconds=window)
        insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert
        stmt: Any = insert(table).values(
            scope=scope, key=key, failures=1, window_ends=ends, locked_until=None, expires_at=ends
        )
        over = table.window_ends <= at
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.scope, table.key],
            set_={
                "failures": case((over, 1), else_=table.failures + 1),
                "window_ends": case((over, ends), else_=table.window_ends),
                "expires_at": case((table.expires_at < ends, ends), else_=table.expires_at),
            },
        ).returning(table.failures, table.locked_until)
        async with self._tx() as db:
            failures, locked_until = (await db.execute(stmt)).one()
            await db.commit()
        return Count(int(failures), _aware(locked_until))

    async def lock_counter(self, scope: str, key: str, *, until: datetime) -> None:
        """Lock until ``until`` (a longer lock already in place stays); the row lives as long."""
        table = m.LoginCounter
        later = (table.locked_until.is_(None)) | (table.locked_until < until)
        async with self._tx() as db:
            await db.execute(
                update(table)
                .where(table.scope == scope, table.key == key)
                .values(
                    locked_until=case((later, until), else_=table.locked_until),
                    expires_at=case((table.expires_at < until, until), else_=table.expires_at),
                )
            )
            await db.commit()

    async def clear_counter(self, scope: str, key: str) -> bool:
        """Forget failures and lock; True when there was a counter."""
        table = m.LoginCounter
        async with self._tx() as db:
            result = await db.execute(delete(table).where(table.scope == scope, table.key == key))
            await db.commit()
        return bool(getattr(result, "rowcount", 0))

    async def prune_counters(self, *, at: datetime | None = None) -> int:
        """Delete counters whose window and lock have both passed; returns how many."""
        table = m.LoginCounter
        async with self._tx() as db:
            result = await db.execute(delete(table).where(table.expires_at <= (at or now())))
            await db.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    async def count_counters(self, scope: str) -> int:
        """How many counters ``scope`` holds (for tests and ``doctor``)."""
        async with self._tx() as db:
            total = await db.scalar(
                select(func.count())
                .select_from(m.LoginCounter)
                .where(m.LoginCounter.scope == scope)
            )
        return int(total or 0)


def login_counters(
    store: CounterStore, redis_url: str = "", redis_prefix: str = "authgate:"
) -> LoginCounters:
    """Where the login counters live: Redis when a URL is configured (keys under
    ``<redis_prefix>login:``), else the store."""
    if not redis_url:
        return store
    from authgate.storage.redis.counters import RedisCounters

    return RedisCounters(redis_url, f"{redis_prefix}login:")
