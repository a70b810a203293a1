"""The revision and the change feed: every change is counted once, even when two replicas
change the store at the same moment, and a listener hears of it within a second, also after
its connection was cut."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from authgate.storage.changes import PostgresFeed, change_feed, listen_dsn
from authgate.storage.redis.changes import RedisFeed
from authgate.storage.store import Store

REDIS = "redis://127.0.0.1:6379/0"


async def test_concurrent_changes_each_move_the_revision(store: Store) -> None:
    await store.add_user("ann")
    before = await store.revision()
    # two servers of one database: separate engines, the same moment
    other = Store(store.url)
    try:
        await asyncio.gather(
            *(s.revoke_user_sessions("ann") for s in [store, other] * 5),
        )
    finally:
        await other.close()
    assert await store.revision() == before + 10


class Pokes:
    """Counts pokes; ``wait`` returns once one more arrived than when it was armed."""

    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    async def next(self, action: Callable[[], Awaitable[object]], within: float = 1.0) -> None:
        self.event.clear()
        await action()
        await asyncio.wait_for(self.event.wait(), within)


@contextlib.asynccontextmanager
async def listening(feed: object, pokes: Pokes) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(feed.listen(pokes))  # type: ignore[attr-defined]
    try:
        for _ in range(100):  # the first poke says it listens
            if pokes.count:
                break
            await asyncio.sleep(0.05)
        assert pokes.count == 1, "the feed never connected"
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_postgres_listen_hears_a_change_and_survives_a_cut(store: Store) -> None:
    if not store.url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    feed = change_feed(store.url)
    assert isinstance(feed, PostgresFeed)
    user = await store.add_user("ann")
    pokes = Pokes()
    async with listening(feed, pokes):
        await pokes.next(lambda: store.set_disabled(user.username, True))
        # the database drops the listener's connection (a restart, a failover)
        admin = await asyncpg.connect(listen_dsn(store.url))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        finally:
            await admin.close()
        # it reconnects by itself and says so with a poke (changes meanwhile are caught up)
        await asyncio.wait_for(_until(lambda: pokes.count >= 3), 3.0)
        await pokes.next(lambda: store.set_disabled(user.username, False))


async def test_redis_feed_carries_a_change_between_two_servers() -> None:
    prefix = f"authgate_test_{secrets.token_hex(6)}:"
    sender, receiver = RedisFeed(REDIS, prefix), RedisFeed(REDIS, prefix)
    stranger = RedisFeed(REDIS, f"authgate_test_{secrets.token_hex(6)}:")  # another tenant
    pokes, strange = Pokes(), Pokes()
    try:
        async with listening(receiver, pokes), listening(stranger, strange):
            await pokes.next(lambda: sender.announce(7))
            await asyncio.sleep(0.2)
            assert strange.count == 1, "a change reached a server of another prefix"
    finally:
        for feed in (sender, receiver, stranger):
            await feed.close()


async def test_serve_and_cli_on_sqlite_need_no_feed(tmp_path: object) -> None:
    feed = change_feed(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    pokes = Pokes()
    await feed.listen(pokes)  # returns at once: the revision file does the job
    assert pokes.count == 0


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.02)
