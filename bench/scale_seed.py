"""Bulk-seeding a real authgate store for the scale run: the schema made by authgate's own
Alembic migrations, the signing keys made by its own store (``create_first_keys``), then the
rows of ``bench.scale_rows`` inserted in bulk — on SQLite in one transaction with
``executemany`` through SQLAlchemy Core (the same column types, so the same stored format as
the server's writes), on PostgreSQL with ``COPY`` (asyncpg). The app cookies wrk sends are
signed with the store's HMAC key by authgate's own signer, so authgate verifies them as it
verifies any other.

``throwaway_postgres()`` makes the PostgreSQL database and drops it after the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import asyncpg
import sqlalchemy as sa

from authgate.config.secret import new_secret_key
from authgate.forward.cookies import app_cookie_name
from authgate.forward.tokens import new_key_pem
from authgate.signing import Signing
from authgate.storage import migrate
from authgate.storage import models as m
from authgate.storage.store import Store, app_view
from bench import scale_rows as rows
from bench.scale_rows import LoadPair, Names, Sizes

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CHUNK = 50_000  # rows per executemany / COPY call


@dataclass
class Seeded:
    """What was seeded, how long it took, and the requests wrk will send."""

    sizes: Sizes
    names: Names
    pairs: list[LoadPair] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)  # a Cookie header per pair
    seconds: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            "sessions": self.sizes.sessions,
            "apps": self.sizes.apps,
            "users": self.sizes.users,
            "groups": self.sizes.groups,
            "load_pairs": len(self.pairs),
            "seed_s": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def seed(url: str, sizes: Sizes, names: Names, pairs: int) -> Seeded:
    """Migrate the store at ``url`` (an authgate database URL), make its keys, insert the
    rows; the load's cookies signed with the store's key."""
    sizes.check()
    seeded = Seeded(sizes, names)
    started = time.monotonic()
    hmac = asyncio.run(_migrate_and_keys(url))
    seeded.seconds["migrate_and_keys"] = time.monotonic() - started
    wanted = set(rows.load_indices(sizes, pairs))
    bulk = _Postgres(url) if url.startswith("postgresql") else _Sqlite(url)
    _insert_all(bulk, sizes, names, wanted, seeded)
    signer = Signing([hmac]).session
    for pair in seeded.pairs:
        app = app_view(_application(names, pair.app))
        seeded.cookies.append(f"{app_cookie_name(app)}={signer.sign(pair.session_id)}")
    seeded.seconds["total"] = time.monotonic() - started
    return seeded


async def _migrate_and_keys(url: str) -> Any:
    """The schema at head and the first set of signing keys, as a server's first start makes
    them; the HMAC key that signs."""
    store = Store(_async_url(url))
    try:
        await migrate.upgrade(store.engine)
        await store.create_first_keys([new_secret_key()], [new_key_pem().decode()])
        keys = await store.signing_keys()
    finally:
        await store.close()
    return next(k.material for k in keys if k.kind == "hmac")


def _insert_all(bulk: _Bulk, sizes: Sizes, names: Names, wanted: set[int], seeded: Seeded) -> None:
    now = datetime.now(UTC)
    with bulk:
        for table, generated in (
            (m.User.__table__, rows.users(sizes, now)),
            (m.Group.__table__, rows.groups(sizes)),
            (m.Membership.__table__, rows.memberships(sizes)),
            (m.Application.__table__, rows.applications(sizes, names, now)),
            (m.AppBinding.__table__, rows.bindings(sizes)),
        ):
            started = time.monotonic()
            bulk.insert(table, generated)
            seeded.seconds[str(table.name)] = time.monotonic() - started
        started = time.monotonic()
        bulk.insert(m.Session.__table__, _picking(rows.sessions(sizes, now), sizes, wanted, seeded))
        seeded.seconds["sessions"] = time.monotonic() - started
        started = time.monotonic()
        bulk.finish()
        seeded.seconds["commit_and_analyze"] = time.monotonic() - started


def _picking(
    generated: Iterable[rows.SessionRow], sizes: Sizes, wanted: set[int], seeded: Seeded
) -> Iterator[dict[str, object]]:
    """The session rows as dicts; the app sessions at ``wanted`` noted as load pairs."""
    for index, row in enumerate(generated):
        if index - sizes.portal_sessions in wanted:
            seeded.pairs.append(rows.load_pair(row))
        yield dict(zip(rows.SESSION_COLUMNS, rows.as_tuple(row), strict=True))


def _application(names: Names, app: int) -> m.Application:
    url = names.url_of(app)
    return m.Application(
        id=app + 1, slug=names.slug_of(app), name="", external_url=url, mode="single",
        cookie_domain="", strip_cookie=False, allow_preflight=False,
        case_insensitive_paths=False, require_mfa=None, icon="", description="",
    )  # fmt: skip


def _chunks(items: Iterable[dict[str, object]]) -> Iterator[list[dict[str, object]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


class _Bulk:
    def __enter__(self) -> _Bulk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def insert(self, table: sa.Table, items: Iterable[dict[str, object]]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Sqlite(_Bulk):
    """One transaction, ``executemany`` per chunk through SQLAlchemy Core."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(_sync_sqlite_url(url))
        self.conn = self.engine.connect()
        self.tx = self.conn.begin()

    def insert(self, table: sa.Table, items: Iterable[dict[str, object]]) -> None:
        for chunk in _chunks(items):
            self.conn.execute(table.insert(), chunk)

    def finish(self) -> None:
        self.tx.commit()
        self.conn.exec_driver_sql("ANALYZE")
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


class _Postgres(_Bulk):
    """``COPY`` per chunk, all in one transaction, on one asyncpg connection."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection = self.loop.run_until_complete(
            asyncpg.connect(_plain_postgres_url(url))
        )
        self.tx = self.conn.transaction()
        self.loop.run_until_complete(self.tx.start())

    def insert(self, table: sa.Table, items: Iterable[dict[str, object]]) -> None:
        columns = [c.name for c in table.columns]
        for chunk in _chunks(items):
            # the columns the rows name, in the table's order; the rest take their defaults
            # (a column a later migration adds need not be known here)
            named = [c for c in columns if c in chunk[0]]
            records = [tuple(item[c] for c in named) for item in chunk]
            self.loop.run_until_complete(
                self.conn.copy_records_to_table(str(table.name), records=records, columns=named)
            )
        if "id" in columns and table.name != "sessions":  # serial ids go on after ours
            self.loop.run_until_complete(
                self.conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table.name}))"
                )
            )

    def finish(self) -> None:
        self.loop.run_until_complete(self.tx.commit())
        # as autovacuum leaves a store that has run a while (and not in the measured rounds):
        # statistics, and the visibility map that lets a count read an index alone
        self.loop.run_until_complete(self.conn.execute("VACUUM ANALYZE"))

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


def _async_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    if url.startswith("postgresql:"):
        return "postgresql+asyncpg:" + url.removeprefix("postgresql:")
    return url


def _sync_sqlite_url(url: str) -> str:
    return "sqlite:" + url.split(":", 1)[1]


def _plain_postgres_url(url: str) -> str:
    return "postgresql:" + url.split(":", 1)[1]


@contextlib.contextmanager
def throwaway_postgres(admin_url: str = POSTGRES_ADMIN) -> Iterator[str]:
    """A PostgreSQL database of the run's own (its URL), dropped afterwards."""
    name = f"authgate_scale_{secrets.token_hex(6)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
