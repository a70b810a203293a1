"""Issue 4's corpus of spellings, judged exactly as their canonical form, through every
dialect. The app: bypass ^/public, deny /admin before login, bound to group staff."""

from __future__ import annotations

import httpx
import pytest

from authgate.forward.headers import ALLOWED_IN_FAMILIES, REFUSED_IDENTITY_FAMILIES
from authgate.storage.store import RuleSpec
from tests.functional.conftest import Harness
from tests.functional.dialects import DIALECTS, ask

H = "app1.test"

CORPUS = [
    # (method, host, uri, expected outcome for an anonymous browser)
    ("GET", H, "/admin", "deny"),
    ("GET", "App1.TEST", "/admin", "deny"),
    ("GET", "app1.test.", "/admin", "deny"),
    ("GET", "app1.test:80", "/admin", "deny"),
    ("GET", "app1.test:443", "/admin", "deny"),
    ("GET", H, "/%61dmin", "deny"),
    ("GET", H, "//admin", "deny"),
    ("GET", H, "/x/../admin", "deny"),
    ("GET", H, "/./admin", "deny"),
    ("GET", H, "/admin;x", "deny"),
    ("GET", H, "/admin/", "deny"),
    ("GET", H, "/ADMIN", "login"),  # paths are case-sensitive, as the upstream sees them
    ("GET", H, "/admin%2F..", "bad"),  # "/" once %2F is a slash, "/admin/.." to other apps
    ("GET", H, "/public%2F..%2Fadmin", "bad"),
    ("GET", H, "/admin%2Fx", "deny"),  # an encoded slash that changes no dot segment: /admin/x
    ("GET", H, "/public/../admin", "deny"),
    ("GET", H, "/public/%2e%2e/admin", "deny"),
    ("GET", H, "/public?x=/admin", "allow"),
    ("GET", H, "/public/x", "allow"),
    ("GET", H, "/admin?x=/public", "deny"),
    ("GET", H, "/admin%23/public", "login"),  # one segment "admin%23": neither rule
    ("get", H, "/admin", "deny"),
    ("PURGE", H, "/public", "allow"),
    ("DELETE", H, "/public/x", "deny"),  # rule: deny DELETE anywhere before login
    ("delete", H, "/public/x", "deny"),
    ("GET", H, "/x", "login"),
    ("GET", "unknown.test", "/", "unknown"),
    ("GET", H, "/a%zz", "bad"),
    ("GET", H, "/" + "a" * 9000, "bad"),
    ("GET", "evil.test/x", "/", "bad"),
]


@pytest.fixture
async def rules(harness: Harness) -> Harness:
    store = harness.runtime.store
    await store.add_rule("app1", RuleSpec("deny", methods=("DELETE",)), 1)
    await store.add_rule("app1", RuleSpec("deny", path_prefix="/admin"))
    await harness.runtime.reload()
    return harness


def _expected(dialect: str, expected: str) -> str:
    # nginx can only say 200/401/403: unknown hosts and bad input become "log in" (401),
    # and the start page then explains the unknown host.
    if dialect == "nginx" and expected in ("unknown", "bad"):
        return "login"
    return expected


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("method", "host", "uri", "expected"), CORPUS)
async def test_spelling_is_judged_as_its_canonical_form(
    rules: Harness, dialect: str, method: str, host: str, uri: str, expected: str
) -> None:
    if dialect == "envoy" and (method != method.upper() or "#" in uri):
        pytest.skip("envoy sends the client's method and path as they are in HTTP")
    if dialect == "envoy" and host.endswith(("/x",)):
        pytest.skip("not a Host header envoy would forward")
    result = await ask(rules.client, dialect, method, host, uri, {"accept": "text/html"})
    assert result.outcome == _expected(dialect, expected), result.response.text


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_signed_in_user_passes_the_same_spellings_only_where_allowed(
    rules: Harness, dialect: str
) -> None:
    first = await rules.check(H, "/x")
    await rules.login(first.headers["location"])
    cookie = "; ".join(f"{c.name}={c.value}" for c in rules.client.cookies.jar if c.domain == H)
    async with httpx.AsyncClient(transport=rules.client._transport) as bare:
        for uri, expected in [("/x", "allow"), ("/x/../admin", "deny"), ("/public", "allow")]:
            result = await ask(bare, dialect, "GET", "APP1.test.", uri, {"cookie": cookie})
            assert result.outcome == expected, (uri, result.response.status_code)


def _refused(dialect: str) -> int:
    return 401 if dialect == "nginx" else 400


async def _signed_in_cookie(rules: Harness) -> str:
    first = await rules.check(H, "/x")
    await rules.login(first.headers["location"])
    return "; ".join(f"{c.name}={c.value}" for c in rules.client.cookies.jar if c.domain == H)


