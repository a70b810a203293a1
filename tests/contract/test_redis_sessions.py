"""Redis as the shared session cache: what one replica looked up the others find without the
database; a change of generation (a revocation) means the old entry is never served again;
Redis going away means the database answers, with one line in the log."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from authgate.forward.model import Identity
from authgate.forward.sessions import SessionCache, SessionRecord
from authgate.storage.redis.sessions import RedisSessions, decode, encode

REDIS = "redis://127.0.0.1:6379/0"
SID = "the-bearer-secret-" + secrets.token_urlsafe(8)


def record(last_seen: float | None = None, groups: tuple[str, ...] = ("staff",)) -> SessionRecord:
    now = time.time()
    who = Identity(
        SID, "p1", 7, "uid-ann", "ann", "ann@x.test", "Ann", groups, now + 3600, ("pwd",)
    )
    return SessionRecord(who, "app", 3, now + 3600, now if last_seen is None else last_seen)


class Database:
    """The store's loader, counting how often it is asked."""

    def __init__(self, answer: SessionRecord | None) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self, session_id: str) -> SessionRecord | None:
        self.calls += 1
        return self.answer if session_id == SID else None


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    prefix = f"authgate_test_{secrets.token_hex(6)}:"
    yield prefix
    client = Redis.from_url(REDIS)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def test_a_record_survives_the_trip() -> None:
    original = record()
    assert decode(encode(original)) == original


async def test_one_replica_finds_what_another_looked_up(prefix: str) -> None:
    generation = 5
    db_a, db_b = Database(record()), Database(record())
    a = RedisSessions(REDIS, prefix, db_a, lambda: generation)
    b = RedisSessions(REDIS, prefix, db_b, lambda: generation)
    try:
        assert (await a(SID)) == db_a.answer
        found = await b(SID)
        assert found is not None and found.identity.username == "ann"
        assert (db_a.calls, db_b.calls) == (1, 0), "replica b asked the database"
        # the session id is a bearer secret: never in a key
        keys = [k.decode() async for k in a.client.scan_iter(match=f"{prefix}*")]
        assert len(keys) == 1 and SID not in keys[0]
        # a revocation bumps the generation: b must not be served the old entry
        generation = 6
        db_b.answer = None
        assert await b(SID) is None
        assert db_b.calls == 1
    finally:
        await a.close()
        await b.close()


async def test_prefixes_keep_tenants_apart(prefix: str) -> None:
    db_a, db_b = Database(record()), Database(None)
    a = RedisSessions(REDIS, prefix, db_a, lambda: 1)
    other = RedisSessions(REDIS, prefix + "other:", db_b, lambda: 1)
    try:
        await a(SID)
        assert await other(SID) is None
    finally:
        await a.close()
        await other.close()


async def test_an_idle_entry_is_checked_with_the_database(prefix: str) -> None:
    db = Database(record(last_seen=time.time() - 600))
    seeding = RedisSessions(REDIS, prefix, db, lambda: 1, idle_timeout=300)
    try:
        await seeding(SID)
        db.answer = record()  # another replica saw it a moment ago and flushed that
        fresh = await seeding(SID)
        assert db.calls == 2 and fresh is not None and time.time() - fresh.last_seen < 5
    finally:
        await seeding.close()


async def test_redis_gone_means_the_database_answers_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = Database(record())
    dead = RedisSessions("redis://127.0.0.1:1/0", "x:", db, lambda: 1)
    cache = SessionCache(dead, idle_timeout=0)
    caplog.set_level(logging.WARNING, logger="authgate")
    try:
        for _ in range(5):
            cache.clear()
            found = await cache.get(SID)
            assert found is not None and found.identity.username == "ann"
    finally:
        await dead.close()
    assert db.calls == 5
    assert len([r for r in caplog.records if "session cache" in r.getMessage()]) == 1


async def test_no_generation_yet_means_no_shared_entry(prefix: str) -> None:
    db = Database(record())
    early = RedisSessions(REDIS, prefix, db, lambda: -1)  # before the first reload
    try:
        await early(SID)
        assert [k async for k in early.client.scan_iter(match=f"{prefix}*")] == []
    finally:
        await early.close()
