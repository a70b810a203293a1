"""``authgate user invite``, ``user reset-link`` and ``user show`` as an admin uses them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from authgate.cli.main import cli
from tests.mailserver import MailServer, free_port

PUBLIC = "https://auth.example.test"
LINK = re.compile(re.escape(PUBLIC) + r"/account/link/[A-Za-z0-9_-]{43}")

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUTHGATE_PUBLIC_URL", PUBLIC)
    monkeypatch.delenv("AUTHGATE_SMTP_URL", raising=False)

    def invoke(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        return result

    return invoke


def test_invite_makes_a_user_without_password_and_prints_a_link(run: Run) -> None:
    result = run("user", "invite", "dana", "--email", "d@x.test", "--name", "Dana", "--group", "g")
    assert "invited dana" in result.stdout
    assert len(LINK.findall(result.stdout)) == 1
    shown = json.loads(run("user", "show", "dana", "--json").stdout)
    assert shown["password_set"] is False and shown["groups"] == ["g"]
    assert shown["pending_link"]["purpose"] == "invite"
    assert "already exists" in run("user", "invite", "dana", code=1).output


def test_invite_json(run: Run) -> None:
    result = run("user", "invite", "erin", "--group", "a", "--group", "b", "--json")
    data = json.loads(result.stdout)
    assert set(data) == {
        "user", "email", "name", "groups", "purpose", "link", "expires_at", "mail",
    }  # fmt: skip
    assert (data["user"], data["groups"], data["purpose"]) == ("erin", ["a", "b"], "invite")
    assert LINK.fullmatch(data["link"]) and data["mail"] is None


def test_reset_link_replaces_the_earlier_one(run: Run) -> None:
    run("user", "invite", "fay")
    first = json.loads(run("user", "reset-link", "fay", "--json").stdout)
    second = json.loads(run("user", "reset-link", "fay", "--json").stdout)
    assert first["purpose"] == second["purpose"] == "reset"
    assert first["link"] != second["link"]
    pending = json.loads(run("user", "show", "fay", "--json").stdout)["pending_link"]
    assert pending == {"purpose": "reset", "expires_at": second["expires_at"]}
    assert "reset link pending until" in run("user", "show", "fay").stdout
    assert "no user named 'ghost'" in run("user", "reset-link", "ghost", code=1).output
    run("user", "disable", "fay")
    assert "is disabled: enable them first" in run("user", "reset-link", "fay", code=1).output
    events = [e["event"] for e in json.loads(run("audit", "--json").stdout)]
    assert events.count("reset_link_created") == 2 and "invite_created" in events


def test_without_a_public_url_nothing_is_made(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTHGATE_PUBLIC_URL")
    for command in (["user", "invite", "gil"], ["user", "reset-link", "gil"]):
        output = run(*command, code=2).output
        assert "AUTHGATE_PUBLIC_URL" in output and len(output.strip().splitlines()) == 1
    assert json.loads(run("user", "list", "--json").stdout) == []


def test_show_keeps_its_fields_and_adds_factors_sessions_and_link(run: Run) -> None:
    run("user", "invite", "hal", "--email", "h@x.test")
    shown = json.loads(run("user", "show", "hal", "--json").stdout)
    assert {"username", "email", "name", "groups", "disabled", "uid", "login"} <= set(shown)
    assert shown["factors"] == {"totp": False, "passkeys": 0, "recovery_codes": 0}
    assert shown["sessions"] == []
    text = run("user", "show", "hal").stdout
    for line in ("user:     hal", "factors:  TOTP no", "sessions: 0", "invitation pending"):
        assert line in text, text


def test_a_failed_mail_still_prints_the_link(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHGATE_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    result = run("user", "invite", "ivy", "--email", "ivy@x.test")
    assert LINK.search(result.stdout)
    assert "the link was not mailed" in result.stderr and "hand it over" in result.stderr
    data = json.loads(run("user", "reset-link", "ivy", "--json").stdout)
    assert data["mail"]["sent"] is False and data["mail"]["to"] == "ivy@x.test"
    assert "ConnectionRefused" in data["mail"]["error"]


def test_the_link_is_mailed(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    with MailServer() as mail:
        monkeypatch.setenv("AUTHGATE_SMTP_URL", f"smtp://127.0.0.1:{mail.port}")
        result = run("user", "invite", "jon", "--email", "jon@x.test")
        (message,) = mail.wait_for(1)
    link = LINK.search(result.stdout)
    assert link and "mailed to jon@x.test" in result.stdout
    assert link.group(0) in message.get_content()
