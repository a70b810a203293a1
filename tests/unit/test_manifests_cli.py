"""``authgate manifests`` from the command line: output for an app given by --url or from
the store, and bad input answered in one line with exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML


def authgate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE_")}
    env["AUTHGATE_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "authgate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_app_from_the_store(tmp_path: Path) -> None:
    added = authgate(tmp_path, "app", "add", "grafana", "--url", "https://grafana.example.com")
    assert added.returncode == 0, added.stderr
    result = authgate(
        tmp_path, "manifests", "grafana", "--target", "traefik", "--service", "grafana:3000"
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in YAML(typ="safe").load_all(result.stdout)]
    assert kinds == ["IngressRoute"]
    assert "Host(`grafana.example.com`)" in result.stdout


def test_json_output_carries_the_text(tmp_path: Path) -> None:
    result = authgate(
        tmp_path,
        "manifests",
        "wiki",
        "--url",
        "http://wiki.lan",
        "--target",
        "caddy",
        "--backend",
        "127.0.0.1:3000",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert '"target": "caddy"' in result.stdout
    assert "forward_auth" in result.stdout


def test_middleware_alone(tmp_path: Path) -> None:
    result = authgate(tmp_path, "manifests", "--middleware", "--namespace", "public-ingress")
    assert result.returncode == 0, result.stderr
    (doc,) = YAML(typ="safe").load_all(result.stdout)
    assert doc["kind"] == "Middleware"
    assert doc["metadata"]["namespace"] == "public-ingress"


def test_strip_cookie_comes_from_the_store(tmp_path: Path) -> None:
    url = ["--url", "http://wiki.lan"]
    assert authgate(tmp_path, "app", "add", "wiki", *url, "--strip-cookie").returncode == 0
    assert authgate(tmp_path, "app", "add", "plain", "--url", "http://plain.lan").returncode == 0
    nginx = ["--target", "nginx", "--backend", "127.0.0.1:3000"]

    stripped = authgate(tmp_path, "manifests", "wiki", *nginx)
    plain = authgate(tmp_path, "manifests", "plain", *nginx)

    assert stripped.returncode == 0, stripped.stderr
    assert "proxy_set_header Cookie $authgate_wiki_upstream_cookie;" in stripped.stdout
    assert plain.returncode == 0, plain.stderr
    assert "proxy_set_header Cookie" not in plain.stdout
    assert "upstream_http_cookie" not in plain.stdout


def test_strip_cookie_flag_with_url(tmp_path: Path) -> None:
    args = ["wiki", "--url", "http://wiki.lan", "--target", "caddy", "--backend", "127.0.0.1:3"]
    result = authgate(tmp_path, "manifests", *args, "--strip-cookie")
    assert result.returncode == 0, result.stderr
    assert "X-Auth-Request-Groups Authorization Cookie" in result.stdout
    without = authgate(tmp_path, "manifests", *args)
    assert " Cookie\n" not in without.stdout
    assert "X-Auth-Request-Groups Authorization\n" in without.stdout


def test_strip_cookie_middleware(tmp_path: Path) -> None:
    result = authgate(tmp_path, "manifests", "--middleware", "--strip-cookie")
    assert result.returncode == 0, result.stderr
    (doc,) = YAML(typ="safe").load_all(result.stdout)
    assert doc["metadata"]["name"] == "authgate-strip-cookie"
    assert doc["spec"]["forwardAuth"]["authResponseHeaders"][-1] == "Cookie"


def test_strip_cookie_flag_for_an_app_that_does_not_strip_is_refused(tmp_path: Path) -> None:
    """The config would copy a Cookie authgate never sends: the app would lose its cookies."""
    assert authgate(tmp_path, "app", "add", "wiki", "--url", "http://wiki.lan").returncode == 0
    result = authgate(
        tmp_path,
        "manifests",
        "wiki",
        "--target",
        "nginx",
        "--backend",
        "127.0.0.1:3000",
        "--strip-cookie",
    )
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert "does not strip authgate's cookie" in line
    assert "authgate app set wiki --strip-cookie" in line


URL = ["--url", "https://grafana.example.com"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--target", "traefik", "--service", "x:1"], "no app named 'nope'"),
        (["grafana", *URL, "--target", "haproxy"], "unknown --target 'haproxy'"),
        (["grafana", *URL], "--target is required"),
        (
            ["grafana", *URL, "--target", "traefik", "--backend", "nas.lan:80"],
            "needs an IP address",
        ),
        (["grafana", *URL, "--target", "traefik", "--backend", "10.0.0.1"], "IP:PORT"),
        (
            ["grafana", *URL, "--target", "traefik", "--backend", "10.0.0.1:x"],
            "port must be a number",
        ),
        (["grafana", *URL, "--target", "nginx", "--service", "g:80"], "--service does not apply"),
        (["grafana", *URL, "--target", "traefik"], "--service NAME:PORT or --backend IP:PORT"),
        (
            ["grafana", "--url", "ftp://x", "--target", "caddy", "--backend", "a:1"],
            "not an absolute",
        ),
        (["Bad_Slug", *URL, "--target", "traefik", "--service", "g:80"], "not a Kubernetes name"),
        (["--middleware", "--target", "caddy"], "--middleware prints"),
        (
            ["grafana", *URL, "--target", "traefik", "--service", "g:80", "--auth-cache", "1s"],
            "--auth-cache does not apply to --target traefik",
        ),
        (
            ["grafana", *URL, "--target", "nginx", "--backend", "g:80", "--auth-cache", "5m"],
            "--auth-cache '5m': at most 60s",
        ),
        ([], "name the app"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = authgate(tmp_path, "manifests", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("authgate: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
