"""The Store's base: the engine, a transaction, and the revision that running servers watch.

Changes that running servers must see at once (revocations, disabled users, group and app
changes) bump the ``revision`` row in the same transaction, which on PostgreSQL also sends
``NOTIFY`` (``storage.changes``); after the commit ``on_change`` tells servers on this machine
(the revision file) and ``announce`` the others (Redis pub/sub, when configured).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from authgate.config.secret import redact_url
from authgate.errors import ConflictError, StoreError
from authgate.storage import models as m
from authgate.storage.changes import CHANNEL


def now() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """What every part of the Store shares: the engine, ``_tx`` and ``_commit_change``."""

    def __init__(
        self,
        url: str,
        on_change: Callable[[int], None] | None = None,
        announce: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._session = async_sessionmaker(self.engine, expire_on_commit=False)
        self._on_change = on_change
        self._announce = announce
        self._closing: list[Callable[[], Awaitable[None]]] = []
        self._notify = url.startswith("postgresql")

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Also run ``closer`` when the store closes (the change feed's connection)."""
        self._closing.append(closer)

    async def close(self) -> None:
        for closer in self._closing:
            await closer()
        await self.engine.dispose()

    def _tx(self) -> AsyncSession:
        return self._session()

    async def _bump(self, db: AsyncSession) -> int:
        """One statement, so two replicas changing at once never both write the same value
        (a reader holding that value would miss the second change)."""
        insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert
        table = m.Revision
        stmt: Any = (
            insert(table)
            .values(id=1, value=1)
            .on_conflict_do_update(index_elements=[table.id], set_={"value": table.value + 1})
            .returning(table.value)
        )
        return int((await db.execute(stmt)).scalar_one())

    async def _commit_change(self, db: AsyncSession) -> None:
        try:  # the bump flushes what the caller added: a clash may surface there already
            value = await self._bump(db)
            if self._notify:  # delivered at commit, and only if the transaction commits
                await db.execute(select(func.pg_notify(CHANNEL, str(value))))
            await db.commit()
        except IntegrityError as exc:
            raise ConflictError("that name is already taken") from exc
        if self._on_change is not None:
            self._on_change(value)
        if self._announce is not None:
            await self._announce(value)

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the CLI write while servers read; NORMAL sync is durable enough with WAL."""
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
