"""Several replicas and workers on one store, behind nginx in the ingress-nginx shape (issue 12).

Two replicas are separate ``authgate serve`` processes with data dirs of their own and one
PostgreSQL database this module creates; nginx's auth Service is an ``upstream`` of both (a
refused connection goes to the next, as ingress-nginx does with a Service's endpoints). The
replicas run with ``AUTHGATE_SYNC_INTERVAL=30``: the poll cannot carry a change within the
second these tests allow, so what they see arrived through the change feed (PostgreSQL
``LISTEN/NOTIFY``, or Redis pub/sub when Redis is configured).

The measured times from sign-out on one replica to refusal on the other are written to
``propagation.json`` in each test's directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from authgate.storage.changes import LISTEN_NAME

from .conftest import OUTPOST, Visit, browse, login, login_form, make_client
from .proxyconf import AUTH_SERVICE, ingress_nginx_conf, replicas_nginx_conf
from .servers import Authgate, Echo, Nginx, free_port, python_env

pytestmark = pytest.mark.e2e

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
PORTAL = "auth.test"
APP1 = "app1.test"
GROUP = "staff"
ALICE = ("alice", "correct horse battery staple")
WITHIN = 1.0  # seconds a change may take to reach every replica
SLACK = 0.25  # for the poll's own steps and a busy two-core machine


# --------------------------------------------------------------------------------------------
# what the cluster stands on: a fresh database, a Redis key prefix, the shared keys
# --------------------------------------------------------------------------------------------


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A PostgreSQL database of this test's own, dropped after it."""
    name = f"authgate_test_{secrets.token_hex(6)}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({exc}); run `make services`")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted after it."""
    prefix = f"authgate_test_{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at 127.0.0.1:6379 ({exc}); run `make services`")
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


# --------------------------------------------------------------------------------------------
# two replicas behind nginx
# --------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    a: Authgate
    b: Authgate
    port: int  # where the browser reaches nginx
    database_url: str
    workdir: Path

    @property
    def replicas(self) -> tuple[Authgate, Authgate]:
        return (self.a, self.b)

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    @property
    def allowed(self) -> set[str]:
        return {f"{APP1}:{self.port}", f"{PORTAL}:{self.port}"}


def add_alice_and_app1(server: Authgate, app_origin: str) -> None:
    server.cli("group", "add", GROUP)
    server.cli("user", "add", ALICE[0], "--group", GROUP, "--password-stdin", input=ALICE[1])
    server.cli("app", "add", "app1", "--url", f"http://{app_origin}", "--group", GROUP)


@contextlib.contextmanager
def two_replicas(workdir: Path, echo: Echo, database_url: str, **env: str) -> Iterator[Cluster]:
    port = free_port()
    common = {
        "AUTHGATE_DATABASE_URL": database_url,
        "AUTHGATE_PUBLIC_URL": f"http://{PORTAL}:{port}",
        "AUTHGATE_SYNC_INTERVAL": "30",
        **env,
    }
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(Authgate(workdir / "a", common))
        b = stack.enter_context(Authgate(workdir / "b", common))  # no key copied: the store
        add_alice_and_app1(a, f"{APP1}:{port}")
        conf = replicas_nginx_conf(port, [a.port, b.port], [(APP1, echo.port)], PORTAL)
        stack.enter_context(Nginx(conf, workdir / "nginx", port))
        for replica in (a, b):  # b hears of the app through the feed, not the 30 s poll
            replica.wait_for_app(f"{APP1}:{port}", timeout=5.0)
        yield Cluster(a, b, port, database_url, workdir)


@pytest.fixture(params=["postgresql", "postgresql+redis"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path, echo: Echo) -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_database())
        env: dict[str, str] = {}
        if request.param.endswith("redis"):
            env = {
                "AUTHGATE_REDIS_URL": REDIS,
                "AUTHGATE_REDIS_PREFIX": stack.enter_context(redis_prefix()),
            }
        yield stack.enter_context(two_replicas(tmp_path, echo, database_url, **env))


# --------------------------------------------------------------------------------------------
# what a browser and nginx's auth subrequest do
# --------------------------------------------------------------------------------------------


def sign_in(client: httpx.Client, app_url: str, allowed: set[str]) -> Visit:
    first = browse(client, app_url, allowed=allowed)
    assert login_form(first.final) is not None, first.describe()
    after = login(client, first.final, *ALICE, allowed=allowed)
    assert after.final.status_code == 200, after.describe()
    assert after.final.json()["headers"]["x-authentik-username"] == "alice"
    return after


def app_cookies(client: httpx.Client) -> str:
    jar = [c for c in client.cookies.jar if c.domain.lstrip(".") == APP1]
    assert jar, "no cookie on the app's host after signing in"
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def check(replica: Authgate, app_origin: str, cookies: str) -> httpx.Response:
    """nginx's auth subrequest for ``/`` on the app, sent to one replica only, on a new
    connection (so with several workers, any of them may answer)."""
    with httpx.Client(trust_env=False, timeout=5.0) as direct:
        return direct.get(
            f"{replica.url}{OUTPOST}/auth/nginx",
            headers={
                "Host": AUTH_SERVICE,
                "X-Original-URL": f"http://{app_origin}/",
                "X-Original-Method": "GET",
                "X-Forwarded-Host": app_origin,
                "X-Forwarded-Proto": "https",
                "Cookie": cookies,
            },
        )


def admitted(response: httpx.Response) -> bool:
    assert response.status_code in (200, 401), (response.status_code, response.text[:500])
    return response.status_code == 200 and response.headers["x-authentik-username"] == "alice"


def sign_out_on(replica: Authgate, app_origin: str, cookies: str) -> None:
    """The app's sign-out link, as nginx's outpost location hands it to ``replica``."""
    with httpx.Client(trust_env=False, timeout=5.0) as direct:
        response = direct.get(
            f"{replica.url}{OUTPOST}/sign_out",
            headers={"Host": AUTH_SERVICE, "X-Forwarded-Host": app_origin, "Cookie": cookies},
        )
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])


def refused_within(probe: Callable[[], bool], limit: float, since: float | None = None) -> float:
    """Seconds from ``since`` (default: now) until ``probe`` has said refused, polled every
    20 ms; fails after ``limit``."""
    started = time.monotonic() if since is None else since
    while time.monotonic() - started <= limit:
        if probe():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"still admitted {limit:.2f} s after the sign-out")


def record(workdir: Path, what: str, seconds: list[float]) -> None:
    path = workdir / "propagation.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[what] = {"runs": seconds, "median": statistics.median(seconds)}
    path.write_text(json.dumps(data, indent=2))
    print(f"{what}: median {statistics.median(seconds) * 1000:.0f} ms of {len(seconds)}")


def listeners(database_url: str) -> int:
    """How many connections wait on LISTEN in the cluster's database."""
    name = database_url.rsplit("/", 1)[1]

    async def count() -> int:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            return int(
                await conn.fetchval(
                    # by name: the last query of a listener is its probe once it has
                    # waited KEEPALIVE seconds, not the LISTEN
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = $1 AND application_name = $2",
                    name,
                    LISTEN_NAME,
                )
            )
        finally:
            await conn.close()

    return asyncio.run(count())


