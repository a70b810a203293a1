"""Work for tests to hand to the password-hashing pool. The pool runs it in other processes,
which import it by name: so it lives here, in an importable module, not in a test file, and
holds the pool busy with a file (which another process can see) rather than an Event."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from types import TracebackType

STARTED = ".started"


def echo(value: object) -> object:
    return value


def own_pid() -> int:
    return os.getpid()


def policy_and_nice() -> tuple[int, int]:
    """The calling thread's scheduling policy and nice value (Linux: both per thread)."""
    return os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)


def in_a_thread_started_here() -> tuple[int, int]:
    """What a thread started by the pool's process runs at (as argon2's lane threads do)."""
    seen: list[tuple[int, int]] = []
    child = threading.Thread(target=lambda: seen.append(policy_and_nice()))
    child.start()
    child.join()
    return seen[0]


def die() -> None:
    """The process ends as a killed one does (the OOM killer, an operator's kill -9)."""
    os.kill(os.getpid(), signal.SIGKILL)


def wait_while(path: str, timeout: float) -> bool:
    """Hold a pool process until ``path`` is gone (True) or ``timeout`` passed (False);
    ``path + STARTED`` tells the test that the process has picked the work up."""
    if not os.path.exists(path):
        return True  # opened before this process came to it
    with open(path + STARTED, "w"):
        pass
    ends = time.monotonic() + timeout
    while os.path.exists(path):
        if time.monotonic() > ends:
            return False
        time.sleep(0.01)
    return True


class Gate:
    """A closed gate is a file; work given ``gate.path`` waits until ``open()`` removes it.
    A context manager: the gate is opened at the end of the block whatever happened."""

    def __init__(self) -> None:
        handle, self.path = tempfile.mkstemp(prefix="authgate-gate-")
        os.close(handle)

    @property
    def started(self) -> bool:
        """A process has begun to wait at this gate."""
        return os.path.exists(self.path + STARTED)

    def open(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)

    def __enter__(self) -> Gate:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.open()
        if self.started:
            os.unlink(self.path + STARTED)
