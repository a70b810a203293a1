"""Passkeys in Chromium, through nginx (ingress-nginx shape) and Traefik: register one on the
account page with Chromium's virtual authenticator (the DevTools WebAuthn domain), allow
sign-in with it alone, sign out, sign in with the passkey and no password, and reach the app
through the proxy with ``hwk`` in the amr of the JWT the upstream receives.

``http://auth.test:PORT`` is no secure context, so WebAuthn is switched on for that one
origin with ``--unsafely-treat-insecure-origin-as-secure`` (``chromium_extra_args``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from .conftest import Proxy, page_json, proxy_factory
from .servers import Authgate, Echo, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

USER, PASSWORD = "dana", "a long enough password"
APP = "keys.test"


@pytest.fixture
def chromium_extra_args(authgate: Authgate) -> list[str]:
    return [f"--unsafely-treat-insecure-origin-as-secure={authgate.public_url}"]


@pytest.fixture(params=["nginx", "traefik"])
def proxy(
    request: pytest.FixtureRequest, tmp_path: Path, echo: Echo, authgate: Authgate
) -> Iterator[Proxy]:
    """dana and the app ``keys.test`` behind the proxy ``request.param``."""
    with proxy_factory(request.param, tmp_path, echo, authgate) as start:
        port = free_port()
        authgate.cli("user", "add", USER, "--password-stdin", input=PASSWORD)
        authgate.cli("app", "add", "keys", "--url", f"http://{APP}:{port}")
        started = start([APP], port=port)
        authgate.wait_for_app(started.origin(APP))
        yield started


def virtual_authenticator(page: Any) -> Callable[[], list[dict[str, Any]]]:
    """A platform authenticator with resident keys and a user who always verifies; returns
    a function listing the credentials it holds."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})

    def credentials() -> list[dict[str, Any]]:
        held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]})
        found: list[dict[str, Any]] = held["credentials"]
        return found

    return credentials


def verified_claims(authgate: Authgate, token: str) -> dict[str, Any]:
    """The JWT's claims, its signature checked against the portal's JWKS."""
    jwks = httpx.get(f"{authgate.url}/.well-known/jwks.json", trust_env=False).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key=key, algorithms=["ES256"], options={"verify_aud": False}
    )
    return claims


def test_register_a_passkey_then_sign_in_with_it_alone_through_the_proxy(
    authgate: Authgate, proxy: Proxy, browser_page: Any, screenshot: Callable[[Any, str], Path]
) -> None:
    page = browser_page
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    credentials = virtual_authenticator(page)
    portal = authgate.public_url

    # a password sign-in through the proxy, then the account page
    page.goto(proxy.url(APP, "/first"))
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(proxy.url(APP, "/first"))
    page.goto(f"{portal}/account")
    page.fill("#passkey-new-name", "Chromium")
    page.click("button:has-text('Add a passkey')")
    page.wait_for_url("**/account?notice=passkey_added*")
    assert page.locator(".passkey-name").all_inner_texts() == ["Chromium"]
    (held,) = credentials()
    assert held["isResidentCredential"], "the passkey must be discoverable"

    page.click("button:has-text('Allow sign-in with a passkey alone')")
    page.wait_for_url("**/account?notice=passwordless_on*")
    screenshot(page, "1-account-passkeys")

    # sign out, then back to the app: the login page offers the passkey
    page.goto(f"{portal}/logout")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{portal}/signed-out")
    page.goto(proxy.url(APP, "/after?x=1"))
    button = page.locator("button:has-text('Sign in with a passkey')")
    button.wait_for(state="visible")
    screenshot(page, "2-login-with-passkey")

    button.click()  # no user name, no password
    page.wait_for_url(proxy.url(APP, "/after?x=1"))

    seen = page_json(page)["headers"]
    assert seen["x-authentik-username"] == USER
    claims = verified_claims(authgate, seen["x-authentik-jwt"])
    assert "hwk" in claims["amr"] and "pwd" not in claims["amr"], claims
    assert credentials()[0]["signCount"] >= 1
    assert not [p for p in problems if "Content Security Policy" in p], problems
    events = {e["event"] for e in json.loads(authgate.cli("audit", "--json").stdout)}
    assert {"passkey_registered", "passwordless_allowed", "passkey_used"} <= events
