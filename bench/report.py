"""What a run adds up to: one summary line per scenario (and the table on stderr), the
ratios between scenarios, and how much other work shared the machine meanwhile."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.progress import log


def summary(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per scenario: the numbers to compare first."""
    rows = []
    for r in reports:
        lat = r.get("latency_ms") or {}
        rows.append(
            {
                "scenario": f"{r['server']}:{r['name']}",
                "requests_per_s": r.get("requests_per_s"),
                "p50_ms": lat.get("p50"),
                "p90_ms": lat.get("p90"),
                "p99_ms": lat.get("p99"),
                "errors": r.get("errors_total"),
                "authgate_cpu_us_per_request": (r.get("cpu_us_per_request") or {}).get("authgate"),
                "other_load_cores": r.get("other_load_cores"),
                "error": r.get("error"),
            }
        )
    return rows


def noise(reports: Sequence[dict[str, Any]], cores: int) -> dict[str, Any]:
    """How much of the machine other work took while we measured (other sessions, cron)."""
    other = [r["other_load_cores"] for r in reports if r.get("other_load_cores") is not None]
    if not other:
        return {}
    worst = max(other)
    out: dict[str, Any] = {"other_load_cores_max": worst, "other_load_cores_mean": None}
    out["other_load_cores_mean"] = round(sum(other) / len(other), 2)
    if worst > 0.1 * cores:
        out["warning"] = (
            f"other processes used up to {worst} of {cores} cores while measuring: "
            "the numbers are lower and noisier than on an idle machine; compare ratios from "
            "the same run, or run again when the machine is idle"
        )
        log(out["warning"])
    return out


def summary_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    head = (
        f"{'scenario':38} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'errs':>5} "
        f"{'ag us':>6} {'other':>5}"
    )
    lines = [head]
    for row in rows:
        if row["error"]:
            lines.append(f"{row['scenario']:38} FAILED: {str(row['error'])[:80]}")
            continue
        cells = [
            _cell(row["requests_per_s"], 8, 0),
            *(_cell(row[k], 7, 2) for k in ("p50_ms", "p90_ms", "p99_ms")),
            _cell(row["errors"], 5, 0),
            _cell(row["authgate_cpu_us_per_request"], 6, 0),
            _cell(row["other_load_cores"], 5, 2),
        ]
        lines.append(f"{row['scenario']:38} {' '.join(cells)}")
    return lines


def _cell(value: float | None, width: int, digits: int) -> str:
    return f"{value:{width}.{digits}f}" if isinstance(value, int | float) else "-".rjust(width)


def derived(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Ratios between scenarios: what the auth step costs, granian against uvicorn."""
    rate = {
        f"{r['server']}:{r['name']}": r["requests_per_s"]
        for r in reports
        if not r.get("error") and r.get("requests_per_s")
    }

    def ratio(a: str, b: str) -> float | None:
        return round(rate[a] / rate[b], 3) if a in rate and b in rate else None

    out: dict[str, Any] = {
        "nginx_with_auth_vs_without": ratio(
            "granian:nginx_valid_cookie", "granian:nginx_baseline_no_auth"
        ),
        "traefik_with_auth_vs_without": ratio(
            "granian:traefik_valid_cookie", "granian:traefik_baseline_no_auth"
        ),
        "nginx_anonymous_vs_valid": ratio("granian:nginx_anonymous", "granian:nginx_valid_cookie"),
        "granian_vs_uvicorn": {
            name: ratio(f"granian:{name}", f"uvicorn:{name}")
            for name in ("direct_keepalive", "direct_new_connection", "nginx_valid_cookie")
        },
    }
    per_request = {
        f"{r['server']}:{r['name']}": r["cpu_us_per_request"].get("authgate")
        for r in reports
        if not r.get("error") and "authgate" in r.get("cpu_us_per_request", {})
    }
    out["authgate_cpu_us_per_request"] = per_request
    return out


def combine(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One scenario's report from its rounds: the round with the median rate, with the median
    rate and p99 over all rounds, their spread, and each round's numbers. An error in any
    round is the scenario's error."""
    if len(rounds) == 1:
        return rounds[0]
    errors = [r["error"] for r in rounds if r.get("error")]
    measured = sorted(
        (r for r in rounds if not r.get("error")), key=lambda r: float(r["requests_per_s"])
    )
    if not measured:
        return {**rounds[0], "rounds": [{"error": e} for e in errors]}
    out = dict(measured[len(measured) // 2])
    rates = [float(r["requests_per_s"]) for r in measured]
    p99s = [float(r["latency_ms"]["p99"]) for r in measured]
    out["requests_per_s"] = round(statistics.median(rates), 1)
    out["p99_ms_median"] = round(statistics.median(p99s), 2)
    out["spread"] = {
        "requests_per_s_min": min(rates),
        "requests_per_s_max": max(rates),
        "requests_per_s_relative": round(
            (max(rates) - min(rates)) / max(out["requests_per_s"], 1), 3
        ),
        "p99_ms_min": min(p99s),
        "p99_ms_max": max(p99s),
    }
    out["rounds"] = [
        {
            "requests_per_s": r.get("requests_per_s"),
            "p99_ms": (r.get("latency_ms") or {}).get("p99"),
            "error": r.get("error"),
        }
        for r in rounds
    ]
    out["error"] = errors[0] if errors else None
    return out


# The targets: (name, numerator, denominator, what is compared, target, at least?)
_TARGETS = (
    ("d/h", "nginx_valid_cookie_keepalive", "floor_h_keepalive", "rate", 0.85, True),
    ("d'/h'", "nginx_valid_cookie", "floor_h_new_connection", "rate", 0.85, True),
    ("d/c", "nginx_valid_cookie_keepalive", "floor_c_second_nginx", "rate", 0.45, True),
    ("p99 d/h", "nginx_valid_cookie_keepalive", "floor_h_keepalive", "p99", 1.25, False),
    (
        "p99 f/d",
        "nginx_valid_cookie_keepalive_logins",
        "nginx_valid_cookie_keepalive",
        "p99",
        2.0,
        False,
    ),
    ("d_cache/b", "nginx_auth_cache", "floor_b_internal", "rate", 0.8, True),
    ("scale_sqlite/d", "scale_sqlite", "nginx_valid_cookie_keepalive", "rate", 0.9, True),
    ("scale_postgres/d", "scale_postgres", "nginx_valid_cookie_keepalive", "rate", 0.9, True),
)


def ratios(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The issue's ratios (granian, the same run) with their targets: met or not. A ratio
    whose scenarios did not both run is left out."""
    rate: dict[str, float] = {}
    p99: dict[str, float] = {}
    for r in reports:
        if r.get("server") != "granian" or r.get("error") or not r.get("requests_per_s"):
            continue
        rate[r["name"]] = float(r["requests_per_s"])
        p99[r["name"]] = float(r.get("p99_ms_median") or r["latency_ms"]["p99"])
    out: dict[str, Any] = {}
    for name, top, bottom, what, target, at_least in _TARGETS:
        values = rate if what == "rate" else p99
        if top not in values or bottom not in values or not values[bottom]:
            continue
        value = round(values[top] / values[bottom], 3)
        out[name] = {
            "value": value,
            "target": f"{'>=' if at_least else '<='} {target}",
            "met": value >= target if at_least else value <= target,
            "of": f"{what} {top} / {what} {bottom}",
        }
    p99_of = {n: p99.get(n) for n in sorted(p99)}
    out["p99_ms"] = p99_of
    return out
