"""One scenario: wait for quiet, check one request, warm up, measure (and profile if asked).
Every failure ends up in the report's ``error``; the run goes on."""

from __future__ import annotations

import contextlib
import os
import traceback
from dataclasses import dataclass
from typing import Any

from tests.e2e.servers import Authgate

from bench import RESULTS
from bench.login_loop import logging_in
from bench.probe import check
from bench.profiling import profile_run
from bench.progress import log
from bench.scenarios import Load, Scenario
from bench.servers import Servers, machine_busy_seconds
from bench.wrk import parse_wrk, run_wrk


@dataclass
class Context:
    load: Load
    servers: Servers
    authgate: Authgate
    profile: set[str]
    stamp: str


def measure(ctx: Context, scenario: Scenario) -> dict[str, Any]:
    """Check, warm up, measure; every failure ends up in ``error``."""
    report: dict[str, Any] = {
        "name": scenario.name,
        "server": scenario.server,
        "via": scenario.via,
        "description": scenario.description,
        "url": scenario.url,
        "host": scenario.headers.get("Host", ""),
        "connection_close": scenario.headers.get("Connection") == "close",
        "error": None,
    }
    log(f"{scenario.server:8} {scenario.name}")
    try:
        report["settle_s"] = ctx.servers.settle(limit_s=ctx.load.settle_limit_s)
        report["check"] = check(scenario)
        with contextlib.ExitStack() as background:
            if scenario.login_clients and scenario.login_url:
                logins = background.enter_context(
                    logging_in(scenario.login_url, scenario.login_clients)
                )
            if ctx.load.warmup_s > 0:
                run_wrk(ctx.load, scenario, ctx.load.warmup_s)
            if scenario.login_clients:
                logins.restart()  # count the logins of the measured run only
            _measured_run(ctx, scenario, report)
        if scenario.login_clients:
            report["logins"] = logins.as_report(scenario.login_clients)
        if scenario.name in ctx.profile or f"{scenario.server}:{scenario.name}" in ctx.profile:
            report["profile"] = _profile(ctx, scenario)
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=6).splitlines()
        log(f"         {scenario.name} FAILED: {report['error'][:300]}")
    else:
        lat = report["latency_ms"]
        log(
            f"         {report['requests_per_s']:9.0f} req/s  p50 {lat['p50']} ms  "
            f"p99 {lat['p99']} ms  errors {report['errors_total']}"
        )
    return report


def failed(scenario: Scenario, error: str) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "server": scenario.server,
        "via": scenario.via,
        "description": scenario.description,
        "error": error,
    }


def _measured_run(ctx: Context, scenario: Scenario, report: dict[str, Any]) -> None:
    """The measured wrk run into ``report``: wrk's numbers, the CPU each process spent, what
    the servers logged meanwhile."""
    loadavg_before = os.getloadavg()[0]
    cpu_before, logs_before = ctx.servers.cpu(), ctx.servers.log_sizes()
    busy_before = machine_busy_seconds()
    output, wrk_cpu = run_wrk(ctx.load, scenario, ctx.load.duration_s)
    busy_after = machine_busy_seconds()
    busy, softirq = (a - b for a, b in zip(busy_after, busy_before, strict=True))
    cpu_after = ctx.servers.cpu()
    report.update(parse_wrk(output))
    cpu = {r: cpu_after[r] - cpu_before.get(r, 0.0) for r in cpu_after}
    cpu["wrk"] = wrk_cpu
    _account_cpu(report, cpu, busy, softirq)
    per_request = report["cpu_us_per_request"]
    if scenario.auth_role != "authgate" and scenario.auth_role in per_request:
        per_request["authgate"] = per_request[scenario.auth_role]  # the one that answered
    report["loadavg_1m_before"] = round(loadavg_before, 2)
    report["server_log_problems"] = ctx.servers.new_log_lines(logs_before)
    report["wrk_output"] = output.strip().splitlines()


def _account_cpu(
    report: dict[str, Any], cpu: dict[str, float], busy: float, softirq: float
) -> None:
    """CPU per process and per request; other sessions' work on the same machine: the noise
    in these numbers."""
    requests = max(int(report["requests"]), 1)
    report["machine_busy_cores"] = round(busy / max(report["duration_s"], 0.001), 2)
    report["cpu_s_softirq"] = round(softirq, 3)
    report["cpu_s_not_ours"] = round(max(busy - softirq - sum(cpu.values()), 0.0), 3)
    report["other_load_cores"] = round(report["cpu_s_not_ours"] / report["duration_s"], 2)
    report["cpu_s"] = {r: round(s, 3) for r, s in cpu.items() if s > 0}
    report["cpu_us_per_request"] = {
        r: round(s * 1e6 / requests, 1) for r, s in cpu.items() if s > 0
    }


def _profile(ctx: Context, scenario: Scenario) -> dict[str, Any]:
    """An extra run under py-spy; its failure is reported and the measured numbers stand."""
    out = RESULTS / f"{ctx.stamp}-{scenario.server}-{scenario.name}"
    log(f"         {scenario.name}: profiling authgate with py-spy")
    try:
        # the authgate that answers this scenario (the scale run has its own)
        answering = ctx.servers.by_role.get(scenario.auth_role, ctx.authgate)
        assert isinstance(answering, Authgate)
        return profile_run(ctx.load, scenario, answering, out, ctx.load.duration_s)
    except Exception as exc:  # the measured numbers above still stand
        return {"error": f"{type(exc).__name__}: {exc}"}
