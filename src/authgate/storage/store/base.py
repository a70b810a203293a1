"""The Store's base: the engine, a transaction, and the revision that running servers watch.

Changes that running servers must see at once (revocations, disabled users, group and app
changes) bump the ``revision`` row in the same transaction and call ``on_change`` so that a
server on this machine notices on its very next request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
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


def now() -> datetime:
    return datetime.now(UTC)


class StoreBase:
    """What every part of the Store shares: the engine, ``_tx`` and ``_commit_change``."""

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the CLI write while servers read; NORMAL sync is durable enough with WAL."""
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
