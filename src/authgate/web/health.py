"""Is this instance healthy: the store's state as this process sees it, and the probes.

``StoreHealth`` is the one ``Outage`` of a process: the session cache, the sync loop, the
readiness probe and the portal's error handler report to it whether the store answered, and
it logs each transition once (degraded mode begins / ends) and moves the metrics.

``GET /-/health/live``: the process answers. ``GET /-/health/ready``: a small list of named
checks (``Readiness``), each saying nothing when fine and a reason when not; 200 only when
every one is fine, else 503 with ``{"status": "unavailable", "reasons": [...]}``. Both with or
without a trailing slash, HEAD too, never cached by anyone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.forward.sessions import Outage
from authgate.web.requests import runtime_of

log = logging.getLogger("authgate")
Check = Callable[[], Awaitable[str | None]]  # None: fine; else the reason it is not
STORE_TIMEOUT = 2.0  # the readiness query gives up after this long
STORE_TTL = 1.0  # a probe answer is reused this long: probes cannot hammer the database


class StoreHealth(Outage):
    """The outage state of this process, with its two log lines and its metrics."""

    def __init__(
        self,
        grace: float,
        on_error: Callable[[], None] = lambda: None,
        on_state: Callable[[bool], None] = lambda degraded: None,
    ) -> None:
        super().__init__(grace)
        self._on_error = on_error
        self._on_state = on_state

    def failed(self, now: float) -> bool:
        self._on_error()
        began = super().failed(now)
        if began:
            until = datetime.fromtimestamp(self.grace_ends, UTC).strftime("%H:%M:%S")
            log.error(
                "store unreachable: degraded mode, known sessions keep working until %s UTC",
                until,
            )
            self._on_state(True)
        return began

    def answered(self, now: float) -> float | None:
        lasted = super().answered(now)
        if lasted is not None:
            log.warning("store reachable again after %d s", round(lasted))
            self._on_state(False)
        return lasted


def store_check(
    query: Callable[[], Awaitable[object]],
    health: StoreHealth,
    *,
    timeout: float = STORE_TIMEOUT,
    ttl: float = STORE_TTL,
    clock: Callable[[], float] = time.monotonic,
) -> Check:
    """A readiness check that runs ``query`` at most once per ``ttl`` (concurrent probes
    share one run) and tells ``health`` what it found: a probe also notices recovery."""
    kept: tuple[float, str | None] = (-float("inf"), None)
    lock = asyncio.Lock()

    async def check() -> str | None:
        nonlocal kept
        async with lock:
            if clock() - kept[0] < ttl:
                return kept[1]
            try:
                await asyncio.wait_for(query(), timeout)
            except Exception as exc:
                health.failed(time.time())
                kept = (clock(), f"store: the database does not answer ({_short(exc)})")
            else:
                health.answered(time.time())
                kept = (clock(), None)
            return kept[1]

    return check


def _short(exc: BaseException) -> str:
    """The kind of failure only: the probe answers anyone who reaches the listener (through
    the ingress too), and an error's text can name the database's host, port or user. The
    whole error is in the log, where the outage is reported once."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__


class Readiness:
    """Named checks, judged in order; every reason is reported, not only the first."""

    def __init__(self, checks: list[tuple[str, Check]] | None = None) -> None:
        self.checks: list[tuple[str, Check]] = list(checks or [])

    def add(self, name: str, check: Check) -> None:
        self.checks.append((name, check))

    async def reasons(self) -> list[str]:
        found: list[str] = []
        for name, check in self.checks:
            try:
                reason = await check()
            except Exception as exc:
                reason = f"{name}: the check failed ({_short(exc)})"
            if reason:
                found.append(reason)
        return found


def _json(status: int, body: dict[str, object]) -> Response:
    return Response(
        json.dumps(body),
        status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


async def live(request: Request) -> Response:
    return _json(200, {"status": "live"})


async def ready(request: Request) -> Response:
    reasons = await runtime_of(request).readiness.reasons()
    if reasons:
        return _json(503, {"status": "unavailable", "reasons": reasons})
    return _json(200, {"status": "ready", "reasons": []})


ROUTES = [
    Route(path, endpoint, methods=["GET"])  # Starlette answers HEAD for every GET route
    for base, endpoint in (("/-/health/live", live), ("/-/health/ready", ready))
    for path in (base, base + "/")
]
