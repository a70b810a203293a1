"""Degraded mode in the session cache: a held session lives through the grace, then not."""

from __future__ import annotations

import pytest

from authgate.errors import StoreError
from authgate.forward.model import Identity
from authgate.forward.sessions import Outage, SessionCache, SessionRecord

T0 = 1_000_000.0


class Store:
    def __init__(self) -> None:
        self.up = True

    async def load(self, session_id: str) -> SessionRecord | None:
        if not self.up:
            raise OSError("connection refused")
        if session_id != "known":
            return None
        identity = Identity(session_id, "", 1, "u1", "alice", "", "")
        return SessionRecord(identity, "app", 1, T0 + 86400, T0)


def cache(store: Store, grace: float, idle: int = 0) -> SessionCache:
    return SessionCache(store.load, idle, outage=Outage(grace))


async def test_a_held_session_works_through_the_grace_then_is_refused() -> None:
    store = Store()
    sessions = cache(store, grace=60)
    assert await sessions.get("known", T0) is not None
    store.up = False
    with pytest.raises(OSError):  # an unknown session cannot be judged: not now
        await sessions.get("other", T0 + 1)
    assert sessions.outage.down_since == T0 + 1
    assert await sessions.get("known", T0 + 60) is not None
    with pytest.raises(StoreError):
        await sessions.get("known", T0 + 61)


async def test_the_idle_recheck_during_an_outage_is_not_a_sign_out() -> None:
    store = Store()
    sessions = cache(store, grace=600, idle=30)
    assert await sessions.get("known", T0) is not None
    store.up = False
    assert await sessions.get("known", T0 + 100) is not None  # idle by local count
    with pytest.raises(StoreError):
        await sessions.get("known", T0 + 100 + 601)


async def test_without_grace_a_dead_store_refuses_at_once() -> None:
    store = Store()
    sessions = cache(store, grace=0, idle=30)
    assert await sessions.get("known", T0) is not None
    store.up = False
    with pytest.raises(OSError):
        await sessions.get("known", T0 + 100)


async def test_the_store_answering_again_ends_the_outage() -> None:
    store = Store()
    sessions = cache(store, grace=5)
    store.up = False
    with pytest.raises(OSError):
        await sessions.get("known", T0)
    store.up = True
    assert await sessions.get("known", T0 + 10) is not None
    assert sessions.outage.down_since is None
    assert await sessions.get("known", T0 + 20) is not None


def test_outage_transitions_are_reported_once() -> None:
    outage = Outage(30)
    assert outage.failed(T0) and not outage.failed(T0 + 5)
    assert outage.grace_ends == T0 + 30
    assert outage.answered(T0 + 12) == 12 and outage.answered(T0 + 13) is None
