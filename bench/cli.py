"""The command line: options, the run guarded against Ctrl-C, SIGTERM and failures, and the
JSON document on stdout and in ``bench/results/<stamp>.json``. Exit status: 0, 2 when a
scenario failed, 1 when the run failed, 130 when it was interrupted."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from bench import REPO, RESULTS
from bench.machine import machine_info
from bench.progress import log
from bench.report import derived, noise, ratios, summary, summary_table
from bench.run import run
from bench.scenarios import Load
from bench.wrk import WRK

DESCRIPTION = "Forward-auth load benchmark through real proxies: ``make bench``."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--threads", type=int, default=Load.threads, help="wrk threads")
    parser.add_argument("--connections", type=int, default=Load.connections, help="wrk conns")
    parser.add_argument("--duration", type=int, default=Load.duration_s, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=Load.warmup_s, help="seconds of warm-up")
    parser.add_argument(
        "--servers",
        nargs="+",
        default=["granian", "uvicorn"],
        choices=["granian", "uvicorn"],
        help="ASGI servers to run authgate under, in this order",
    )
    parser.add_argument("--only", help="regex on 'server:scenario', e.g. 'direct|nginx_valid'")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="SCENARIO",
        help="after measuring SCENARIO (or server:SCENARIO), run it again under py-spy",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="repetitions, round-robin over the scenarios; medians and spread (smoke: 1)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every scenario once for 1 s, no warm-up, at most 2 s of settling: "
        "checks that the bench works (make test), measures nothing worth keeping",
    )
    parser.add_argument(
        "--scale-sessions",
        type=int,
        help="sessions seeded for the scale run (default 1,000,000; smoke: 10,000)",
    )
    parser.add_argument(
        "--scale-apps", type=int, help="apps seeded for the scale run (default 10,000; smoke: 200)"
    )
    parser.add_argument(
        "--scale-pairs",
        type=int,
        default=3000,
        help="distinct (session, app host) pairs wrk rotates over in the scale run",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep servers' logs")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    big = not args.smoke
    args.scale_sessions = args.scale_sessions or (1_000_000 if big else 10_000)
    args.scale_apps = args.scale_apps or (10_000 if big else 200)
    if args.smoke:
        args.scale_pairs = min(args.scale_pairs, 500)
    return args


class Interrupted(BaseException):
    """SIGTERM/SIGHUP: unwind like Ctrl-C so every server is stopped."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    result = _head(dt.datetime.now(dt.UTC))
    result["smoke"] = args.smoke
    started = time.monotonic()
    status = _guarded_run(args, result)
    _sum_up(result)
    result["wall_time_s"] = round(time.monotonic() - started, 1)
    if any(s.get("error") for s in result["scenarios"]) and status == 0:
        status = 2
    text = json.dumps(result, indent=2)
    if not args.no_save:
        _save(text, result["stamp"])
    print(text)
    return status


def _head(now: dt.datetime) -> dict[str, Any]:
    """The top of the document, before anything runs."""
    result: dict[str, Any] = {
        "benchmark": "authgate forward-auth through real proxies",
        "stamp": now.strftime("%Y%m%dT%H%M%SZ"),
        "started_at": now.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "smoke": False,
        "authgate_settings": {"log_level": "warning", "workers": 1},
        "scenarios": [],
    }
    if not Path(WRK).exists():
        result["error"] = f"wrk not found at {WRK} (apt-get install wrk)"
    return result


def _guarded_run(args: argparse.Namespace, result: dict[str, Any]) -> int:
    """The run; an interruption or a failure is written into ``result``. The exit status."""
    try:
        if "error" not in result:
            RESULTS.mkdir(parents=True, exist_ok=True)
            run(args, result)
    except (KeyboardInterrupt, Interrupted) as exc:
        result["interrupted"] = type(exc).__name__ if not str(exc) else str(exc)
        log("interrupted: every server stopped; writing what was measured")
        return 130
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc().splitlines()
        log(f"run failed: {result['error']}")
        return 1
    return 0


def _sum_up(result: dict[str, Any]) -> None:
    """Summary, noise and ratios into ``result``; the summary table on stderr."""
    result["summary"] = summary(result["scenarios"])
    result["noise"] = noise(result["scenarios"], result["machine"].get("cores") or 1)
    result["derived"] = derived(result["scenarios"])
    result["ratios"] = ratios(result["scenarios"])
    for name, r in result["ratios"].items():
        if name != "p99_ms":
            verdict = "met" if r["met"] else "NOT met"
            log(f"{name:10} {r['value']:6.3f}  target {r['target']}: {verdict}")
    for line in summary_table(result["summary"]):
        log(line)


def _save(text: str, stamp: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stamp}.json"
    path.write_text(text + "\n")
    log(f"written to {path.relative_to(REPO)}")
