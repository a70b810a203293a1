"""wrk, the load: its command for a scenario, one run, and the numbers of its ``--latency``
output."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
from typing import Any

from bench.scenarios import Load, Scenario

WRK = shutil.which("wrk") or "/usr/bin/wrk"

_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class WrkError(RuntimeError):
    pass


def to_ms(text: str) -> float:
    """wrk's ``850.00us`` / ``1.23ms`` / ``1.02s`` / ``1.00m`` as milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise WrkError(f"not a wrk duration: {text!r}")
    return round(float(match.group(1)) * _TIME_UNITS_MS[match.group(2)], 4)


def parse_wrk(output: str) -> dict[str, Any]:
    """The numbers of one ``wrk --latency`` run."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    total = re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", output, re.M)
    if rate is None or total is None:
        raise WrkError(f"wrk gave no result:\n{output[-2000:]}")
    latency = _latency(output)
    socket_errors = _socket_errors(output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    non_2xx_3xx = int(bad.group(1)) if bad else 0
    requests = int(total.group(1))
    return {
        "requests_per_s": float(rate.group(1)),
        "requests": requests,
        "duration_s": to_ms(total.group(2)) / 1000.0,
        "read": total.group(3),
        "latency_ms": latency,
        "non_2xx_3xx": non_2xx_3xx,
        "socket_errors": socket_errors,
        "errors_total": non_2xx_3xx + sum(socket_errors.values()),
        "error_rate": round((non_2xx_3xx + sum(socket_errors.values())) / max(requests, 1), 6),
    }


def _latency(output: str) -> dict[str, float | None]:
    """avg, stdev and max from the thread stats; p50..p99 from the ``--latency`` table."""
    latency: dict[str, float | None] = dict.fromkeys(
        ("avg", "stdev", "max", "p50", "p75", "p90", "p99")
    )
    stats = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    if stats is not None:
        for key, value in zip(("avg", "stdev", "max"), stats.groups(), strict=True):
            latency[key] = to_ms(value)
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+(\S+)\s*$", output, re.M):
        latency[f"p{pct}"] = to_ms(value)
    return latency


def _socket_errors(output: str) -> dict[str, int]:
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if sockets is not None:
        socket_errors = dict(zip(socket_errors, map(int, sockets.groups()), strict=True))
    return socket_errors


def wrk_command(load: Load, scenario: Scenario, seconds: int) -> list[str]:
    command = [
        WRK,
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={seconds}s",
        f"--timeout={load.timeout_s}s",
        "--latency",
    ]
    if scenario.script:
        command += ["--script", scenario.script]  # it sets every header of every request
    else:
        for name, value in scenario.headers.items():
            command += ["--header", f"{name}: {value}"]
    return [*command, scenario.url]


def run_wrk(load: Load, scenario: Scenario, seconds: int) -> tuple[str, float]:
    """wrk's output and the CPU seconds wrk itself used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        wrk_command(load, scenario, seconds),
        capture_output=True,
        text=True,
        timeout=seconds + load.timeout_s + 30,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode != 0:
        raise WrkError(f"wrk exited with {result.returncode}: {result.stderr or result.stdout}")
    return result.stdout, cpu
