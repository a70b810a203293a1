"""Prometheus metrics (prometheus-client) and ``GET /-/metrics``.

With several workers ``authgate serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
directory (``settings.metrics_dir``): every worker writes its values there and a scrape,
whichever worker answers it, adds them up. Without it (one process, tests) each ``Metrics``
keeps its own registry.

The check is the hot path, and a prometheus-client increment (a lock, a pid check and, with
several workers, a write to a shared file) costs more than the rest of an allowed check. So
the check only adds to plain numbers (``CheckTallies``) and ``flush_checks`` hands the sums
to prometheus-client: before every scrape of this worker and at every sync round (each
second, whether the store answers or not). With several workers a scrape therefore shows the
other workers' checks as of their last round, at most about a second old.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

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

from authgate.forward.endpoint import CheckTallies
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
        # what the check adds to (``forward.endpoint.CheckTallies``)
        self.check_tallies = CheckTallies(((d, o) for d in dialects for o in OUTCOMES), BUCKETS)

    def check(self, dialect: str, outcome: str, seconds: float) -> None:
        """One check answered, counted as the endpoint counts it."""
        self.check_tallies.add(dialect, outcome, seconds)

    def flush_checks(self) -> None:
        """Hand the checks counted since the last flush to prometheus-client. The histogram
        is given whole buckets at once, through the child's own values (prometheus-client
        has no public call to observe many at once; ``tests/unit/test_metrics.py`` holds
        the exposition to what one observation per check gives)."""
        for (dialect, outcome), row in self.check_tallies.take():
            self.checks.labels(dialect, outcome).inc(row[0])
            child = self.check_seconds.labels(dialect)
            child._sum.inc(row[1])
            for bucket, count in zip(child._buckets, row[2:], strict=True):
                if count:
                    bucket.inc(count)

    def login(self, step: str, result: str) -> None:
        self.logins.labels(step, result).inc()

    def store_error(self) -> None:
        self.store_errors.inc()

    def set_degraded(self, degraded: bool) -> None:
        self.degraded.set(1 if degraded else 0)

    def exposition(self) -> bytes:
        """The text format: every worker's values added up when several share the dir."""
        self.flush_checks()
        if not self.metrics_dir:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.metrics_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def worker_stopped(self) -> None:
        """Mark this worker dead: its ``live*`` gauges stop counting (its last checks are
        counted first)."""
        self.flush_checks()
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
