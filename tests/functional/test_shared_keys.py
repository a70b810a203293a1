"""Two servers (each its own data dir) on one store sign and verify with the same keys, and
a rotation reaches both without signing anybody out. In-process: two whole apps, one
SQLite database, the CLI for ``keys rotate`` and ``keys list``."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from authgate.cli.main import cli
from authgate.config import load_settings
from authgate.config.secret import Secret
from authgate.forward.tokens import load_key, new_key_pem, public_jwk
from authgate.server import create_app
from authgate.signing import Signing
from authgate.storage import models as m
from authgate.storage.store import now
from authgate.web.runtime import Runtime
from tests.functional.conftest import PUBLIC, Harness

Replica = Harness


async def start(data_dir: Path, database: str, **env: str) -> Replica:
    settings = load_settings(
        {
            "AUTHGATE_DATA_DIR": str(data_dir),
            "AUTHGATE_PUBLIC_URL": PUBLIC,
            "AUTHGATE_DATABASE_URL": database,
            "AUTHGATE_SYNC_INTERVAL": "0.1",
            **env,
        }
    )
    runtime = Runtime(settings)
    await runtime.reload()  # what the lifespan does before serving
    app = create_app(settings, runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    browser = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}
    return Harness(app, runtime, httpx.AsyncClient(transport=transport, headers=browser))


@pytest.fixture
def database(tmp_path: Path, template_db: tuple[Path, str]) -> str:
    shutil.copy(template_db[0], tmp_path / "shared.db")
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.fixture
async def pair(
    tmp_path: Path, database: str, template_db: tuple[Path, str]
) -> AsyncIterator[tuple[Replica, Replica]]:
    a = await start(tmp_path / "a", database)
    pw = template_db[1]
    await a.runtime.store.add_user("alice", password_hash=pw, groups=["staff"])
    await a.runtime.store.add_app("app1", url="http://app1.test", groups=["staff"])
    await a.runtime.reload()
    b = await start(tmp_path / "b", database)
    yield a, b
    for each in (a, b):
        await each.client.aclose()
        await each.runtime.close()


def take_cookies(source: Replica, target: Replica) -> None:
    """The browser goes to the other replica (the load balancer chose it)."""
    target.client.cookies.clear()
    for cookie in source.client.cookies.jar:
        target.client.cookies.jar.set_cookie(cookie)


async def sign_in(replica: Replica) -> httpx.Response:
    first = await replica.check("app1.test", "/x")
    assert first.status_code == 302
    assert await replica.login(first.headers["location"]) == "http://app1.test/x"
    allowed = await replica.check("app1.test", "/x")
    assert allowed.status_code == 200, allowed.text
    return allowed


async def jwks(replica: Replica) -> dict[str, Any]:
    answer = await replica.client.get(f"{PUBLIC}/.well-known/jwks.json")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def sync_until_one_jwt_key(server: Replica, timeout: float = 3.0) -> None:
    """Run the server's sync loop until its JWKS lists one key (or ``timeout`` passes)."""
    sync = asyncio.create_task(server.runtime.sync.run())
    try:
        deadline = time.monotonic() + timeout
        while len((await jwks(server))["keys"]) == 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        sync.cancel()


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def verifies(token: str, published: dict[str, Any]) -> bool:
    try:
        key = jwt.PyJWKSet.from_dict(published)[kid(token)]
    except KeyError:
        return False
    return jwt.decode(token, key, algorithms=["ES256"], audience="app1")["sub"] != ""


async def run_cli(database: str, data_dir: Path, *args: str, **extra: str) -> str:
    """The real command line (in a thread: it runs an event loop of its own)."""
    env = {"AUTHGATE_DATA_DIR": str(data_dir), "AUTHGATE_DATABASE_URL": database, **extra}
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, list(args), env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


async def test_what_one_replica_signs_the_other_verifies(pair: tuple[Replica, Replica]) -> None:
    a, b = pair
    token = (await sign_in(a)).headers["x-authentik-jwt"]
    take_cookies(a, b)
    on_b = await b.check("app1.test", "/x")
    assert on_b.status_code == 200, on_b.text
    assert on_b.headers["x-authentik-username"] == "alice"
    assert await jwks(a) == await jwks(b)
    assert verifies(token, await jwks(b))
    assert verifies(on_b.headers["x-authentik-jwt"], await jwks(a))
    # the portal session too: B knows the browser A signed in, no password asked
    portal = await b.client.get(f"{PUBLIC}/")
    assert portal.status_code == 200 and 'name="password"' not in portal.text


