"""Issue 9, defect 8: WebSockets through nginx (ingress-nginx shape), Traefik and Caddy.

A WebSocket upgrade is judged as the GET it is. What reaches authgate differs per proxy
(observed here with a header-recording auth server):

* nginx's ``auth_request`` subrequest carries the client's ``Sec-WebSocket-*`` headers but
  ``Connection: close`` and no ``Upgrade``: a plain GET.
* Traefik v3 drops ``Upgrade``/``Connection`` from the check and sends
  ``X-Forwarded-Proto: ws``.
* Caddy's ``forward_auth`` copies ``Upgrade: websocket`` and ``Connection: Upgrade``: an ASGI
  server with WebSockets on hands authgate a ``websocket`` scope (before the fix: a 403 with
  an empty body, for a signed-in user too).

So Caddy runs before both servers authgate supports: granian (``authgate serve`` turns its
WebSockets off) and uvicorn (WebSockets on: authgate answers the handshake as plain HTTP).

The app ``chat``: ``^/public(/|$)`` open, ``/admin`` for group ``ops`` only. alice is in
``ops``, bob is not.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from .conftest import OUTPOST, browse, build_proxy, login, login_form, make_client, page_json
from .servers import Authgate, Echo, Process, free_port
from .test_access_rules import cli_ok
from .test_generated_configs import ALICE, HOST, KINDS, deployment

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
CHAT = "chat.test"
# what a browser page adds to its handshake (no Accept naming text/html)
BROWSER = {
    "Origin": f"http://{CHAT}",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36 authgate-e2e",
    "Cache-Control": "no-cache",
    "Pragma": "no-cache",
    "Accept-Language": "en",
    "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
}
UPGRADE = ("Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version")


@dataclass
class Stack:
    proxy_kind: str
    server: str
    port: int
    authgate: Authgate
    proxy: Process

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://{CHAT}:{self.port}{path}"

    @property
    def allowed(self) -> set[str]:
        return {f"{CHAT}:{self.port}", f"auth.test:{self.authgate.port}"}


# nginx and Traefik v3 never hand authgate an upgrade (see above): one server is enough
STACKS = [("nginx", "granian"), ("traefik", "granian"), ("caddy", "granian"), ("caddy", "uvicorn")]


@pytest.fixture(scope="module", params=STACKS, ids=["-".join(s) for s in STACKS])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, echo: Echo
) -> Iterator[Stack]:
    proxy_kind, server = request.param
    workdir = tmp_path_factory.mktemp(f"ws-{proxy_kind}-{server}")
    port = free_port()
    env = {"AUTHGATE_TRUSTED_PROXIES": "127.0.0.1/32", "AUTHGATE_SERVER": server}
    with Authgate(workdir / "authgate", env) as authgate:
        add_user = ["user", "add", "--password-stdin"]
        rule = ["app", "rule", "add", "chat", "--action"]
        cli_ok(
            authgate,
            [
                ([*add_user, "alice", "--group", "ops"], PASSWORD),
                ([*add_user, "bob", "--group", "staff"], PASSWORD),
                ["app", "add", "chat", "--url", f"http://{CHAT}:{port}"],
                [*rule, "bypass", "--path", "/public"],
                [*rule, "allow", "--path", "/admin", "--group", "ops"],
                [*rule, "deny", "--path", "/admin"],
            ],
        )
        proxy = build_proxy(
            proxy_kind, workdir / proxy_kind, port, authgate.port, [(CHAT, echo.port)]
        )
        with proxy:
            authgate.wait_for_app(f"{CHAT}:{port}")
            yield Stack(proxy_kind, server, port, authgate, proxy)


# --------------------------------------------------------------------------------------------
# a handshake as the browser sends it, and the answer as it comes back
# --------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def __str__(self) -> str:
        return f"{self.status} {self.headers} {self.body[:300]!r}"


def request(
    port: int, path: str, headers: dict[str, str], *, upgrade: bool, host: str = CHAT
) -> Answer:
    """One GET through the proxy, as the WebSocket handshake (``upgrade``) or without it;
    the first answer as it is (no redirect followed, a 101 not taken up)."""
    sent = {"Host": f"{host}:{port}", **headers}
    if upgrade:
        key = base64.b64encode(os.urandom(16)).decode()
        sent |= dict(zip(UPGRADE, ("websocket", "Upgrade", key, "13"), strict=True))
    conn = http.client.HTTPConnection(host, port, timeout=15)
    try:
        conn.request("GET", path, headers=sent)
        response = conn.getresponse()
        body = b"" if response.status == 101 else response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


def judged_like_get(stack: Stack, path: str, headers: dict[str, str]) -> Answer:
    """The handshake's answer, after checking it is no 101 and that the plain GET with the
    same headers gets the same status (and the same place to go)."""
    handshake = request(stack.port, path, headers, upgrade=True)
    get = request(stack.port, path, headers, upgrade=False)
    assert handshake.status != 101, f"{path}: the proxy upgraded: {handshake}"
    # a refusal that carries an accept key or an Upgrade is a half-done handshake (granian
    # with WebSockets on adds them to any answer it gives a handshake)
    leftovers = {"sec-websocket-accept", "upgrade"} & set(handshake.headers)
    assert not leftovers, f"{path}: the refusal carries {leftovers}: {handshake}"
    assert (handshake.status, handshake.headers.get("location")) == (
        get.status,
        get.headers.get("location"),
    ), f"{path}\n  upgrade: {handshake}\n  GET:     {get}"
    return handshake


def refusal(stack: Stack, who: str) -> set[int]:
    """How each proxy refuses a script's handshake: nginx turns authgate's 401 into the 302 to
    its auth-signin; Traefik and Caddy pass authgate's 401 (login) or 403 (policy) on."""
    if stack.proxy_kind == "nginx":
        return {302}
    return {401} if who == "anonymous" else {403}


