"""Second factors in Chromium, through real proxies.

- nginx (ingress-nginx shape), authgate with two workers: enrol an authenticator app on the
  account page (the secret read off the page, codes made with pyotp as the phone would),
  sign out, sign in with password and code; a reused code is refused; a recovery code works
  once and only once.
- nginx, Traefik and Caddy: step-up. A session signed in with the password alone opens an
  app registered with ``--require-mfa``: the portal asks only for the second factor and the
  browser lands back on the URL it opened; the upstream's ``X-authentik-jwt`` (verified
  against the JWKS) lists both factors. A user without a factor sets one up first.

Screenshots of the pages go under ``test-output/screenshots/``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.factors import code, secret_on
from tests.forms import find_form_with

from .conftest import OUTPOST, browse, login, make_client, page_json
from .proxyconf import caddyfile, ingress_nginx_conf, traefik_dynamic
from .servers import Authgate, Caddy, Echo, Nginx, Process, Traefik, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ALICE = ("alice", "a long enough password 1")
BOB = ("bob", "another long password 2")
WIKI, VAULT = "wiki.mfa.test", "vault.mfa.test"  # vault: --require-mfa
Shoot = Callable[[Any, str], Path]


@dataclass
class Stack:
    authgate: Authgate
    port: int  # the proxy's

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def portal(self) -> str:
        return self.authgate.public_url


def _proxy(kind: str, workdir: Path, port: int, auth_port: int, echo: Echo) -> Process:
    """Proxy ``kind`` in the seeds' shape (their header lists hand the upstream X-authentik-jwt)."""
    apps = [(WIKI, echo.port), (VAULT, echo.port)]
    if kind == "nginx":
        return Nginx(ingress_nginx_conf(port, auth_port, apps), workdir, port)
    if kind == "traefik":
        return Traefik(traefik_dynamic(auth_port, apps), workdir, port)
    return Caddy(caddyfile(port, auth_port, apps), workdir, port)


@contextlib.contextmanager
def mfa_stack(kind: str, workdir: Path, echo: Echo, workers: int = 1) -> Iterator[Stack]:
    env = {"AUTHGATE_WORKERS": str(workers)}
    with Authgate(workdir / "authgate", extra_env=env) as authgate:
        port = free_port()
        for name, password in (ALICE, BOB):
            authgate.cli("user", "add", name, "--password-stdin", input=password)
        authgate.cli("app", "add", "wiki", "--url", f"http://{WIKI}:{port}")
        authgate.cli("app", "add", "vault", "--url", f"http://{VAULT}:{port}", "--require-mfa")
        with _proxy(kind, workdir / kind, port, authgate.port, echo):
            authgate.wait_for_app(f"{VAULT}:{port}")
            yield Stack(authgate, port)


# --------------------------------------------------------------------------------------------
# what a person does in the browser
# --------------------------------------------------------------------------------------------


def type_password(page: Any, user: tuple[str, str]) -> None:
    page.wait_for_selector("input[name=password]")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[1])
    page.press("input[name=password]", "Enter")


def type_code(page: Any, typed: str) -> None:
    page.fill("#code", typed)
    page.press("#code", "Enter")


def sign_out(page: Any, stack: Stack) -> None:
    page.goto(stack.url(WIKI, f"{OUTPOST}/sign_out"))
    page.wait_for_url(f"{stack.portal}/signed-out")


def to_second_factor(page: Any, stack: Stack, path: str) -> None:
    """Open the wiki signed out, type the password: the second-factor step."""
    page.goto(stack.url(WIKI, path))
    type_password(page, ALICE)
    page.wait_for_url(f"{stack.portal}/login/second-factor")


def refused(page: Any) -> None:
    page.wait_for_selector("#code-error")
    assert "/login/second-factor" in page.url, page.url


def enrol_on_account_page(page: Any, stack: Stack, shoot: Shoot) -> tuple[str, list[str]]:
    page.goto(f"{stack.portal}/account")
    shoot(page, "1-account-two-factor-off")
    page.click("#totp-enrol")
    page.wait_for_selector("#totp-qr")
    shoot(page, "2-enrol-authenticator-app")
    secret = page.inner_text("#totp-secret").replace(" ", "")
    type_code(page, code(secret, -1))
    page.wait_for_selector("#recovery-codes")
    codes: list[str] = page.locator("#recovery-codes code").all_inner_texts()
    shoot(page, "3-recovery-codes")
    page.click("#continue")
    page.wait_for_selector("#account-notice")
    shoot(page, "4-account-two-factor-on")
    return secret, codes


