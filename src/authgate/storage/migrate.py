"""Apply Alembic migrations (on start and by ``authgate migrate``).

On PostgreSQL a migration runs under a transaction-scoped advisory lock, so replicas that
start at once queue up: the first migrates, the others then find the store at head.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATION_LOCK = 0x61757468_67617465  # "authgate": the advisory lock's key, one per database


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "authgate.storage:migrations")
    config.attributes["connection"] = connection
    return config


async def _lock(conn: AsyncConnection) -> None:
    """Wait for every other migration of this database to end (released at commit)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    async with engine.begin() as conn:
        await _lock(conn)
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await _lock(conn)
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
