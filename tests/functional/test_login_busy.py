"""When too many passwords are being checked at once, a sign-in is answered at once with the
login form saying "busy, try again" (503, Retry-After), counts as no failure, and works
again as soon as the queue has room; the account page's password change says the same. A
hashing process killed under a sign-in gets the same "try again", and the next one works."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, Future
from typing import TypeVar

from authgate.accounts.hashing import HashingBroken, HashingPool
from authgate.accounts.login import account_lock
from tests.functional.conftest import PASSWORD, PUBLIC, Browsers, Harness, login_fields
from tests.functional.test_account_page import (
    NEW_PASSWORD,
    alice,
    change_password,
    signed_in_browser,
)
from tests.functional.test_login_throttle import error_of, sign_in, signed_in
from tests.pool_work import Gate, own_pid, wait_while

T = TypeVar("T")

BUSY = "Too many people are signing in right now"


@contextlib.asynccontextmanager
async def pool_full(harness: Harness) -> AsyncIterator[None]:
    """The harness's pool made one place big, and that place taken until the block ends."""
    pool = HashingPool(workers=1, waiting=0)
    harness.runtime.hashing = harness.runtime.login.hashing = pool
    with Gate() as gate:
        held = asyncio.ensure_future(pool.run(wait_while, gate.path, 30))
        await asyncio.sleep(0.05)
        try:
            yield
        finally:
            gate.open()
            await held


async def test_a_sign_in_while_the_pool_is_full_is_told_to_try_again(
    harness: Harness, browsers: Browsers
) -> None:
    browser = browsers()
    async with pool_full(harness):
        answer = await sign_in(browser, "alice", PASSWORD)
        assert answer.status_code == 503
        assert int(answer.headers["retry-after"]) > 0
        assert BUSY in error_of(answer)
        assert login_fields(answer.text)["username"] == "alice"  # the form, to send again
        assert "authgate_portal=" not in answer.headers.get("set-cookie", "")
    rt = harness.runtime
    _, count = await account_lock(rt.store, rt.login.counters, "alice")
    assert count.failures == 0  # refused before anything was counted
    assert signed_in(await sign_in(browser, "alice", PASSWORD))  # room again: it works
    metrics = (await harness.client.get(f"{PUBLIC}/-/metrics")).text
    assert 'authgate_logins_total{result="busy",step="password"} 1.0' in metrics


async def test_a_whole_login_through_the_flow_goes_through_the_pool(harness: Harness) -> None:
    start = await harness.check("app1.test", "/")
    assert (await harness.login(start.headers["location"])).startswith("http://app1.test")
    assert (await harness.check("app1.test", "/")).status_code == 200
    assert harness.runtime.hashing.taken == 0


async def test_changing_the_password_while_the_pool_is_full_is_told_to_try_again(
    harness: Harness, browsers: Browsers
) -> None:
    this = await signed_in_browser(browsers)
    before = (await alice(harness)).password_hash
    async with pool_full(harness):
        refused = await change_password(this, PASSWORD, NEW_PASSWORD)
    assert refused.status_code == 503
    assert BUSY in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert (await alice(harness)).password_hash == before
    assert (await change_password(this, PASSWORD, NEW_PASSWORD)).status_code == 303


class _Watched(HashingPool):
    """A pool that lists the work handed to its processes."""

    def __init__(self, workers: int, waiting: int) -> None:
        super().__init__(workers, waiting)
        self.handed: list[str] = []

    def _submit(self, work: Callable[..., T], *args: object) -> tuple[Executor, Future[T]]:
        submitted = super()._submit(work, *args)
        self.handed.append(work.__name__)
        return submitted


async def test_a_hashing_process_that_dies_during_a_sign_in_is_try_again_then_it_works(
    harness: Harness, browsers: Browsers
) -> None:
    browser = browsers()
    pool = _Watched(workers=1, waiting=1)
    harness.runtime.hashing = harness.runtime.login.hashing = pool
    pid = await pool.run(own_pid)
    with Gate() as gate:
        held = asyncio.ensure_future(pool.run(wait_while, gate.path, 30))
        for _ in range(500):
            if gate.started:
                break
            await asyncio.sleep(0.01)
        waiting = asyncio.ensure_future(sign_in(browser, "alice", PASSWORD))
        for _ in range(500):
            if len(pool.handed) == 3:  # the sign-in's hash waits behind the held one
                break
            await asyncio.sleep(0.01)
        os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        answer = await waiting
        with contextlib.suppress(HashingBroken):
            await held
    assert answer.status_code == 503  # "try again", never signed in, never a 500
    assert BUSY in error_of(answer)
    assert "authgate_portal=" not in answer.headers.get("set-cookie", "")
    assert signed_in(await sign_in(browser, "alice", PASSWORD))  # new processes: it works
    assert pool.taken == 0
