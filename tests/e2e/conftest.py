"""Fixtures for the end-to-end tests: real servers, a browser-like HTTP client, Chromium.

Names under ``.test`` resolve to 127.0.0.1 inside this process (``socket.getaddrinfo`` is
wrapped for the session) and inside Chromium (``--host-resolver-rules``). Every app host and
the portal (``auth.test``) are therefore reached by name, so cookies are kept per host as a
browser keeps them; cookies ignore ports, which is why every name is distinct.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.forms import Form, find_login_form

from .proxyconf import caddyfile, ingress_nginx_conf, traefik_dynamic
from .servers import Authgate, Caddy, Echo, Nginx, Process, Traefik, free_port

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
REDIRECTS = {301, 302, 303, 307, 308}
OUTPOST = "/outpost.goauthentik.io"


# --------------------------------------------------------------------------------------------
# name resolution: *.test -> 127.0.0.1
# --------------------------------------------------------------------------------------------


def is_test_name(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and host.rstrip(".").lower().endswith(".test")


@pytest.fixture(scope="session", autouse=True)
def resolve_test_names() -> Iterator[None]:
    """Point every ``*.test`` name at 127.0.0.1 for this process; /etc/hosts stays untouched."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if is_test_name(host) else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


# --------------------------------------------------------------------------------------------
# a browser-like client: manual redirects, a record of every hop
# --------------------------------------------------------------------------------------------


def make_client(local_address: str | None = None) -> httpx.Client:
    """An httpx client that behaves like a browser tab: keeps cookies, follows nothing itself.

    ``local_address="127.0.0.2"`` makes it a client that is not the trusted proxy (127.0.0.1).
    """
    return httpx.Client(
        transport=httpx.HTTPTransport(local_address=local_address),
        follow_redirects=False,
        trust_env=False,
        timeout=15.0,
        headers={"Accept": BROWSER_ACCEPT, "User-Agent": "authgate-e2e (like a browser)"},
    )


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client() as c:
        yield c


@pytest.fixture
def client_factory() -> Iterator[Callable[..., httpx.Client]]:
    """Fresh browser-like clients (an empty cookie jar each), closed after the test."""
    clients: list[httpx.Client] = []

    def make(local_address: str | None = None) -> httpx.Client:
        clients.append(make_client(local_address))
        return clients[-1]

    yield make
    for c in clients:
        c.close()


def browser_resolve(base: httpx.URL, location: str) -> httpx.URL | str:
    """Resolve a ``Location`` the way a browser does (WHATWG URL rules, for http(s) bases).

    Tabs and newlines vanish, leading/trailing C0 controls and spaces are stripped, and a
    backslash counts as a slash, so ``/\\evil.test`` is ``//evil.test``. Returns the URL, or
    the cleaned text when it is no http(s) URL (``javascript:``, a bad host, ...).
    """
    cleaned = "".join(ch for ch in location if ch not in "\t\n\r").strip("\x00 \x1f")
    scheme, sep, _ = cleaned.partition(":")
    is_special = not sep or scheme.lower() in ("http", "https") or "/" in scheme
    if is_special:
        cleaned = cleaned.replace("\\", "/")
    try:
        url = base.join(cleaned)
    except httpx.InvalidURL:
        return cleaned
    if url.scheme not in ("http", "https") or not url.host:
        return cleaned
    return url


