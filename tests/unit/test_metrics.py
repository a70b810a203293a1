"""The checks' metrics: tallied in plain numbers by the check, handed to prometheus-client
later; a scrape must read exactly what one observation per check would have given."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from authgate.web.metrics import BUCKETS, Metrics

# on, just over and far over the bounds, zero, and one above every bucket
TIMES = [0.0, 0.0005, 0.00051, 0.001, 0.003, 0.0249, 0.025, 0.7, 2.5, 2.6, 30.0]


def samples(text: str, *families: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        if family.name in families
        for s in family.samples
        if not s.name.endswith("_created")
    }


def reference(times: list[float]) -> str:
    """What prometheus-client itself gives for the same checks, one observation each."""
    registry = CollectorRegistry()
    checks = Counter("authgate_checks", "x", ["dialect", "outcome"], registry=registry)
    seconds = Histogram(
        "authgate_check_duration_seconds", "x", ["dialect"], buckets=BUCKETS, registry=registry
    )
    for i, t in enumerate(times):
        checks.labels("nginx", "allow" if i % 3 else "login").inc()
        seconds.labels("nginx").observe(t)
    return generate_latest(registry).decode()


def test_a_scrape_reads_what_one_observation_per_check_gives() -> None:
    metrics = Metrics(["nginx", "traefik"])
    for i, t in enumerate(TIMES):
        metrics.check("nginx", "allow" if i % 3 else "login", t)
    families = ("authgate_checks", "authgate_check_duration_seconds")
    got = samples(metrics.exposition().decode(), *families)
    want = samples(reference(TIMES), *families)
    # the same samples and values (the sum added up in another order: equal but for rounding)
    assert {k: v for k, v in got.items() if v} == pytest.approx(
        {k: v for k, v in want.items() if v}, rel=1e-12
    )
    # counted once: a second scrape adds nothing, later checks add to what was there
    assert samples(metrics.exposition().decode(), *families) == got
    metrics.check("nginx", "allow", 0.002)
    again = samples(metrics.exposition().decode(), *families)
    allow = ("authgate_checks_total", (("dialect", "nginx"), ("outcome", "allow")))
    count = ("authgate_check_duration_seconds_count", (("dialect", "nginx"),))
    assert again[allow] == got[allow] + 1 and again[count] == got[count] + 1


def test_an_unknown_dialect_or_outcome_is_not_counted() -> None:
    metrics = Metrics(["nginx"])
    metrics.check("gopher", "allow", 0.001)
    metrics.check("nginx", "teleport", 0.001)
    text = metrics.exposition().decode()
    assert 'dialect="gopher"' not in text and 'outcome="teleport"' not in text
