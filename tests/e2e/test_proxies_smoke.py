"""The proxies start from the generated configs and route; no authgate logic is involved."""

from __future__ import annotations

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
def test_unprotected_probe_host_reaches_the_echo_app(kind: str, tmp_path: Path, echo: Echo) -> None:
    port = free_port()
    apps = [(h, echo.port) for h in APPS]
    with build_proxy(kind, tmp_path, port, free_port(), apps), make_client() as client:
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
    kind: str, tmp_path: Path, echo: Echo
) -> None:
    """Nothing listens on the auth port: the proxy must not let the request through."""
    port = free_port()
    apps = [(h, echo.port) for h in APPS]
    with build_proxy(kind, tmp_path, port, free_port(), apps), make_client() as client:
        response = client.get(f"http://app1.test:{port}/secret")

    assert response.status_code >= 500, response.text
    assert '"path"' not in response.text  # the echo app never answered


def test_second_loopback_address_is_a_client_of_its_own(tmp_path: Path, echo: Echo) -> None:
    """127.0.0.2 is not the trusted proxy at 127.0.0.1: the proxy sees it as the client."""
    port = free_port()
    apps = [(h, echo.port) for h in APPS]
    with build_proxy("nginx", tmp_path, port, free_port(), apps), make_client("127.0.0.2") as c:
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
def test_chromium_reaches_the_echo_app_by_a_test_name(
    tmp_path: Path, echo: Echo, browser_page: Any
) -> None:
    port = free_port()
    apps = [(h, echo.port) for h in APPS]
    with build_proxy("nginx", tmp_path, port, free_port(), apps):
        response = browser_page.goto(f"http://{PROBE_HOST}:{port}/from/chromium?q=1")
        assert response is not None and response.status == 200
        seen = page_json(browser_page)

    assert seen["path"] == "/from/chromium"
    assert seen["headers"]["host"] == f"{PROBE_HOST}:{port}"
