"""Single sign-on through real proxies in the seeds' shapes: ingress-nginx (000) and Traefik (003).

Each proxy gets one authgate (fresh data dir) for this module, with two registered apps on
two domains, ``app1.test`` and ``app2.test``, both bound to the group ``staff``, and a third
host, ``app3.test``, that the proxy serves but nobody registered. Every test browses with
fresh clients, so tests share no cookies. The "browser" is an httpx client that follows
redirects the way a browser does and records every hop; the last test drives Chromium
against the same deployments, and one behind Caddy.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from .conftest import (
    OUTPOST,
    Proxy,
    Visit,
    browse,
    browser_resolve,
    login,
    login_form,
    origin,
    page_json,
    proxy_factory,
)
from .servers import Authgate, Echo, free_port

pytestmark = pytest.mark.e2e

GROUP = "staff"
ALICE = ("alice", "correct horse battery staple")
BOB = ("bob", "tr0ub4dor&3 but longer")
APP1, APP2, UNREGISTERED = "app1.test", "app2.test", "app3.test"


@dataclass
class Deployment:
    """authgate, the proxy in front of the apps, and where the browser finds each."""

    kind: str
    proxy: Proxy
    authgate: Authgate

    def url(self, host: str, path: str = "/") -> str:
        return self.proxy.url(host, path)

    @property
    def portal(self) -> str:
        return f"auth.test:{self.authgate.port}"

    def allowed(self, *hosts: str) -> set[str]:
        """The only places a browser may be sent to while using ``hosts``: them and the portal."""
        return {self.proxy.origin(h) for h in hosts} | {self.portal}


def deploy(kind: str, authgate: Authgate, start: Callable[..., Proxy]) -> Deployment:
    """Users alice (in staff) and bob, apps app1 and app2 bound to staff, the proxy started."""
    port = free_port()
    alice = ["--email", "alice@example.test", "--name", "Alice Liddell", "--group", GROUP]
    bob = ["--email", "bob@example.test", "--name", "Bob Outsider"]
    authgate.cli("group", "add", GROUP)
    authgate.cli("user", "add", ALICE[0], *alice, "--password-stdin", input=ALICE[1])
    authgate.cli("user", "add", BOB[0], *bob, "--password-stdin", input=BOB[1])
    app1 = ["--url", f"http://{APP1}:{port}", "--group", GROUP, "--skip-path", "^/public"]
    authgate.cli("app", "add", "app1", *app1)
    authgate.cli("app", "add", "app2", "--url", f"http://{APP2}:{port}", "--group", GROUP)
    proxy = start([APP1, APP2, UNREGISTERED], port=port)
    authgate.wait_for_app(proxy.origin(APP1))
    authgate.wait_for_app(proxy.origin(APP2))
    return Deployment(kind, proxy, authgate)


class Deployments:
    """One deployment per proxy kind for this module, started when a test first needs it."""

    def __init__(self, stack: contextlib.ExitStack, workdir: Path, echo: Echo) -> None:
        self._stack, self._workdir, self._echo = stack, workdir, echo
        self._made: dict[str, Deployment] = {}

    def get(self, kind: str) -> Deployment:
        if kind not in self._made:
            workdir = self._workdir / kind
            authgate = self._stack.enter_context(Authgate(workdir / "authgate"))
            start = self._stack.enter_context(proxy_factory(kind, workdir, self._echo, authgate))
            self._made[kind] = deploy(kind, authgate, start)
        return self._made[kind]


@pytest.fixture(scope="module")
def deployments(tmp_path_factory: pytest.TempPathFactory, echo: Echo) -> Iterator[Deployments]:
    """Every test uses fresh clients (own cookies), and nothing here changes users, groups
    or apps, so sharing the deployments only saves start-up time."""
    with contextlib.ExitStack() as stack:
        yield Deployments(stack, tmp_path_factory.mktemp("sso"), echo)


@pytest.fixture(scope="module", params=["nginx", "traefik"])
def sso(request: pytest.FixtureRequest, deployments: Deployments) -> Deployment:
    """The module's deployment behind each proxy in turn."""
    return deployments.get(request.param)


