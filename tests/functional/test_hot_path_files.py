"""How many of authgate's files one allowed ``auth/nginx`` check runs code in (after one
warm-up check: the session is in memory). Judged: the 8 of issue 10 and ``forward/reuse.py``
keeping its answer. Asked again, as proxies ask (issue 13): the 4 that give the kept answer
back."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import authgate
from tests.functional.conftest import PREFIX, Harness

SRC = str(Path(authgate.__file__).resolve().parent) + "/"
# issue 10: server, endpoint, dialect, request, gate, policy, sessions, answers; and reuse
MOST = 9


async def files_one_check_runs(harness: Harness, cookie: str) -> set[str]:
    path = f"{PREFIX}/auth/nginx"
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "client": ("127.0.0.1", 5555),
        "headers": [
            (b"host", b"authgate.internal"),
            (b"x-original-url", b"http://app1.test/x"),
            (b"cookie", cookie.encode()),
        ],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    files: set[str] = set()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        name = frame.f_code.co_filename
        if event == "call" and name.startswith(SRC):
            files.add(name[len(SRC) :])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        await harness.app(scope, receive, send)
    finally:
        sys.setprofile(previous)
    assert sent[0]["status"] == 200, sent
    return files


async def test_an_allowed_check_runs_code_in_few_files(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    jar = harness.client.cookies.jar
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar if c.domain == "app1.test")
    await files_one_check_runs(harness, cookie)  # warm-up: the session comes from the store
    harness.app.forward.recent._kept.clear()  # judged, as a request asked for the first time
    files = await files_one_check_runs(harness, cookie)
    assert len(files) <= MOST, sorted(files)
    assert not any(name.startswith(("storage/", "portal/", "flow/")) for name in files), files
    # asked again: the answer kept for it (forward/reuse.py), the session asked of its cache
    again = await files_one_check_runs(harness, cookie)
    assert again == {
        "server.py",
        "forward/endpoint.py",
        "forward/reuse.py",
        "forward/sessions.py",
    }, sorted(again)
