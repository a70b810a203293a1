"""An app row written past the Store, which refuses a second app for a host: what a store
written before the rule of one app per host may hold. Only the columns every schema since
migration 0002 has, so it also writes into a store downgraded there."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

_COLUMNS = ("slug", "name", "external_url", "mode", "cookie_domain", "created_at")
_APPLICATIONS = sa.table("applications", *(sa.column(c) for c in _COLUMNS))


async def insert_app_row(engine: AsyncEngine, slug: str, url: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(_APPLICATIONS).values(
                slug=slug,
                name=slug,
                external_url=url,
                mode="single",
                cookie_domain="",
                created_at=datetime.now(UTC),
            )
        )