def origin(url: httpx.URL) -> str:
    """``host:port`` as cookies and the tests compare it (lower case, default port dropped)."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = url.port if url.port not in (None, default) else None
    host = url.host.lower().rstrip(".")
    return f"{host}:{port}" if port else host


@dataclass
class Visit:
    """Every response of one navigation, the redirects included, in order."""

    responses: list[httpx.Response] = field(default_factory=list)
    left_for: str | None = None  # a redirect target outside ``allowed``; not requested

    @property
    def final(self) -> httpx.Response:
        return self.responses[-1]

    @property
    def urls(self) -> list[str]:
        return [str(r.request.url) for r in self.responses]

    def describe(self) -> str:
        hops = [f"  {r.request.method} {r.request.url} -> {r.status_code}" for r in self.responses]
        if self.left_for is not None:
            hops.append(f"  (not followed) -> {self.left_for!r}")
        return "\n".join(hops)

    def statuses(self) -> list[int]:
        return [r.status_code for r in self.responses]


def browse(
    client: httpx.Client,
    url: str | httpx.URL,
    *,
    method: str = "GET",
    data: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    allowed: set[str] | None = None,
    max_hops: int = 20,
) -> Visit:
    """Request ``url`` and follow redirects like a browser, recording every hop.

    With ``allowed`` (``host:port`` origins), a redirect to any other place is recorded in
    ``left_for`` and not requested.
    """
    visit = Visit()
    request_url: httpx.URL | str = url
    for _ in range(max_hops):
        response = client.request(method, request_url, data=data, headers=headers)
        visit.responses.append(response)
        location = response.headers.get("location")
        if response.status_code not in REDIRECTS or location is None:
            return visit
        target = browser_resolve(response.request.url, location)
        if isinstance(target, str) or (allowed is not None and origin(target) not in allowed):
            visit.left_for = str(target)
            return visit
        if response.status_code in (301, 302, 303) and method == "POST":
            method, data = "GET", None
        request_url = target
    raise AssertionError(f"more than {max_hops} redirects:\n{visit.describe()}")


# --------------------------------------------------------------------------------------------
# the portal's login form, read generically
# --------------------------------------------------------------------------------------------


def login_form(response: httpx.Response) -> Form | None:
    """The form on this page that asks for a password, if there is one."""
    if "html" not in response.headers.get("content-type", ""):
        return None
    return find_login_form(response.text)


def login(
    client: httpx.Client,
    start_response: httpx.Response,
    username: str,
    password: str,
    *,
    allowed: set[str] | None = None,
) -> Visit:
    """Fill and submit the login form shown by ``start_response``; follow where it leads.

    The form's action, method and hidden fields (CSRF and the like) come from the page, so
    nothing here knows the portal's URLs. Returns the navigation from the submit on.
    """
    form = login_form(start_response)
    assert form is not None, (
        f"no login form at {start_response.request.url} "
        f"({start_response.status_code}):\n{start_response.text[:2000]}"
    )
    assert "username" in form.names, f"the login form has no username field: {form.names}"
    fields = {**form.fields, "username": username, "password": password}
    action = start_response.request.url.join(form.action) if form.action else None
    target = action or start_response.request.url
    if form.method == "POST":
        return browse(client, target, method="POST", data=fields, allowed=allowed)
    return browse(client, target.copy_merge_params(fields), allowed=allowed)


# --------------------------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Echo]:
    """The echo app (authgate.demo.whoami): stateless, so one for the whole run."""
    with Echo(tmp_path_factory.mktemp("echo")) as server:
        yield server


@pytest.fixture
def authgate(tmp_path: Path) -> Iterator[Authgate]:
    """A running authgate with a fresh data dir of its own."""
    with Authgate(tmp_path / "authgate") as server:
        yield server


@dataclass
class Proxy:
    """A running proxy in front of ``hosts``; the browser reaches them on ``port``."""

    kind: str
    port: int
    server: Process

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def origin(self, host: str) -> str:
        return f"{host}:{self.port}"


def build_proxy(
    kind: str, workdir: Path, port: int, auth_port: int, apps: Sequence[tuple[str, int]]
) -> Process:
    """The server for proxy ``kind`` ("nginx", "traefik", "caddy"), configured, not started."""
    if kind == "nginx":
        return Nginx(ingress_nginx_conf(port, auth_port, apps), workdir, port)
    if kind == "traefik":
        return Traefik(traefik_dynamic(auth_port, apps), workdir, port)
    if kind == "caddy":
        return Caddy(caddyfile(port, auth_port, apps), workdir, port)
    raise ValueError(f"unknown proxy kind {kind!r}")


@contextlib.contextmanager
def proxy_factory(
    kind: str, tmp_path: Path, echo: Echo, authgate: Authgate
) -> Iterator[Callable[..., Proxy]]:
    """``start(hosts, port=None)`` runs proxy ``kind`` before ``authgate``; all stop on exit."""
    with contextlib.ExitStack() as stack:

        def start(hosts: Sequence[str], port: int | None = None) -> Proxy:
            port = port or free_port()
            apps = [(h, echo.port) for h in hosts]
            workdir = tmp_path / f"{kind}-{port}"
            server = stack.enter_context(build_proxy(kind, workdir, port, authgate.port, apps))
            return Proxy(kind, port, server)

        yield start


@pytest.fixture
def nginx_stack(tmp_path: Path, echo: Echo, authgate: Authgate) -> Iterator[Callable[..., Proxy]]:
    """``start(hosts, port=None)``: nginx in seed 000's ingress-nginx shape before authgate."""
    with proxy_factory("nginx", tmp_path, echo, authgate) as start:
        yield start


