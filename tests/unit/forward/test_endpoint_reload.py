"""The check follows the store: when the revision file moves, the checks that arrive while
the apps are being reloaded share that one reload (with 10,000 apps a reload takes a while,
and a reload per waiting check would stall every worker); a failed reload is tried again."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from authgate.config.secret import Secret
from authgate.forward.endpoint import ForwardAuthEndpoint
from authgate.forward.gate import Gate
from authgate.forward.sessions import SessionCache
from authgate.signing import Signing
from tests.unit.forward.helpers import PREFIX


class Reloads:
    def __init__(self, fail: bool = False) -> None:
        self.count = 0
        self.fail = fail

    async def __call__(self) -> None:
        self.count += 1
        await asyncio.sleep(0.05)  # a reload takes a while
        if self.fail:
            raise ConnectionError("store down")


def endpoint(revision_file: Path, reload: Reloads) -> ForwardAuthEndpoint:
    async def no_session(session_id: str) -> None:
        return None

    gate = Gate(SessionCache(no_session, 0), Signing([Secret("k" * 40)]).session, PREFIX)
    return ForwardAuthEndpoint(
        gate, {}, lambda peer: True, str(revision_file), reload, lambda *args: None
    )


async def test_checks_during_a_reload_share_it_and_the_next_change_reloads_again(
    tmp_path: Path,
) -> None:
    revision = tmp_path / "revision"
    revision.write_text("1\n")
    reloads = Reloads()
    checks = endpoint(revision, reloads)

    await asyncio.gather(*(checks._follow_store() for _ in range(20)))
    assert reloads.count == 1
    await checks._follow_store()  # nothing moved
    assert reloads.count == 1

    revision.write_text("2\n")
    os.utime(revision, ns=(1, 2))  # a new stamp even within the file system's time step
    await asyncio.gather(*(checks._follow_store() for _ in range(20)))
    assert reloads.count == 2


async def test_a_failed_reload_fails_its_waiters_and_is_tried_again(tmp_path: Path) -> None:
    revision = tmp_path / "revision"
    revision.write_text("1\n")
    reloads = Reloads(fail=True)
    checks = endpoint(revision, reloads)

    results = await asyncio.gather(
        *(checks._follow_store() for _ in range(5)), return_exceptions=True
    )
    assert reloads.count == 1 and all(isinstance(r, ConnectionError) for r in results)
    reloads.fail = False
    await checks._follow_store()
    assert reloads.count == 2
    await checks._follow_store()  # reloaded: nothing moved since
    assert reloads.count == 2
