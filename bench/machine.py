"""The machine and the versions a run measured: cores, CPU, memory, kernel, and the versions
of Python, authgate (and its commit), the ASGI servers, nginx, Traefik and wrk."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.e2e.servers import BIN, NGINX

from bench import REPO
from bench.wrk import WRK


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "memory_mb": _memory_mb(),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": _versions(),
    }


def _versions() -> dict[str, Any]:
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    return {
        "python": platform.python_version(),
        "authgate": _dist_version("authgate"),
        "authgate_commit": commit,
        "authgate_src_modified": bool(dirty),
        "granian": _dist_version("granian"),
        "uvicorn": _dist_version("uvicorn"),
        "uvloop": _dist_version("uvloop"),
        "httptools": _dist_version("httptools"),
        "starlette": _dist_version("starlette"),
        "nginx": _strip_prefix(_first_line([NGINX, "-v"]), "nginx version: "),
        "traefik": _traefik_version(str(BIN / "traefik")),
        "wrk": _first_line([WRK, "-v"]),
    }


def _cpu_model() -> str | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


def _memory_mb() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        meminfo = Path("/proc/meminfo").read_text().splitlines()[0]
        return int(meminfo.split()[1]) // 1024
    return None


def _first_line(command: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout + done.stderr).strip()
    return text.splitlines()[0] if text else None


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _traefik_version(binary: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=20, check=False
        )
        match = re.search(r"^Version:\s*(\S+)", done.stdout, re.M)
        return match.group(1) if match else None
    return None


def _strip_prefix(text: str | None, prefix: str) -> str | None:
    return text[len(prefix) :] if text is not None and text.startswith(prefix) else text
