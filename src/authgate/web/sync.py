"""Keeping a running server in step with its store.

Per check, ``refresh`` stats the revision file and reloads the app index and the signing
keys only when it moved (the CLI and other servers on this machine write it). ``run`` listens
on the change feed (``storage.changes``: PostgreSQL ``LISTEN`` or Redis pub/sub), whose every
message pokes it into comparing the revision row at once; unpoked it still compares every
``sync_interval`` seconds (the safety net). Each round loads the keys again when a rotated-out
key runs out, writes what the check queued (``last_seen`` of sessions, audit events), refreshes
the active-sessions gauge and once an hour prunes old audit events, spent login counters,
expired keys and sessions that expired more than a day ago. Each round also tells ``health``
whether the store answered: that is how an outage is noticed without a check, and how its end
is noticed without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from authgate.accounts.login import LoginGuard
from authgate.config import Settings
from authgate.forward.gate import Gate
from authgate.forward.issued import IssuedCredentials
from authgate.forward.model import with_mfa_default
from authgate.forward.sessions import SessionCache
from authgate.storage.changes import ChangeFeed, NoFeed
from authgate.storage.revision import RevisionFile, Stamp
from authgate.storage.store import Store
from authgate.web.audit import AuditQueue
from authgate.web.health import StoreHealth
from authgate.web.keys import ServerKeys
from authgate.web.metrics import Metrics

log = logging.getLogger("authgate")
PRUNE_INTERVAL = 3600
SESSION_KEEP = timedelta(days=1)  # an ended session's row is deleted this long after it expired
GAUGE_INTERVAL = 15.0  # the active-sessions gauge is counted this often, not per scrape
ROUND_TIMEOUT = 5.0  # a store that does not answer within this is down for this round


class StoreSync:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        gate: Gate,
        sessions: SessionCache,
        audit: AuditQueue,
        login: LoginGuard,
        keys: ServerKeys,
        feed: ChangeFeed | None = None,
        health: StoreHealth | None = None,
        metrics: Metrics | None = None,
        credentials: IssuedCredentials | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.gate = gate
        self.sessions = sessions
        self.audit = audit
        self.login = login
        self.keys = keys
        self.health = health or StoreHealth(settings.degraded_grace)
        self.metrics = metrics
        self.credentials = credentials
        self.revision = -1
        self._file = RevisionFile(settings.revision_file)
        self._stamp: Stamp = (-1, -1)
        self._lock = asyncio.Lock()
        self.feed = feed or NoFeed()
        self._poked = asyncio.Event()
        self._next_prune = 0.0
        self._next_gauge = 0.0

    def poke(self) -> None:
        """The change feed heard of a change: compare the revision now, not at the next tick."""
        self._poked.set()

    async def refresh(self) -> None:
        """Per check: one stat of the revision file; reload only when it moved."""
        stamp = self._file.stamp()
        if stamp != self._stamp:
            await self.reload(stamp)

    async def reload(self, stamp: Stamp | None = None) -> None:
        async with self._lock:
            stamp = stamp or self._file.stamp()
            revision = await self.store.revision()
            apps = with_mfa_default(await self.store.load_apps(), self.settings.require_mfa)
            for conflict in self.gate.load_apps(apps).conflicts:
                log.error("%s; requests for it are refused. Fix: %s", conflict.reason, conflict.fix)
            await self.keys.load(self.store)
            self.sessions.clear()
            if self.credentials is not None:
                self.credentials.clear()
            self.revision = revision
            self._stamp = stamp

    async def run(self) -> None:
        """Forever: listen on the feed, and on every poke or every ``sync_interval`` seconds
        catch up with the store; survives a store (and a feed) that comes and goes."""
        listener = asyncio.create_task(self.feed.listen(self.poke))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), self.settings.sync_interval)
                self._poked.clear()
                await self.round()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def round(self) -> None:
        """One round: follow the revision, write what is queued, the periodic chores. A
        failure marks the store down (logged once, by ``health``); success marks it up."""
        if self.metrics is not None:
            self.metrics.flush_checks()  # the checks' counts, whether the store answers or not
        if self.keys.due():
            self.keys.expire()  # also when the store is down; the reload below re-reads
        try:
            revision = await asyncio.wait_for(self.store.revision(), ROUND_TIMEOUT)
        except Exception as exc:  # the loop must survive a store that comes and goes
            if self.health.down_since is None:
                log.warning("store sync failed: %s", exc)
            self.health.failed(time.time())
            return
        self.health.answered(time.time())
        try:
            if revision != self.revision or self.keys.due():
                await self.reload()
            await self.flush()
            await self._chores()
        except Exception as exc:
            log.warning("store sync failed: %s", exc)

    async def _chores(self) -> None:
        now = time.monotonic()
        if self.metrics is not None and now >= self._next_gauge:
            self._next_gauge = now + GAUGE_INTERVAL
            self.metrics.active_sessions.set(await self.store.count_live_sessions())
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            await self.store.prune_audit(self.settings.audit_retention)
            await self.login.counters.prune_counters()
            await self.store.prune_keys()
            await self.store.prune_sessions(datetime.now(UTC) - SESSION_KEEP)

    async def flush(self) -> None:
        """Write what the check queued: sessions and credentials used since last time,
        audit events."""
        await self.store.touch_sessions(self.sessions.take_touched())
        if self.credentials is not None:
            await self.store.touch_api_credentials(self.credentials.take_used())
        await self.audit.flush(self.store)
