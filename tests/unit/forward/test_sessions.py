"""The session cache: memory first, the store on a miss, idle and absolute expiry."""

from __future__ import annotations

from authgate.forward.model import Identity
from authgate.forward.sessions import SessionCache, SessionRecord


def record(last_seen: float, expires_at: float = 10_000.0) -> SessionRecord:
    identity = Identity("s1", "", 1, "u", "alice", "", "", ())
    return SessionRecord(identity, "app", 1, expires_at, last_seen)


async def test_hits_memory_after_the_first_load() -> None:
    loads: list[str] = []

    async def loader(sid: str) -> SessionRecord | None:
        loads.append(sid)
        return record(0.0)

    cache = SessionCache(loader, idle_timeout=0)
    assert await cache.get("s1", now=1.0) is not None
    assert await cache.get("s1", now=2.0) is not None
    assert loads == ["s1"]
    assert await cache.get("s1", now=10_000.0) is None  # absolute expiry


async def test_idle_session_is_rechecked_with_the_store_before_it_ends() -> None:
    store_last_seen = {"value": 0.0}

    async def loader(sid: str) -> SessionRecord | None:
        return record(store_last_seen["value"])

    cache = SessionCache(loader, idle_timeout=60)
    assert await cache.get("s1", now=10.0) is not None
    store_last_seen["value"] = 100.0  # another worker saw it at t=100
    assert await cache.get("s1", now=120.0) is not None
    assert await cache.get("s1", now=500.0) is None  # idle everywhere: gone


async def test_last_seen_is_handed_to_the_store_only_once_it_moved_a_step() -> None:
    async def loader(sid: str) -> SessionRecord | None:
        return record(100.0)  # the store last saw it at t=100

    cache = SessionCache(loader, idle_timeout=600, touch_step=30)
    await cache.get("s1", now=110.0)
    await cache.get("s1", now=125.0)
    assert cache.take_touched() == {}  # 25 s from what the store holds: nothing to write
    await cache.get("s1", now=131.0)
    await cache.get("s1", now=140.0)
    assert cache.take_touched() == {"s1": 140.0}  # moved 40 s: written, the latest time
    await cache.get("s1", now=160.0)
    assert cache.take_touched() == {}  # 20 s after what was written
    await cache.get("s1", now=171.0)
    assert cache.take_touched() == {"s1": 171.0}
