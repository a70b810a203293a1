"""authgate on PostgreSQL through a TCP proxy the test stops and starts, behind nginx in the
ingress-nginx shape: degraded mode, the 503 page, readiness, and recovery without a restart.
Also ``/-/metrics`` with two workers."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import browse, login, login_form, make_client, proxy_factory
from .servers import Authgate, Echo, free_port
from .tcpproxy import TcpProxy

pytestmark = pytest.mark.e2e

USER = ("dora", "a long enough password")
APP = "outage.test"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
GRACE = 4.0


@pytest.fixture
def database() -> Iterator[str]:
    name = f"authgate_e2e_{secrets.token_hex(6)}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def poll(probe: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_the_database_goes_away_and_comes_back(tmp_path: Path, echo: Echo, database: str) -> None:
    tcp = TcpProxy(("127.0.0.1", 5432), free_port())
    tcp.start()
    env = {
        "AUTHGATE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{tcp.port}/{database}",
        "AUTHGATE_DEGRADED_GRACE": f"{int(GRACE)}s",
    }
    try:
        with (
            Authgate(tmp_path / "authgate", extra_env=env) as authgate,
            proxy_factory("nginx", tmp_path, echo, authgate) as start,
        ):
            port = free_port()
            authgate.cli("user", "add", USER[0], "--password-stdin", input=USER[1])
            authgate.cli("app", "add", "outage", "--url", f"http://{APP}:{port}")
            proxy = start([APP], port=port)
            authgate.wait_for_app(proxy.origin(APP))
            allowed = {proxy.origin(APP), f"auth.test:{authgate.port}"}
            with make_client() as user, make_client() as newcomer, httpx.Client() as probe:
                first = browse(user, proxy.url(APP, "/a"), allowed=allowed)
                after = login(user, first.final, *USER, allowed=allowed)
                assert after.final.status_code == 200, after.describe()
                ready = f"{authgate.url}/-/health/ready"
                assert probe.get(ready).status_code == 200

                tcp.stop()
                went_down = time.monotonic()
                assert poll(lambda: probe.get(ready).status_code == 503, 3.0)
                body = probe.get(ready).json()
                assert body["status"] == "unavailable" and body["reasons"][0].startswith("store")
                # the signed-in user keeps access within the grace
                kept = browse(user, proxy.url(APP, "/b"), allowed=allowed)
                assert kept.final.status_code == 200, kept.describe()
                assert kept.final.json()["headers"]["x-authentik-username"] == USER[0]
                # a newcomer's login: the 503 page, not a traceback
                tried = browse(newcomer, proxy.url(APP, "/c"), allowed=allowed)
                page = tried.final
                if login_form(page) is not None:
                    page = login(newcomer, page, *USER, allowed=allowed).final
                assert page.status_code == 503, tried.describe()
                assert "Traceback" not in page.text and "unavailable" in page.text.lower()
                # after the grace: refused, never a 500
                time.sleep(max(0.0, went_down + GRACE + 1.5 - time.monotonic()))
                late = user.get(proxy.url(APP, "/d"), follow_redirects=False)
                assert late.status_code in (302, 401, 503), late.status_code
                assert late.status_code != 200

                tcp.start()
                assert poll(lambda: probe.get(ready).status_code == 200, 5.0)
                again = browse(newcomer, proxy.url(APP, "/e"), allowed=allowed)
                after = login(newcomer, again.final, *USER, allowed=allowed)
                assert after.final.status_code == 200, after.describe()
            log = authgate.log.read_text(errors="replace")
            assert log.count("store unreachable: degraded mode") == 1, log
            assert log.count("store reachable again after") == 1, log
    finally:
        tcp.stop()


def checks_total(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "authgate_checks_total":
                total += sample.value
    return total


def test_metrics_with_two_workers(tmp_path: Path) -> None:
    env = {"AUTHGATE_WORKERS": "2", "AUTHGATE_METRICS_ALLOW": "127.0.0.0/8"}
    with Authgate(tmp_path / "authgate", extra_env=env) as authgate, httpx.Client() as client:
        url = f"{authgate.url}/outpost.goauthentik.io/auth/traefik"
        before = checks_total(client.get(f"{authgate.url}/-/metrics").text)
        sent = 40
        for i in range(sent):  # new connections: both workers answer some
            with httpx.Client() as fresh:
                fresh.get(
                    url, headers={"x-forwarded-host": "nothing.test", "x-forwarded-uri": f"/{i}"}
                )
        # a worker hands its checks' counts over each second: a scrape at the other one
        # shows them within about a second, never more than were sent
        deadline = time.monotonic() + 5
        while True:
            got = client.get(f"{authgate.url}/-/metrics")
            assert got.status_code == 200
            counted = checks_total(got.text)
            assert counted <= before + sent
            if counted == before + sent or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert counted == before + sent
    env = {"AUTHGATE_METRICS_ALLOW": "10.0.0.0/8"}
    with Authgate(tmp_path / "other", extra_env=env) as authgate, httpx.Client() as client:
        assert client.get(f"{authgate.url}/-/metrics").status_code == 403
