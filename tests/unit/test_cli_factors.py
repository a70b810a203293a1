"""The CLI and second factors: ``explain --amr`` shows the MFA an app needs and what the
session has; ``user reset-mfa`` removes every factor and ends the user's sessions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from authgate.accounts.recovery_codes import issue_recovery_codes
from authgate.accounts.totp import new_secret
from authgate.storage.store import Store
from tests.unit import test_cli

run = test_cli.run  # the CLI fixture of test_cli.py, shared


def test_explain_shows_the_mfa_an_app_needs(run) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "alice", "--no-password")
    run("app", "add", "wiki", "--url", "http://wiki.lan", "--require-mfa")
    run("app", "add", "blog", "--url", "http://blog.lan")
    text = run("explain", "--url", "http://wiki.lan/x", "--user", "alice", "--amr", "pwd")
    assert "session: user alice, groups -, signed in with pwd" in text
    assert "mfa: required, session has pwd: second factor step" in text
    assert text.strip().endswith("outcome: login (second factor required)")
    both = json.loads(
        run(
            "explain", "--url", "http://wiki.lan/x", "--user", "alice", "--amr", "pwd,otp", "--json"
        )
    )
    assert both["outcome"] == "allow" and both["mfa_required"] is True
    assert both["amr"] == ["pwd", "otp"]
    assert "mfa: required, session has pwd,otp: satisfied" in both["trace"]
    default = json.loads(run("explain", "--url", "http://wiki.lan/x", "--user", "alice", "--json"))
    assert default["outcome"] == "login" and default["amr"] == ["pwd"]
    blog = json.loads(run("explain", "--url", "http://blog.lan/", "--user", "alice", "--json"))
    assert blog["outcome"] == "allow" and blog["mfa_required"] is False
    bad = run("explain", "--url", "http://wiki.lan/", "--user", "alice", "--amr", "sms", code=2)
    assert "--amr: unknown method sms" in bad


def test_reset_mfa_removes_every_factor_and_ends_the_sessions(
    run,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    run("user", "add", "alice", "--no-password")

    async def enrol() -> None:
        store = Store(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'authgate.db'}")
        user = await store.get_user("alice")
        await store.begin_totp(user.id, new_secret())
        assert await store.use_totp_step(user.id, 5, confirming=True)
        await issue_recovery_codes(store, user)
        await store.create_session(user.id, kind="portal", lifetime=600, amr=("pwd", "otp"))
        await store.close()

    asyncio.run(enrol())
    shown = json.loads(run("user", "reset-mfa", "alice", "--json"))
    assert shown == {
        "user": "alice",
        "removed": {"totp": True, "passkeys": 0, "recovery_codes": 10},
        "sessions_ended": 1,
    }
    again = run("user", "reset-mfa", "alice")
    assert "removed no authenticator app, 0 passkey(s), 0 unused recovery code(s)" in again
    events = json.loads(run("audit", "--json"))
    assert [e["event"] for e in events][:2] == ["mfa_reset", "mfa_reset"]
    assert "no user named" in run("user", "reset-mfa", "nobody", code=1)
