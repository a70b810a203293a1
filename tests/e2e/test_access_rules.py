"""Access rules and request hygiene (issue 4) through real nginx (ingress-nginx shape) and Traefik.

One deployment per proxy for the whole module (nothing here changes users, groups or apps):

* ``rules.test``    app ``rules``: ``--skip-path ^/public(/|$)`` (rule 1, bypass), then
                    rule 2 ``allow --path /admin --group ops``, rule 3 ``deny --path /admin``,
                    rule 4 ``deny --path /internal`` (judged before login: no user needed).
* ``intranet.test`` app ``intranet``: ``bypass --network 10.0.0.0/8`` (no login from the office).
* ``lab.test``      app ``lab``: ``deny --network 127.0.0.2/32``.
* ``api.test``      app ``api`` with ``--allow-preflight``.
* ``strip.test``    app ``strip`` with ``--strip-cookie``; its proxy route copies ``Cookie`` from
                    authgate's answer (``proxyconf.*_variants``).

Users: alice (groups ops, staff), bob (staff). authgate runs with
``AUTHGATE_TRUSTED_PROXIES=127.0.0.1/32``: the proxies (127.0.0.1) are trusted, a client at
127.0.0.2 is not (with the default, loopback and private ranges, 127.0.0.2 would be trusted).

What each proxy does to a path before authgate and the upstream see it (asserted in
``test_rules_through_the_proxy_match_explain``; the echo reports uvicorn's percent-decoded
``path``):

* nginx (ingress-nginx shape) passes the request URI **verbatim** to the upstream and in
  ``X-Original-URL``: ``//admin``, ``/x/../admin``, ``/admin;x``, ``%61``, ``%2F``, ``%2e%2e``
  and backslashes all arrive as the client wrote them (nginx normalises only for its own
  location matching). It answers **400 itself** for a dot segment above the root (``/../admin``,
  ``/%2e%2e/admin``). It drops header names with ``_`` (``underscores_in_headers off``), both
  towards authgate and the upstream. Upper-case and trailing-dot hosts route to the server
  block; ``$http_host`` (so ``X-Original-URL``) keeps them as sent.
* Traefik v3 cleans the path before ForwardAuth and the upstream: ``//`` merged, dot segments
  resolved (also above the root: ``/../admin`` is ``/admin``), ``%61``/``%2e`` (unreserved)
  decoded; it keeps ``;params``, ``%2F`` and backslashes as sent (in ``X-Forwarded-Uri`` too).
  It passes ``_`` header names on. Upper-case and trailing-dot hosts match ``Host()``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.exceptions import InvalidStatus, InvalidURI
from websockets.sync.client import connect as ws_connect

from .conftest import OUTPOST, Visit, browse, login, login_form
from .proxyconf import ingress_nginx_conf_variants, traefik_dynamic_variants
from .servers import Authgate, Echo, Nginx, Process, Traefik, free_port

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
ALICE, BOB = "alice", "bob"  # alice: groups ops + staff; bob: staff
RULES, INTRANET, LAB, API, STRIP = (
    "rules.test",
    "intranet.test",
    "lab.test",
    "api.test",
    "strip.test",
)
HOSTS = (RULES, INTRANET, LAB, API, STRIP)
UNTRUSTED = "127.0.0.2"  # a client address that is not the trusted proxy (127.0.0.1)
SPOOFED_OFFICE_IP = "10.1.2.3"  # inside the intranet app's 10.0.0.0/8
FORGED = "mallory-forged"  # the value of every forged identity header
DECISION_ID = re.compile(r"Decision id: <code>([0-9A-Za-z_-]+)</code>")


# --------------------------------------------------------------------------------------------
# authgate's own CLI, many commands in one child process
# --------------------------------------------------------------------------------------------

# Each ``authgate …`` subprocess costs over a second (interpreter, imports, migration check).
# This child runs the very same click command object (``authgate.cli.main:cli``) for a list of
# argument vectors, each with its own stdin, and prints every result as JSON.
_CLI_BATCH = """\
import json, sys
from click.testing import CliRunner
from authgate.cli.main import cli

