"""The login-counter contract, run against SQLite, PostgreSQL and Redis alike."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from redis.exceptions import RedisError

from authgate.storage.migrate import upgrade
from authgate.storage.redis.counters import RedisCounters
from authgate.storage.store import LoginCounters, Store
from tests.contract.conftest import PG_ADMIN

REDIS = "redis://127.0.0.1:6379/0"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def _database(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    if kind == "sqlite":
        store = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
        await upgrade(store.engine)
        yield store
        await store.close()
        return
    name = f"authgate_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    store = Store(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    try:
        await upgrade(store.engine)
        yield store
    finally:
        await store.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
async def counters(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LoginCounters]:
    if request.param != "redis":
        async for store in _database(request.param, tmp_path):
            yield store
        return
    prefix = f"authgate_test_{secrets.token_hex(6)}:"  # this run's keys only
    redis = RedisCounters(REDIS, prefix=prefix)
    try:
        await redis.client.ping()
    except RedisError as exc:
        pytest.fail(f"Redis is not reachable at 127.0.0.1:6379 ({exc}); run `make services`")
    try:
        yield redis
    finally:
        keys = [key async for key in redis.client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.client.delete(*keys)
        await redis.close()


async def test_failures_count_within_a_window_then_start_afresh(counters: LoginCounters) -> None:
    seen = [
        (await counters.add_failure("account", "u1", window=60, at=later(n))).failures
        for n in range(3)
    ]
    assert seen == [1, 2, 3]
    assert (await counters.read_counter("account", "u1", at=later(30))).failures == 3
    assert (await counters.read_counter("account", "u1", at=later(61))).failures == 0
    fresh = await counters.add_failure("account", "u1", window=60, at=later(61))
    assert fresh.failures == 1 and fresh.locked_until is None
    assert (await counters.read_counter("account", "nobody", at=T0)).failures == 0


async def test_scopes_never_share_a_key(counters: LoginCounters) -> None:
    for _ in range(3):
        await counters.add_failure("account", "203.0.113.7", window=60, at=T0)
    await counters.lock_counter("account", "203.0.113.7", until=later(60))
    address = await counters.read_counter("address", "203.0.113.7", at=T0)
    assert address.failures == 0 and not address.locked_at(T0)
    assert await counters.count_counters("address") == 0
    assert await counters.count_counters("account") == 1


async def test_a_lock_keeps_the_later_end_and_outlives_its_window(counters: LoginCounters) -> None:
    await counters.add_failure("device", "n1", window=10, at=T0)
    await counters.lock_counter("device", "n1", until=later(100))
    await counters.lock_counter("device", "n1", until=later(50))  # shorter: the longer stays
    assert await counters.prune_counters(at=later(99)) == 0
    count = await counters.read_counter("device", "n1", at=later(99))
    assert count.locked_at(later(99)) and count.failures == 0  # window over, lock not
    assert count.wait_at(later(99)) == 1
    assert count.locked_until == later(100)
    assert not (await counters.read_counter("device", "n1", at=later(100))).locked_at(later(100))


async def test_locking_nothing_creates_nothing(counters: LoginCounters) -> None:
    await counters.lock_counter("account", "ghost", until=later(600))
    assert await counters.count_counters("account") == 0
    assert not (await counters.read_counter("account", "ghost", at=T0)).locked_at(T0)


async def test_parallel_failures_lose_no_count(counters: LoginCounters) -> None:
    results = await asyncio.gather(
        *(counters.add_failure("address", "192.0.2.1", window=60, at=T0) for _ in range(15))
    )
    assert sorted(r.failures for r in results) == list(range(1, 16))


async def test_clear_forgets_failures_and_lock(counters: LoginCounters) -> None:
    await counters.add_failure("account", "u2", window=60, at=T0)
    await counters.lock_counter("account", "u2", until=later(60))
    assert await counters.clear_counter("account", "u2") is True
    assert await counters.clear_counter("account", "u2") is False
    cleared = await counters.read_counter("account", "u2", at=T0)
    assert cleared.failures == 0 and cleared.locked_until is None


async def test_ended_counters_go_away_by_time_only(counters: LoginCounters) -> None:
    for n in range(50):
        await counters.add_failure("address", f"192.0.2.{n}", window=60, at=T0)
    await counters.add_failure("account", "u3", window=60, at=T0)
    await counters.lock_counter("account", "u3", until=later(3600))
    if isinstance(counters, RedisCounters):  # Redis drops each key at its own expiry
        ttl = await counters.client.pttl(f"{counters.prefix}address:192.0.2.1")
        assert 0 < ttl <= 60_000
        return
    assert await counters.prune_counters(at=later(59)) == 0
    assert await counters.prune_counters(at=later(61)) == 50
    assert await counters.count_counters("account") == 1  # its lock still runs
    assert await counters.prune_counters(at=later(3601)) == 1
