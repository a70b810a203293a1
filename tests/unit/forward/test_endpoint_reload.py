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


def stamp_of(revision_file: Path) -> tuple[int, int]:
    st = os.stat(revision_file)
    return (st.st_ino, st.st_mtime_ns)


def moved(checks: ForwardAuthEndpoint) -> tuple[int, int] | None:
    """What the next check would see, whenever it comes (past the stat interval)."""
    checks._next_stat = 0.0
    return checks._store_moved()


async def test_checks_during_a_reload_share_it_and_the_next_change_reloads_again(
    tmp_path: Path,
) -> None:
    revision = tmp_path / "revision"
    revision.write_text("1\n")
    reloads = Reloads()
    checks = endpoint(revision, reloads)

    assert moved(checks) == stamp_of(revision)
    await asyncio.gather(*(checks._follow_store(stamp_of(revision)) for _ in range(20)))
    assert reloads.count == 1
    assert moved(checks) is None  # nothing moved

    revision.write_text("2\n")
    os.utime(revision, ns=(1, 2))  # a new stamp even within the file system's time step
    assert moved(checks) == stamp_of(revision)
    await asyncio.gather(*(checks._follow_store(stamp_of(revision)) for _ in range(20)))
    assert reloads.count == 2


async def test_a_failed_reload_fails_its_waiters_and_is_tried_again(tmp_path: Path) -> None:
    revision = tmp_path / "revision"
    revision.write_text("1\n")
    reloads = Reloads(fail=True)
    checks = endpoint(revision, reloads)

    stamp = stamp_of(revision)
    results = await asyncio.gather(
        *(checks._follow_store(stamp) for _ in range(5)), return_exceptions=True
    )
    assert reloads.count == 1 and all(isinstance(r, ConnectionError) for r in results)
    assert moved(checks) == stamp  # the failed reload did not count: tried again
    reloads.fail = False
    await checks._follow_store(stamp)
    assert reloads.count == 2
    assert moved(checks) is None  # reloaded: nothing moved since