async def test_a_rotation_reaches_both_and_signs_nobody_out(
    pair: tuple[Replica, Replica], database: str, tmp_path: Path
) -> None:
    a, b = pair
    before = (await sign_in(a)).headers["x-authentik-jwt"]
    old_cookies = list(a.client.cookies.jar)
    old_kid = kid(before)
    assert [k["kid"] for k in (await jwks(b))["keys"]] == [old_kid]

    out = await run_cli(database, tmp_path / "cli", "keys", "rotate", "--json")
    rotated = json.loads(out)
    new_kid = next(r["kid"] for r in rotated if r["kind"] == "jwt" and r["state"] == "signing")
    assert new_kid != old_kid
    for each in (a, b):  # what the revision poll does within a second
        await each.runtime.reload()

    for each in (a, b):
        published = await jwks(each)
        assert [k["kid"] for k in published["keys"]] == [new_kid, old_kid]
        assert verifies(before, published)  # a token made before still verifies
    take_cookies(a, b)
    after = await b.check("app1.test", "/x")  # the old cookie, on the other replica
    assert after.status_code == 200, after.text
    assert kid(after.headers["x-authentik-jwt"]) == new_kid
    again = await a.check("app1.test", "/x")  # A had a token for this session in its memo
    assert kid(again.headers["x-authentik-jwt"]) == new_kid

    # a new sign-in gets a cookie only the new key made
    stored = await a.runtime.store.signing_keys()
    old_hmac = next(k.material for k in stored if k.kind == "hmac" and not k.signs)
    b.client.cookies.clear()
    await sign_in(b)
    fresh = next(c.value for c in b.client.cookies.jar if c.domain == "app1.test")
    assert a.runtime.signing.session.unsign(fresh) is not None
    assert Signing([old_hmac]).session.unsign(fresh) is None
    assert all(c in list(a.client.cookies.jar) for c in old_cookies)

    listed = await run_cli(database, tmp_path / "cli", "keys", "list")
    assert "signing" in listed and "verifying until" in listed and new_kid in listed
    for key in stored:  # never the material
        assert key.material.reveal().splitlines()[0] not in listed
        assert key.material.reveal() not in out


async def test_a_key_past_its_time_stops_verifying_without_a_restart(
    pair: tuple[Replica, Replica], database: str, tmp_path: Path
) -> None:
    a, _ = pair
    before = (await sign_in(a)).headers["x-authentik-jwt"]
    await run_cli(database, tmp_path / "cli", "keys", "rotate")
    await a.runtime.reload()
    assert len((await jwks(a))["keys"]) == 2
    # the old keys' time runs out a moment from now (instead of in 30 days and 5 minutes)
    soon = now().timestamp() + 0.5
    store = a.runtime.store
    async with store._tx() as db:
        await db.execute(
            update(m.SigningKey)
            .where(m.SigningKey.verify_until.is_not(None))
            .values(verify_until=now().fromtimestamp(soon, now().tzinfo))
        )
        await db.commit()  # no revision bump: the server must notice the time by itself
    await a.runtime.reload()
    assert len((await jwks(a))["keys"]) == 2
    await sync_until_one_jwt_key(a)
    published = await jwks(a)
    assert len(published["keys"]) == 1 and not verifies(before, published)
    refused = await a.check("app1.test", "/x")  # the cookie of the expired key: sign in again
    assert refused.status_code == 302
    assert await store.prune_keys() == 2
    assert [k.signs for k in await store.signing_keys()] == [True, True]


async def test_a_fresh_start_writes_no_key_file_and_publishes_only_when_loaded(
    tmp_path: Path, database: str
) -> None:
    settings = load_settings(
        {
            "AUTHGATE_DATA_DIR": str(tmp_path / "fresh"),
            "AUTHGATE_PUBLIC_URL": PUBLIC,
            "AUTHGATE_DATABASE_URL": database,
        }
    )
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport) as client:
        assert runtime.keys_loaded is False
        early = await client.get(f"{PUBLIC}/.well-known/jwks.json")
        assert early.status_code == 503
        await runtime.reload()
        assert runtime.keys_loaded is True
        published = (await client.get(f"{PUBLIC}/.well-known/jwks.json")).json()
    stored = [k for k in await runtime.store.signing_keys() if k.kind == "jwt"]
    pem = stored[0].material.reveal().encode()
    assert [k["kid"] for k in published["keys"]] == [public_jwk(load_key(pem, "row"))["kid"]]
    await runtime.close()
    made = [p.name for p in (tmp_path / "fresh").glob("**/*") if p.name.endswith(".key")]
    assert made == []