# --------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------


def test_signed_in_through_one_replica_is_signed_in_on_the_other(cluster: Cluster) -> None:
    with make_client() as browser:
        sign_in(browser, cluster.url(APP1), cluster.allowed)
        cookies = app_cookies(browser)
        # whichever replica signed the cookie, both verify it and know the session
        for replica in cluster.replicas:
            assert admitted(check(replica, f"{APP1}:{cluster.port}", cookies)), replica.url
        # and a browser going on through nginx (both replicas in turn) stays signed in
        for _ in range(6):
            page = browser.get(cluster.url(APP1, "/again"))
            assert page.status_code == 200 and page.json()["headers"]["x-authentik-username"]


def test_feed_in_use_is_listen_or_redis(cluster: Cluster, request: pytest.FixtureRequest) -> None:
    expected = 0 if request.node.callspec.params["cluster"].endswith("redis") else 2
    assert listeners(cluster.database_url) == expected


def test_sign_out_through_one_replica_is_obeyed_by_the_other_within_a_second(
    cluster: Cluster, request: pytest.FixtureRequest
) -> None:
    app_origin = f"{APP1}:{cluster.port}"
    times: list[float] = []
    for _ in range(3):
        with make_client() as browser:
            sign_in(browser, cluster.url(APP1), cluster.allowed)
            cookies = app_cookies(browser)
        # b holds the session in memory: only a message can make it let go in time
        assert admitted(check(cluster.b, app_origin, cookies))
        started = time.monotonic()
        sign_out_on(cluster.a, app_origin, cookies)
        assert not admitted(check(cluster.a, app_origin, cookies))
        times.append(
            refused_within(
                lambda c=cookies: not admitted(check(cluster.b, app_origin, c)),
                WITHIN + SLACK,
                since=started,
            )
        )
    assert statistics.median(times) <= WITHIN
    record(cluster.workdir, request.node.callspec.params["cluster"], times)


