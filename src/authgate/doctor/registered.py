"""The apps authgate knows, read without creating or migrating anything.

The doctor compares hosts with them when the store can be reached; when it cannot (no
database yet, a server elsewhere), it says why and checks the rest.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from authgate.forward.model import AppView


def registered_apps(database_url: str, seconds: float = 5.0) -> tuple[list[AppView] | None, str]:
    """(the apps, "") or (None, why they could not be read)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url)
    except ArgumentError:
        return None, "the database URL is not usable"
    if url.drivername.startswith("sqlite"):
        database = url.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            return None, f"no store at {database or database_url} (authgate has not run here)"
    return asyncio.run(_load(database_url, seconds))


async def _load(database_url: str, seconds: float) -> tuple[list[AppView] | None, str]:
    from sqlalchemy.exc import SQLAlchemyError

    from authgate.storage.store import Store

    store = Store(database_url)
    try:
        async with asyncio.timeout(seconds):
            return await store.load_apps(), ""
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        return None, f"the store {store.safe_url} cannot be read ({lines[0][:160]})"
    finally:
        await store.close()
