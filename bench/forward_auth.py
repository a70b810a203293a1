"""Forward-auth load benchmark through real proxies: ``make bench``.

Starts, on 127.0.0.1 only, the echo app (the protected upstream), authgate, nginx in the
ingress-nginx shape of seed 000 and Traefik with seed 003's forwardAuth middleware (the
configurations come from ``tests/e2e/proxyconf.py``), logs in once through the real flow with
httpx, then drives each scenario with ``wrk`` (a short warm-up, then a bounded measured run).

Prints one JSON document to stdout and writes it to ``bench/results/<timestamp>.json``.
Progress goes to stderr. Every server is stopped at the end, also on Ctrl-C, SIGTERM or a
failure; a scenario that fails is reported with its error and the run goes on.

See ``bench/README.md`` for what each number means.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # bench/ and tests/e2e/ (the servers it starts) as packages

from bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
