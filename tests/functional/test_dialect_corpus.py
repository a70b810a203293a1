"""Issue 4's corpus of spellings, judged exactly as their canonical form, through every
dialect. The app: bypass ^/public, deny /admin before login, bound to group staff."""

from __future__ import annotations

import httpx
import pytest

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
    ("GET", H, "/admin%2F..", "login"),  # = "/" once %2F is read as a slash
    ("GET", H, "/public%2F..%2Fadmin", "deny"),
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


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_forged_identity_headers_never_pass(rules: Harness, dialect: str) -> None:
    for name in [
        "X-authentik-username",
        "x_authentik_groups",
        "Remote-User",
        "remote_email",
        "X-Auth-Request-User",
        "X-AUTH-REQUEST-GROUPS",
    ]:
        result = await ask(rules.client, dialect, "GET", H, "/public/x", {name: "admin"})
        assert result.response.status_code == (401 if dialect == "nginx" else 400), name


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
