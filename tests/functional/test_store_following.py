"""The check follows changes other processes make to the store (the CLI, other workers) by
the revision file: at most one look per millisecond, so the checks of a busy moment share
one, and any check that starts after a change has finished sees it."""

from __future__ import annotations

from authgate.storage.revision import open_store
from tests.functional.conftest import Harness


async def test_a_change_by_another_process_is_obeyed_by_the_next_check(harness: Harness) -> None:
    assert (await harness.check("app2.test")).status_code == 302  # login first
    for _ in range(3):  # checks in a burst: still the app
        assert (await harness.check("app2.test")).status_code == 302
    other = open_store(harness.runtime.settings)  # what the CLI opens
    try:
        await other.delete_app("app2")
    finally:
        await other.close()
    assert (await harness.check("app2.test")).status_code == 404


async def test_a_check_right_after_a_sign_out_elsewhere_is_refused(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    assert (await harness.check("app1.test", "/x")).status_code == 200
    other = open_store(harness.runtime.settings)
    try:
        await other.revoke_user_sessions("alice")
    finally:
        await other.close()
    assert (await harness.check("app1.test", "/x")).status_code == 302