@pytest.fixture(params=["nginx", "traefik", "caddy"])
def browser_sso(request: pytest.FixtureRequest, deployments: Deployments) -> Deployment:
    """The module's deployment behind each proxy in turn, Caddy too (for the browser test)."""
    return deployments.get(request.param)


# --------------------------------------------------------------------------------------------
# helpers that read like what a person sees
# --------------------------------------------------------------------------------------------


def no_server_errors(visit: Visit) -> None:
    assert all(s < 500 for s in visit.statuses()), f"a 5xx on the way:\n{visit.describe()}"


def stayed_within(visit: Visit, allowed: set[str]) -> None:
    assert visit.left_for is None, (
        f"the browser was sent outside {sorted(allowed)}:\n{visit.describe()}"
    )
    for response in visit.responses:
        refresh = response.headers.get("refresh", "")
        assert "evil" not in refresh.lower(), f"Refresh header {refresh!r} at {response.url}"


def asks_for_login(visit: Visit, sso: Deployment) -> None:
    """The navigation ended at the portal's login form, via redirects only."""
    no_server_errors(visit)
    final = visit.final
    assert login_form(final) is not None, f"no login form at the end:\n{visit.describe()}"
    assert origin(final.request.url) == sso.portal, visit.describe()
    assert all(r.status_code in (301, 302, 303, 307, 308) for r in visit.responses[:-1])


def echo_of(visit: Visit) -> dict[str, str]:
    """The headers the echo app received, from the final page of ``visit``."""
    final = visit.final
    assert final.status_code == 200, f"{visit.describe()}\n{final.text[:1500]}"
    assert final.headers.get("content-type", "").startswith("application/json"), visit.describe()
    seen: dict[str, str] = final.json()["headers"]
    return seen


def log_in(client: httpx.Client, sso: Deployment, user: tuple[str, str], url: str) -> Visit:
    """Open ``url`` anonymously, meet the login form, sign in; the navigation after submit."""
    host = httpx.URL(url).host
    first = browse(client, url, allowed=sso.allowed(host))
    asks_for_login(first, sso)
    after = login(client, first.final, *user, allowed=sso.allowed(host))
    stayed_within(after, sso.allowed(host))
    no_server_errors(after)
    return after


# --------------------------------------------------------------------------------------------
# the flows
# --------------------------------------------------------------------------------------------


def test_login_returns_to_the_original_url_with_identity_headers(
    sso: Deployment, client: httpx.Client
) -> None:
    url = sso.url(APP1, "/x?a=1&b=2")

    after = log_in(client, sso, ALICE, url)

    assert str(after.final.request.url) == url, after.describe()
    page = after.final.json()
    assert (page["path"], page["query"]) == ("/x", "a=1&b=2")
    headers = echo_of(after)
    assert headers["x-authentik-username"] == "alice"
    assert GROUP in headers["x-authentik-groups"].split("|")
    assert headers["x-authentik-email"] == "alice@example.test"
    assert headers["x-authentik-uid"]
    if sso.kind == "traefik":  # seed 003 also lists X-Authentik-Name
        assert headers["x-authentik-name"] == "Alice Liddell"


def test_query_with_escaped_ampersand_survives_the_login(
    sso: Deployment, client: httpx.Client
) -> None:
    url = sso.url(APP1, "/search?q=a%26b&page=2")

    after = log_in(client, sso, ALICE, url)

    assert str(after.final.request.url) == url, after.describe()
    assert after.final.json()["query"] == "q=a%26b&page=2"


def test_wrong_password_shows_the_form_again(sso: Deployment, client: httpx.Client) -> None:
    first = browse(client, sso.url(APP1, "/"), allowed=sso.allowed(APP1))
    asks_for_login(first, sso)

    again = login(client, first.final, "alice", "not her password", allowed=sso.allowed(APP1))

    assert again.final.status_code in (200, 401), again.describe()
    assert login_form(again.final) is not None, again.final.text[:1500]
    follow_up = browse(client, sso.url(APP1, "/"), allowed=sso.allowed(APP1))
    asks_for_login(follow_up, sso)


