"""``authgate doctor --url`` against real proxies that are broken on purpose.

Each test builds one setup with the e2e harness (authgate, the echo app, nginx in seed 000's
ingress-nginx shape or Traefik in seed 003's), breaks one thing the way people break it, and
runs the doctor's command in this process (where ``*.test`` names resolve to 127.0.0.1). The
verdict must name the failing step and the cause from the seeds' troubleshooting table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from authgate.cli.main import cli

from .proxyconf import ingress_nginx_conf, traefik_dynamic
from .servers import Authgate, Echo, Nginx, Process, Traefik, free_port

pytestmark = pytest.mark.e2e

APP, UNREGISTERED = "app1.test", "app3.test"
USER = ("alice", "correct horse battery staple")


@dataclass
class Setup:
    port: int
    authgate: Authgate

    def url(self, host: str = APP, path: str = "/some/page") -> str:
        return f"http://{host}:{self.port}{path}"


def doctor(*args: str, stdin: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Run ``authgate doctor --json ARGS`` here; (exit status, findings)."""
    result = CliRunner().invoke(cli, ["doctor", "--json", *args], input=stdin, env={})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def verdict(findings: list[dict[str, Any]]) -> dict[str, Any]:
    steps = "\n".join(f"{f['object']} -> {f['problem']}" for f in findings)
    assert findings and findings[-1]["id"] != "live-step", steps
    last = findings[-1]
    print(steps)
    return last


def register(authgate: Authgate, port: int, scheme: str = "http") -> None:
    authgate.cli("user", "add", USER[0], "--password-stdin", input=USER[1])
    authgate.cli("app", "add", "app1", "--url", f"{scheme}://{APP}:{port}")
    authgate.wait_for_app(f"{APP}:{port}")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Process]]:
    """Servers a test starts; stopped after it, also when it fails."""
    started: list[Process] = []
    yield started
    for server in reversed(started):
        server.stop()


def start(running: list[Process], server: Process) -> None:
    running.append(server)
    server.start()


def nginx(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo, upstream: int = 0
) -> Setup:
    """The apps go to ``upstream`` (the echo app by default); probe.test to the echo app."""
    port = free_port()
    apps = [(APP, upstream or echo.port), (UNREGISTERED, upstream or echo.port)]
    conf = ingress_nginx_conf(port, authgate.port, apps, probe_port=echo.port)
    start(running, Nginx(conf, tmp_path / "nginx", port))
    return Setup(port, authgate)


def traefik(
    tmp_path: Path,
    running: list[Process],
    authgate: Authgate,
    echo: Echo,
    outpost_protected: bool = False,
    no_backend: bool = False,
) -> Setup:
    port = free_port()
    data = YAML(typ="safe").load(traefik_dynamic(authgate.port, [(APP, echo.port)]))
    if outpost_protected:  # the sharp edge of seed 003: the callback route got the middleware
        data["http"]["routers"]["app1-test-outpost"]["middlewares"] = ["authentik-forward-auth"]
    if no_backend:  # a Service without endpoints: Traefik, like ingress-nginx, answers 503
        data["http"]["services"]["app1-test-backend"]["loadBalancer"]["servers"] = []
    start(running, Traefik(json.dumps(data), tmp_path / "traefik", port))
    return Setup(port, authgate)


# -- a setup that works -------------------------------------------------------------------------


def test_healthy_nginx_setup_reaches_the_login_form(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = nginx(tmp_path, running, authgate, echo)
    register(authgate, setup.port)
    status, findings = doctor("--url", setup.url())
    assert status == 0
    assert verdict(findings)["id"] == "live-login-form"
    steps = [f["object"].split(":")[0] for f in findings[:-1]]
    assert steps[:3] == ["step 1 (app)", "step 2 (start)", "step 3 (portal)"]


def test_healthy_traefik_setup_with_a_login_reaches_the_app(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = traefik(tmp_path, running, authgate, echo, outpost_protected=False)
    register(authgate, setup.port)
    args = ["--url", setup.url(), "--user", USER[0], "--password-stdin"]
    status, findings = doctor(*args, "--resolve", f"{APP}:127.0.0.1", stdin=USER[1] + "\n")
    assert (status, verdict(findings)["id"]) == (0, "live-ok")


# -- broken on purpose --------------------------------------------------------------------------


def test_traefik_outpost_route_behind_the_middleware_is_a_redirect_loop(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = traefik(tmp_path, running, authgate, echo, outpost_protected=True)
    register(authgate, setup.port)
    status, findings = doctor("--url", setup.url())
    last = verdict(findings)
    assert status == 1
    assert last["id"] == "live-redirect-loop"
    assert last["object"].startswith("step 2 (start)")
    assert "behind the forward-auth middleware" in last["problem"]


def test_unregistered_host_names_the_command(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = nginx(tmp_path, running, authgate, echo)
    register(authgate, setup.port)
    status, findings = doctor("--url", setup.url(UNREGISTERED))
    last = verdict(findings)
    assert status == 1
    assert last["id"] == "live-app-not-registered"
    assert last["object"].startswith("step 2 (start)")
    assert last["fix"].startswith(f"authgate app add app3 --url http://{UNREGISTERED}:{setup.port}")


def test_unregistered_host_behind_traefik_is_named_at_the_first_step(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = traefik(tmp_path, running, authgate, echo, outpost_protected=False)
    status, findings = doctor("--url", setup.url())
    last = verdict(findings)
    assert (status, last["id"]) == (1, "live-app-not-registered")
    assert last["object"].startswith("step 1 (app)")


def test_backend_down(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = nginx(tmp_path, running, authgate, echo, upstream=free_port())  # nobody listens
    register(authgate, setup.port)
    args = ["--url", setup.url(), "--user", USER[0], "--password-stdin"]
    status, findings = doctor(*args, stdin=USER[1] + "\n")
    last = verdict(findings)
    assert status == 1
    assert last["id"] == "live-backend-unreachable"
    assert last["problem"].startswith("502 from the proxy")  # nginx: connection refused
    assert "Endpoints" in last["fix"]


def test_backend_without_endpoints_is_a_503(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = traefik(tmp_path, running, authgate, echo, no_backend=True)
    register(authgate, setup.port)
    args = ["--url", setup.url(), "--user", USER[0], "--password-stdin"]
    status, findings = doctor(*args, stdin=USER[1] + "\n")
    last = verdict(findings)
    assert (status, last["id"]) == (1, "live-backend-unreachable")
    assert last["problem"].startswith("503 from the proxy")
    assert last["object"].startswith("step 8 (app)")  # after the login, on the way to the app


def test_auth_service_down_is_the_500_of_ingress_nginx(
    tmp_path: Path, running: list[Process], echo: Echo
) -> None:
    port = free_port()
    conf = ingress_nginx_conf(port, free_port(), [(APP, echo.port)])  # no authgate there
    start(running, Nginx(conf, tmp_path / "nginx", port))
    status, findings = doctor("--url", f"http://{APP}:{port}/")
    last = verdict(findings)
    assert (status, last["id"]) == (1, "live-auth-unreachable")
    assert last["object"].startswith("step 1 (app)")


def test_app_registered_with_https_but_served_over_http(
    tmp_path: Path, running: list[Process], authgate: Authgate, echo: Echo
) -> None:
    setup = nginx(tmp_path, running, authgate, echo)
    register(authgate, setup.port, scheme="https")
    status, findings = doctor("--url", setup.url())
    last = verdict(findings)
    assert (status, last["id"]) == (1, "live-cookie-refused")
    assert "Secure" in last["problem"]
