"""The live probe's judgement, hop by hop, against a small in-memory world (no sockets).

The real proxies are in tests/e2e/test_doctor_live.py; here every broken answer a proxy or
authgate can give is produced on purpose, and the step that fails must be named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from authgate.doctor import probe
from authgate.doctor.browser import Jar
from authgate.doctor.findings import Finding, Severity

APP = "http://app.test/x"
START = "http://app.test/outpost.goauthentik.io/start?rd=http://app.test/x"
PORTAL = "http://auth.test"
LOGIN_PAGE = (
    '<html><form method="post" action="/login"><input type="hidden" name="state" value="s">'
    '<input type="hidden" name="csrf" value="c"><input name="username">'
    '<input name="password" type="password"><button type="submit">Sign in</button></form></html>'
)
Handler = Callable[[httpx.Request], httpx.Response]


def redirect(location: str, status: int = 302, cookie: str | None = None) -> httpx.Response:
    headers = {"location": location}
    if cookie:
        headers["set-cookie"] = cookie
    return httpx.Response(status, headers=headers)


def html(text: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, text=text, headers={"content-type": "text/html"})


def healthy(request: httpx.Request) -> httpx.Response:
    """app.test behind forward auth, the portal at auth.test, alice / right."""
    url, cookie = request.url, request.headers.get("cookie", "")
    if url.host == "app.test" and url.path.endswith("/start"):
        return redirect(f"{PORTAL}/flow/authorize?state=s", cookie="authgate_state=n; Path=/")
    if url.host == "app.test" and url.path.endswith("/callback"):
        if "authgate_state=n" not in cookie:
            return html("this browser did not start the sign-in (cookie missing)", 400)
        return redirect(APP, cookie="authgate_app=yes; Path=/; HttpOnly")
    if url.host == "app.test":
        return (
            httpx.Response(200, json={"ok": 1}) if "authgate_app=yes" in cookie else redirect(START)
        )
    if url.path == "/flow/authorize":
        if "portal=1" in cookie:
            return redirect("http://app.test/outpost.goauthentik.io/callback?code=c&state=s", 303)
        return redirect(f"{PORTAL}/login?state=s", 303)
    if url.path == "/login" and request.method == "GET":
        return html(LOGIN_PAGE)
    if url.path == "/login":
        if b"password=right" in request.content and b"csrf=c" in request.content:
            return redirect(f"{PORTAL}/flow/authorize?state=s", 303, cookie="portal=1; Path=/")
        return html(LOGIN_PAGE, 401)
    return httpx.Response(404)


def changed(**answers: Handler) -> Handler:
    """``healthy`` with some answers replaced: keys are "start", "callback", "app", "login"."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.host == "app.test":
            stage = (
                "start"
                if path.endswith("/start")
                else "callback"
                if path.endswith("/callback")
                else "app"
            )
        else:
            stage = "login" if path == "/login" and request.method == "POST" else "portal"
        override = answers.get(stage)
        return override(request) if override else healthy(request)

    return handler


def walk(handler: Handler, url: str = APP, **kwargs: Any) -> list[Finding]:
    return probe.run(url, transport=httpx.MockTransport(handler), **kwargs)


def verdict(findings: list[Finding]) -> Finding:
    assert all(f.id == "live-step" for f in findings[:-1])
    return findings[-1]


def test_healthy_setup_reaches_the_login_form_without_credentials() -> None:
    found = walk(healthy)
    last = verdict(found)
    assert (last.id, last.severity) == ("live-login-form", Severity.INFO)
    assert [f.object.split(":")[0] for f in found[:3]] == [
        "step 1 (app)",
        "step 2 (start)",
        "step 3 (portal)",
    ]


def test_healthy_setup_with_credentials_reaches_the_app() -> None:
    last = verdict(walk(healthy, user="alice", password="right"))
    assert (last.id, last.severity) == ("live-ok", Severity.INFO)


def test_wrong_password() -> None:
    last = verdict(walk(healthy, user="alice", password="wrong"))
    assert (last.id, last.severity) == ("live-login-refused", Severity.ERROR)


def test_outpost_route_behind_the_middleware_is_a_redirect_loop() -> None:
    last = verdict(walk(changed(start=lambda r: redirect(f"{START.split('?')[0]}?rd={r.url}"))))
    assert (last.id, last.severity) == ("live-redirect-loop", Severity.ERROR)
    assert last.object.startswith("step 2 (start)")


def test_unregistered_app_names_the_command() -> None:
    page = html("<h1>No application for app.test</h1>", 404)
    last = verdict(walk(changed(start=lambda r: page)))
    assert last.id == "live-app-not-registered"
    assert last.fix.startswith("authgate app add app --url http://app.test")


