"""Prometheus metrics (prometheus-client) and ``GET /-/metrics``.

With several workers ``authgate serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory (``settings.metrics_dir``): every worker writes its values there and a scrape,
whichever worker answers it, adds them up. Without it (one process, tests) each ``Metrics``
keeps its own registry.

The check is the hot path: its counter and histogram children are bound once per
(dialect, outcome) here, so a check costs one dict lookup, one increment and one observation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from authgate.web.requests import PageRequest, runtime_of

OUTCOMES = (
    "allow",
    "login",
    "deny",
    "unknown host",
    "bad request",
    "unavailable",
    "redirect",
    "credential refused",
)
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, dialects: Iterable[str], metrics_dir: str = "") -> None:
        self.metrics_dir = metrics_dir
        self.registry = CollectorRegistry()
        r = self.registry
        self.checks = Counter(
            "authgate_checks", "Forward-auth checks answered", ["dialect", "outcome"], registry=r
        )
        self.check_seconds = Histogram(
            "authgate_check_duration_seconds",
            "Time from a check's arrival to its answer",
            ["dialect"],
            buckets=BUCKETS,
            registry=r,
        )
        self.logins = Counter(
            "authgate_logins", "Sign-in attempts by step and result", ["step", "result"], registry=r
        )
        self.active_sessions = Gauge(
            "authgate_active_sessions",
            "Sessions in the store that are neither expired nor revoked",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.store_errors = Counter(
            "authgate_store_errors", "Times the store did not answer", registry=r
        )
        self.degraded = Gauge(
            "authgate_degraded",
            "1 while the store is unreachable and known sessions run on their grace",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.degraded.set(0)
        # what the check calls (``forward.endpoint.CheckMeters``), bound once
        self.check_meters: dict[tuple[str, str], tuple[Callable[[], None], Callable[[float], None]]]
        self.check_meters = {
            (d, o): (self.checks.labels(d, o).inc, self.check_seconds.labels(d).observe)
            for d in dialects
            for o in OUTCOMES
        }

    def check(self, dialect: str, outcome: str, seconds: float) -> None:
        """One check answered (what the endpoint does with ``check_meters``)."""
        bound = self.check_meters.get((dialect, outcome))
        if bound is not None:
            bound[0]()
            bound[1](seconds)

    def login(self, step: str, result: str) -> None:
        self.logins.labels(step, result).inc()

    def store_error(self) -> None:
        self.store_errors.inc()

    def set_degraded(self, degraded: bool) -> None:
        self.degraded.set(1 if degraded else 0)

    def exposition(self) -> bytes:
        """The text format: every worker's values added up when several share the dir."""
        if not self.metrics_dir:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.metrics_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def worker_stopped(self) -> None:
        """Mark this worker dead: its ``live*`` gauges stop counting."""
        if self.metrics_dir:
            multiprocess.mark_process_dead(os.getpid(), self.metrics_dir)  # type: ignore[no-untyped-call]


async def metrics(request: Request) -> Response:
    """Only for clients in ``metrics_allow``, judged as the portal judges a client: the peer,
    or the forwarded address when the peer is a trusted proxy (the Internet through the
    ingress is refused)."""
    rt = runtime_of(request)
    client = PageRequest.read(request, rt.settings).ip
    if not rt.settings.may_read_metrics(client):
        return PlainTextResponse(
            "metrics are not served to this address (AUTHGATE_METRICS_ALLOW)\n",
            403,
            headers={"cache-control": "no-store"},
        )
    return Response(
        rt.metrics.exposition(),
        media_type=CONTENT_TYPE_LATEST,
        headers={"cache-control": "no-store"},
    )


ROUTES = [Route("/-/metrics", metrics, methods=["GET"])]
