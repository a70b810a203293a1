"""``authgate manifests --target nginx --auth-cache 1s`` through real nginx: a burst of
requests with one cookie costs one check at authgate, two people never get each other's
identity from the cache, and a revoked session is refused within the cache time + 1 s.

authgate counts the checks it answers (``authgate_checks_total`` on ``/-/metrics``); a
check nginx answers from its cache never reaches it.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import browse, login, make_client
from .servers import Authgate, Echo, Nginx, free_port
from .test_generated_configs import nginx_probe

pytestmark = pytest.mark.e2e

HOST = "cached.test"
USERS = {"alice": "correct horse battery staple", "bob": "hunter2 hunter2 hunter2"}
CACHE_SECONDS = 1.0
_CHECKS = re.compile(r'^authgate_checks_total\{[^}]*dialect="nginx"[^}]*\} ([0-9.e+]+)$', re.M)


@dataclass
class Cached:
    port: int
    authgate: Authgate

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def checks(self) -> int:
        """Checks authgate has answered for nginx so far (every outcome)."""
        text = httpx.get(f"{self.authgate.url}/-/metrics", trust_env=False).text
        return int(sum(float(v) for v in _CHECKS.findall(text)))


@pytest.fixture
def cached(tmp_path: Path, echo: Echo) -> Iterator[Cached]:
    """authgate with alice and bob and app ``cached`` behind the generated nginx config with
    ``--auth-cache 1s`` (its cache directory moved inside the test's nginx prefix)."""
    port = free_port()
    with Authgate(tmp_path / "authgate") as authgate:
        for name, password in USERS.items():
            authgate.cli("user", "add", name, "--password-stdin", input=password)
        authgate.cli("app", "add", "cached", "--url", f"http://{HOST}:{port}")
        generated = authgate.cli(
            "manifests",
            "cached",
            "--target",
            "nginx",
            "--backend",
            f"127.0.0.1:{echo.port}",
            "--auth-service",
            authgate.url,
            "--listen",
            f"127.0.0.1:{port}",
            "--auth-cache",
            "1s",
        ).stdout
        assert "proxy_cache_path /var/cache/nginx/" in generated
        generated = generated.replace("proxy_cache_path /var/cache/nginx/", "proxy_cache_path ")
        with Nginx(generated + nginx_probe(port, echo), tmp_path / "nginx", port):
            authgate.wait_for_app(f"{HOST}:{port}")
            yield Cached(port, authgate)


@contextlib.contextmanager
def signed_in(cached: Cached, name: str) -> Iterator[httpx.Client]:
    with make_client() as client:
        allowed = {f"{HOST}:{cached.port}", f"auth.test:{cached.authgate.port}"}
        first = browse(client, cached.url("/"), allowed=allowed)
        after = login(client, first.final, name, USERS[name], allowed=allowed)
        assert after.left_for is None and after.final.status_code == 200, after.describe()
        yield client


def test_a_burst_with_one_cookie_costs_one_check(cached: Cached) -> None:
    with signed_in(cached, "alice") as client:
        cookies = dict(client.cookies)
        before = cached.checks()
        started = time.monotonic()

        def fetch(_: int) -> httpx.Response:
            return httpx.get(cached.url("/page/asset.css"), cookies=cookies, trust_env=False)

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(fetch, range(30)))
        elapsed = time.monotonic() - started
        made = cached.checks() - before

    assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
    assert all(a.json()["headers"]["remote-user"] == "alice" for a in answers)
    # the first request is checked; the rest hit the cache (one more per second the burst
    # outlasts the cache, on a slow machine)
    assert 1 <= made <= 1 + int(elapsed / CACHE_SECONDS), (made, elapsed)


def test_another_url_or_method_is_checked_anew(cached: Cached) -> None:
    with signed_in(cached, "alice") as client:
        assert client.get(cached.url("/a")).status_code == 200
        before = cached.checks()
        assert client.get(cached.url("/b")).status_code == 200
        assert client.head(cached.url("/a")).status_code == 200
        assert cached.checks() - before == 2


def test_two_people_never_get_each_others_identity(cached: Cached) -> None:
    with signed_in(cached, "alice") as alice, signed_in(cached, "bob") as bob:
        for _ in range(5):
            for name, client in (("alice", alice), ("bob", bob)):
                seen = client.get(cached.url("/shared"))
                assert seen.status_code == 200, seen.text
                headers = seen.json()["headers"]
                assert headers["remote-user"] == name
                assert headers["x-authentik-username"] == name
        # no cookie at all: sent to the login, never a cached allow
        anonymous = httpx.get(cached.url("/shared"), trust_env=False)
        assert anonymous.status_code == 302, anonymous.text
        assert "/outpost.goauthentik.io/start" in anonymous.headers["location"]
        # an extra cookie of the client's own is another key, not a way into someone's entry
        mixed = httpx.get(
            cached.url("/shared"),
            cookies={**dict(bob.cookies), "theme": "dark"},
            trust_env=False,
        )
        assert mixed.json()["headers"]["remote-user"] == "bob"


def test_a_revoked_session_is_refused_within_the_cache_time_plus_one_second(
    cached: Cached,
) -> None:
    with signed_in(cached, "alice") as client:
        url = cached.url("/kept")
        assert client.get(url).status_code == 200
        before = cached.checks()
        assert client.get(url).status_code == 200  # from the cache
        assert cached.checks() == before

        cached.authgate.cli("session", "revoke", "--user", "alice")
        revoked = time.monotonic()
        status = 200
        while time.monotonic() - revoked < CACHE_SECONDS + 1.0 + 0.3:
            status = client.get(url).status_code
            if status != 200:
                break
            time.sleep(0.05)
        assert status == 302, f"still let in {time.monotonic() - revoked:.2f}s after revocation"
