"""An app with ``jwt_bearer``, switched on with ``authgate app set``, through the whole ASGI
app and every dialect: the allow answer carries ``Authorization: Bearer <X-authentik-jwt>``
(a JWT the upstream verifies against the JWKS), an app without the option gets none, nor
does a bypass (no identity, no token), and switching it off takes effect on the next
request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner

from authgate.cli.main import cli
from tests.functional.conftest import PUBLIC, Harness
from tests.functional.dialects import DIALECTS, ask


def _cli(data_dir: Path, *args: str) -> None:
    result = CliRunner().invoke(
        cli, list(args), env={"AUTHGATE_DATA_DIR": str(data_dir), "AUTHGATE_PUBLIC_URL": PUBLIC}
    )
    assert result.exit_code == 0, result.output


def _cookies(harness: Harness, host: str) -> dict[str, str]:
    """The browser's cookies for ``host``, in the header the proxy forwards."""
    jar = harness.client.cookies.jar
    return {"cookie": "; ".join(f"{c.name}={c.value}" for c in jar if c.domain == host)}


async def _signed_in(harness: Harness, host: str) -> dict[str, str]:
    first = await harness.check(host, "/")
    assert first.status_code == 302
    await harness.login(first.headers["location"])
    return _cookies(harness, host)


def _verified(token: str, jwks: dict[str, Any], audience: str) -> dict[str, Any]:
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"], audience=audience)
    return claims


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_flagged_apps_allow_carries_the_jwt_as_bearer(
    harness: Harness, tmp_path: Path, dialect: str
) -> None:
    await asyncio.to_thread(_cli, tmp_path, "app", "set", "app1", "--jwt-bearer")
    cookies = await _signed_in(harness, "app1.test")
    # a scheme authgate does not judge: the app gets authgate's Authorization, not this one
    sent = {**cookies, "authorization": "Negotiate c2VjcmV0"}
    allowed = (await ask(harness.client, dialect, "GET", "app1.test", "/x", sent)).response
    assert allowed.status_code == 200, allowed.text
    token = allowed.headers["x-authentik-jwt"]
    assert allowed.headers.get_list("authorization") == [f"Bearer {token}"]
    jwks = (await harness.client.get(f"{PUBLIC}/.well-known/jwks.json")).json()
    assert _verified(token, jwks, "app1")["preferred_username"] == "alice"

    bypass = (await ask(harness.client, dialect, "GET", "app1.test", "/public/a", sent)).response
    assert bypass.status_code == 200
    assert "authorization" not in bypass.headers  # no identity: no token to pass on


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_an_app_without_the_option_gets_no_jwt_as_authorization(
    harness: Harness, dialect: str
) -> None:
    cookies = await _signed_in(harness, "app2.test")
    allowed = (await ask(harness.client, dialect, "GET", "app2.test", "/", cookies)).response
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["x-authentik-jwt"]
    assert "authorization" not in allowed.headers
    # the app's own Authorization comes back as it was sent, never replaced by the JWT
    own = {**cookies, "authorization": "Negotiate c2VjcmV0"}
    allowed = (await ask(harness.client, dialect, "GET", "app2.test", "/", own)).response
    assert allowed.headers.get_list("authorization") == ["Negotiate c2VjcmV0"]


async def test_switching_it_off_applies_on_the_next_request(
    harness: Harness, tmp_path: Path
) -> None:
    await asyncio.to_thread(_cli, tmp_path, "app", "set", "app1", "--jwt-bearer")
    await _signed_in(harness, "app1.test")
    assert (await harness.check("app1.test", "/")).headers["authorization"].startswith("Bearer ")
    await asyncio.to_thread(_cli, tmp_path, "app", "set", "app1", "--no-jwt-bearer")
    allowed = await harness.check("app1.test", "/")
    assert allowed.status_code == 200 and "authorization" not in allowed.headers
    await asyncio.to_thread(_cli, tmp_path, "app", "set", "app1", "--jwt-bearer")
    assert (await harness.check("app1.test", "/")).headers["authorization"].startswith("Bearer ")
