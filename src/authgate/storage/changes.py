"""The change feed: how every worker and replica learns at once that the store changed.

Every change a running check must see bumps the store's revision row (``store.base``). Three
ways carry the news, each ending in the same ``poke`` (``web.sync.StoreSync.poke``), after
which the worker compares the revision and reloads:

- SQLite: the revision file (``storage.revision``), stat-ed per check; no feed.
- PostgreSQL: the bump's own transaction sends ``NOTIFY`` on :data:`CHANNEL` (so nobody hears
  of a change that was rolled back); :class:`PostgresFeed` keeps one ``LISTEN`` connection
  per worker and reconnects by itself when the database comes back.
- Redis configured (``AUTHGATE_REDIS_URL``): the change is published on
  ``<prefix>changes`` after the commit; :class:`~authgate.storage.redis.changes.RedisFeed`
  subscribes. This also works behind a pooler in transaction mode, where ``LISTEN`` does not.

Whatever the feed, the sync's poll of the revision row stays as the safety net, and a feed
that (re)connects pokes once, so a change made while it was away is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy.engine import make_url

log = logging.getLogger("authgate")
CHANNEL = "authgate_changes"
KEEPALIVE = 5.0  # seconds between liveness probes of an idle feed connection
LISTEN_NAME = "authgate-changes"  # the LISTEN connection's application_name (pg_stat_activity)
RETRY = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between reconnection attempts, the last repeats

Poke = Callable[[], None]


class ChangeFeed(Protocol):
    """Tells other workers and replicas of a change, and hears of theirs."""

    async def announce(self, revision: int) -> None:
        """After a change committed (a no-op where the database itself announces)."""

    async def listen(self, poke: Poke) -> None:
        """Forever: call ``poke`` on every change heard, and once after each (re)connect."""

    async def close(self) -> None: ...


class NoFeed:
    """SQLite: servers on this machine watch the revision file; nothing to announce."""

    async def announce(self, revision: int) -> None:
        return None

    async def listen(self, poke: Poke) -> None:
        return None

    async def close(self) -> None:
        return None


class Outage:
    """Says once that a connection was lost and once that it is back: never a log per try."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.down = False

    def lost(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            log.warning("%s lost: %s; retrying in the background", self.what, _line(exc))

    def back(self) -> None:
        if self.down:
            self.down = False
            log.warning("%s is back", self.what)


def listen_dsn(database_url: str) -> str:
    """The plain ``postgresql://`` address asyncpg connects to, from SQLAlchemy's URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PostgresFeed:
    """One ``LISTEN`` connection (asyncpg, outside the engine's pool) per worker."""

    def __init__(self, database_url: str, channel: str = CHANNEL) -> None:
        self.dsn = listen_dsn(database_url)
        self.channel = channel
        self.outage = Outage("change feed (PostgreSQL LISTEN)")

    async def announce(self, revision: int) -> None:
        return None  # the store's transaction sent NOTIFY already

    async def listen(self, poke: Poke) -> None:
        attempt = 0
        while True:
            try:
                await self._listen_once(poke)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # OSError, asyncpg errors, timeouts: all mean "retry"
                if not self.outage.down:
                    attempt = 0  # it was up: start the waits over
                self.outage.lost(exc)
            await asyncio.sleep(RETRY[min(attempt, len(RETRY) - 1)])
            attempt += 1

    async def _listen_once(self, poke: Poke) -> None:
        """One connection's life: LISTEN, poke once, then until it dies."""
        import asyncpg

        conn: Any = await asyncpg.connect(
            self.dsn, timeout=KEEPALIVE, server_settings={"application_name": LISTEN_NAME}
        )
        try:
            closed = asyncio.Event()
            conn.add_termination_listener(lambda _conn: closed.set())
            await conn.add_listener(self.channel, lambda *_args: poke())
            self.outage.back()
            poke()  # catch up on whatever happened while nobody listened
            await _watch(conn, closed)
        finally:
            conn.terminate()

    async def close(self) -> None:
        return None


async def _watch(conn: Any, closed: asyncio.Event) -> None:
    """Until the connection dies: wait for its end, probing it every ``KEEPALIVE`` seconds
    (a database behind a dead network sends no FIN; only a query finds out)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), KEEPALIVE)
        if closed.is_set() or conn.is_closed():
            raise ConnectionError("the LISTEN connection closed")
        await conn.fetchval("SELECT 1", timeout=KEEPALIVE)


def change_feed(
    database_url: str, redis_url: str = "", redis_prefix: str = "", mode: str = "auto"
) -> ChangeFeed:
    """Redis pub/sub when configured, else ``LISTEN/NOTIFY`` on PostgreSQL, else none.
    ``mode="poll"`` (``AUTHGATE_CHANGE_FEED=poll``): none, for a pooler in transaction mode
    that would swallow notifications; the poll alone then carries changes (within
    ``sync_interval``)."""
    if mode == "poll":
        return NoFeed()
    if redis_url:
        from authgate.storage.redis.changes import RedisFeed

        return RedisFeed(redis_url, redis_prefix)
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresFeed(database_url)
    return NoFeed()


def _line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
