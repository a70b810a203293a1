"""The real password over Basic through every dialect's endpoint (the whole app in-process):
an app with ``basic_password`` takes it as a sign-in (policy still judges the user, the
upstream never sees the password); any other app refuses it as before; a full hashing
queue is a 503 (nginx: 401, as in a store outage), never an allow and never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from authgate.accounts.hashing import HashingPool
from authgate.accounts.passwords import hash_password
from tests.functional.conftest import PASSWORD, Harness
from tests.functional.dialects import DIALECTS, ask
from tests.functional.test_api_credentials import basic, refused
from tests.pool_work import Gate, wait_while


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """A script: no browser headers, no cookies; app1 (bound to staff) allows Basic."""
    await harness.runtime.store.set_app_options("app1", basic_password=True)
    async with httpx.AsyncClient(transport=harness.client._transport) as bare:
        yield bare


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_password_signs_in_where_allowed_and_is_refused_elsewhere(
    harness: Harness, client: httpx.AsyncClient, dialect: str
) -> None:
    result = await ask(client, dialect, "GET", "app1.test", "/x", basic("alice", PASSWORD))
    answer = result.response
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-authentik-username"] == "alice"
    assert answer.headers["remote-groups"] == "staff"
    assert "authorization" not in answer.headers  # the password never goes upstream
    assert answer.headers["x-envoy-auth-headers-to-remove"] == "authorization"
    other = await ask(client, dialect, "GET", "app2.test", "/x", basic("alice", PASSWORD))
    refused(other.response, "Basic")


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_wrong_password_and_unknown_user_get_the_same_401(
    harness: Harness, client: httpx.AsyncClient, dialect: str
) -> None:
    wrong = await ask(client, dialect, "GET", "app1.test", "/", basic("alice", "nope"))
    unknown = await ask(client, dialect, "GET", "app1.test", "/", basic("mallory", PASSWORD))
    refused(wrong.response, "Basic")
    refused(unknown.response, "Basic")
    if dialect != "nginx":  # nginx replaces the body with its own
        described = [r.response.json()["error_description"] for r in (wrong, unknown)]
        assert described[0] == described[1]


async def test_policy_still_judges_the_user_and_mfa_apps_never_take_it(
    harness: Harness, client: httpx.AsyncClient
) -> None:
    bob = await ask(client, "nginx", "GET", "app1.test", "/", basic("bob", PASSWORD))
    refused(bob.response, "Basic", status=403)  # app1 is for staff
    await harness.runtime.store.set_app_options("app1", require_mfa=True)
    alice = await ask(client, "nginx", "GET", "app1.test", "/", basic("alice", PASSWORD))
    refused(alice.response, "Basic")


async def test_a_new_password_is_obeyed_by_the_next_check(
    harness: Harness, client: httpx.AsyncClient
) -> None:
    ok = await ask(client, "traefik", "GET", "app1.test", "/", basic("alice", PASSWORD))
    assert ok.response.status_code == 200
    await harness.runtime.store.set_password("alice", hash_password("another password 42"))
    old = await ask(client, "traefik", "GET", "app1.test", "/", basic("alice", PASSWORD))
    refused(old.response, "Basic")
    new = await ask(
        client, "traefik", "GET", "app1.test", "/", basic("alice", "another password 42")
    )
    assert new.response.status_code == 200


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_full_hashing_queue_is_503(
    harness: Harness, client: httpx.AsyncClient, dialect: str
) -> None:
    pool = HashingPool(workers=1, waiting=0)
    harness.runtime.hashing = harness.runtime.login.hashing = pool
    with Gate() as gate:
        held = asyncio.ensure_future(pool.run(wait_while, gate.path, 30))
        await asyncio.sleep(0.05)
        busy = await ask(client, dialect, "GET", "app1.test", "/", basic("alice", PASSWORD))
        gate.open()
        await held
    # nginx's auth_request makes a 500 of a 503: its dialect says 401, as in a store outage
    expected = 401 if dialect == "nginx" else 503
    assert busy.response.status_code == expected, busy.response.text
    if dialect != "nginx":
        assert int(busy.response.headers["retry-after"]) > 0
    assert "x-authentik-username" not in busy.response.headers
    ok = await ask(client, dialect, "GET", "app1.test", "/", basic("alice", PASSWORD))
    assert ok.response.status_code == 200
    pool.close()
