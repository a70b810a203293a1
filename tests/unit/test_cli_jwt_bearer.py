"""The app option ``jwt_bearer`` as an admin meets it: ``app add/set --jwt-bearer``, shown by
``app list``/``show``, carried by the state file (``export`` -> ``apply`` changes nothing), and
read from the store by ``authgate manifests``, which copies ``Authorization`` only for such
an app."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from authgate.cli.main import cli

Run = Callable[..., str]
NGINX = ["--target", "nginx", "--backend", "127.0.0.1:3000"]
COPY_AUTHORIZATION = "proxy_set_header Authorization $authgate_api_authorization;"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        return result.output

    return invoke


def flags(run: Run) -> dict[str, object]:
    return {a["slug"]: a["jwt_bearer"] for a in json.loads(run("app", "list", "--json"))}


def test_add_and_set_turn_it_on_and_off_and_show_it(run: Run) -> None:
    run("app", "add", "api", "--url", "http://api.lan", "--jwt-bearer")
    run("app", "add", "wiki", "--url", "http://wiki.lan")
    assert flags(run) == {"api": True, "wiki": False}
    listed = run("app", "list").splitlines()
    assert "OPTIONS" in listed[0]
    assert "jwt_bearer" in next(line for line in listed if line.startswith("api "))
    assert "jwt_bearer" not in next(line for line in listed if line.startswith("wiki "))
    assert "jwt_bearer: True" in run("app", "show", "api")
    assert "jwt_bearer: False" in run("app", "show", "wiki")

    run("app", "set", "api", "--no-jwt-bearer")
    run("app", "set", "wiki", "--jwt-bearer", "--strip-cookie")
    assert flags(run) == {"api": False, "wiki": True}
    run("app", "set", "wiki", "--name", "Wiki")  # a change that does not name it keeps it
    assert flags(run)["wiki"] is True
    assert "strip_cookie, jwt_bearer" in run("app", "list")


def test_the_state_file_carries_it_and_applies_it_once(run: Run, tmp_path: Path) -> None:
    state = tmp_path / "state.yaml"
    state.write_text(
        "apps:\n  api: {url: 'http://api.lan', jwt_bearer: true}\n  wiki: {url: 'http://wiki.lan'}\n"
    )
    assert "+ app api" in run("apply", "-f", str(state))
    assert flags(run) == {"api": True, "wiki": False}
    exported = tmp_path / "out.yaml"
    run("export", "-o", str(exported))
    apps = YAML(typ="safe").load(exported.read_text())["apps"]
    assert apps["api"]["jwt_bearer"] is True and "jwt_bearer" not in apps["wiki"]
    assert "nothing to change" in run("apply", "-f", str(exported))

    state.write_text("apps:\n  api: {url: 'http://api.lan'}\n  wiki: {url: 'http://wiki.lan'}\n")
    dry = run("apply", "-f", str(state), "--dry-run")
    assert "~ app api: jwt_bearer True -> False" in dry
    assert flags(run)["api"] is True  # a dry run changes nothing
    assert "~ app api: jwt_bearer True -> False" in run("apply", "-f", str(state))
    assert flags(run) == {"api": False, "wiki": False}
    assert "nothing to change" in run("apply", "-f", str(state))


@pytest.mark.parametrize("value", ["yes please", "1", "'true'", "[true]"])
def test_the_state_file_wants_true_or_false(run: Run, tmp_path: Path, value: str) -> None:
    state = tmp_path / "state.yaml"
    state.write_text(f"apps:\n  api:\n    url: http://api.lan\n    jwt_bearer: {value}\n")
    output = run("apply", "-f", str(state), code=2)
    assert "apps.api.jwt_bearer: must be true or false" in output
    assert flags(run) == {}


def test_manifests_read_it_from_the_store(run: Run) -> None:
    run("app", "add", "api", "--url", "http://api.lan", "--jwt-bearer")
    run("app", "add", "wiki", "--url", "http://wiki.lan")
    flagged = run("manifests", "api", *NGINX)
    assert COPY_AUTHORIZATION in flagged
    # every app copies Authorization from the answer; only a flagged one gets a JWT in it
    assert "proxy_set_header Authorization $authgate_wiki_authorization;" in run(
        "manifests", "wiki", *NGINX
    )
    traefik = run("manifests", "api", "--target", "traefik", "--service", "api:80")
    assert "authgate-jwt-bearer" in traefik
    assert "authgate manifests --middleware --jwt-bearer" in traefik
    run("app", "set", "api", "--no-jwt-bearer")  # regenerated after the change: gone
    traefik = run("manifests", "api", "--target", "traefik", "--service", "api:80")
    assert "authgate-jwt-bearer" not in traefik


def test_manifests_refuse_the_flag_for_a_stored_app_without_it(run: Run) -> None:
    """The config would hand the app the Authorization of an answer that never carries one:
    the app would lose the client's and get nothing."""
    run("app", "add", "wiki", "--url", "http://wiki.lan")
    output = run("manifests", "wiki", *NGINX, "--jwt-bearer", code=2)
    (line,) = output.strip().splitlines()
    assert "does not have jwt_bearer" in line
    assert "authgate app set wiki --jwt-bearer" in line


def test_manifests_flag_with_url_and_for_the_shared_middleware(run: Run) -> None:
    args = ["api", "--url", "http://api.lan", "--target", "caddy", "--backend", "127.0.0.1:3"]
    assert "X-Auth-Request-Groups Authorization" in run("manifests", *args, "--jwt-bearer")
    assert "X-Auth-Request-Groups Authorization" in run("manifests", *args)  # always copied
    (doc,) = YAML(typ="safe").load_all(run("manifests", "--middleware", "--jwt-bearer"))
    assert doc["metadata"]["name"] == "authgate-jwt-bearer"
    assert doc["spec"]["forwardAuth"]["authResponseHeaders"][-1] == "Authorization"
    both = run("manifests", "--middleware", "--jwt-bearer", "--strip-cookie")
    (doc,) = YAML(typ="safe").load_all(both)
    assert doc["metadata"]["name"] == "authgate-strip-cookie-jwt-bearer"