def test_not_found_on_start_that_is_not_authgate() -> None:
    last = verdict(walk(changed(start=lambda r: httpx.Response(404, text="404 page not found"))))
    assert last.id == "live-outpost-not-found" and "X-Forwarded-Host" in last.fix


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, "live-auth-unreachable"),
        (503, "live-backend-unreachable"),
        (502, "live-backend-unreachable"),
    ],
)
def test_server_errors_from_the_proxy(status: int, expected: str) -> None:
    last = verdict(walk(changed(app=lambda r: httpx.Response(status))))
    assert (last.id, last.severity) == (expected, Severity.ERROR)
    assert last.object.startswith("step 1 (app)")


def test_backend_down_after_login() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        if "authgate_app=yes" in request.headers.get("cookie", ""):
            return httpx.Response(503)
        return healthy(request)

    last = verdict(walk(changed(app=app), user="alice", password="right"))
    assert last.id == "live-backend-unreachable" and "Endpoints" in last.fix


def test_secure_cookie_over_http_is_refused_like_a_browser_does() -> None:
    cookie = "authgate_state=n; Path=/; Secure"
    last = verdict(
        walk(changed(start=lambda r: redirect(f"{PORTAL}/flow/authorize?state=s", cookie=cookie)))
    )
    assert last.id == "live-cookie-refused" and "Secure" in last.problem


def test_app_cookie_that_never_comes_back() -> None:
    def callback(request: httpx.Request) -> httpx.Response:
        return redirect(APP, cookie="authgate_app=yes; Path=/; Domain=other.test")

    last = verdict(walk(changed(callback=callback), user="alice", password="right"))
    assert last.id == "live-cookie-refused" and "Domain=other.test" in last.problem


def test_login_again_after_the_callback() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        return redirect(START) if request.url.path == "/x" else healthy(request)

    last = verdict(walk(changed(app=app), user="alice", password="right"))
    assert last.id == "live-cookie-not-returned"


def test_unprotected_app() -> None:
    last = verdict(walk(changed(app=lambda r: httpx.Response(200))))
    assert (last.id, last.severity) == ("live-not-protected", Severity.WARNING)


def test_bare_401() -> None:
    last = verdict(walk(changed(app=lambda r: httpx.Response(401))))
    assert last.id == "live-no-login-redirect" and "auth-signin" in last.fix


def test_unreachable_host() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    last = verdict(walk(refuse))
    assert (last.id, last.severity) == ("live-unreachable", Severity.ERROR)


def test_resolve_connects_to_the_ip_with_the_host_header() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers["host"]))
        return httpx.Response(200)

    walk(handler, "http://app.test:8080/", resolve={"app.test": "127.0.0.9"})
    assert seen == [("127.0.0.9", "app.test:8080")]


def test_bad_url() -> None:
    assert walk(healthy, "ftp://x")[0].id == "live-bad-url"


def test_jar_keeps_host_only_and_domain_cookies() -> None:
    jar = Jar()
    jar.store("https", "a.example.com", "one=1; Path=/; Secure")
    jar.store("https", "a.example.com", "two=2; Domain=example.com; Path=/")
    jar.store("https", "a.example.com", "gone=3; Max-Age=0")
    assert jar.header("https", "a.example.com", "/x") == "one=1; two=2"
    assert jar.header("https", "b.example.com", "/") == "two=2"
    assert jar.header("http", "a.example.com", "/") == "two=2"  # Secure stays on https
    jar.store("https", "a.example.com", "__Host-x=1; Path=/")
    assert jar.refused == ["__Host-x breaks the __Host- prefix rules (Secure, Path=/, no Domain)"]


def test_redirect_to_another_login_is_not_followed() -> None:
    last = verdict(walk(changed(app=lambda r: redirect("https://sso.elsewhere.test/authorize"))))
    assert (last.id, last.severity) == ("live-unexpected-redirect", Severity.WARNING)


def test_a_redirect_to_https_on_the_same_host_is_followed() -> None:
    def app(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return redirect(str(request.url.copy_with(scheme="https")), 308)
        return httpx.Response(200)

    found = walk(changed(app=app))
    assert [f.object.split(" ")[1] for f in found] == ["1", "2", "2"]
    assert verdict(found).id == "live-not-protected"


def test_resolve_keeps_names_in_the_verdict() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]
        if request.url.path == "/":
            return redirect(f"http://{host}/outpost.goauthentik.io/start?rd=http://{host}/")
        return html(f"<h1>No application for {host}</h1>", 404)

    found = walk(handler, "http://wiki.lan:8080/", resolve={"wiki.lan": "10.0.0.5"})
    last = verdict(found)
    assert last.id == "live-app-not-registered"
    assert last.fix.startswith("authgate app add wiki --url http://wiki.lan:8080")
    assert [f.object.split(": ")[1] for f in found[:2]] == [
        "GET http://wiki.lan:8080/",
        "GET http://wiki.lan:8080/outpost.goauthentik.io/start?rd=http://wiki.lan:8080/",
    ]