def test_killing_a_replica_loses_no_session(cluster: Cluster) -> None:
    with make_client() as browser:
        sign_in(browser, cluster.url(APP1), cluster.allowed)
        answers: list[tuple[int, str]] = []
        for i in range(40):
            if i == 10:
                proc = cluster.a.proc
                assert proc is not None
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            page = browser.get(cluster.url(APP1, f"/n{i}"))
            user = (
                page.json()["headers"].get("x-authentik-username", "")
                if page.status_code == 200
                else ""
            )
            answers.append((page.status_code, user))
        assert answers == [(200, "alice")] * 40
    # the survivor answers alone: a new browser signs in through it
    with make_client() as newcomer:
        sign_in(newcomer, cluster.url(APP1, "/later"), cluster.allowed)
        assert admitted(check(cluster.b, f"{APP1}:{cluster.port}", app_cookies(newcomer)))


# --------------------------------------------------------------------------------------------
# workers of one server; replicas starting at once
# --------------------------------------------------------------------------------------------


class Workers(Authgate):
    """``authgate serve --workers 2`` on a fresh data dir."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "authgate", "serve", "--workers", "2"]


def worker_processes(server: Authgate) -> int:
    assert server.proc is not None
    children = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children += fields[1] == str(server.proc.pid)
    return children


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_sign_out_through_one_worker_is_obeyed_by_the_other(
    store: str, tmp_path: Path, echo: Echo
) -> None:
    with contextlib.ExitStack() as stack:
        env = {}
        if store == "postgresql":
            env = {"AUTHGATE_DATABASE_URL": stack.enter_context(fresh_database())}
        server = stack.enter_context(Workers(tmp_path / "authgate", env))
        assert worker_processes(server) == 2
        port = free_port()
        app_origin = f"{APP1}:{port}"
        add_alice_and_app1(server, app_origin)
        conf = ingress_nginx_conf(port, server.port, [(APP1, echo.port)])
        stack.enter_context(Nginx(conf, tmp_path / "nginx", port))
        server.wait_for_app(app_origin)
        allowed = {app_origin, f"{PORTAL}:{server.port}"}
        with make_client() as browser:
            sign_in(browser, f"http://{app_origin}/", allowed)
            cookies = app_cookies(browser)
        # every check on a new connection: both workers come to hold the session in memory
        assert all(admitted(check(server, app_origin, cookies)) for _ in range(20))
        sign_out_on(server, app_origin, cookies)
        refused_within(
            lambda: not any(admitted(check(server, app_origin, cookies)) for _ in range(10)),
            WITHIN + SLACK,
        )


def test_replicas_starting_at_once_migrate_once(tmp_path: Path) -> None:
    with fresh_database() as database_url:
        env = {"AUTHGATE_DATABASE_URL": database_url, "AUTHGATE_PUBLIC_URL": "http://a.test"}

        def migrate(i: int) -> subprocess.CompletedProcess[str]:
            data = tmp_path / f"migrate{i}"
            return subprocess.run(
                [sys.executable, "-m", "authgate", "migrate", "--json"],
                env=python_env({**env, "AUTHGATE_DATA_DIR": str(data)}),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

        servers = [
            Authgate(tmp_path / f"serve{i}", {"AUTHGATE_DATABASE_URL": database_url})
            for i in range(2)
        ]
        with ThreadPoolExecutor(max_workers=6) as pool:
            migrations = [pool.submit(migrate, i) for i in range(4)]
            started = [pool.submit(s.start) for s in servers]
            results = [m.result() for m in migrations]
            try:
                for future in started:
                    future.result()
                for result in results:
                    assert result.returncode == 0, result.stderr
                revisions = {json.loads(r.stdout)["revision"] for r in results}
                assert len(revisions) == 1 and revisions != {"none"}
                users = json.loads(servers[0].cli("user", "list", "--json").stdout)
                assert [u["username"] for u in users] == ["admin"]
                told = [s.log.read_text().count("created user 'admin'") for s in servers]
                assert sorted(told) == [0, 1], "the first admin was made twice or never"
            finally:
                for server in servers:
                    server.stop()