def test_second_app_on_another_domain_needs_no_password(
    sso: Deployment, client: httpx.Client
) -> None:
    log_in(client, sso, ALICE, sso.url(APP1, "/"))

    second = browse(client, sso.url(APP2, "/y"), allowed=sso.allowed(APP2))

    stayed_within(second, sso.allowed(APP2))
    no_server_errors(second)
    assert all(login_form(r) is None for r in second.responses), second.describe()
    assert str(second.final.request.url) == sso.url(APP2, "/y"), second.describe()
    assert echo_of(second)["x-authentik-username"] == "alice"


def test_user_outside_the_bound_group_is_denied_with_a_reason(
    sso: Deployment, client: httpx.Client
) -> None:
    after = log_in(client, sso, BOB, sso.url(APP1, "/"))

    final = after.final
    assert final.status_code == 403, f"{after.describe()}\n{final.text[:1500]}"
    assert '"x-authentik-username"' not in final.text  # the app never answered
    for word in ("bob", "app1", GROUP):
        assert word in final.text, f"the deny page does not name {word!r}:\n{final.text[:3000]}"
    # signed in but denied: asking again is the same answer, not a login loop
    again = browse(client, sso.url(APP1, "/"), allowed=sso.allowed(APP1))
    no_server_errors(again)
    assert again.final.status_code == 403, again.describe()
    assert login_form(again.final) is None


def test_skip_path_is_reachable_without_login(sso: Deployment, client: httpx.Client) -> None:
    response = client.get(sso.url(APP1, "/public/readme.txt?x=1"))

    assert response.status_code == 200, response.text[:1500]
    page = response.json()
    assert (page["path"], page["query"]) == ("/public/readme.txt", "x=1")
    assert page["headers"].get("x-authentik-username", "") == ""
    # the rest of the app is still protected
    asks_for_login(browse(client, sso.url(APP1, "/private"), allowed=sso.allowed(APP1)), sso)


def test_sign_out_on_one_app_signs_out_of_both(sso: Deployment, client: httpx.Client) -> None:
    log_in(client, sso, ALICE, sso.url(APP1, "/"))
    assert echo_of(browse(client, sso.url(APP2, "/"), allowed=sso.allowed(APP2)))

    out = browse(client, sso.url(APP1, f"{OUTPOST}/sign_out"), allowed=sso.allowed(APP1))

    stayed_within(out, sso.allowed(APP1))
    no_server_errors(out)
    asks_for_login(browse(client, sso.url(APP1, "/"), allowed=sso.allowed(APP1)), sso)
    asks_for_login(browse(client, sso.url(APP2, "/"), allowed=sso.allowed(APP2)), sso)


# --------------------------------------------------------------------------------------------
# cookies that must not work
# --------------------------------------------------------------------------------------------


def _cookies_for(client: httpx.Client, host: str) -> dict[str, str]:
    return {c.name: c.value or "" for c in client.cookies.jar if c.domain.lstrip(".") == host}


def _flip_middle(value: str) -> str:
    i = len(value) // 2
    if not value:
        return "x"
    return value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


EXPIRED_JWT = ".".join(
    [
        _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()),
        _b64(json.dumps({"sub": "alice", "exp": 1, "iat": 0}).encode()),
        _b64(b"\x00" * 32),
    ]
)
# gorilla/securecookie, the shape authentik's outpost cookies have: date|value|mac
AUTHENTIK_SHAPED = (
    "MTcwMDAwMDAwMHxEdi1CQkFFQ180SUFBUkFCRUFBQV8tUF9nZ0FCQm5OMGNtbHVad3c9fA==|deadbeef"
)

