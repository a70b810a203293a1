"""Hypothesis against every dialect's parse step and the judgement behind it: never a 5xx,
never an allow for a protected path without a session. 2,500 cases per dialect."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authgate.forward.paths import canonical_path, split_uri
from tests.functional.conftest import Harness

LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)
PIECES = st.sampled_from(
    [
        "/",
        "//",
        ".",
        "..",
        "%2e",
        "%2E",
        "%2f",
        "%2F",
        "%5c",
        "%00",
        "%",
        "%zz",
        ";",
        "?",
        "#",
        "\\",
        "public",
        "admin",
        "PUBLIC",
        "%70ublic",
        "x",
        " ",
        "\t",
        "\r\n",
        "@",
        ":",
        "ü",
    ]
)
PATHS = st.lists(st.one_of(PIECES, st.text(LATIN1, max_size=3)), max_size=12).map("".join)
HOSTS = st.one_of(
    st.sampled_from(
        [
            "app1.test",
            "APP1.test.",
            "app1.test:80",
            "app1.test:443",
            "app1.test:8",
            "app1.test.evil.test",
            "",
            "app1.test@evil.test",
            "[::1]",
            "app1.test, x",
        ]
    ),
    st.text(LATIN1, max_size=20),
)
METHODS = st.one_of(
    st.sampled_from(["GET", "get", "POST", "OPTIONS", "DELETE"]), st.text(LATIN1, max_size=8)
)
CASES = 2500


def protected(uri: str) -> bool:
    path = canonical_path(split_uri(uri)[0]) if uri.startswith("/") else None
    return path is None or not path.startswith("/public")


async def call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 4000),
        "server": ("authgate", 9000),
        "scheme": "http",
        "http_version": "1.1",
    }
    await app(scope, receive, send)
    return status


def _b(value: str) -> bytes:
    return value.encode("latin-1")


def run_case(harness: Harness, dialect: str, method: str, host: str, uri: str) -> None:
    base = "/outpost.goauthentik.io/auth/"
    if dialect == "nginx":
        headers = [
            (b"x-original-url", _b(f"http://{host}{uri}")),
            (b"x-original-method", _b(method)),
        ]
        path = base + "nginx"
    elif dialect == "envoy":
        headers = [(b"host", _b(host))]
        path = base + "envoy" + uri
    else:
        headers = [
            (b"x-forwarded-host", _b(host)),
            (b"x-forwarded-uri", _b(uri)),
            (b"x-forwarded-method", _b(method)),
            (b"host", _b(host)),
        ]
        path = base + dialect
    status = asyncio.get_event_loop().run_until_complete(call(harness.app, path, headers))
    assert status in (200, 302, 400, 401, 403, 404), status
    if status == 200:
        assert not protected(uri), f"allowed a protected path without a session: {uri!r}"


def fuzz(dialect: str) -> Any:
    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(method=METHODS, host=HOSTS, uri=st.one_of(PATHS, PATHS.map(lambda p: "/" + p)))
    def case(harness: Harness, method: str, host: str, uri: str) -> None:
        run_case(harness, dialect, method, host, uri)

    return case


def test_fuzz_nginx(sync_harness: Harness) -> None:
    fuzz("nginx")(sync_harness)


def test_fuzz_traefik(sync_harness: Harness) -> None:
    fuzz("traefik")(sync_harness)


def test_fuzz_caddy(sync_harness: Harness) -> None:
    fuzz("caddy")(sync_harness)


def test_fuzz_envoy(sync_harness: Harness) -> None:
    fuzz("envoy")(sync_harness)
