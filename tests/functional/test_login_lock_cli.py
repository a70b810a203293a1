"""``authgate user show`` and ``user unlock`` on a lock the portal really made."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from authgate.cli.main import cli
from tests.functional.conftest import PASSWORD, Harness
from tests.functional.test_login_throttle import ATTACKER_IP, LOCK_AFTER, fail, sign_in, signed_in


def test_the_cli_shows_and_lifts_a_lock(
    sync_harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_event_loop()

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        return loop.run_until_complete(coro)

    def browser() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=sync_harness.client._transport, headers=sync_harness.client.headers
        )

    def authgate(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        return result.output

    settings = sync_harness.runtime.settings
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AUTHGATE_PUBLIC_URL", settings.public_url)

    quiet = json.loads(authgate("user", "show", "alice", "--json"))
    assert quiet["login"] == {"locked": False, "locked_until": None, "failures": 0}
    run(fail(browser(), "alice", LOCK_AFTER, ATTACKER_IP))
    shown = json.loads(authgate("user", "show", " alice", "--json"))
    assert shown["username"] == "alice" and "password_hash" not in shown
    assert shown["login"]["locked"] is True and shown["login"]["failures"] == LOCK_AFTER
    assert shown["login"]["locked_until"]
    assert "locked until" in authgate("user", "show", "alice")
    assert run(sign_in(browser(), "alice", PASSWORD)).status_code == 401

    assert json.loads(authgate("user", "unlock", "alice", "--json"))["cleared"] is True
    assert "not locked (0 recent" in authgate("user", "show", "alice")
    assert signed_in(run(sign_in(browser(), "alice", PASSWORD)))
    assert "nothing to do" in authgate("user", "unlock", "alice")

    events = [e["event"] for e in json.loads(authgate("audit", "--json"))]
    assert events.count("login_unlocked") == 2 and "login_locked" in events

    for command in (["user", "show", "ghost"], ["user", "unlock", "ghost"]):
        output = authgate(*command, code=1)
        assert "no user named 'ghost'" in output and len(output.strip().splitlines()) == 1
