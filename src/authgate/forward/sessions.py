"""Signed cookie -> session -> identity, answered from memory; any failure means anonymous."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from authgate.forward.model import Identity


@dataclass(slots=True)
class SessionRecord:
    identity: Identity
    kind: str  # portal | app
    app_id: int | None
    expires_at: float
    last_seen: float


SessionLoader = Callable[[str], Awaitable[SessionRecord | None]]


class SessionCache:
    """Valid sessions by id. Cleared whole when the store's revision moves (revocations,
    disabled users, group changes); misses go to the store. ``last_seen`` lives here and is
    flushed to the store in the background, so a valid request never writes."""

    def __init__(self, loader: SessionLoader, idle_timeout: int, capacity: int = 100_000) -> None:
        self._loader = loader
        self._idle = idle_timeout
        self._capacity = capacity
        self._entries: dict[str, SessionRecord] = {}
        self._touched: dict[str, float] = {}

    async def get(self, session_id: str, now: float | None = None) -> SessionRecord | None:
        now = time.time() if now is None else now
        record = self._entries.get(session_id)
        if record is not None and self._idle_out(record, now):
            # Another worker may have seen it since: its last_seen reaches the store in the
            # background, so ask the store before calling the session idle.
            record = None
        if record is None:
            record = await self._loader(session_id)
            if record is None:
                self._entries.pop(session_id, None)
                return None
            if len(self._entries) >= self._capacity:
                self._entries.clear()
            self._entries[session_id] = record
        if now >= record.expires_at or self._idle_out(record, now):
            self._entries.pop(session_id, None)
            return None
        record.last_seen = now
        self._touched[session_id] = now
        parent = record.identity.parent_id
        if parent and parent in self._entries:
            self._entries[parent].last_seen = now
            self._touched[parent] = now
        return record

    def _idle_out(self, record: SessionRecord, now: float) -> bool:
        return bool(self._idle) and now - record.last_seen > self._idle

    def clear(self) -> None:
        self._entries.clear()

    def drop(self, session_ids: set[str]) -> None:
        for sid in session_ids:
            self._entries.pop(sid, None)

    def take_touched(self) -> dict[str, float]:
        touched, self._touched = self._touched, {}
        return touched