# Issue 9, defects 1 and 2: paths that mean one thing to authgate and another to the app.
# The app denies /admin (before login) and bypasses ^/public; none of these may be allowed,
# bypassed, or even sent to the login: each is refused as it is.
CONTROL_ESCAPES = [f"%{b:02X}" for b in range(0x20)] + ["%7F", "%7f", "%0d", "%1f"]
TWO_MEANINGS = [
    "/admin%0d%0a",
    "/admin%0d%0aX-Injected:%201",
    "/adm%00in",
    "/admin%00.html",
    "/admin/x%00",
    "/public/%00",
    "/public%00",
    "/public/%0d%0aX-Injected:%201",
    "/public/x%09",
    "/admin%2500",  # %00 once an app decodes twice
    "/public/%2500",
    "/%2561dmin",  # /admin once an app decodes twice
    "/adm%2569n/x",
    "/admin%2F..",
    "/admin%2f..",
    "/admin%5C..",
    "/public%2F..%2Fadmin",
    "/public%5C..%5Cadmin",
    "/public/..%2Fadmin",
    "/public%2F%2E%2E%2Fadmin",
    "/public%2f%2e%2e%2fadmin",
    "/public/x%2F..%2F..%2Fadmin",
    "/public/%252e%252e/admin",
    "/public%252F..%252Fadmin",
    "/public/..;/admin",
    "/public/..%3B/admin",
    "/x?a=1",  # control: not refused (the query is no part of the path)
]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_paths_that_mean_two_things_are_refused_for_anyone(
    rules: Harness, dialect: str
) -> None:
    cookie = await _signed_in_cookie(rules)
    async with httpx.AsyncClient(transport=rules.client._transport) as bare:
        uris = [f"/admin{e}" for e in CONTROL_ESCAPES] + TWO_MEANINGS
        for uri in uris:
            for who, headers in (("anonymous", {}), ("alice", {"cookie": cookie})):
                result = await ask(bare, dialect, "GET", H, uri, headers)
                status = result.response.status_code
                if uri == "/x?a=1":
                    assert result.outcome == ("allow" if who == "alice" else "login"), who
                    continue
                assert status == _refused(dialect), (who, uri, status, result.response.text)
                if dialect != "nginx":
                    assert "path refused" in result.response.json()["reason"], uri


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_an_encoded_slash_that_changes_nothing_is_judged_as_a_slash(
    rules: Harness, dialect: str
) -> None:
    cookie = await _signed_in_cookie(rules)
    async with httpx.AsyncClient(transport=rules.client._transport) as bare:
        for uri, expected in [
            ("/api/files/a%2Fb", "allow"),
            ("/api/files/a%2fb%2Fc.txt", "allow"),
            ("/public/a%2Fb", "allow"),
            ("/admin%2Fx", "deny"),
            ("/admin%2fsettings", "deny"),
        ]:
            result = await ask(bare, dialect, "GET", H, uri, {"cookie": cookie})
            assert result.outcome == expected, (uri, result.response.status_code)


# Issue 9, defect 10: every family in the one list, in several spellings, on every dialect.
def _spellings(prefix: str) -> list[str]:
    name = prefix + "user" if prefix.endswith("-") else prefix
    return [name, name.upper(), name.replace("-", "_"), name.title()]


FORGED = [n for prefix, _ in REFUSED_IDENTITY_FAMILIES for n in _spellings(prefix)] + [
    # the names issue 9 found let through
    "Remote-Uid",
    "Remote-Entitlements",
    "X-Remote-User",
    "X-Webauth-User",
    "X-WEBAUTH-USER",
    "X-User",
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-authentik-meta-app",
    "X-Auth-Request-Access-Token",
    "Cf-Access-Authenticated-User-Email",
    "Tailscale-User-Login",
    "X-Pomerium-Claim-Email",
    "X-Vouch-User",
    "x_webauth_user",
]
# headers proxies and browsers send on the check: never refused
LEGITIMATE = [
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Forwarded-Server",
    "X-Real-IP",
    "X-Original-Method",
    "X-Original-URI",
    "X-Request-ID",
    "X-Sent-From",
    "X-Original-Forwarded-For",
    "Authorization",
    "User-Agent",
    *(name.title() for name in ALLOWED_IN_FAMILIES),
]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_every_identity_family_is_refused_in_every_spelling(
    rules: Harness, dialect: str
) -> None:
    assert len(FORGED) > 4 * len(REFUSED_IDENTITY_FAMILIES)
    for name in FORGED:
        # a bypass path: without the refusal the forged value would reach the app with a 200
        result = await ask(rules.client, dialect, "GET", H, "/public/x", {name: "admin"})
        assert result.response.status_code == _refused(dialect), name
        if dialect != "nginx":
            assert name.lower() in result.response.json()["reason"], name


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_headers_proxies_send_are_not_identity(rules: Harness, dialect: str) -> None:
    for name in LEGITIMATE:
        value = {
            "Authorization": "Basic eDp5",
            "X-Original-Method": "GET",
            "X-Original-URI": "/public/x",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Port": "80",
        }.get(name, "10.0.0.1")
        result = await ask(rules.client, dialect, "GET", H, "/public/x", {name.lower(): value})
        assert result.outcome == "allow", (name, result.response.text)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_duplicated_cookie_headers_are_not_judged(rules: Harness, dialect: str) -> None:
    headers = [("cookie", "a=1"), ("cookie", "authgate_app1=x")]
    result = await ask(rules.client, dialect, "GET", H, "/public/x")
    assert result.outcome == "allow"
    async with httpx.AsyncClient(transport=rules.client._transport) as bare:
        if dialect == "nginx":
            sent = [("x-original-url", f"http://{H}/public/x"), *headers]
            response = await bare.get(
                "http://authgate.svc/outpost.goauthentik.io/auth/nginx", headers=sent
            )
            assert response.status_code == 401
        else:
            sent = [
                ("x-forwarded-host", H),
                ("x-forwarded-uri", "/public/x"),
                ("host", H),
                *headers,
            ]
            path = "auth/envoy/public/x" if dialect == "envoy" else f"auth/{dialect}"
            response = await bare.get(
                f"http://authgate.svc/outpost.goauthentik.io/{path}", headers=sent
            )
            assert response.status_code == 400