MANGLES: dict[str, Callable[[str], str]] = {
    "tampered": _flip_middle,
    "truncated": lambda v: v[: len(v) // 2],
    "garbage": lambda v: "not-a-session",
    "empty": lambda v: "",
    "expired-jwt-shape": lambda v: EXPIRED_JWT,
    "authentik-shape": lambda v: AUTHENTIK_SHAPED,
}


@pytest.mark.parametrize("mangle", sorted(MANGLES))
def test_mangled_app_cookie_means_login_again(
    sso: Deployment, client: httpx.Client, client_factory: Callable[..., httpx.Client], mangle: str
) -> None:
    log_in(client, sso, ALICE, sso.url(APP1, "/"))
    cookies = _cookies_for(client, APP1)
    assert cookies, "no cookie was set on the app's host after the login"

    attacker = client_factory()
    for name, value in cookies.items():
        attacker.cookies.set(name, MANGLES[mangle](value), domain=APP1)
    visit = browse(attacker, sso.url(APP1, "/secret"), allowed=sso.allowed(APP1))

    stayed_within(visit, sso.allowed(APP1))
    asks_for_login(visit, sso)


def test_another_apps_cookie_does_not_open_this_app(
    sso: Deployment, client: httpx.Client, client_factory: Callable[..., httpx.Client]
) -> None:
    log_in(client, sso, ALICE, sso.url(APP2, "/"))
    foreign = _cookies_for(client, APP2)
    assert foreign, "no cookie was set on app2's host after the login"
    echo_of(browse(client, sso.url(APP1, "/"), allowed=sso.allowed(APP1)))  # SSO into app1
    own_names = set(_cookies_for(client, APP1))
    foreign_value = next(iter(foreign.values()))

    attempts = [
        dict(foreign),  # app2's cookies, sent to app1 under their own names
        dict.fromkeys(own_names, foreign_value),  # app2's cookie under app1's names
    ]
    for jar in attempts:
        attacker = client_factory()
        for name, value in jar.items():
            attacker.cookies.set(name, value, domain=APP1)
        visit = browse(attacker, sso.url(APP1, "/secret"), allowed=sso.allowed(APP1))
        stayed_within(visit, sso.allowed(APP1))
        asks_for_login(visit, sso)


# --------------------------------------------------------------------------------------------
# hostile rd values on start
# --------------------------------------------------------------------------------------------


def hostile_rds(port: int) -> list[str]:
    app1 = f"{APP1}:{port}"
    return [
        "http://evil.test/",
        "https://evil.test/x",
        f"http://{APP2}:{port}/",  # another app: still not this app's host
        "HTTP://EVIL.TEST/",
        "//evil.test",
        "///evil.test",
        " //evil.test",
        "/\t/evil.test",
        "https:evil.test",
        "http:evil.test",
        "\\\\evil.test",
        "/\\evil.test",
        "\\/evil.test",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        f"http://evil.test%2F@{app1}/",
        f"http://{app1}@evil.test/",
        f"http://evil.test\\@{app1}/",
        f"http://{APP1}.evil.test/",
        f"http://{app1}.evil.test/",
        "http%3A%2F%2Fevil.test",
        "http%253A%252F%252Fevil.test",
        "%2F%2Fevil.test",
        "http:\u2215\u2215evil.test",
        "\uff48\uff54\uff54\uff50://evil.test",
        "http://ev\u0456l.test",
        f"http://evil.test%00.{app1}/",
        f"http://evil.test%00.{APP1}/",
    ]


# how an rd reaches start: verbatim (the seed's unescaped form) or percent-encoded once
RAW_SAFE = "/:@?&=+$,;!*'()~.%\\-_"


def rd_queries(value: str) -> list[str]:
    return [quote(value, safe=RAW_SAFE), quote(value, safe="")]


@pytest.mark.timeout(400)
def test_hostile_rd_never_leads_off_the_app_or_portal(
    sso: Deployment, client_factory: Callable[..., httpx.Client]
) -> None:
    allowed = sso.allowed(APP1)
    signed_in = client_factory()
    log_in(signed_in, sso, ALICE, sso.url(APP1, "/"))
    problems: list[str] = []

    for value in hostile_rds(sso.proxy.port):
        for query in rd_queries(value):
            start = sso.url(APP1, f"{OUTPOST}/start?rd={query}")
            # signed in: the portal answers at once, so the callback and its redirect run
            visits = [browse(signed_in, start, allowed=allowed)]
            # anonymous: the login form, then the same chain after the password
            anonymous = client_factory()
            first = browse(anonymous, start, allowed=allowed)
            visits.append(first)
            if first.left_for is None and login_form(first.final) is not None:
                visits.append(login(anonymous, first.final, *ALICE, allowed=allowed))
            for visit in visits:
                try:
                    stayed_within(visit, allowed)
                    no_server_errors(visit)
                except AssertionError as error:
                    problems.append(f"rd={query!r}: {error}")
            anonymous.close()

    assert not problems, "\n\n".join(problems)


def test_browser_resolution_in_this_file_catches_the_classic_tricks() -> None:
    """The checker itself: these Locations would take a browser to evil.test."""
    base = httpx.URL("http://app1.test:8080/outpost.goauthentik.io/start")
    for location in ("//evil.test/", "/\\evil.test", "\\\\evil.test", "/\t/evil.test"):
        target = browser_resolve(base, location)
        assert isinstance(target, httpx.URL) and target.host == "evil.test", location
    assert isinstance(browser_resolve(base, "javascript:alert(1)"), str)
    assert browser_resolve(base, "/x?rd=//evil.test") == base.join("/x?rd=//evil.test")


# --------------------------------------------------------------------------------------------
# unknown hosts and spoofed identity
# --------------------------------------------------------------------------------------------


def test_unregistered_host_names_itself_and_the_command(
    sso: Deployment, client: httpx.Client
) -> None:
    visit = browse(client, sso.url(UNREGISTERED, "/"), allowed=sso.allowed(UNREGISTERED))

    stayed_within(visit, sso.allowed(UNREGISTERED))
    no_server_errors(visit)
    final = visit.final
    assert final.status_code == 404, f"{visit.describe()}\n{final.text[:1500]}"
    assert UNREGISTERED in final.text
    assert "authgate app add" in final.text


SPOOFED = [
    "X-authentik-username",
    "X-Authentik-Groups",
    "X_Authentik_Username",
    "Remote-User",
    "X-Auth-Request-User",
]


@pytest.mark.parametrize("header", SPOOFED)
def test_identity_headers_from_the_client_never_reach_the_app(
    sso: Deployment, client: httpx.Client, header: str
) -> None:
    log_in(client, sso, ALICE, sso.url(APP1, "/"))

    response = client.get(sso.url(APP1, "/who"), headers={header: "mallory"})

    assert response.status_code < 500, response.text[:1500]
    if response.headers.get("content-type", "").startswith("application/json"):
        seen = response.json().get("headers", {})  # the echo app's page, if it answered
        assert not any("mallory" in v for v in seen.values()), seen


# --------------------------------------------------------------------------------------------
# the same in Chromium (nginx shape): cookies a real browser keeps, Secure flags it honours
# --------------------------------------------------------------------------------------------


def _host_of(url: str) -> str:
    return origin(httpx.URL(url))


@pytest.mark.browser
def test_chromium_login_second_app_and_sign_out(
    browser_sso: Deployment, browser_page: Any, tmp_path: Path
) -> None:
    sso, page = browser_sso, browser_page
    target = sso.url(APP1, "/x?a=1&b=2")

    page.goto(target)
    page.wait_for_selector("input[name=password]")
    assert _host_of(page.url) == sso.portal, page.url
    page.screenshot(path=str(tmp_path / "1-login.png"))
    page.fill("input[name=username]", ALICE[0])
    page.fill("input[name=password]", ALICE[1])
    page.press("input[name=password]", "Enter")
    page.wait_for_url(target)
    seen = page_json(page)
    assert (seen["path"], seen["query"]) == ("/x", "a=1&b=2")
    assert seen["headers"]["x-authentik-username"] == "alice"

    page.goto(sso.url(APP2, "/y"))  # another domain: redirects only, no typing
    page.wait_for_url(sso.url(APP2, "/y"))
    assert page_json(page)["headers"]["x-authentik-username"] == "alice"
    page.screenshot(path=str(tmp_path / "2-second-app.png"))

    page.goto(sso.url(APP1, f"{OUTPOST}/sign_out"))
    page.screenshot(path=str(tmp_path / "3-signed-out.png"))
    for host in (APP1, APP2):
        page.goto(sso.url(host, "/again"))
        page.wait_for_selector("input[name=password]")
        assert _host_of(page.url) == sso.portal, page.url