async def test_an_older_data_dirs_key_files_are_imported_once(
    tmp_path: Path, database: str, template_db: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    old_dir = tmp_path / "upgraded"
    old_dir.mkdir()
    (old_dir / "secret.key").write_text("the-secret-of-the-old-version\nan-even-older-one\n")
    pem = new_key_pem()
    (old_dir / "jwt.key").write_bytes(pem)
    old = Signing([Secret("the-secret-of-the-old-version")])
    older = Signing([Secret("an-even-older-one")])
    cookie_of_before = old.session.sign("session-made-before")
    with caplog.at_level(logging.WARNING, logger="authgate"):
        upgraded = await start(old_dir, database)
        other = await start(tmp_path / "new-replica", database)
    try:
        imported = [r.message for r in caplog.records if "imported" in r.message]
        assert len(imported) == 1 and str(old_dir / "secret.key") in imported[0]
        assert "the-secret" not in caplog.text
        for each in (upgraded, other):
            assert each.runtime.signing.session.unsign(cookie_of_before) == "session-made-before"
            assert each.runtime.signing.session.unsign(older.session.sign("x")) == "x"
            assert each.runtime.signing.session.sign("s") == old.session.sign("s")
            kids = [k["kid"] for k in (await jwks(each))["keys"]]
            assert kids == [public_jwk(load_key(pem, "file"))["kid"]]
        assert (old_dir / "jwt.key").read_bytes() == pem  # left as it was
    finally:
        for each in (upgraded, other):
            await each.client.aclose()
            await each.runtime.close()


async def test_overrides_replace_the_stores_keys_also_after_a_rotation(
    tmp_path: Path, database: str
) -> None:
    secret = tmp_path / "secret-volume" / "secret.key"
    secret.parent.mkdir()
    secret.write_text("from-the-secret\n")
    pem_file = secret.parent / "jwt.pem"
    pem_file.write_bytes(new_key_pem())
    file_kid = public_jwk(load_key(pem_file.read_bytes(), "file"))["kid"]
    env = {"AUTHGATE_SECRET_KEY_FILE": str(secret), "AUTHGATE_JWT_KEY_FILE": str(pem_file)}
    replica = await start(tmp_path / "r", database, **env)
    try:
        expected = Signing([Secret("from-the-secret")]).session.sign("sid")
        assert replica.runtime.signing.session.sign("sid") == expected
        assert [k["kid"] for k in (await jwks(replica))["keys"]] == [file_kid]
        assert len(await replica.runtime.store.signing_keys()) == 2  # the store's set exists
        output = await run_cli(database, tmp_path / "cli", "keys", "rotate", **env)
        assert "AUTHGATE_SECRET_KEY_FILE is set" in output
        assert "AUTHGATE_JWT_KEY_FILE is set" in output
        await replica.runtime.reload()
        assert replica.runtime.signing.session.sign("sid") == expected
        assert [k["kid"] for k in (await jwks(replica))["keys"]] == [file_kid]
    finally:
        await replica.client.aclose()
        await replica.runtime.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_key_past_its_time_stops_verifying_also_while_the_store_is_down(
    pair: tuple[Replica, Replica], database: str, tmp_path: Path
) -> None:
    a, _ = pair
    await sign_in(a)
    old_cookie = next(c.value for c in a.client.cookies.jar if c.domain == "app1.test")
    await run_cli(database, tmp_path / "cli", "keys", "rotate")
    store = a.runtime.store
    async with store._tx() as db:  # the old keys' time runs out half a second from now
        soon = now() + timedelta(seconds=0.5)
        await db.execute(
            update(m.SigningKey)
            .where(m.SigningKey.verify_until.is_not(None))
            .values(verify_until=soon)
        )
        await db.commit()
    await a.runtime.reload()
    assert a.runtime.gate.signer.unsign(old_cookie) is not None
    # the database goes away (a directory where its file was: every connection fails)
    await store.engine.dispose()
    shared = tmp_path / "shared.db"
    shared.rename(tmp_path / "shared.gone")
    shared.mkdir()
    await sync_until_one_jwt_key(a)
    assert len((await jwks(a))["keys"]) == 1
    assert a.runtime.gate.signer.unsign(old_cookie) is None  # the hot path's signer
    assert a.runtime.signing.session.unsign(old_cookie) is None  # the portal's
    assert a.runtime.keys_loaded
