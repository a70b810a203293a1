"""CPU per allowed check, in process: authgate's ASGI callable against the floor's, no server.

Calls each app directly with the scope granian hands over for an ingress-nginx auth
subrequest (valid app cookie, allowed) and reports the CPU time (``time.process_time``)
per call, best of several rounds: what authgate's own code costs on top of the floor's, the
number item 1 of issue 13 is about, free of the server's, nginx's and the machine's noise.
"authgate" asks the same request again and again, as a proxy does (answered with the allow
kept for it, ``forward.reuse``); "judged" forgets it every time, as for a new request.
``--profile`` prints the functions that take the most of it (cProfile, sorted by own time).

    .venv/bin/python -m bench.hot_loop [--checks 20000] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.floor_app import FLOOR_COOKIE
from bench.floor_app import app as floor_app

PREFIX = "/outpost.goauthentik.io"
APP_HOST = "app-hot.test"
Scope = dict[str, Any]
App = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


def nginx_scope(cookie: bytes) -> Scope:
    """What granian hands authgate for ingress-nginx's auth subrequest (seed 1's shape)."""
    path = f"{PREFIX}/auth/nginx"
    headers = [
        (b"host", b"authgate.authgate.svc.cluster.local"),
        (b"x-request-id", b"5b1d2a8e0f3c4d5e6f708192a3b4c5d6"),
        (b"x-original-url", f"http://{APP_HOST}/static/app.js?v=3".encode()),
        (b"x-original-method", b"GET"),
        (b"x-sent-from", b"nginx-ingress-controller"),
        (b"x-real-ip", b"10.1.2.3"),
        (b"x-forwarded-for", b"10.1.2.3"),
        (b"x-auth-request-redirect", b"/static/app.js?v=3"),
        (b"connection", b"close"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"accept-language", b"en-GB,en;q=0.9"),
        (b"referer", f"http://{APP_HOST}/".encode()),
        (b"sec-fetch-mode", b"no-cors"),
        (b"cookie", cookie),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 9000),
        "client": ("127.0.0.1", 40000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def run(app: App, scope: Scope, checks: int) -> tuple[float, list[Any]]:
    """CPU seconds per check over ``checks`` calls; the messages of the last one."""
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.process_time()
    for _ in range(checks):
        sent.clear()
        await app(scope, _receive, send)
    return (time.process_time() - started) / checks, list(sent)


async def authgate_app(workdir: Path) -> tuple[App, bytes, Callable[[], Awaitable[None]]]:
    """An authgate app on a fresh SQLite store with one user signed in to one app: the app,
    the Cookie header of that session, and what closes the store."""
    from authgate.accounts.passwords import hash_password_async
    from authgate.config import load_settings
    from authgate.forward.cookies import app_cookie_name
    from authgate.server import create_app
    from authgate.storage.migrate import upgrade
    from authgate.web.runtime import Runtime

    settings = load_settings(
        {
            "AUTHGATE_DATA_DIR": str(workdir),
            "AUTHGATE_PUBLIC_URL": "http://auth.test",
            "AUTHGATE_LOG_LEVEL": "warning",
        }
    )
    runtime = Runtime(settings)
    await upgrade(runtime.store.engine)
    await runtime.store.add_user(
        "bench", email="b@x.test", name="Bench", password_hash=await hash_password_async("x")
    )
    await runtime.store.add_app("hot", url=f"http://{APP_HOST}", name="Hot")
    await runtime.reload()
    app = create_app(settings, runtime)
    cookie = await _app_session_cookie(runtime, "bench", "hot")
    view = runtime.gate.index.by_host[APP_HOST]
    header = f"_ga=GA1.1.123; {app_cookie_name(view)}={cookie}; theme=dark".encode()
    return app, header, runtime.store.close


async def _app_session_cookie(runtime: Any, username: str, slug: str) -> str:
    """A signed app cookie for a new app session of ``username`` (what the callback sets)."""
    store = runtime.store
    user = await store.get_user(username)
    app = await store.get_app(slug)
    portal = await store.create_session(user.id, kind="portal", lifetime=3600, amr=("pwd",))
    session = await store.create_session(
        user.id, kind="app", lifetime=3600, parent_id=portal, app_id=app.id, amr=("pwd",)
    )
    signed: str = runtime.gate.signer.sign(session)
    return signed


def _judging_every_time(app: Any) -> App:
    """``app`` with nothing kept from one check to the next (``forward.reuse``): what a check
    costs when it is judged afresh, as the first request of its kind always is."""

    async def judged(scope: Scope, receive: Any, send: Any) -> None:
        app.forward.recent._kept.clear()
        await app(scope, receive, send)

    return judged


def report(name: str, per_check: list[float], floor: float) -> str:
    best = min(per_check)
    return (
        f"{name:9s} {best * 1e6:7.1f} µs/check (rounds: "
        + ", ".join(f"{r * 1e6:.1f}" for r in per_check)
        + f")  {best / floor:.2f} x floor"
    )


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app, cookie, close = await authgate_app(Path(tmp))
        try:
            scope = nginx_scope(cookie)
            _, sent = await run(app, scope, 2)
            status = sent[0]["status"]
            if status != 200:
                print(f"authgate answered {status}, not 200: {sent}", file=sys.stderr)
                return 1
            floor_scope = nginx_scope(FLOOR_COOKIE)
            floors, ours = [], []
            for _ in range(args.rounds):
                floors.append((await run(floor_app, floor_scope, args.checks))[0])
                ours.append((await run(app, scope, args.checks))[0])
            judged = []
            for _ in range(args.rounds):
                judged.append((await run(_judging_every_time(app), scope, args.checks))[0])
            floor = min(floors)
            print(report("floor", floors, floor))
            print(report("authgate", ours, floor))
            print(report("judged", judged, floor))
            print(f"authgate - floor: {(min(ours) - floor) * 1e6:.1f} µs/check")
            print(f"judged afresh - floor: {(min(judged) - floor) * 1e6:.1f} µs/check")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await run(app, scope, args.checks)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        finally:
            await close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
