"""API tokens and app passwords through real proxies, with the configs ``authgate
manifests`` writes (nginx, Traefik's file provider, Caddy) and through seed 003's Traefik
middleware as the seed has it: a script with a good token reaches the app as its user and
the app never sees the token; every bad one gets 401 with WWW-Authenticate (never a
redirect, never a 5xx); Basic takes an app password, never the real password; a signed-in
browser's own Authorization still reaches the app."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import Proxy, browse, login, make_client
from .servers import Authgate, Echo
from .test_generated_configs import ALICE, HOST, Generated, deployment

pytestmark = pytest.mark.e2e

KINDS = ["nginx", "traefik-file", "caddy"]
SCRIPT = {"Accept": "application/json"}


@pytest.fixture(scope="module", params=KINDS)
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, echo: Echo
) -> Iterator[Generated]:
    kind: str = request.param
    workdir = tmp_path_factory.mktemp(f"tokens-{kind}")
    with Authgate(workdir / "authgate") as authgate:
        authgate.cli("app", "add", "other", "--url", "http://other.test")
        with deployment(kind, workdir, echo, authgate) as port:
            yield Generated(port, authgate)


def secret(authgate: Authgate, *args: str) -> str:
    """A new credential's secret: the last line ``create`` prints."""
    out = authgate.cli(*args).stdout
    return out.strip().splitlines()[-1]


def lookup_of(token: str) -> str:
    return token.split("_")[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **SCRIPT}


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}", **SCRIPT}


def get(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(url, headers=headers, trust_env=False, follow_redirects=False)


def assert_refused(response: httpx.Response, scheme: str = "Bearer") -> str:
    assert response.status_code == 401, (response.status_code, response.text)
    assert "location" not in response.headers, response.headers
    [challenge] = response.headers.get_list("www-authenticate")
    assert challenge.startswith(f'{scheme} realm="authgate"'), challenge
    assert response.headers.get("x-authentik-username") is None
    return challenge


def test_a_token_reaches_the_app_as_its_user_and_the_app_never_sees_it(
    generated: Generated,
) -> None:
    token = secret(generated.authgate, "token", "create", "--user", "alice")
    url = f"http://{HOST}:{generated.port}/api?x=1"
    response = get(url, bearer(token))
    assert response.status_code == 200, response.text
    seen = response.json()["headers"]
    assert seen["x-authentik-username"] == seen["remote-user"] == "alice"
    assert seen["x-authentik-groups"] == "staff"
    assert seen["x-authentik-jwt"]
    assert "authorization" not in seen, seen
    assert token not in response.text


def test_bad_tokens_get_401_with_www_authenticate(generated: Generated) -> None:
    authgate, url = generated.authgate, f"http://{HOST}:{generated.port}/"
    revoked = secret(authgate, "token", "create", "--user", "alice")
    authgate.cli("token", "revoke", lookup_of(revoked))
    other_app = secret(authgate, "token", "create", "--user", "alice", "--app", "other")
    expiring = secret(authgate, "token", "create", "--user", "alice", "--expires", "1s")
    time.sleep(1.2)
    cases = {
        revoked: "token revoked",
        other_app: "token not valid for app gen",
        expiring: "token expired",
        revoked[:-2]: "malformed token",
        revoked[:-1] + ("x" if revoked[-1] != "x" else "y"): "unknown token",
    }
    for token, reason in cases.items():
        response = get(url, bearer(token))
        challenge = assert_refused(response)
        assert f'error_description="{reason}"' in challenge, (token, challenge)
        assert response.json()["error"] == "invalid_token"
    assert_refused(get(url, {"Authorization": "Bearer not a token", **SCRIPT}))


def test_basic_takes_an_app_password_never_the_real_password(generated: Generated) -> None:
    authgate, url = generated.authgate, f"http://{HOST}:{generated.port}/dav/"
    password = secret(authgate, "app-password", "create", "--user", "alice")
    response = get(url, basic("alice", password))
    assert response.status_code == 200, response.text
    seen = response.json()["headers"]
    assert seen["x-authentik-username"] == "alice" and "authorization" not in seen
    assert_refused(get(url, basic(*ALICE)), "Basic")
    assert_refused(get(url, basic("bob", password)), "Basic")


def test_a_signed_in_browsers_own_authorization_reaches_the_app(generated: Generated) -> None:
    port, authgate = generated.port, generated.authgate
    allowed = {f"{HOST}:{port}", f"auth.test:{authgate.port}"}
    with make_client() as client:
        first = browse(client, f"http://{HOST}:{port}/", allowed=allowed)
        after = login(client, first.final, *ALICE, allowed=allowed)
        assert after.final.status_code == 200, after.describe()
        own = "Bearer the.apps.own"
        response = client.get(f"http://{HOST}:{port}/spa", headers={"Authorization": own})
        assert response.status_code == 200, response.text
        assert response.json()["headers"]["authorization"] == own


def test_seed_traefik_middleware_strips_the_token(
    traefik_stack: Callable[..., Proxy], authgate: Authgate, tmp_path: Path
) -> None:
    """Seed 003 lists Authorization in authResponseHeaders already: as written, it works."""
    proxy = traefik_stack(["app1.test"])
    authgate.cli("user", "add", "carol", "--password-stdin", input="a long password 1")
    authgate.cli("app", "add", "app1", "--url", proxy.url("app1.test").rstrip("/"))
    authgate.wait_for_app(proxy.origin("app1.test"))
    token = secret(authgate, "token", "create", "--user", "carol")
    response = get(proxy.url("app1.test", "/x"), bearer(token))
    assert response.status_code == 200, response.text
    seen = response.json()["headers"]
    assert seen["x-authentik-username"] == "carol" and "authorization" not in seen
    assert_refused(get(proxy.url("app1.test", "/x"), bearer(token[:-1] + "0")))