# --------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------


def test_enrol_sign_in_with_a_code_once_and_a_recovery_code_once(
    tmp_path: Path, echo: Echo, browser_page: Any, screenshot: Shoot
) -> None:
    page = browser_page
    with mfa_stack("nginx", tmp_path, echo, workers=2) as stack:
        page.goto(stack.url(WIKI, "/a"))
        type_password(page, ALICE)  # no factor yet: straight in
        page.wait_for_url(stack.url(WIKI, "/a"))
        secret, codes = enrol_on_account_page(page, stack, screenshot)
        assert len(codes) == 10
        sign_out(page, stack)

        to_second_factor(page, stack, "/b")
        screenshot(page, "5-second-factor")
        used = code(secret)
        type_code(page, used)
        page.wait_for_url(stack.url(WIKI, "/b"))
        assert page_json(page)["headers"]["x-authentik-username"] == "alice"
        sign_out(page, stack)

        to_second_factor(page, stack, "/c")
        type_code(page, used)  # the same code again (another worker may judge it)
        refused(page)
        screenshot(page, "6-code-used-already")
        type_code(page, code(secret, 1))
        page.wait_for_url(stack.url(WIKI, "/c"))
        sign_out(page, stack)

        for attempt in range(2):
            to_second_factor(page, stack, "/d")
            page.click("#use-recovery-code")
            page.wait_for_selector("#recovery-form")
            type_code(page, codes[0])
            if attempt == 0:
                page.wait_for_url(stack.url(WIKI, "/d"))
                sign_out(page, stack)
            else:
                refused(page)
                screenshot(page, "7-recovery-code-used-already")
        events = stack.authgate.cli("audit", "--json").stdout
        assert '"recovery_code_used"' in events and '"totp_enrolled"' in events


def enrol_elsewhere(stack: Stack) -> str:
    """Alice sets up an authenticator app in another browser (the account page's forms)."""
    with make_client() as client:
        first = browse(client, stack.url(WIKI, "/"))
        login(client, first.final, *ALICE)
        page = client.get(f"{stack.portal}/account/totp")
        secret = secret_on(page.text)
        form = find_form_with(page.text, "code")
        assert form is not None
        done = client.post(form.action, data={**form.fields, "code": code(secret, -1)})
        assert done.status_code == 200 and 'id="recovery-codes"' in done.text, done.text
    return secret


def verified_claims(stack: Stack, token: str) -> dict[str, Any]:
    with httpx.Client(trust_env=False) as client:
        jwks = client.get(f"{stack.authgate.url}/.well-known/jwks.json").json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, ["ES256"], audience="vault")
    return claims


@pytest.mark.parametrize("kind", ["nginx", "traefik", "caddy"])
def test_step_up_asks_only_the_second_factor_and_returns_to_the_url(
    kind: str, tmp_path: Path, echo: Echo, browser_page: Any, screenshot: Shoot
) -> None:
    page = browser_page
    with mfa_stack(kind, tmp_path, echo) as stack:
        page.goto(stack.url(WIKI, "/"))
        type_password(page, ALICE)
        page.wait_for_url(stack.url(WIKI, "/"))  # a session with the password alone
        secret = enrol_elsewhere(stack)

        target = stack.url(VAULT, "/secret/page?x=1&y=2")
        page.goto(target)
        page.wait_for_selector("#totp-form")
        assert "/login/second-factor?state=" in page.url
        assert page.locator("input[type=password]").count() == 0  # no password prompt
        screenshot(page, "1-step-up")
        type_code(page, code(secret))
        page.wait_for_url(target)
        seen = page_json(page)
        assert (seen["path"], seen["query"]) == ("/secret/page", "x=1&y=2")
        claims = verified_claims(stack, seen["headers"]["x-authentik-jwt"])
        assert claims["amr"] == ["pwd", "otp", "mfa"]
        assert claims["preferred_username"] == "alice"
        sign_out(page, stack)

        page.goto(target)  # bob has no factor: he sets one up first, then goes on
        type_password(page, BOB)
        page.wait_for_selector("#totp-qr")
        assert "/account/enrol?state=" in page.url
        screenshot(page, "2-enrol-first")
        type_code(page, code(secret_on(page.content())))
        page.wait_for_selector("#recovery-codes")
        page.click("#continue")
        page.wait_for_url(target)
        bob = verified_claims(stack, page_json(page)["headers"]["x-authentik-jwt"])
        assert bob["preferred_username"] == "bob" and bob["amr"] == ["pwd", "otp", "mfa"]
