"""``authgate doctor`` on the command line: exit status, text and JSON, the store's apps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from authgate.cli.main import cli

from .doctor_helpers import SEED000, SEED003, write


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"AUTHGATE_DATA_DIR": str(tmp_path / "data")}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, env=env, prog_name="authgate")


def test_seeds_exit_0_and_create_nothing(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "doctor", str(SEED000), str(SEED003))
    assert result.exit_code == 0, result.output
    assert "WARNING nginx-set-cookie-forwarded: Ingress/wiki/wiki" in result.stdout
    assert "no store at" in result.stdout  # apps not compared, said once
    assert not (tmp_path / "data").exists()  # no database, no secret key made by a check


def test_json_is_a_list_of_findings(env: dict[str, str]) -> None:
    for flags in (["--format", "json"], ["--json"]):
        result = run(env, "doctor", *flags, str(SEED003))
        findings = json.loads(result.stdout)
        assert isinstance(findings, list) and findings
        assert set(findings[0]) == {"id", "severity", "object", "where", "problem", "fix"}


def test_an_error_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    broken = write(tmp_path, "w.yaml", SEED000.read_text().replace("number: 8080", "number: 1"))
    result = run(env, "doctor", str(broken))
    assert result.exit_code == 1
    assert "ERROR   service-port-mismatch" in result.stdout


def test_bad_input_is_a_finding_not_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "doctor", str(tmp_path / "missing.yaml"), "-", stdin="{not: [yaml\n")
    assert result.exit_code == 1
    assert "input-unreadable" in result.stdout and "input-not-yaml" in result.stdout
    assert "Traceback" not in result.output


def test_nothing_to_check_is_a_usage_error(env: dict[str, str]) -> None:
    result = run(env, "doctor")
    assert result.exit_code == 2 and "--url" in result.stderr


def test_user_needs_password_stdin(env: dict[str, str]) -> None:
    assert run(env, "doctor", "--url", "http://a.test/", "--user", "u").exit_code == 2


def test_bad_resolve(env: dict[str, str]) -> None:
    result = run(env, "doctor", "--url", "http://a.test/", "--resolve", "a.test:nowhere")
    assert result.exit_code == 2 and "HOST:IP" in result.stderr


def test_hosts_are_compared_with_the_store(env: dict[str, str]) -> None:
    assert run(env, "app", "add", "other", "--url", "http://other.example.com").exit_code == 0
    result = run(env, "doctor", "--json", str(SEED000))
    assert result.exit_code == 1
    finding = next(f for f in json.loads(result.stdout) if f["id"] == "host-not-registered")
    assert "authgate app add wiki --url http://wiki.bogocat.com" in finding["fix"]
    assert run(env, "app", "add", "wiki", "--url", "http://wiki.bogocat.com").exit_code == 0
    assert run(env, "doctor", str(SEED000)).exit_code == 0


def test_unreadable_store_is_an_info_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "authgate.db").write_text("not a database")
    result = run(env, "doctor", "--json", str(SEED000))
    assert result.exit_code == 0
    note = next(f for f in json.loads(result.stdout) if f["id"] == "apps-not-compared")
    assert note["severity"] == "info" and "cannot be read" in note["problem"]


def test_help_lists_doctor_and_import(env: dict[str, str]) -> None:
    result = run(env, "--help")
    assert "doctor" in result.stdout and "import" in result.stdout
