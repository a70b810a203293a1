"""Redis as the session cache every replica shares: a wrapper around the store's loader.

A session one replica looked up is found by the others without asking the database. Entries
are keyed by the store's revision (the generation): every revocation, disabled user or
changed group bumps it, so an entry written before the change is never read after it (it
expires on its own). The generation is taken *before* the database read, so a record read
just before a revocation can only land under the old generation.

Keys are ``<prefix>session:<generation>:<sha256 of the session id>``: the id is a bearer
secret and never appears in Redis. Redis going away costs speed, never an answer: the
wrapper asks the database instead, says so once, and tries Redis again a few seconds later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from authgate.forward.model import Identity
from authgate.forward.sessions import SessionLoader, SessionRecord
from authgate.storage.changes import Outage

log = logging.getLogger("authgate")
TTL = 300  # seconds an entry lives at most (a session's own end comes first)
TIMEOUT = 0.25  # a check waits at most this long for Redis before asking the database
REST = 5.0  # seconds Redis is left alone after it failed


def encode(record: SessionRecord) -> bytes:
    return json.dumps(asdict(record), separators=(",", ":")).encode()


def decode(raw: bytes | str) -> SessionRecord:
    data: dict[str, Any] = json.loads(raw)
    who = data.pop("identity")
    identity = Identity(**{**who, "groups": tuple(who["groups"]), "amr": tuple(who["amr"])})
    return SessionRecord(identity=identity, **data)


class RedisSessions:
    """``SessionLoader`` with Redis in front of ``loader`` (the store's ``load_session``)."""

    def __init__(
        self,
        url: str,
        prefix: str,
        loader: SessionLoader,
        generation: Callable[[], int],
        idle_timeout: int = 0,
    ) -> None:
        self.client: Redis = Redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        self.prefix = f"{prefix}session:"
        self._loader = loader
        self._generation = generation
        self._idle = idle_timeout
        self._resting_until = 0.0
        self.outage = Outage("session cache (Redis)")

    def key(self, generation: int, session_id: str) -> str:
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:40]
        return f"{self.prefix}{generation}:{digest}"

    async def __call__(self, session_id: str) -> SessionRecord | None:
        generation = self._generation()
        if generation < 0 or time.monotonic() < self._resting_until:
            return await self._loader(session_id)
        key = self.key(generation, session_id)
        try:
            raw = await self.client.get(key)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return await self._loader(session_id)
        now = time.time()
        if raw is not None:
            shared = decode(raw)
            # only the database knows when another replica last saw it
            if not (self._idle and now - shared.last_seen > self._idle):
                self.outage.back()
                return shared
        record = await self._loader(session_id)
        if record is not None and record.expires_at > now + 1:
            ttl = int(min(TTL, record.expires_at - now))
            try:
                await self.client.set(key, encode(record), ex=ttl)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed(exc)
            else:
                self.outage.back()
        return record

    def _failed(self, exc: BaseException) -> None:
        self.outage.lost(exc)
        self._resting_until = time.monotonic() + REST

    async def close(self) -> None:
        await self.client.aclose()
