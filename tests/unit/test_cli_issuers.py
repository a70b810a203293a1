"""``authgate explain --issuers``: what an admin reads to see which CI token maps to whom."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from authgate.cli.main import cli

ISSUERS = [
    {
        "issuer": "https://token.actions.githubusercontent.com",
        "jwks_url": "https://token.actions.githubusercontent.com/.well-known/jwks",
        "audience": "https://auth.example.com",
        "rules": [
            {"user": "ci-deploy", "claims": {"repository": "org/site", "ref": "refs/heads/main"}},
            {"user": "ci-ghost", "claims": {"repository": "org/*"}},
        ],
    }
]


def invoke(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, (args, result.output, result.exception)
    assert "Traceback" not in result.output
    return result.output


def test_the_issuers_and_their_rules_are_listed_with_the_accounts_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    assert "no external issuers configured" in invoke("explain", "--issuers")
    monkeypatch.setenv("AUTHGATE_ISSUERS", json.dumps(ISSUERS))
    invoke("user", "add", "ci-deploy", "--no-password")
    text = invoke("explain", "--issuers")
    assert "issuer https://token.actions.githubusercontent.com" in text
    assert "1. ci-deploy when repository=org/site, ref=refs/heads/main\n" in text
    assert "2. ci-ghost when repository=org/*  [service account missing]" in text
    (listed,) = json.loads(invoke("explain", "--issuers", "--json"))
    assert [r["account"] for r in listed["rules"]] == ["ok", "missing"]
    assert listed["algorithms"] == ["RS256", "ES256"] and listed["leeway"] == 30


def test_a_bad_issuer_setting_is_named_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUTHGATE_ISSUERS", json.dumps([{**ISSUERS[0], "algorithms": ["none"]}]))
    output = invoke("explain", "--issuers", code=2)
    assert "issuers[0].algorithms: none not allowed" in output


def test_explain_judges_a_machine_identity_like_its_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    invoke("user", "add", "ci-deploy", "--no-password")
    invoke("app", "add", "wiki", "--url", "http://wiki.lan", "--require-mfa")
    invoke("app", "add", "api", "--url", "http://api.lan")
    args = ("explain", "--user", "ci-deploy", "--amr", "jwt", "--json")
    api = json.loads(invoke(*args, "--url", "http://api.lan/deploy"))
    assert (api["outcome"], api["amr"]) == ("allow", ["jwt"])
    wiki = json.loads(invoke(*args, "--url", "http://wiki.lan/"))
    assert wiki["outcome"] != "allow" and wiki["mfa_required"] is True