runner = CliRunner()
results = []
for args, stdin in json.load(sys.stdin):
    result = runner.invoke(cli, args, input=stdin, prog_name="authgate")
    crash = "" if isinstance(result.exception, (SystemExit, type(None))) else repr(result.exception)
    results.append(
        {"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr + crash}
    )
json.dump(results, sys.stdout)
"""


@dataclass
class CliResult:
    args: Sequence[str]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, f"authgate {' '.join(self.args)} -> {self.code}\n{self.stderr}"
        return json.loads(self.stdout)


Command = list[str] | tuple[list[str], str]  # argv, or (argv, what to type on stdin)


def cli_batch(authgate: Authgate, commands: Sequence[Command]) -> list[CliResult]:
    """Run ``authgate ARGS`` for each command in one process; results in the same order."""
    jobs = [c if isinstance(c, tuple) else (c, None) for c in commands]
    done = subprocess.run(
        [sys.executable, "-c", _CLI_BATCH],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        env=authgate.env(),
        cwd=authgate.workdir,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the CLI batch failed:\n{done.stderr[-4000:]}"
    raw: list[dict[str, Any]] = json.loads(done.stdout)
    return [
        CliResult(args, r["code"], r["stdout"], r["stderr"])
        for (args, _), r in zip(jobs, raw, strict=True)
    ]


def cli_ok(authgate: Authgate, commands: Sequence[Command]) -> None:
    for result in cli_batch(authgate, commands):
        assert result.code == 0, (
            f"authgate {' '.join(result.args)} -> {result.code}\n{result.stdout}{result.stderr}"
        )


# --------------------------------------------------------------------------------------------
# the deployment: one per proxy, shared by the module
# --------------------------------------------------------------------------------------------


@dataclass
class Stack:
    kind: str
    port: int
    authgate: Authgate
    proxy: Process

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def origin(self, host: str) -> str:
        return f"{host}:{self.port}"

    @property
    def portal(self) -> str:
        return f"auth.test:{self.authgate.port}"

    def allowed(self, *hosts: str) -> set[str]:
        return {self.origin(h) for h in hosts} | {self.portal}

    def explain(self, *queries: list[str]) -> list[dict[str, Any]]:
        """``authgate explain ARGS --json`` for each query, parsed."""
        results = cli_batch(self.authgate, [["explain", *q, "--json"] for q in queries])
        return [r.json() for r in results]


def configure(authgate: Authgate, port: int) -> None:
    def url(host: str) -> str:
        return f"http://{host}:{port}"

    def rule(slug: str, *args: str) -> list[str]:
        return ["app", "rule", "add", slug, *args]

    cli_ok(
        authgate,
        [
            (
                ["user", "add", ALICE, "--group", "ops", "--group", "staff", "--password-stdin"],
                PASSWORD,
            ),
            (["user", "add", BOB, "--group", "staff", "--password-stdin"], PASSWORD),
            ["app", "add", "rules", "--url", url(RULES), "--skip-path", "^/public(/|$)"],
            rule("rules", "--action", "allow", "--path", "/admin", "--group", "ops"),
            rule("rules", "--action", "deny", "--path", "/admin"),
            rule("rules", "--action", "deny", "--path", "/internal"),
            ["app", "add", "intranet", "--url", url(INTRANET)],
            rule("intranet", "--action", "bypass", "--network", "10.0.0.0/8"),
            ["app", "add", "lab", "--url", url(LAB)],
            rule("lab", "--action", "deny", "--network", f"{UNTRUSTED}/32"),
            ["app", "add", "api", "--url", url(API), "--allow-preflight"],
            ["app", "add", "strip", "--url", url(STRIP), "--strip-cookie"],
        ],
    )


@pytest.fixture(scope="module", params=["nginx", "traefik"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, echo: Echo
) -> Iterator[Stack]:
    kind: str = request.param
    workdir = tmp_path_factory.mktemp(f"rules-{kind}")
    port = free_port()
    trusted = {"AUTHGATE_TRUSTED_PROXIES": "127.0.0.1/32"}
    with Authgate(workdir / "authgate", trusted) as authgate:
        configure(authgate, port)
        apps = [(h, echo.port) for h in HOSTS]
        proxy: Process
        if kind == "nginx":
            conf = ingress_nginx_conf_variants(port, authgate.port, apps, [STRIP])
            proxy = Nginx(conf, workdir / "nginx", port)
        else:
            dynamic = traefik_dynamic_variants(authgate.port, apps, [STRIP])
            proxy = Traefik(dynamic, workdir / "traefik", port)
        with proxy:
            for host in HOSTS:
                authgate.wait_for_app(f"{host}:{port}")
            yield Stack(kind, port, authgate, proxy)


# --------------------------------------------------------------------------------------------
# helpers that read like what a person sees
# --------------------------------------------------------------------------------------------


def is_echo(response: httpx.Response) -> bool:
    """True when the echo app (the protected upstream) answered."""
    return (
        response.status_code == 200
        and response.headers.get("content-type", "").startswith("application/json")
        and '"path"' in response.text
    )


def echo_of(response: httpx.Response) -> dict[str, Any]:
    assert is_echo(response), (
        f"{response.request.url} -> {response.status_code}\n{response.text[:1500]}"
    )
    page: dict[str, Any] = response.json()
    return page


def goes_to_start(response: httpx.Response) -> bool:
    return response.status_code == 302 and f"{OUTPOST}/start" in response.headers.get(
        "location", ""
    )


def sign_in(client: httpx.Client, stack: Stack, user: str, host: str = RULES) -> None:
    """Open the app anonymously, meet the login form, sign in, land back on the app."""
    first = browse(client, stack.url(host, "/"), allowed=stack.allowed(host))
    assert login_form(first.final) is not None, first.describe()
    after = login(client, first.final, user, PASSWORD, allowed=stack.allowed(host))
    assert is_echo(after.final), after.describe()
    assert echo_of(after.final)["headers"]["x-authentik-username"] == user


def cookie_header(client: httpx.Client, host: str) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.domain == host)


def cookie_names(header: str) -> set[str]:
    return {part.strip().partition("=")[0] for part in header.split(";") if part.strip()}


def rd_of(login_url: str) -> str:
    values = parse_qs(urlsplit(login_url).query).get("rd", [])
    assert len(values) == 1, login_url
    return values[0]


# --------------------------------------------------------------------------------------------
# 1. forged identity headers
# --------------------------------------------------------------------------------------------

FORGED_NAMES = [
    "X-authentik-username",
    "x_authentik_username",
    "X-AUTHENTIK-GROUPS",
    "X_Authentik_Groups",
    "x-authentik-email",
    "X-Authentik-Meta-App",
    "Remote-User",
    "remote_user",
    "REMOTE-GROUPS",
    "X-Auth-Request-User",
    "x_auth_request_email",
    "X-Auth-Request-Groups",
]


def test_forged_identity_headers_never_reach_the_upstream(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    anonymous = client_factory()
    alice = client_factory()
    sign_in(alice, stack, ALICE)
    problems: list[str] = []

    for name in FORGED_NAMES:
        # anonymous on a bypass path (no session needed) and signed in on a protected path
        for who, client, path in (("anonymous", anonymous, "/public/x"), (ALICE, alice, "/x")):
            response = client.get(stack.url(RULES, path), headers={name: FORGED})
            case = f"{who} {path} with {name}: {response.status_code}"
            if FORGED in response.text:
                problems.append(f"{case}: the forged value reached the app\n{response.text}")
            if stack.kind == "nginx" and "_" in name:
                # nginx drops underscored names itself (underscores_in_headers off): neither
                # authgate nor the upstream sees them, so the request goes through untouched
                if not is_echo(response):
                    problems.append(f"{case}: expected the echo without the header")
                elif who == ALICE and echo_of(response)["headers"]["x-authentik-username"] != ALICE:
                    problems.append(f"{case}: the echo does not see alice")
            elif stack.kind == "nginx":
                # auth/nginx refuses with 401, which ingress-nginx turns into the login redirect
                if not goes_to_start(response):
                    problems.append(f"{case}: expected 302 to start, got {response.headers}")
            else:
                # Traefik hands authgate's 400 to the client; it names the header
                if response.status_code != 400 or name.lower() not in response.text.lower():
                    problems.append(f"{case}: expected 400 naming the header\n{response.text}")

    assert not problems, "\n".join(problems)
    # each refusal is logged with the header's name
    assert stack.authgate.wait_for_log("client sent identity header remote-user")


# --------------------------------------------------------------------------------------------
# 2. --strip-cookie
# --------------------------------------------------------------------------------------------


def test_strip_cookie_app_gets_the_clients_cookies_but_not_authgates(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    browser = client_factory()
    sign_in(browser, stack, ALICE, STRIP)
    assert any(c.name.startswith("authgate_") for c in browser.cookies.jar if c.domain == STRIP)
    browser.cookies.set("theme", "dark", domain=STRIP)
    browser.cookies.set("sid", "the-apps-own-session", domain=STRIP)

    seen = echo_of(browser.get(stack.url(STRIP, "/x")))["headers"]

    assert seen["x-authentik-username"] == ALICE  # authgate did read its cookie
    assert "authgate" not in seen.get("cookie", ""), seen
    assert cookie_names(seen.get("cookie", "")) == {"theme", "sid"}, seen
    assert "the-apps-own-session" in seen["cookie"]


def test_normal_app_gets_authgates_cookie_too(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    """The default (no --strip-cookie, proxy passes the client's Cookie): documented here."""
    browser = client_factory()
    sign_in(browser, stack, ALICE, RULES)
    browser.cookies.set("theme", "dark", domain=RULES)

    seen = echo_of(browser.get(stack.url(RULES, "/x")))["headers"]

    names = cookie_names(seen.get("cookie", ""))
    assert {"authgate_rules", "theme"} <= names, seen


# --------------------------------------------------------------------------------------------
# 3. --network rules and a spoofed X-Forwarded-For
# --------------------------------------------------------------------------------------------


def _direct_check(stack: Stack, client: httpx.Client, host: str, xff: str) -> httpx.Response:
    """Ask authgate itself, in the dialect this stack's proxy uses, as a proxy would."""
    app = stack.origin(host)
    headers = {
        "Host": app,
        "X-Forwarded-For": xff,
        "X-Real-IP": xff,
        "X-Forwarded-Host": app,
        "X-Forwarded-Uri": "/",
        "X-Forwarded-Method": "GET",
        "X-Original-URL": f"http://{app}/",
        "X-Original-Method": "GET",
    }
    return client.get(f"{stack.authgate.url}{OUTPOST}/auth/{stack.kind}", headers=headers)


def test_network_rules_ignore_x_forwarded_for_from_untrusted_clients(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    trusted = client_factory()  # 127.0.0.1: what the proxies are
    untrusted = client_factory(UNTRUSTED)
    login_status = 401 if stack.kind == "nginx" else 302

    # explain: a real office address opens the intranet, 127.0.0.2 must log in / is denied
    office, outside, lab = stack.explain(
        ["--url", stack.url(INTRANET, "/"), "--ip", SPOOFED_OFFICE_IP],
        ["--url", stack.url(INTRANET, "/"), "--ip", UNTRUSTED],
        ["--url", stack.url(LAB, "/"), "--ip", UNTRUSTED],
    )
    assert (office["outcome"], outside["outcome"], lab["outcome"]) == ("allow", "login", "deny")

    # directly to authgate. From the trusted proxy address X-Forwarded-For is believed: the
    # rules see 10.1.2.3 (so the bypass applies) -- this is the control that shows the rule
    # would match. From 127.0.0.2, which is not a trusted proxy, every forwarded header is
    # ignored and the rules see the peer address itself.
    assert _direct_check(stack, trusted, INTRANET, SPOOFED_OFFICE_IP).status_code == 200
    spoofed = _direct_check(stack, untrusted, INTRANET, SPOOFED_OFFICE_IP)
    assert spoofed.status_code == login_status, spoofed.text
    # ... and a deny for 127.0.0.2 is not escaped by claiming another address
    assert _direct_check(stack, untrusted, LAB, SPOOFED_OFFICE_IP).status_code == 403
    assert _direct_check(stack, trusted, LAB, UNTRUSTED).status_code == 403  # believed: deny
    assert _direct_check(stack, trusted, LAB, SPOOFED_OFFICE_IP).status_code == login_status

    # through the proxy at 127.0.0.1 (trusted): nginx sets X-Forwarded-For to $remote_addr in
    # the auth subrequest, Traefik's entrypoint drops X-Forwarded-* from a client it does not
    # trust and ForwardAuth appends the real peer. Either way the address authgate reads is
    # the real peer, 127.0.0.2, never the client's claim.
    spoof = {"X-Forwarded-For": SPOOFED_OFFICE_IP, "X-Real-IP": SPOOFED_OFFICE_IP}
    response = untrusted.get(stack.url(INTRANET, "/"), headers=spoof)
    assert goes_to_start(response), f"{response.status_code} {response.headers}"
    response = untrusted.get(stack.url(LAB, "/"), headers=spoof)
    assert response.status_code == 403, response.text[:500]
    # the same client without a claim, and from 127.0.0.1: the rules see the real peers
    assert untrusted.get(stack.url(LAB, "/")).status_code == 403
    assert goes_to_start(trusted.get(stack.url(LAB, "/"), headers={"X-Forwarded-For": UNTRUSTED}))

    # what the proxy hands the upstream on a bypass path: the real peer, not the claim
    seen = echo_of(untrusted.get(stack.url(RULES, "/public/x"), headers=spoof))["headers"]
    assert seen["x-forwarded-for"].split(",")[-1].strip() == UNTRUSTED, seen
    assert SPOOFED_OFFICE_IP not in seen["x-forwarded-for"], seen


# --------------------------------------------------------------------------------------------
# 4. XHR versus navigation
# --------------------------------------------------------------------------------------------

NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
XHR_FLAVOURS = {
    "fetch": {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty", "Accept": "*/*"},
    "xhr": {"X-Requested-With": "XMLHttpRequest", "Sec-Fetch-Mode": "cors", "Accept": "*/*"},
    "xhr-no-fetch-metadata": {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"},
}


def _xhr(stack: Stack, client: httpx.Client, url: str, headers: dict[str, str]) -> Visit:
    """An XHR/fetch: redirects are followed with the same headers, as browsers do."""
    return browse(client, url, headers=headers, allowed=stack.allowed(RULES))


@pytest.mark.parametrize("flavour", sorted(XHR_FLAVOURS))
def test_xhr_gets_401_json_and_the_login_returns_to_the_page(
    stack: Stack, client_factory: Callable[..., httpx.Client], flavour: str
) -> None:
    page = stack.url(RULES, "/page?tab=2")
    api = stack.url(RULES, "/api/data?since=1")
    browser = client_factory()

    visit = _xhr(stack, browser, api, {**XHR_FLAVOURS[flavour], "Referer": page})

    assert not any(is_echo(r) for r in visit.responses), visit.describe()
    if stack.kind == "nginx":
        # nginx can only answer 401 -> its error_page redirects every request to start,
        # which the XHR follows; start then decides by Sec-Fetch-Mode
        assert goes_to_start(visit.responses[0]), visit.describe()
        # without Sec-Fetch-Mode, start judges as the Traefik dialect does: X-Requested-With
        # or an Accept without text/html is a script, which gets the 401 JSON too
    if stack.kind == "traefik":  # authgate answers the client itself: 401 at once
        assert len(visit.responses) == 1, visit.describe()
    final = visit.final
    assert final.status_code == 401, visit.describe()
    assert final.headers["content-type"].startswith("application/json")
    body = final.json()
    assert body["error"] == "login required"
    login_url = body["login_url"]
    assert rd_of(login_url) == page  # back to the page that made the call, not the API URL

    # the page's script sends the user to login_url: a navigation from here on
    first = browse(browser, login_url, headers=NAVIGATION, allowed=stack.allowed(RULES))
    assert login_form(first.final) is not None, first.describe()
    after = login(browser, first.final, ALICE, PASSWORD, allowed=stack.allowed(RULES))
    assert str(after.final.request.url) == page, after.describe()
    landed = echo_of(after.final)
    assert (landed["path"], landed["query"]) == ("/page", "tab=2")
    # and the XHR now goes through
    again = _xhr(stack, browser, api, {**XHR_FLAVOURS[flavour], "Referer": page})
    assert echo_of(again.final)["headers"]["x-authentik-username"] == ALICE


def test_navigation_gets_the_login_redirect_and_a_foreign_referer_is_not_the_target(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    api = stack.url(RULES, "/api/data")
    navigation = client_factory().get(api, headers=NAVIGATION)
    assert goes_to_start(navigation), f"{navigation.status_code} {navigation.headers}"
    if stack.kind == "traefik":  # authgate's own redirect: back to the URL itself
        assert rd_of(navigation.headers["location"]) == api

    for referer in ("http://evil.test/page", stack.url(API, "/elsewhere")):
        headers = {**XHR_FLAVOURS["fetch"], "Referer": referer}
        visit = _xhr(stack, client_factory(), api, headers)
        assert visit.final.status_code == 401, visit.describe()
        # a Referer off the app is never the target: the app's root is
        assert rd_of(visit.final.json()["login_url"]) == stack.url(RULES, "/"), referer


# --------------------------------------------------------------------------------------------
# 5. CORS preflight
# --------------------------------------------------------------------------------------------

PREFLIGHT = {
    "Origin": "http://web.test",
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "content-type",
    "Sec-Fetch-Mode": "cors",
    "Accept": "*/*",
}


def test_preflight_passes_only_where_allowed(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    client = client_factory()

    allowed = client.options(stack.url(API, "/v1/items"), headers=PREFLIGHT)
    page = echo_of(allowed)
    assert page["method"] == "OPTIONS"
    assert page["headers"].get("x-authentik-username", "") == ""  # no identity: anonymous

    # the app without --allow-preflight judges it like any request: login required
    refused = client.options(stack.url(RULES, "/v1/items"), headers=PREFLIGHT)
    assert not is_echo(refused)
    expect = goes_to_start(refused) if stack.kind == "nginx" else refused.status_code == 401
    assert expect, f"{refused.status_code} {refused.headers} {refused.text[:300]}"

    # on the preflight app: OPTIONS without Access-Control-Request-Method is no preflight,
    # and the real cross-origin request still needs a session
    for method, headers in (
        ("OPTIONS", {"Origin": "http://web.test", "Sec-Fetch-Mode": "cors"}),
        ("PUT", {"Origin": "http://web.test", "Sec-Fetch-Mode": "cors"}),
        ("GET", {k: v for k, v in PREFLIGHT.items() if k != "Sec-Fetch-Mode"}),
    ):
        response = client.request(method, stack.url(API, "/v1/items"), headers=headers)
        assert not is_echo(response), f"{method} {headers} reached the app"
        assert response.status_code in (302, 401), f"{method}: {response.status_code}"


# --------------------------------------------------------------------------------------------
# 6. WebSocket
# --------------------------------------------------------------------------------------------


def ws_try(url: str, cookie: str = "", message: str = "hello through the proxy") -> str:
    """``echo:<text>`` when the upgrade worked and the echo answered, else what refused it."""
    headers = {"Cookie": cookie} if cookie else {}
    try:
        with ws_connect(url, additional_headers=headers, proxy=None, open_timeout=10) as ws:
            ws.send(message)
            reply = ws.recv(timeout=10)
            return "echo:" + (reply if isinstance(reply, str) else reply.decode())
    except InvalidStatus as exc:
        return f"status:{exc.response.status_code}"
    except InvalidURI as exc:  # the client follows redirects, but not to http:// (the login)
        return f"redirect:{exc.uri}"


def test_websocket_works_after_login_and_is_refused_before(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    ws_url = f"ws://{RULES}:{stack.port}/socket"
    # nginx: 401 -> the signin redirect; Traefik: a script gets 401
    refused = (
        f"redirect:{stack.url(RULES, OUTPOST)}/start" if stack.kind == "nginx" else "status:401"
    )

    assert ws_try(ws_url).startswith(refused), ws_try(ws_url)

    alice = client_factory()
    sign_in(alice, stack, ALICE)
    assert ws_try(ws_url, cookie_header(alice, RULES)) == "echo:hello through the proxy"

    # rules apply to upgrades too: bob may not open /admin
    bob = client_factory()
    sign_in(bob, stack, BOB)
    denied = ws_try(f"ws://{RULES}:{stack.port}/admin/socket", cookie_header(bob, RULES))
    expected = refused if stack.kind == "nginx" else "status:403"  # nginx: 401 for a person
    assert denied.startswith(expected), denied
    assert ws_try(ws_url, cookie_header(bob, RULES)) == "echo:hello through the proxy"


# --------------------------------------------------------------------------------------------
# 7. rules end to end, in many spellings, against `authgate explain`
# --------------------------------------------------------------------------------------------

# every one of these is /admin (or under it) once dot segments, //, escapes and ;params are
# dealt with. Spellings that mean two things (/public%2F..%2Fadmin, /public\..\admin, ...)
# are refused instead: test_request_hygiene.py.
ADMIN_SPELLINGS = [
    "/admin",
    "/admin/",
    "/admin/settings",
    "/%61dmin",
    "//admin",
    "/x/../admin",
    "/public/../admin",
    "/admin;x",
    "/public/%2e%2e/admin",
    "/admin%2Fx",
    "/admin\\x",
    "/../admin",
    "/%2e%2e/admin",
]
SPELLINGS = [*ADMIN_SPELLINGS, "/adminx", "/public/readme", "/internal/x"]


def intended(target: str, user: str) -> str:
    """What the rules are meant to do, independently of authgate's own canonical form (explain
    and the check share it, so a canonicalisation bug would make them agree)."""
    if target.startswith("/internal"):
        return "deny"  # rule 4, before login
    if target.startswith("/public/") and target not in ADMIN_SPELLINGS:
        return "allow"  # rule 1, bypass
    if user == "anonymous":
        return "login"
    if target in ADMIN_SPELLINGS and user == BOB:
        return "deny"  # rule 2 is for ops only, rule 3 denies
    return "allow"


HOST_SPELLINGS = [("upper", str.upper), ("trailing-dot", lambda h: h + ".")]
USERS = ["anonymous", ALICE, BOB]

# the proxy answers these itself (400, "dot segment above the root"); authgate is never asked
PROXY_REFUSES = {"nginx": {"/../admin", "/%2e%2e/admin"}, "traefik": set()}
# what the echo reports as its (uvicorn-decoded) path when alice opens each spelling
UPSTREAM_PATH = {
    "nginx": {  # verbatim
        "//admin": "//admin",
        "/x/../admin": "/x/../admin",
        "/public/../admin": "/public/../admin",
        "/%61dmin": "/admin",
        "/public/%2e%2e/admin": "/public/../admin",
        "/admin%2Fx": "/admin/x",
        "/admin\\x": "/admin\\x",
    },
    "traefik": {  # cleaned: // merged, dot segments resolved, unreserved escapes decoded
        "//admin": "/admin",
        "/x/../admin": "/admin",
        "/public/../admin": "/admin",
        "/%61dmin": "/admin",
        "/public/%2e%2e/admin": "/admin",
        "/admin\\x": "/admin\\x",
        "/../admin": "/admin",
        "/%2e%2e/admin": "/admin",
        "/admin%2Fx": "/admin/x",
    },
}
# nginx: authgate answers bob 401 and start takes the rd; start drops an rd whose path starts
# with // (or holds a backslash) and falls back to the app's root, so bob lands on "/" instead
# of the deny page. /admin is still never served (see test_nginx_deny_page_for_double_slash).
# start refuses an rd with a backslash in its path (browsers never send one: they turn it
# into a slash first), so the signed-in user lands on the app's root instead.
NGINX_START_DROPS_RD = {"/admin\\x"}


def observe(stack: Stack, client: httpx.Client, host: str, target: str) -> tuple[str, str]:
    """(outcome, detail) as a person notices it: allow (the echo answered), login (the portal's
    login form or a 401 JSON), deny (403 or the deny page), or something else."""
    response = client.get(
        stack.url(RULES, "/"), headers={"Host": host}, extensions={"target": target.encode()}
    )
    if is_echo(response):
        return "allow", echo_of(response)["path"]
    if response.status_code == 403:
        return "deny", "403"
    if response.status_code == 401 and "login_url" in response.text:
        return "login", "401 JSON"
    if response.status_code == 400 and stack.kind in response.text:
        return "proxy 400", response.text[:80]
    if goes_to_start(response):
        visit = browse(client, response.headers["location"], allowed=stack.allowed(RULES))
        final = visit.final
        if login_form(final) is not None:
            return "login", "login form"
        if final.status_code == 403 and DECISION_ID.search(final.text):
            return "deny", "deny page"
        if is_echo(final):
            return f"redirected to {final.request.url.raw_path.decode()}", visit.describe()
        return "other", visit.describe()
    return "other", f"{response.status_code} {response.headers} {response.text[:300]}"


def test_rules_through_the_proxy_match_explain(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    clients = {"anonymous": client_factory(), ALICE: client_factory(), BOB: client_factory()}
    sign_in(clients[ALICE], stack, ALICE)
    sign_in(clients[BOB], stack, BOB)
    canonical = stack.origin(RULES)
    cases = [(canonical, t, u) for t in SPELLINGS for u in USERS]
    for _, spell in HOST_SPELLINGS:
        cases += [
            (spell(RULES) + f":{stack.port}", t, u) for t in ("/admin", "/public/x") for u in USERS
        ]

    def explain_args(host: str, target: str, user: str) -> list[str]:
        who = ["--anonymous"] if user == "anonymous" else ["--user", user]
        return ["--url", f"http://{host}{target}", *who]

    explained = stack.explain(*(explain_args(*case) for case in cases))
    problems: list[str] = []
    table: list[str] = []
    for (host, target, user), verdict in zip(cases, explained, strict=True):
        expected = verdict["outcome"]
        outcome, detail = observe(stack, clients[user], host, target)
        short = detail.splitlines()[0] if detail else ""
        table.append(f"{host}{target:24} {user:9} explain={expected:6} proxy={outcome} {short}")
        case = f"{stack.kind}: {user} {host}{target}: explain says {expected}, proxy gave {outcome}"
        if target in PROXY_REFUSES[stack.kind]:
            if outcome != "proxy 400":
                problems.append(f"{case} (expected the proxy's own 400)")
        elif stack.kind == "nginx" and user == BOB and target in NGINX_START_DROPS_RD:
            if outcome != "redirected to /":
                problems.append(f"{case} (known: start drops this rd; fixed? update the test)")
        elif expected != intended(target, user):
            problems.append(f"{case}: explain is wrong, the rules mean {intended(target, user)}")
        elif outcome != expected:
            problems.append(f"{case}\n    {detail}")
        elif outcome == "allow" and user == ALICE and host == canonical:
            want = UPSTREAM_PATH[stack.kind].get(target, target)
            if detail != want:
                problems.append(f"{case}: the upstream saw {detail!r}, expected {want!r}")
    print("\n".join(table))  # shown with a failure: what each spelling did

    # the explain side itself: these spellings are one canonical path
    for (host, target, _), verdict in zip(cases, explained, strict=True):
        path = verdict["request"]["path"]
        one_of_them = target in ("//admin", "/%61dmin", "/public/%2e%2e/admin")
        if host == canonical and one_of_them and path != "/admin":
            problems.append(f"explain --url ...{target}: canonical path {path!r}")
    assert not problems, "\n".join(problems)


def test_batched_explain_is_the_cli(stack: Stack) -> None:
    """The matrix above runs explain in one process; here the real command, once."""
    url = stack.url(RULES, "/public/%2e%2e/admin;x?a=1")
    real = stack.authgate.cli("explain", "--url", url, "--user", BOB, "--json")
    (batched,) = stack.explain(["--url", url, "--user", BOB])
    assert json.loads(real.stdout) == batched
    assert batched["outcome"] == "deny"


def test_nginx_deny_page_for_double_slash(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    if stack.kind != "nginx":
        pytest.skip("Traefik merges // itself; only nginx passes //admin on")
    bob = client_factory()
    sign_in(bob, stack, BOB)
    assert observe(stack, bob, stack.origin(RULES), "//admin")[0] == "deny"


# --------------------------------------------------------------------------------------------
# 8. a deny decision's id, looked up with explain
# --------------------------------------------------------------------------------------------


def explain_decision(authgate: Authgate, decision_id: str, timeout: float = 8.0) -> dict[str, Any]:
    """``authgate explain --decision ID --json``, retried while the audit log catches up."""
    deadline = time.monotonic() + timeout
    while True:
        result = authgate.cli("explain", "--decision", decision_id, "--json", check=False)
        if result.returncode == 0:
            data: dict[str, Any] = json.loads(result.stdout)
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"decision {decision_id} not found:\n{result.stderr}")
        time.sleep(0.3)


def test_deny_page_decision_id_explains_the_rule(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    bob = client_factory()
    sign_in(bob, stack, BOB)

    visit = browse(bob, stack.url(RULES, "/admin/settings"), allowed=stack.allowed(RULES))

    final = visit.final
    assert final.status_code == 403, visit.describe()
    assert "bob" in final.text
    found = DECISION_ID.search(final.text)
    assert found, f"no decision id on the deny page:\n{final.text[:3000]}"
    decision = explain_decision(stack.authgate, found.group(1))
    assert decision["decision"] == found.group(1)
    assert (decision["user"], decision["app"]) == (BOB, "rules"), decision
    assert any(
        re.match(r"rule 3 \(deny path /admin\b.*matches: deny", step) for step in decision["trace"]
    ), decision
    assert decision["reason"] == "rule 3 denies", decision


def test_deny_page_decision_id_is_in_the_log(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    # nginx users see the portal's deny page: the portal writes the log line for it.
    bob = client_factory()
    sign_in(bob, stack, BOB)

    visit = browse(bob, stack.url(RULES, "/admin"), allowed=stack.allowed(RULES))

    found = DECISION_ID.search(visit.final.text)
    assert found, visit.describe()
    assert stack.authgate.wait_for_log(found.group(1)), f"id {found.group(1)} not in the log"


def test_anonymous_deny_rule_decision_id(
    stack: Stack, client_factory: Callable[..., httpx.Client]
) -> None:
    """A deny judged before login (rule 4): Traefik shows authgate's deny page with the id;
    nginx shows its own bare 403 (it drops the auth answer's body), so nothing to look up."""
    response = client_factory().get(stack.url(RULES, "/internal/x"))

    assert response.status_code == 403
    found = DECISION_ID.search(response.text)
    if stack.kind == "nginx":
        assert found is None and "nginx" in response.text, response.text
        return
    assert found, response.text[:3000]
    decision = explain_decision(stack.authgate, found.group(1))
    assert re.match(r"rule 4 \(deny path /internal\b.*matches: deny", decision["trace"][-1]), (
        decision
    )
    assert decision["user"] in ("", None), decision
    assert stack.authgate.wait_for_log(f"id={found.group(1)}")  # and in the log line
