"""The proxies start from the generated configs and route; no authgate logic is involved.

Nothing here changes state: one proxy of each kind serves the whole module, started when a
test first asks for it, with nothing listening on its auth port.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import build_proxy, make_client, page_json
from .proxyconf import PROBE_HOST, caddyfile, ingress_nginx_conf
from .servers import Caddy, Echo, Nginx, free_port

pytestmark = pytest.mark.e2e

PROXIES = ["nginx", "traefik", "caddy"]
APPS = ["app1.test", "app2.test"]


class Proxies:
    """One running proxy per kind, in front of the apps, with its auth server down."""

    def __init__(self, stack: contextlib.ExitStack, workdir: Path, echo: Echo) -> None:
        self._stack, self._workdir, self._echo = stack, workdir, echo
        self._ports: dict[str, int] = {}

    def port(self, kind: str) -> int:
        if kind not in self._ports:
            port = free_port()
            apps = [(h, self._echo.port) for h in APPS]
            proxy = build_proxy(kind, self._workdir / kind, port, free_port(), apps)
            self._stack.enter_context(proxy)
            self._ports[kind] = port
        return self._ports[kind]


@pytest.fixture(scope="module")
def proxies(tmp_path_factory: pytest.TempPathFactory, echo: Echo) -> Iterator[Proxies]:
    with contextlib.ExitStack() as stack:
        yield Proxies(stack, tmp_path_factory.mktemp("smoke"), echo)


def test_ingress_nginx_config_passes_nginx_t(tmp_path: Path, echo: Echo) -> None:
    port = free_port()
    conf = ingress_nginx_conf(port, free_port(), [(h, echo.port) for h in APPS])
    result = Nginx(conf, tmp_path, port).test_config()
    assert "syntax is ok" in result.stderr
    assert "test is successful" in result.stderr


def test_ingress_nginx_config_names_the_seed_annotations() -> None:
    conf = ingress_nginx_conf(8080, 9000, [("app1.test", 8000)])
    for annotation in ("auth-url", "auth-signin", "auth-response-headers", "upstream-vhost"):
        assert annotation in conf
    assert "auth-proxy-set-headers" in conf
    # the seed writes rd= unescaped; ingress-nginx uses an auth-signin with its own rd verbatim
    assert "start?rd=$scheme://$http_host$request_uri;" in conf


def test_caddyfile_passes_caddy_validate(tmp_path: Path, echo: Echo) -> None:
    port = free_port()
    text = caddyfile(port, free_port(), [(h, echo.port) for h in APPS])
    result = Caddy(text, tmp_path, port).validate()
    assert result.returncode == 0


@pytest.mark.parametrize("kind", PROXIES)
def test_unprotected_probe_host_reaches_the_echo_app(kind: str, proxies: Proxies) -> None:
    port = proxies.port(kind)
    with make_client() as client:
        response = client.get(f"http://{PROBE_HOST}:{port}/hello/there?x=1&y=%26")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    seen = response.json()
    assert seen["method"] == "GET"
    assert seen["path"] == "/hello/there"
    assert seen["query"] == "x=1&y=%26"
    assert seen["headers"]["host"] == f"{PROBE_HOST}:{port}"


@pytest.mark.parametrize("kind", PROXIES)
def test_protected_host_is_refused_while_the_auth_server_is_down(
    kind: str, proxies: Proxies
) -> None:
    """Nothing listens on the auth port: the proxy must not let the request through."""
    port = proxies.port(kind)
    with make_client() as client:
        response = client.get(f"http://app1.test:{port}/secret")

    assert response.status_code >= 500, response.text
    assert '"path"' not in response.text  # the echo app never answered


def test_second_loopback_address_is_a_client_of_its_own(proxies: Proxies) -> None:
    """127.0.0.2 is not the trusted proxy at 127.0.0.1: the proxy sees it as the client."""
    port = proxies.port("nginx")
    with make_client("127.0.0.2") as c:
        response = c.get(f"http://{PROBE_HOST}:{port}/")

    assert response.json()["headers"]["x-real-ip"] == "127.0.0.2"


def test_echo_app_joins_repeated_headers(echo: Echo) -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.get(
            f"{echo.url}/h", headers=[("X-Twice", "one"), ("x-twice", "two"), ("X-Once", "1")]
        )
    headers = response.json()["headers"]
    assert headers["x-twice"] == "one, two"
    assert headers["x-once"] == "1"


@pytest.mark.browser
def test_chromium_reaches_the_echo_app_by_a_test_name(proxies: Proxies, browser_page: Any) -> None:
    port = proxies.port("nginx")
    response = browser_page.goto(f"http://{PROBE_HOST}:{port}/from/chromium?q=1")
    assert response is not None and response.status == 200
    seen = page_json(browser_page)

    assert seen["path"] == "/from/chromium"
    assert seen["headers"]["host"] == f"{PROBE_HOST}:{port}"
