"""API tokens and app passwords through every dialect's endpoint (the whole app in-process):
a good credential is judged by the app's policy and answered like a session, with nothing
of the credential handed upstream; a bad one gets 401 with WWW-Authenticate, never a
redirect; a credential authgate does not know leaves a browser's cookie in charge."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from authgate.accounts.api_credentials import issue
from authgate.forward.api_secrets import APP_PASSWORD, TOKEN
from authgate.storage import models as m
from authgate.storage.store import now
from tests.functional.conftest import PASSWORD, Harness
from tests.functional.dialects import DIALECTS, ask
from tests.functional.test_fuzz import call as fuzz_call

SCRIPT = {"accept": "application/json"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **SCRIPT}


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {pair}", **SCRIPT}


def refused(result: httpx.Response, scheme: str = "Bearer", status: int = 401) -> str:
    assert result.status_code == status, (result.status_code, result.text)
    assert "location" not in result.headers
    challenge = result.headers["www-authenticate"]
    assert challenge.startswith(f'{scheme} realm="authgate"'), challenge
    return challenge


async def token_for(harness: Harness, user: str = "alice", **kwargs: object) -> str:
    issued = await issue(harness.runtime.store, user, TOKEN, **kwargs)  # type: ignore[arg-type]
    return issued.secret


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """A script: no browser headers, no cookies."""
    async with httpx.AsyncClient(transport=harness.client._transport) as bare:
        yield bare


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_token_is_a_user_and_never_reaches_the_upstream(
    harness: Harness, client: httpx.AsyncClient, dialect: str
) -> None:
    token = await token_for(harness)
    result = (await ask(client, dialect, "GET", "app1.test", "/x", bearer(token))).response
    assert result.status_code == 200, result.text
    assert result.headers["x-authentik-username"] == "alice"
    assert result.headers["remote-groups"] == "staff"
    assert result.headers["x-authentik-jwt"]
    assert "authorization" not in result.headers  # nginx, Traefik, Caddy: none upstream
    assert result.headers["x-envoy-auth-headers-to-remove"] == "authorization"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_bad_tokens_get_401_with_www_authenticate(
    harness: Harness, client: httpx.AsyncClient, dialect: str
) -> None:
    store = harness.runtime.store
    good = await token_for(harness)
    other_app = await token_for(harness, apps=["app2"])
    revoked = await token_for(harness)
    await store.revoke_api_credential(revoked.split("_")[1])
    expiring = await token_for(harness, lifetime=60)
    async with store._tx() as db:
        await db.execute(
            update(m.ApiCredential)
            .where(m.ApiCredential.lookup == expiring.split("_")[1])
            .values(expires_at=now())
        )
        await store._commit_change(db)
    cases = {
        other_app: "token not valid for app app1",
        revoked: "token revoked",
        expiring: "token expired",
        good[:-1] + ("a" if good[-1] != "a" else "b"): "unknown token",
        good[:-1]: "malformed token",
        "agt_": "malformed token",
    }
    for token, reason in cases.items():
        result = await ask(client, dialect, "GET", "app1.test", "/x", bearer(token))
        challenge = refused(result.response)
        assert f'error_description="{reason}"' in challenge, (token, challenge)
        if dialect != "nginx":
            assert result.response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_basic_takes_an_app_password_never_the_real_password(
    harness: Harness, client: httpx.AsyncClient, dialect: str
) -> None:
    issued = await issue(harness.runtime.store, "alice", APP_PASSWORD)
    ok = await ask(client, dialect, "GET", "app1.test", "/", basic("alice", issued.secret))
    assert ok.response.status_code == 200
    assert ok.response.headers["x-authentik-username"] == "alice"
    spaced = "AGP-" + issued.secret[4:].upper().replace("-", " ")  # as a person might type it
    typed = await ask(client, dialect, "GET", "app1.test", "/", basic("alice", spaced))
    assert typed.response.status_code == 200
    token = await token_for(harness)  # a token is a Basic password too (git), any user name
    as_basic = await ask(client, dialect, "GET", "app1.test", "/", basic("x-token", token))
    assert as_basic.response.headers["x-authentik-username"] == "alice"
    for user, password in [("bob", issued.secret), ("alice", PASSWORD)]:
        result = await ask(client, dialect, "GET", "app1.test", "/", basic(user, password))
        refused(result.response, "Basic")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_policy_still_judges_the_tokens_user(
    harness: Harness, client: httpx.AsyncClient, dialect: str
) -> None:
    """app1 is bound to group staff: bob's good token is refused (403, no login page); an
    app that needs a second factor refuses tokens (a token is not one)."""
    bobs = await token_for(harness, "bob")
    result = await ask(client, dialect, "GET", "app1.test", "/", bearer(bobs))
    refused(result.response, status=403)
    await harness.runtime.store.set_app_options("app2", require_mfa=True)
    alices = await token_for(harness)
    result = await ask(client, dialect, "GET", "app2.test", "/", bearer(alices))
    assert "insufficient_scope" in refused(result.response, status=403)


async def test_revoking_or_disabling_is_obeyed_by_the_next_check(harness: Harness) -> None:
    store = harness.runtime.store
    token = await token_for(harness)
    assert (await harness.check("app1.test", "/", **bearer(token))).status_code == 200
    await store.revoke_api_credential(token.split("_")[1])
    refused(await harness.check("app1.test", "/", **bearer(token)))
    other = await token_for(harness)
    assert (await harness.check("app1.test", "/", **bearer(other))).status_code == 200
    await store.set_disabled("alice", True)
    refused(await harness.check("app1.test", "/", **bearer(other)))


async def test_last_use_is_written_in_the_background(harness: Harness) -> None:
    token = await token_for(harness, description="ci")
    before = time.time()
    assert (await harness.check("app1.test", "/", **bearer(token))).status_code == 200
    [listed] = await harness.runtime.store.list_api_credentials("alice")
    assert listed.last_used_at is None  # the check itself never writes
    await harness.runtime.sync.flush()
    [listed] = await harness.runtime.store.list_api_credentials("alice")
    assert listed.last_used_at is not None and listed.last_used_at.timestamp() >= before - 1
    assert listed.last_used_ip == "127.0.0.1"


async def test_an_apps_own_authorization_leaves_the_cookie_in_charge(
    harness: Harness, client: httpx.AsyncClient
) -> None:
    """A signed-in browser whose app sends its own Bearer (or Basic): the cookie decides and
    the header goes on to the app. Without a cookie the browser is sent to log in; a script
    gets the 401."""
    own = {"authorization": "Bearer eyJhbGciOi.app.own"}
    first = await harness.check("app1.test", "/x", **own)
    assert first.status_code == 302  # a browser without a session: log in
    await harness.login(first.headers["location"])
    passed = await harness.check("app1.test", "/x", **own)
    assert passed.status_code == 200
    assert passed.headers["authorization"] == own["authorization"]
    cookie_only = await harness.check("app1.test", "/x")
    assert "authorization" not in cookie_only.headers
    script_result = await ask(client, "traefik", "GET", "app1.test", "/x", {**own, **SCRIPT})
    assert 'error_description="unknown credential"' in refused(script_result.response)


async def test_a_bypass_path_ignores_the_credential_but_never_hands_ours_on(
    harness: Harness,
) -> None:
    result = await harness.check("app1.test", "/public/x", **bearer("agt_not_even_valid"))
    assert result.status_code == 200
    assert "authorization" not in result.headers


LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)
AUTHORIZATIONS = st.one_of(
    st.text(LATIN1, max_size=60),
    st.tuples(
        st.sampled_from(["Bearer ", "bearer  ", "Basic ", "BASIC ", "Bearer agt_", "Digest "]),
        st.text(LATIN1, max_size=60),
    ).map("".join),
    st.tuples(st.text(max_size=20), st.text(max_size=40)).map(
        lambda pair: "Basic " + base64.b64encode(f"{pair[0]}:agp-{pair[1]}".encode()).decode()
    ),
)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_any_authorization_value_is_refused_never_a_500(
    sync_harness: Harness, dialect: str
) -> None:
    """Hypothesis against the endpoint: whatever a client puts in Authorization, a check
    without a session is refused (401, or 302 to the login for what may be an app's own
    credential on the dialects that redirect), never allowed, never a 5xx."""

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(AUTHORIZATIONS)
    def judge(value: str) -> None:
        status = fuzz_ask(sync_harness, dialect, value)
        assert status in (302, 401, 400), (value, status)
        if dialect == "nginx":
            assert status == 401, (value, status)

    judge()


def fuzz_ask(harness: Harness, dialect: str, authorization: str) -> int:
    base = "/outpost.goauthentik.io/auth/"
    headers = [(b"authorization", authorization.encode("latin-1"))]
    if dialect == "nginx":
        headers.append((b"x-original-url", b"http://app1.test/x"))
        path = base + "nginx"
    elif dialect == "envoy":
        headers.append((b"host", b"app1.test"))
        path = base + "envoy/x"
    else:
        headers += [(b"x-forwarded-host", b"app1.test"), (b"x-forwarded-uri", b"/x")]
        path = base + dialect
    loop = asyncio.get_event_loop()
    return loop.run_until_complete(fuzz_call(harness.app, path, headers))