def sign_in(client: httpx.Client, stack: Stack, user: str) -> str:
    """Log in through the proxy like a browser; the Cookie header the browser then sends."""
    first = browse(client, stack.url(), allowed=stack.allowed)
    assert login_form(first.final) is not None, first.describe()
    after = login(client, first.final, user, PASSWORD, allowed=stack.allowed)
    assert after.final.status_code == 200, after.describe()
    return "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.domain == CHAT)


def converse(stack: Stack, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """Open the WebSocket, check an echo round-trip; the handshake as the upstream saw it."""
    with ws_connect(
        stack.url(path, "ws"), additional_headers=headers, proxy=None, open_timeout=15
    ) as ws:
        ws.send("hello through the proxy")
        assert ws.recv(timeout=15) == "hello through the proxy"
        ws.send("whoami")
        seen: dict[str, Any] = json.loads(ws.recv(timeout=15))
    assert seen["headers"].get("upgrade", "").lower() == "websocket", seen
    return seen


# --------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------


def test_websocket_is_refused_before_login_and_works_after(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    refused = judged_like_get(stack, "/socket", BROWSER)
    assert refused.status in refusal(stack, "anonymous"), str(refused)
    if refused.status == 302:
        assert f"{OUTPOST}/start" in refused.headers["location"], str(refused)

    cookie = sign_in(client_factory(), stack, "alice")
    seen = converse(stack, "/socket?room=1", {**BROWSER, "Cookie": cookie})
    assert seen["path"] == "/socket" and seen["query"] == "room=1"
    assert seen["headers"]["x-authentik-username"] == "alice"
    assert seen["headers"]["x-authentik-groups"] == "ops"
    # and the plain GET with that cookie is let through too: the same judgement
    plain = request(stack.port, "/socket", {**BROWSER, "Cookie": cookie}, upgrade=False)
    assert plain.status == 200, str(plain)


def test_signed_in_user_whom_policy_denies_is_refused(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    cookie = sign_in(client_factory(), stack, "bob")
    refused = judged_like_get(stack, "/admin/socket", {**BROWSER, "Cookie": cookie})
    assert refused.status in refusal(stack, "bob"), str(refused)
    # bob may open the rest of the app, over WebSocket too
    assert (
        converse(stack, "/socket", {**BROWSER, "Cookie": cookie})["headers"]["x-authentik-username"]
        == "bob"
    )


def test_anonymous_upgrade_to_a_bypass_path_passes(stack: Stack) -> None:
    seen = converse(stack, "/public/socket", BROWSER)
    assert seen["path"] == "/public/socket"
    # an empty identity: nginx and Caddy send no empty header, Traefik sends it empty
    assert seen["headers"].get("x-authentik-username", "") == ""


def test_forged_identity_on_a_handshake_is_refused(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    cookie = sign_in(client_factory(), stack, "bob")
    forged = {**BROWSER, "Cookie": cookie, "X-authentik-username": "alice"}
    refused = judged_like_get(stack, "/admin/socket", forged)
    # nginx: authgate's 401 -> the signin redirect; Traefik and Caddy: authgate's 400
    assert refused.status == (302 if stack.proxy_kind == "nginx" else 400), str(refused)


# a page's WebSocket: opened and answered, or refused (Chromium tells a page no status)
OPEN_WEBSOCKET = """
(url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onopen = () => ws.send("whoami");
    ws.onmessage = (event) => { resolve({opened: true, data: event.data}); ws.close(); };
    ws.onclose = (event) => resolve({opened: false, code: event.code});
})
"""


@pytest.mark.browser
def test_chromium_page_opens_a_websocket_only_after_login(stack: Stack, browser_page: Any) -> None:
    page = browser_page
    page.goto(stack.url("/public/page"))  # a page of the app, open without login
    before = page.evaluate(OPEN_WEBSOCKET, stack.url("/socket", "ws"))
    assert before == {"opened": False, "code": 1006}, before

    page.goto(stack.url("/page"))
    page.wait_for_selector("input[name=password]")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(stack.url("/page"))
    assert page_json(page)["headers"]["x-authentik-username"] == "alice"

    after = page.evaluate(OPEN_WEBSOCKET, stack.url("/socket", "ws"))
    assert after["opened"], after
    seen = json.loads(after["data"])
    assert seen["path"] == "/socket"
    assert seen["headers"]["x-authentik-username"] == "alice"
    assert seen["headers"]["origin"] == f"http://{CHAT}:{stack.port}"


@pytest.mark.parametrize("kind", KINDS)
def test_generated_configs_pass_websockets(
    kind: str, tmp_path: Path, echo: Echo, authgate: Authgate
) -> None:
    """What ``authgate manifests gen`` writes carries an upgrade to the app after login."""
    with deployment(kind, tmp_path, echo, authgate) as port, make_client() as client:
        refused = request(port, "/socket", BROWSER, upgrade=True, host=HOST)
        assert refused.status in (302, 401), str(refused)

        allowed = {f"{HOST}:{port}", f"auth.test:{authgate.port}"}
        first = browse(client, f"http://{HOST}:{port}/", allowed=allowed)
        assert login(client, first.final, *ALICE, allowed=allowed).final.status_code == 200
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.domain == HOST)
        with ws_connect(
            f"ws://{HOST}:{port}/socket",
            additional_headers={"Cookie": cookie},
            proxy=None,
            open_timeout=15,
        ) as ws:
            ws.send("whoami")
            seen = json.loads(ws.recv(timeout=15))
    assert seen["headers"]["x-authentik-username"] == ALICE[0]
