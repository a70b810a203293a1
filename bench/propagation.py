"""How long a sign-out on one replica takes to be obeyed by another, per change feed.

Two replicas on one fresh PostgreSQL database behind nginx, as ``tests/e2e/test_replicas.py``
runs them; per try: sign in, let replica b hold the session in memory, sign out on replica
a, then ask b every 20 ms until it refuses; the time runs from sending the sign-out to
receiving b's refusal (so it includes the sign-out request and one check, a few ms each).
Three ways the news can travel:

- ``listen``: PostgreSQL ``LISTEN/NOTIFY`` (the default without Redis)
- ``redis``: Redis pub/sub (``AUTHGATE_REDIS_URL``)
- ``poll``: the poll alone, every second (``AUTHGATE_CHANGE_FEED=poll``)

Prints JSON (median, min, max in ms per way) on stdout::

    .venv/bin/python bench/propagation.py --tries 7
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # bench/ and tests/e2e/ (the servers it starts) as packages

from tests.e2e.conftest import is_test_name, make_client  # noqa: E402
from tests.e2e.servers import Echo  # noqa: E402
from tests.e2e.test_replicas import (  # noqa: E402
    APP1,
    REDIS,
    admitted,
    app_cookies,
    check,
    fresh_database,
    redis_prefix,
    refused_within,
    sign_in,
    sign_out_on,
    two_replicas,
)

MODES = ("listen", "redis", "poll")


def measure(mode: str, tries: int, workdir: Path, echo: Echo) -> list[float]:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_database())
        env: dict[str, str] = {}
        if mode == "redis":
            prefix = stack.enter_context(redis_prefix())
            env = {"AUTHGATE_REDIS_URL": REDIS, "AUTHGATE_REDIS_PREFIX": prefix}
        if mode == "poll":
            env = {"AUTHGATE_CHANGE_FEED": "poll", "AUTHGATE_SYNC_INTERVAL": "1"}
        cluster = stack.enter_context(two_replicas(workdir / mode, echo, database_url, **env))
        app_origin = f"{APP1}:{cluster.port}"
        times: list[float] = []
        for _ in range(tries):
            with make_client() as browser:
                sign_in(browser, cluster.url(APP1), cluster.allowed)
                cookies = app_cookies(browser)
            assert admitted(check(cluster.b, app_origin, cookies))
            started = time.monotonic()  # from the sign-out request to b's refusal
            sign_out_on(cluster.a, app_origin, cookies)
            times.append(
                refused_within(
                    lambda c=cookies: not admitted(check(cluster.b, app_origin, c)),
                    5,
                    since=started,
                )
            )
        return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=7)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *rest: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if is_test_name(host) else host, *rest, **kwargs)

    socket.getaddrinfo = getaddrinfo
    result: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, Echo(Path(tmp) / "echo") as echo:
        for mode in args.modes:
            runs = [round(t * 1000, 1) for t in measure(mode, args.tries, Path(tmp), echo)]
            result[mode] = {
                "median_ms": statistics.median(runs),
                "min_ms": min(runs),
                "max_ms": max(runs),
                "runs_ms": runs,
            }
            print(f"{mode}: median {statistics.median(runs):.0f} ms", file=sys.stderr)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
