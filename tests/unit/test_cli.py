"""The CLI as an admin uses it: JSON out, one clear line on bad input, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from authgate.cli.main import cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), input=stdin)
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_users_apps_and_the_audit_log(run) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "alice", "--group", "staff", "--password-stdin", stdin="long password\n")
    users = json.loads(run("user", "list", "--json"))
    assert users[0]["username"] == "alice" and users[0]["groups"] == ["staff"]
    assert "password_hash" not in users[0]
    run("app", "add", "wiki", "--url", "http://Wiki.LAN:8080/", "--group", "staff")
    shown = json.loads(run("app", "show", "wiki", "--json"))
    assert shown["host"] == "wiki.lan:8080"
    events = [e["event"] for e in json.loads(run("audit", "--json"))]
    assert events[:2] == ["app_added", "user_added"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["app", "add", "x", "--url", "wiki.lan"], "not an absolute http(s) URL"),
        (["app", "add", "x", "--url", "http://a@b.lan"], "not an absolute http(s) URL"),
        (["app", "add", "x", "--url", "http://a.lan", "--skip-path", "(["], "not a valid regular"),
        (["app", "add", "x", "--url", "http://a.lan", "--mode", "domain"], "needs --cookie-domain"),
        (["app", "rule", "add", "x", "--action", "deny", "--network", "10.0.0.0/33"], "CIDR"),
        (["app", "rule", "add", "x", "--action", "bypass", "--group", "g"], "cannot name groups"),
        (["session", "revoke"], "give a session ID or --user"),
    ],
)
def test_bad_input_is_one_clear_line(run, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    output = run(*args, code=2)
    assert needle in output
    assert len(output.strip().splitlines()) == 1


def test_missing_things_are_named(run) -> None:  # type: ignore[no-untyped-def]
    assert "no user named 'ghost'" in run("user", "disable", "ghost", code=1)
    assert "no app named 'ghost'" in run("app", "show", "ghost", code=1)
    assert "no group named 'nope'" in run(
        "app", "add", "x", "--url", "http://x.lan", "--group", "nope", code=1
    )


def test_explain_json(run) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "wiki", "--url", "http://wiki.lan", "--skip-path", "^/public")
    result = json.loads(run("explain", "--url", "http://WIKI.lan./x/../public/a", "--json"))
    assert result["outcome"] == "allow" and result["request"]["path"] == "/public/a"
    result = json.loads(run("explain", "--url", "http://wiki.lan/admin", "--json"))
    assert result["outcome"] == "login"
    assert "no decision" in run("explain", "--decision", "feedbeef", code=1)


def test_serve_refuses_a_port_in_use() -> None:
    import socket

    from authgate.cli.serve import port_in_use

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert "in use" in port_in_use("127.0.0.1", port)
    assert port_in_use("127.0.0.1", port) == ""


@pytest.mark.parametrize("name", ["erin\n", "erin ", " erin", "er in", "erin\t"])
def test_a_user_name_with_white_space_is_refused(run, name: str) -> None:  # type: ignore[no-untyped-def]
    """The login strips white space; a stored "erin\\n" would be a second name for erin."""
    assert "is not valid" in run("user", "add", name, "--no-password", code=1)
    assert json.loads(run("user", "list", "--json")) == []


def test_names_that_differ_only_in_case_are_refused(run) -> None:  # type: ignore[no-untyped-def]
    """Apps that compare names case-blind (many do) would take Erin for erin."""
    run("user", "add", "erin", "--no-password", "--group", "staff")
    output = run("user", "add", "Erin", "--no-password", code=1)
    assert "'Erin' would differ from user 'erin' only in case" in output
    output = run("group", "add", "STAFF", code=1)
    assert "'STAFF' would differ from group 'staff' only in case" in output
    names = [u["username"] for u in json.loads(run("user", "list", "--json"))]
    assert names == ["erin"]
