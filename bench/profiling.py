"""py-spy (optional, ``--profile``): where authgate spends its time in a scenario, from an
extra wrk run with py-spy attached."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.servers import BIN, Authgate

from bench import REPO
from bench.scenarios import Load, Scenario
from bench.wrk import parse_wrk, run_wrk

PY_SPY = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
HOT_PATH_FRAME = "ForwardAuthEndpoint.__call__"  # the raw ASGI callable of auth/*


def profile_run(
    load: Load, scenario: Scenario, authgate: Authgate, out: Path, seconds: int
) -> dict[str, Any]:
    """An extra wrk run with py-spy attached (the measured run stays unprofiled)."""
    if PY_SPY is None:
        raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
    assert authgate.proc is not None
    raw = out.with_suffix(".collapsed.txt")
    spy = subprocess.Popen(
        [
            *(PY_SPY, "record", "--pid", str(authgate.proc.pid), "--subprocesses"),
            *("--gil", "--rate", "250", "--duration", str(seconds + 1), "--format", "raw"),
            *("--output", str(raw)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)  # py-spy attaches
        output, _ = run_wrk(load, scenario, seconds)
        _, err = spy.communicate(timeout=seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    if not raw.exists():
        raise RuntimeError(f"py-spy wrote nothing: {err[-1000:]}")
    summary = summarize_profile(raw.read_text())
    summary["collapsed_stacks"] = str(raw.relative_to(REPO) if raw.is_relative_to(REPO) else raw)
    summary["requests_per_s_while_profiled"] = parse_wrk(output)["requests_per_s"]
    return summary


def summarize_profile(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Where the GIL-holding thread was, as shares of all samples.

    ``self``: the innermost function; ``total``: anywhere on the stack (authgate's own code
    only, so the server's frames above it do not fill the list); ``hot_path``: how the time
    inside the auth/* callable splits between the functions it calls.
    """
    tally = _Tally()
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_short_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        tally.add(frames, int(count_text))
    return {
        "samples": tally.samples,
        "hot_path_share": round(tally.in_hot_path / max(tally.samples, 1), 4),
        "self": _shares(tally.own, tally.samples, top),
        "total": _shares(tally.total, tally.samples, top),
        "hot_path": _shares(tally.hot, tally.in_hot_path, top),
    }


@dataclass
class _Tally:
    """Samples counted by innermost function, by authgate function anywhere on the stack,
    and by the callee of the auth/* callable."""

    own: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    hot: Counter[str] = field(default_factory=Counter)
    samples: int = 0
    in_hot_path: int = 0

    def add(self, frames: list[str], count: int) -> None:
        self.samples += count
        self.own[frames[-1] if frames else "(native)"] += count
        for frame in set(frames):
            if "(authgate/" in frame:
                self.total[frame] += count
        at = next((i for i, f in enumerate(frames) if f.startswith(HOT_PATH_FRAME)), None)
        if at is not None:
            self.in_hot_path += count
            callee = frames[at + 1] if at + 1 < len(frames) else f"{HOT_PATH_FRAME} itself"
            self.hot[callee] += count


def _shares(counter: Counter[str], of: int, top: int) -> list[dict[str, Any]]:
    return [
        {"function": name, "share": round(n / max(of, 1), 4)}
        for name, n in counter.most_common(top)
    ]


def _short_frame(frame: str) -> str:
    """``func (/long/path/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    match = re.fullmatch(r"(.*) \((.*?):\d+\)", frame.strip())
    if match is None:
        return frame.strip()
    name, path = match.groups()
    path = re.sub(r"^.*?(site-packages/|/src/|/lib/python3\.\d+/)", "", path)
    return f"{name} ({path})"
