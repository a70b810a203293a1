"""Password hashing inside a running server: a few dedicated threads at the lowest CPU
priority, and a bounded queue in front of them.

argon2id costs ~100 ms of CPU per password by design, and its lanes run as threads of their
own. Left at normal priority, twenty people signing in at once take both cores from the
forward-auth check, whose every answer then waits (issue 13, bench scenario (f)). So:

- The pool's threads run under ``SCHED_IDLE`` on Linux (``nice 19`` where that is refused):
  the kernel gives them the CPU the check and the pages leave over, and the threads
  argon2 starts for its lanes inherit that. Elsewhere they run at normal priority.
- At most ``workers`` hashes run at once and at most ``waiting`` more wait. One more is
  refused at once with ``HashingBusy`` — before any login counter moves — and the portal
  answers "busy, try again" (503) instead of letting every request wait longer.

``reserve()`` takes a place in the queue first and hashes later, so that a sign-in can be
refused before it is counted; ``run`` does both. A place is given back when its hash has
finished (or, never started, when the reservation ends): a browser that goes away does not
free CPU that is still being spent for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from authgate.errors import AuthgateError

T = TypeVar("T")

WORKERS = 2  # hashes at once: with argon2's 4 lanes each, enough for 2 cores of idle CPU
WAITING = 32  # queued behind them: ~2-4 s of waiting on an idle 2-core machine
RETRY_AFTER = 5  # seconds a refused sign-in is told to wait


class HashingBusy(AuthgateError):
    """Too many passwords are being checked already; nothing was counted or checked."""

    def __init__(self, retry_after: int = RETRY_AFTER) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many passwords being checked; try again in {retry_after} s")


def lower_priority() -> None:
    """Let the calling thread, and the threads it starts, run only on CPU nothing else wants.

    Linux only: there the scheduling policy and nice value belong to a thread (addressed by
    its native id) and are inherited by the threads it creates. Lowering needs no privilege;
    a system that refuses both leaves the thread as it was."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, thread, 19)


class HashingPool:
    """``workers`` low-priority threads for argon2, ``waiting`` places in the queue."""

    def __init__(
        self,
        workers: int = WORKERS,
        waiting: int = WAITING,
        prepare_thread: Callable[[], None] = lower_priority,
    ) -> None:
        self.capacity = workers + waiting
        self._taken = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="authgate-hashing", initializer=prepare_thread
        )

    @property
    def taken(self) -> int:
        """Places held now: hashes running or waiting, and reservations not used yet."""
        return self._taken

    def reserve(self) -> Reservation:
        """A place for one hash (a context manager: unused, it is given back at the end of
        the block), or ``HashingBusy`` at once when every place is taken."""
        with self._lock:
            if self._taken >= self.capacity:
                raise HashingBusy()
            self._taken += 1
        return Reservation(self)

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on a pool thread, or ``HashingBusy`` when the queue is full."""
        with self.reserve() as place:
            return await place.run(work, *args)

    def close(self) -> None:
        """Refuse new hashes and drop the queued ones; the threads end after the running."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _give_back(self) -> None:
        with self._lock:
            self._taken -= 1


class Reservation:
    """One place in a ``HashingPool``'s queue, for at most one hash."""

    def __init__(self, pool: HashingPool) -> None:
        self._pool = pool
        self._held = True  # until the block ends unused, or the hash is done

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on a pool thread, awaited off the event loop."""
        if not self._held:
            raise RuntimeError("this reservation was used or given back")
        future = self._pool._executor.submit(work, *args)
        self._held = False  # from now on the hash gives the place back when it is done
        future.add_done_callback(lambda _: self._pool._give_back())
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._pool._give_back()
