"""Login counters in Redis: the same contract as the database's (``store.counters``), for
deployments that already run Redis. One hash per counter under ``prefix``; each update is a
single Lua script, so workers never lose a count, and each key expires by itself once its
window and its lock have passed (an active lock is never dropped)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from authgate.config.secret import redact_url
from authgate.errors import StoreError
from authgate.storage.store.counters import Count

# KEYS[1] counter; ARGV now_ms, window_ms -> {failures, locked_until_ms}
_ADD = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local ends = tonumber(redis.call('HGET', KEYS[1], 'window_ends') or '0')
local failures
if ends <= now then
  failures = 1
  redis.call('HSET', KEYS[1], 'failures', 1, 'window_ends', now + window)
else
  failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
end
if redis.call('PTTL', KEYS[1]) < window then redis.call('PEXPIRE', KEYS[1], window) end
return {failures, tonumber(redis.call('HGET', KEYS[1], 'locked_until') or '0')}
"""

# KEYS[1] counter; ARGV until_ms, ttl_ms: a later lock than the one in place, if any
_LOCK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local until_ms, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
if tonumber(redis.call('HGET', KEYS[1], 'locked_until') or '0') < until_ms then
  redis.call('HSET', KEYS[1], 'locked_until', until_ms)
end
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


class RedisCounters:
    """``LoginCounters`` over Redis; keys are ``<prefix><scope>:<key>``. Redis going away is a
    ``StoreError`` (the portal's 503 page), never a traceback."""

    def __init__(self, url: str, prefix: str = "authgate:login:") -> None:
        self.safe_url = redact_url(url)
        self.client: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix
        self._add: Any = self.client.register_script(_ADD)
        self._lock: Any = self.client.register_script(_LOCK)

    def _key(self, scope: str, key: str) -> str:
        return f"{self.prefix}{scope}:{key}"

    @contextlib.contextmanager
    def _reachable(self) -> Iterator[None]:
        try:
            yield
        except RedisError as exc:
            raise StoreError(f"login counters in Redis {self.safe_url}: {exc}") from exc

    async def read_counter(self, scope: str, key: str, *, at: datetime) -> Count:
        with self._reachable():
            failures, ends, locked = await self.client.hmget(
                self._key(scope, key), ["failures", "window_ends", "locked_until"]
            )
        counted = int(failures or 0) if int(ends or 0) > _ms(at) else 0
        return Count(counted, _moment(int(locked or 0)))

    async def add_failure(self, scope: str, key: str, *, window: int, at: datetime) -> Count:
        with self._reachable():
            failures, locked = await self._add(
                keys=[self._key(scope, key)], args=[_ms(at), max(1, window * 1000)]
            )
        return Count(int(failures), _moment(int(locked)))

    async def lock_counter(self, scope: str, key: str, *, until: datetime) -> None:
        ttl = max(1, _ms(until) - _ms(datetime.now(UTC)))
        with self._reachable():
            await self._lock(keys=[self._key(scope, key)], args=[_ms(until), ttl])

    async def clear_counter(self, scope: str, key: str) -> bool:
        with self._reachable():
            return bool(await self.client.delete(self._key(scope, key)))

    async def prune_counters(self, *, at: datetime | None = None) -> int:
        """Nothing to do: every key expires by itself."""
        return 0

    async def count_counters(self, scope: str) -> int:
        total = 0
        with self._reachable():
            async for _ in self.client.scan_iter(match=f"{self.prefix}{scope}:*", count=500):
                total += 1
        return total

    async def close(self) -> None:
        await self.client.aclose()
