"""Hypothesis against every dialect's parse step and the judgement behind it: never a 5xx,
never an allow without a session unless every reading of the path lies under app1's skip
path ``^/public`` (the oracle, tests/functional/path_readings.py, is a model of its own and
calls none of authgate's path code). 2,500 cases per dialect, 10,000 in all."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.conftest import Harness
from tests.functional.path_readings import may_be_open

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
SEGMENTS = st.sampled_from(
    ["public", "admin", "..", ".", "%2e%2e", ".%2E", "..;", ".;x", "..%3B", "%252e%252e", "x"]
)
SEPARATORS = st.sampled_from(["/", "//", "%2F", "%2f", "\\", "%5C", "%252F", ";/"])
TARGETS = st.sampled_from(["public", "public/x", "admin"])
#: Paths of whole segments and spellings of a separator that end at a target: dot segments
#: meet encoded slashes and params far more often than loose pieces would make them meet.
SEGMENTED = st.tuples(
    SEGMENTS, st.lists(st.tuples(SEPARATORS, SEGMENTS), max_size=4), SEPARATORS, TARGETS
).map(lambda t: "/" + t[0] + "".join(sep + name for sep, name in t[1]) + t[2] + t[3])
URIS = st.one_of(PATHS, PATHS.map(lambda p: "/" + p), SEGMENTED)
DIALECTS = ["nginx", "traefik", "caddy", "envoy"]
CASES = 2500  # per dialect
#: The only way in without a session in this harness: app1's skip path ``^/public``.
SKIP_PREFIX = "/public"


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


def ask(harness: Harness, dialect: str, method: str, host: str, uri: str) -> int:
    """The status ``dialect``'s endpoint answers for this request, as its proxy sends it."""
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
    return asyncio.get_event_loop().run_until_complete(call(harness.app, path, headers))


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=METHODS, host=HOSTS, uri=URIS)
def test_no_request_gets_past_without_a_session_but_by_the_skip_path(
    sync_harness: Harness, dialect: str, method: str, host: str, uri: str
) -> None:
    status = ask(sync_harness, dialect, method, host, uri)
    assert status in (200, 302, 400, 401, 403, 404), status
    if status == 200:
        assert may_be_open(uri, SKIP_PREFIX), f"allowed without a session: {uri!r} via {dialect}"


@pytest.mark.parametrize(
    ("uri", "open_"),
    [
        ("/public/x", True),
        ("/publicity", True),  # the skip path is the regex ^/public
        ("/%70ublic", True),
        ("//public;v=1/x?next=/admin", True),
        ("/\\public", True),  # a back slash that changes nothing is a slash
        ("/PUBLIC", False),
        ("public", False),
        ("/admin/public", False),
        ("/public/../admin", False),
        ("/public/..;/admin", False),
        ("/public%2F..%2Fadmin", False),
        ("/admin%2F..%2Fpublic", False),
        ("/admin\\..\\public", False),
        ("/public/%252e%252e/admin", False),
        ("/admin%00/../public", False),
        ("/pub lic", False),
    ],
)
def test_the_oracle_reads_paths_as_the_docs_say(uri: str, open_: bool) -> None:
    assert may_be_open(uri, SKIP_PREFIX) is open_
