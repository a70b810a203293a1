"""A dead database: no allow, no traceback, a clear 503 where a person or script reads it."""

from __future__ import annotations

import shutil

import pytest

from tests.functional.conftest import PASSWORD, PUBLIC, Harness, login_fields
from tests.functional.dialects import DIALECTS, ask

# aiosqlite's worker thread may raise while the killed database's connections are closed at
# teardown; that is the outage itself, not a failure of the behaviour under test.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


async def kill_store(harness: Harness) -> None:
    await harness.runtime.store.engine.dispose()
    db = harness.runtime.settings.data_dir / "authgate.db"
    shutil.move(db, db.with_suffix(".gone"))
    db.mkdir()  # a directory where the database file was: every connection fails
    harness.runtime.sessions.clear()


async def test_checks_fail_closed_and_say_why(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    cookie = "; ".join(f"{c.name}={c.value}" for c in harness.client.cookies.jar)
    await kill_store(harness)
    for dialect in DIALECTS:
        result = await ask(harness.client, dialect, "GET", "app1.test", "/x", {"cookie": cookie})
        expected = 401 if dialect == "nginx" else 503
        assert result.response.status_code == expected, (dialect, result.response.text)
        assert "Traceback" not in result.response.text


async def test_portal_shows_a_503_page_not_a_traceback(harness: Harness) -> None:
    page = await harness.client.get(f"{PUBLIC}/login")
    form = login_fields(page.text) | {"username": "alice", "password": PASSWORD}
    await kill_store(harness)
    posted = await harness.client.post(f"{PUBLIC}/login", data=form)
    assert posted.status_code == 503
    assert "Sign-in is unavailable" in posted.text and "Traceback" not in posted.text