@pytest.fixture
def traefik_stack(tmp_path: Path, echo: Echo, authgate: Authgate) -> Iterator[Callable[..., Proxy]]:
    """``start(hosts, port=None)``: Traefik with seed 003's middleware before authgate."""
    with proxy_factory("traefik", tmp_path, echo, authgate) as start:
        yield start


@pytest.fixture
def caddy_stack(tmp_path: Path, echo: Echo, authgate: Authgate) -> Iterator[Callable[..., Proxy]]:
    """``start(hosts, port=None)``: Caddy ``forward_auth`` before authgate."""
    with proxy_factory("caddy", tmp_path, echo, authgate) as start:
        yield start


# --------------------------------------------------------------------------------------------
# Chromium through Playwright (sync API, used only from the test's own thread)
# --------------------------------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--host-resolver-rules=MAP *.test 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium_extra_args() -> list[str]:
    """More Chromium switches for ``browser_page``; a module overrides this fixture to add
    some (``--unsafely-treat-insecure-origin-as-secure=…`` for WebAuthn over plain http)."""
    return []


@pytest.fixture
def browser_page(tmp_path: Path, chromium_extra_args: list[str]) -> Iterator[Any]:
    """A fresh Chromium page (its own context, so its own cookies), closed after the test.

    Playwright's sync API must not run inside a running event loop and its objects belong to
    the thread that made them: browser tests are plain sync tests and this fixture is
    function-scoped, so everything happens in the test's thread with no loop running.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop running in this thread: the sync API may be used
    else:
        raise AssertionError("the browser fixture must be used from a sync test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*CHROMIUM_ARGS, *chromium_extra_args],
        )
        context = browser.new_context()
        context.set_default_timeout(15_000)
        page = context.new_page()
        console: list[str] = []  # shown with a failure: CSP and network refusals land here
        page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "last-page.png"))
            print(f"Chromium console (last page {page.url}):", *console, sep="\n  ")
            context.close()
            browser.close()


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``screenshot(page, "2-mfa")`` saves the page as a PNG under
    ``test-output/screenshots/<test>/`` (the run's artifacts, kept after the run so a person
    can look at the pages) and returns its path."""
    folder = ARTIFACTS / request.node.name.replace("/", "_").replace("[", "-").strip("]")

    def shoot(page: Any, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


def page_json(page: Any) -> dict[str, Any]:
    """The JSON document Chromium shows (the echo app's answer), parsed."""
    text: str = page.evaluate("() => document.body.innerText")
    start, end = text.find("{"), text.rfind("}")
    assert start >= 0 and end > start, f"no JSON on {page.url}:\n{text[:1500]}"
    data: dict[str, Any] = json.loads(text[start : end + 1])
    return data
