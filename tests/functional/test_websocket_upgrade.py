"""Issue 9, defect 8: a WebSocket upgrade is judged as the GET it is, on every dialect.

Caddy's ``forward_auth`` (and Traefik v2) copy the client's ``Upgrade``/``Connection`` into
the check; an ASGI server with WebSockets on then hands authgate a ``websocket`` scope. The
answer must be the very answer the plain GET gets: same status, headers and body, as plain
HTTP, never a 101. Checked in-process (the ``websocket`` scope itself) and through real
uvicorn and granian servers running the app in this event loop.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import httpx
import pytest

from authgate.forward.endpoint import _warn_no_websocket_response
from authgate.storage.store import RuleSpec
from tests.functional.conftest import PREFIX, Harness
from tests.functional.dialects import DIALECTS, AskResult, ask
from tests.functional.handshake import (
    CLOSED_BEFORE_ACCEPT,
    UPGRADE,
    HandshakeTransport,
    ToServer,
    serving,
)

# app1.test: bound to group staff (alice is in it, not in ops); ^/public is open; rules
# (see session_cookies): /admin for group ops only, /internal denied to everyone
H = "app1.test"
# what a browser's page may add to its handshake (it sends no Accept naming text/html)
BROWSER_WS = {
    "origin": f"http://{H}",
    "sec-fetch-mode": "websocket",
    "sec-fetch-dest": "websocket",
    "sec-fetch-site": "same-origin",
    "cache-control": "no-cache",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36",
}
NAVIGATE = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}
# (who, host, uri, extra headers, expected outcome on the dialects that answer the client)
CASES = [
    ("anonymous", H, "/chat", {}, "login"),
    ("anonymous", H, "/chat", NAVIGATE, "login"),
    ("anonymous", H, "/chat", BROWSER_WS, "login"),
    ("anonymous", H, "/public/chat?room=1", BROWSER_WS, "allow"),
    ("alice", H, "/chat?room=1", BROWSER_WS, "allow"),
    ("alice", H, "/admin/chat", BROWSER_WS, "deny"),
    ("alice", H, "/admin/chat", NAVIGATE, "deny"),
    ("anonymous", H, "/admin/chat", BROWSER_WS, "login"),  # rule 1 asks for group ops
    ("anonymous", H, "/internal/chat", BROWSER_WS, "deny"),  # a deny judged before login
    ("anonymous", "nope.test", "/chat", BROWSER_WS, "unknown"),
    ("anonymous", H, "/public/chat", {"x-authentik-username": "admin"}, "bad"),
    ("spoiled", H, "/chat", BROWSER_WS, "login"),
]
SERVER_HEADERS = {"date", "server", "connection", "upgrade", "sec-websocket-accept"}
DECISION_ID = re.compile(rb"\b[0-9a-f]{12}\b")


def expected(dialect: str, who: str, outcome: str) -> str:
    """nginx can only say 200, 401 and 403; a signed-in user whom policy denies gets 401."""
    if dialect == "nginx" and outcome in ("unknown", "bad"):
        return "login"
    if dialect == "nginx" and outcome == "deny" and who != "anonymous":
        return "login"
    return outcome


def wire(
    response: httpx.Response, like: httpx.Response | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer as a proxy reads it, without what the server adds itself and with the
    parts that differ per decision (its id, the signed token's time) masked.

    uvicorn (the websockets library) labels a handshake answer that has no Content-Type
    ``text/plain``: that one is ignored when the plain answer ``like`` has none either.
    """
    server_added = set(SERVER_HEADERS)
    if like is not None and "content-type" not in like.headers:
        server_added.add("content-type")
    headers = sorted(
        (name, "<jwt>" if name == "x-authentik-jwt" and value else value)
        for name, value in response.headers.multi_items()
        if name not in server_added
    )
    return response.status_code, headers, DECISION_ID.sub(b"<id>", response.content)


async def session_cookies(harness: Harness) -> dict[str, str]:
    """The Cookie header a browser sends to app1.test: none, alice's, a spoiled one; and the
    rules in place."""
    store = harness.runtime.store
    await store.add_rule("app1", RuleSpec("allow", path_prefix="/admin", groups=("ops",)))
    await store.add_rule("app1", RuleSpec("deny", path_prefix="/admin"))
    await store.add_rule("app1", RuleSpec("deny", path_prefix="/internal"))
    await harness.runtime.reload()
    first = await harness.check(H, "/")
    await harness.login(first.headers["location"], username="alice")
    session = [c for c in harness.client.cookies.jar if c.domain == H and c.name == "authgate_app1"]
    assert len(session) == 1, list(harness.client.cookies.jar)
    name, value = session[0].name, session[0].value or ""
    harness.client.cookies.clear()
    return {"anonymous": "", "alice": f"{name}={value}", "spoiled": f"{name}={value[:-4]}AAAA"}


