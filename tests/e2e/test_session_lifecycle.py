"""Sessions over time, through nginx (ingress-nginx shape), Traefik and Caddy: the CLI ends
them at once, a disabled user is out on the next request, a session runs out, and a
domain-mode app shares one cookie across its hosts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import Proxy, Visit, browse, login, login_form, make_client, origin, proxy_factory
from .servers import Authgate, Echo, free_port

pytestmark = pytest.mark.e2e

USER = ("carol", "a long enough password")
APP, A, B = "life.test", "a.home.test", "b.home.test"


@dataclass
class Stack:
    proxy: Proxy
    authgate: Authgate

    def allowed(self) -> set[str]:
        return {self.proxy.origin(h) for h in (APP, A, B, "auth.home.test")} | {
            f"auth.test:{self.authgate.port}"
        }


def start_stack(kind: str, workdir: Path, echo: Echo, env: dict[str, str]) -> Iterator[Stack]:
    with (
        Authgate(workdir / "authgate", extra_env=env) as authgate,
        proxy_factory(kind, workdir, echo, authgate) as start,
    ):
        port = free_port()
        authgate.cli("user", "add", USER[0], "--password-stdin", input=USER[1])
        authgate.cli("app", "add", "life", "--url", f"http://{APP}:{port}")
        authgate.cli(
            "app",
            "add",
            "home",
            "--url",
            f"http://auth.home.test:{port}",
            "--mode",
            "domain",
            "--cookie-domain",
            "home.test",
        )
        proxy = start([APP, A, B, "auth.home.test"], port=port)
        authgate.wait_for_app(proxy.origin(APP))
        yield Stack(proxy, authgate)


@pytest.fixture(params=["nginx", "traefik", "caddy"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, echo: Echo) -> Iterator[Stack]:
    yield from start_stack(request.param, tmp_path, echo, {})


def sign_in(client: httpx.Client, stack: Stack, host: str) -> Visit:
    first = browse(client, stack.proxy.url(host, "/page"), allowed=stack.allowed())
    assert login_form(first.final) is not None, first.describe()
    after = login(client, first.final, *USER, allowed=stack.allowed())
    assert after.final.status_code == 200, after.describe()
    assert after.final.json()["headers"]["x-authentik-username"] == USER[0]
    return after


def reaches_app(client: httpx.Client, stack: Stack, host: str) -> Visit:
    return browse(client, stack.proxy.url(host, "/again"), allowed=stack.allowed())


def asked_to_log_in(visit: Visit) -> bool:
    return login_form(visit.final) is not None and all(r.status_code < 500 for r in visit.responses)


def test_cli_revocation_applies_to_the_very_next_request(stack: Stack) -> None:
    with make_client() as client:
        sign_in(client, stack, APP)
        assert reaches_app(client, stack, APP).final.status_code == 200
        stack.authgate.cli("session", "revoke", "--user", USER[0])
        assert asked_to_log_in(reaches_app(client, stack, APP))


def test_disabled_user_is_out_at_once_and_cannot_log_in(stack: Stack) -> None:
    with make_client() as client:
        sign_in(client, stack, APP)
        stack.authgate.cli("user", "disable", USER[0])
        visit = reaches_app(client, stack, APP)
        assert asked_to_log_in(visit)
        again = login(client, visit.final, *USER, allowed=stack.allowed())
        assert login_form(again.final) is not None, "a disabled user got past the login form"
        stack.authgate.cli("user", "enable", USER[0])


def test_domain_mode_shares_one_cookie_across_its_hosts(stack: Stack) -> None:
    with make_client() as client:
        after = sign_in(client, stack, A)
        assert origin(after.final.request.url) == stack.proxy.origin(A)
        direct = reaches_app(client, stack, B)
        assert [r.status_code for r in direct.responses] == [200], direct.describe()
        assert direct.final.json()["headers"]["x-authentik-username"] == USER[0]


def test_session_runs_out(tmp_path: Path, echo: Echo) -> None:
    for stack in start_stack("nginx", tmp_path, echo, {"AUTHGATE_SESSION_LIFETIME": "3s"}):
        with make_client() as client:
            sign_in(client, stack, APP)
            time.sleep(3.5)  # the session's lifetime itself is what is under test
            assert asked_to_log_in(reaches_app(client, stack, APP))
