"""The running servers by role: the CPU time each one's process group spends and the problems
each one logs, read around a measured run; and the whole machine's busy time (the noise)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from tests.e2e.servers import Nginx, Process

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process in process group ``pgid``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine spent busy (all cores) and, of that, in softirq (where
    the kernel moves loopback packets), from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK, softirq / _TICK


class Servers:
    """The running servers by role; CPU and log offsets read around a measured run."""

    def __init__(self) -> None:
        self.by_role: dict[str, Process] = {}

    def cpu(self) -> dict[str, float]:
        return {
            role: group_cpu_seconds(proc.proc.pid)
            for role, proc in self.by_role.items()
            if proc.proc is not None
        }

    def settle(
        self, quiet_cpu_s: float = 0.03, window_s: float = 0.5, limit_s: float = 15.0
    ) -> float:
        """Wait until our servers are idle (the last scenario's after-work, such as authgate
        writing its audit queue, must not count in the next); the seconds waited."""
        started = time.monotonic()
        before = self.cpu()
        while time.monotonic() - started < limit_s:
            time.sleep(window_s)
            after = self.cpu()
            if all(after[r] - before.get(r, 0.0) < quiet_cpu_s for r in after):
                break
            before = after
        return round(time.monotonic() - started, 1)

    def log_sizes(self) -> dict[str, int]:
        return {role: _size(log_file(proc)) for role, proc in self.by_role.items()}

    def new_log_lines(self, since: dict[str, int]) -> dict[str, dict[str, Any]]:
        """Warnings and errors each server logged after ``since`` (count and the first few)."""
        found: dict[str, dict[str, Any]] = {}
        for role, proc in self.by_role.items():
            path = log_file(proc)
            if not path.exists():
                continue
            with path.open("rb") as f:
                f.seek(since.get(role, 0))
                text = f.read(4_000_000).decode(errors="replace")
            text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # Traefik colours its log
            lines = [ln for ln in text.splitlines() if _is_problem(role, ln)]
            if lines:
                found[role] = {"lines": len(lines), "first": [ln[:300] for ln in lines[:5]]}
        return found


def log_file(proc: Process) -> Path:
    """nginx writes its problems to error.log; the others to their captured output."""
    return proc.workdir / "error.log" if isinstance(proc, Nginx) else proc.log


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _is_problem(role: str, line: str) -> bool:
    if role == "nginx":
        return any(f"[{lvl}]" in line for lvl in ("warn", "error", "crit", "alert", "emerg"))
    return bool(line.strip())  # authgate, echo and Traefik log only warnings and worse here