async def compare(
    plain: httpx.AsyncClient,
    upgraded: httpx.AsyncClient,
    cookies: dict[str, str],
    dialects: Iterable[str] = DIALECTS,
    upgrade: dict[str, str] | None = None,
) -> list[str]:
    """Every case through ``plain`` and ``upgraded``: the problems found, if any."""
    problems: list[str] = []
    for dialect in dialects:
        for who, host, uri, extra, outcome in CASES:
            headers = {**extra, **({"cookie": cookies[who]} if cookies[who] else {})}
            case = f"{dialect} {who} {host}{uri} {sorted(extra)}"
            get = await ask(plain, dialect, "GET", host, uri, headers)
            up = await ask(upgraded, dialect, "GET", host, uri, {**headers, **(upgrade or {})})
            for label, result in (("GET", get), ("upgrade", up)):
                if result.outcome != expected(dialect, who, outcome):
                    problems.append(f"{case}: {label} -> {describe(result)}")
            if wire(get.response) != wire(up.response, like=get.response):
                problems.append(
                    f"{case}: the upgrade got another answer\n  GET:     {wire(get.response)}"
                    f"\n  upgrade: {wire(up.response, like=get.response)}"
                )
    return problems


def describe(result: AskResult) -> str:
    response = result.response
    return f"{result.outcome} ({response.status_code} {response.content[:200]!r})"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_websocket_scope_gets_the_answer_of_the_plain_get(
    harness: Harness, dialect: str
) -> None:
    cookies = await session_cookies(harness)
    upgraded = httpx.AsyncClient(transport=HandshakeTransport(harness.app))
    async with httpx.AsyncClient(transport=harness.client._transport) as plain, upgraded:
        problems = await compare(plain, upgraded, cookies, [dialect], UPGRADE)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
async def test_real_server_answers_an_upgraded_check_as_plain_http(
    harness: Harness, server: str
) -> None:
    """The servers run with WebSockets on, as when run directly: the app itself must answer
    the handshake with plain HTTP (granian adds its own upgrade headers, ignored here)."""
    cookies = await session_cookies(harness)
    async with serving(harness.app, server) as port:
        plain = httpx.AsyncClient(transport=ToServer(port))
        upgraded = httpx.AsyncClient(transport=ToServer(port))
        async with plain, upgraded:
            problems = await compare(plain, upgraded, cookies, DIALECTS, UPGRADE)
            elsewhere = await upgraded.get(f"http://auth.test{PREFIX}/start", headers=UPGRADE)
    assert not problems, "\n".join(problems)
    assert elsewhere.status_code == 404, elsewhere.text


async def test_server_without_the_denial_extension_refuses_every_upgraded_check(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Never a 101 and never an allow: with no way to answer plain HTTP, the app closes the
    handshake unaccepted, which the server turns into a 403, and says why once."""
    cookies = await session_cookies(harness)
    transport = HandshakeTransport(harness.app, denial_response=False)
    caplog.set_level(logging.WARNING, logger="authgate.forward")
    _warn_no_websocket_response.cache_clear()  # said once per process: this test's process
    async with httpx.AsyncClient(transport=transport) as upgraded:
        for dialect in DIALECTS:
            for who, uri in (("alice", "/chat"), ("anonymous", "/public/chat")):
                headers = {**UPGRADE, **({"cookie": cookies[who]} if cookies[who] else {})}
                result = await ask(upgraded, dialect, "GET", H, uri, headers)
                assert result.response.status_code == CLOSED_BEFORE_ACCEPT, (dialect, who)
                assert [m["type"] for m in transport.sent] == ["websocket.close"]
    warnings = [r for r in caplog.records if "websocket.http.response" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]


PORTAL_PATHS = [
    "/",
    "/login",
    "/logout",
    "/static/authgate.css",
    "/static/missing.css",
    "/.well-known/jwks.json",
    f"{PREFIX}/start?rd=http%3A%2F%2Fapp1.test%2F",
    f"{PREFIX}/callback?code=x&state=y",
    f"{PREFIX}/sign_out",
    f"{PREFIX}/ping",
    f"{PREFIX}/auth",
    "/nothing/here",
]


@pytest.mark.parametrize("path", PORTAL_PATHS)
async def test_websocket_to_any_other_page_is_refused_cleanly(harness: Harness, path: str) -> None:
    for denial_response, status in ((True, 404), (False, CLOSED_BEFORE_ACCEPT)):
        transport = HandshakeTransport(harness.app, denial_response=denial_response)
        async with httpx.AsyncClient(transport=transport) as upgraded:
            response = await upgraded.get(f"http://auth.test{path}", headers=UPGRADE)
        assert response.status_code == status, (path, denial_response, response.content)
        assert "websocket.accept" not in [m["type"] for m in transport.sent]
    assert response.status_code != 101
    async with httpx.AsyncClient(transport=HandshakeTransport(harness.app)) as upgraded:
        refused = await upgraded.get(f"http://auth.test{path}", headers=UPGRADE)
    assert refused.json() == {"error": "authgate serves no WebSocket at this address"}


async def test_unknown_dialect_over_websocket_is_the_plain_404(harness: Harness) -> None:
    url = f"http://authgate.svc{PREFIX}/auth/haproxy"
    plain = await harness.client.get(url)
    async with httpx.AsyncClient(transport=HandshakeTransport(harness.app)) as upgraded:
        up = await upgraded.get(url, headers=UPGRADE)
    assert (up.status_code, up.content) == (plain.status_code, plain.content) == (404, up.content)
    assert b"haproxy" in up.content


async def test_client_gone_before_the_handshake_gets_nothing(harness: Harness) -> None:
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.disconnect", "code": 1006}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = HandshakeTransport(harness.app)._scope(
        httpx.Request("GET", f"http://{H}{PREFIX}/auth/caddy", headers={"host": H, **UPGRADE})
    )
    await harness.app(scope, receive, send)
    assert sent == []
