"""Signed cookie -> session -> identity, answered from memory; any failure means anonymous.

While the store cannot be reached (``Outage``), a session this process already holds keeps
working until the grace counted from the outage's start ends; an unknown one cannot be
judged, and the store's error goes up to the check, which says "not now" (never an allow).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from authgate.errors import StoreError
from authgate.forward.model import Identity


@dataclass(slots=True)
class SessionRecord:
    identity: Identity
    kind: str  # portal | app
    app_id: int | None
    expires_at: float
    last_seen: float
    written: float = -math.inf  # the last_seen the store holds, as far as this process knows


SessionLoader = Callable[[str], Awaitable[SessionRecord | None]]
GRACE_OVER = "the store is unreachable and the grace for known sessions is over"


class Outage:
    """Whether the store answers, as this process last saw it; pure state, no I/O.

    ``failed`` and ``answered`` say whether they changed the state (a transition), so that
    whoever owns this object (``web.health.StoreHealth``) can log each transition once.
    """

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.down_since: float | None = None
        self.grace_ends = math.inf  # known sessions are refused from then on

    def failed(self, now: float) -> bool:
        """The store did not answer at ``now``; True when that begins an outage."""
        if self.down_since is not None:
            return False
        self.down_since = now
        self.grace_ends = now + self.grace
        return True

    def answered(self, now: float) -> float | None:
        """The store answered at ``now``; the outage's length in seconds when one ended."""
        if self.down_since is None:
            return None
        began, self.down_since, self.grace_ends = self.down_since, None, math.inf
        return max(0.0, now - began)


class SessionCache:
    """Valid sessions by id. Cleared whole when the store's revision moves (revocations,
    disabled users, group changes); misses go to the store. ``last_seen`` lives here and is
    flushed to the store in the background, so a valid request never writes.

    During an ``outage`` a held session is answered from memory without asking the store
    (and without the idle re-check, which needs the store: an outage is not a sign-out)
    until the grace ends; then it is refused with a ``StoreError``."""

    def __init__(
        self,
        loader: SessionLoader,
        idle_timeout: int,
        capacity: int = 100_000,
        outage: Outage | None = None,
        touch_step: float = 0.0,
    ) -> None:
        self._loader = loader
        self._idle = idle_timeout
        # last_seen goes to the store once it moved this far from what the store holds
        self._touch_step = touch_step
        self._capacity = capacity
        self.outage = outage or Outage(0)
        self._entries: dict[str, SessionRecord] = {}
        self._touched: dict[str, float] = {}

    async def get(self, session_id: str, now: float | None = None) -> SessionRecord | None:
        now = time.time() if now is None else now
        record = self._entries.get(session_id)
        if record is not None and self.outage.down_since is not None:
            if now >= self.outage.grace_ends:
                raise StoreError(GRACE_OVER)
        elif record is None or self._idle_out(record, now):
            # Idle here: another worker may have seen it since (its last_seen reaches the
            # store in the background), so ask the store before calling the session idle.
            record = await self._load(session_id, record, now)
            if record is None:
                return None
            if self._idle_out(record, now) and self.outage.down_since is None:
                self._entries.pop(session_id, None)
                return None
        if now >= record.expires_at:
            self._entries.pop(session_id, None)
            return None
        self._touch(session_id, record, now)
        return record

    def held(self, session_id: str, now: float) -> SessionRecord | None:
        """The record when memory alone may answer for it: held, not idle here, not expired,
        and the store not down; touched as ``get`` touches it. None otherwise, and then only
        ``get`` may say what the session is."""
        record = self._entries.get(session_id)
        if (
            record is None
            or self.outage.down_since is not None
            or now >= record.expires_at
            or self._idle_out(record, now)
        ):
            return None
        self._touch(session_id, record, now)
        return record

    def _touch(self, session_id: str, record: SessionRecord, now: float) -> None:
        record.last_seen = now
        if now - record.written >= self._touch_step:
            self._touched[session_id] = now
        parent = record.identity.parent_id
        if parent:
            held = self._entries.get(parent)
            if held is not None:
                held.last_seen = now
                if now - held.written >= self._touch_step:
                    self._touched[parent] = now

    async def _load(
        self, session_id: str, held: SessionRecord | None, now: float
    ) -> SessionRecord | None:
        """The store's record; while it cannot answer, the ``held`` one during the grace."""
        try:
            record = await self._loader(session_id)
        except Exception:
            self.outage.failed(now)
            if held is not None and now < self.outage.grace_ends:
                return held
            raise
        self.outage.answered(now)
        if record is None:
            self._entries.pop(session_id, None)
            return None
        record.written = record.last_seen  # what the store holds
        if len(self._entries) >= self._capacity:
            self._entries.clear()
        self._entries[session_id] = record
        return record

    def _idle_out(self, record: SessionRecord, now: float) -> bool:
        return bool(self._idle) and now - record.last_seen > self._idle

    def clear(self) -> None:
        self._entries.clear()

    def drop(self, session_ids: set[str]) -> None:
        for sid in session_ids:
            self._entries.pop(sid, None)

    def take_touched(self) -> dict[str, float]:
        """The sessions whose last_seen is to be written, and when they were seen: only
        those that moved ``touch_step`` or more from what the store holds (a busy server
        sees thousands of sessions a second; each would otherwise be a row to update)."""
        touched, self._touched = self._touched, {}
        for session_id, seen in touched.items():
            record = self._entries.get(session_id)
            if record is not None:
                record.written = seen
        return touched
