"""Password hashing inside a running server: a few worker processes at the lowest CPU
priority, and a bounded queue in front of them.

argon2id costs ~100 ms of CPU per password by design, and its lanes run as threads of their
own. Left at normal priority, twenty people signing in at once take both cores from the
forward-auth check, whose every answer then waits (issue 13, bench scenario (f)). So:

- Hashes run in ``workers`` separate processes whose main thread runs under ``SCHED_IDLE``
  on Linux (``nice 19`` where that is refused): the kernel gives them the CPU the check and
  the pages leave over, and the threads argon2 starts for its lanes inherit that. Elsewhere
  they run at normal priority. Processes, not threads: a ``SCHED_IDLE`` thread of the
  server that finishes a hash must take the GIL back, and the event loop then waits until
  the kernel runs that idle thread again (tens of ms on a busy machine). A process has a
  GIL of its own, so the server's never waits for a hash.
- The processes are started on first use, from ``forkserver`` (``spawn`` off Linux), never
  by forking the threaded server. A process that dies (killed, out of memory) breaks the
  pool: the hashes it held fail with ``HashingBroken`` (a ``HashingBusy``: "try again",
  never an allow), the error is logged, and the next hash gets fresh processes.
- While hashes queue up, a process rests between two of them as long as the last one's
  CPU time (``paced``): ``SCHED_IDLE`` alone still let argon2 fill every short idle gap of
  the check's round trips, and its memory traffic slowed each of them (under bench (f) the
  check's p99 was 2.4x its own, 1.5x with the rests; sign-ins 6.4/s, then 5.3/s). A
  sign-in with no queue beside it never rests.
- At most ``workers`` hashes run at once and at most ``waiting`` more wait. One more is
  refused at once with ``HashingBusy`` — before any login counter moves — and the portal
  answers "busy, try again" (503) instead of letting every request wait longer.

``reserve()`` takes a place in the queue first and hashes later, so that a sign-in can be
refused before it is counted; ``run`` does both. A place is given back when its hash has
finished (or, never started, when the reservation ends): a browser that goes away does not
free CPU that is still being spent for it. The work handed to the pool must be a
module-level function with picklable arguments (``passwords.hash_password``,
``passwords.verify_password``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from authgate.errors import AuthgateError

T = TypeVar("T")

# hashes at once per server worker. One: twenty people signing in without pause on a 2-core
# machine got no more sign-ins per second from two (6.4-6.7/s either way; their flows'
# round trips bound them), while the check's p99 beside them fell from 3.6-4.7x its own to
# 2.4x (bench scenario (f)): argon2's 64 MiB slow everything else even at idle priority.
WORKERS = 1
REST = 1.0  # after each hash a pool process rests this many times the hash's CPU time
WAITING = 32  # queued behind them: ~3-6 s of waiting on an idle 2-core machine
RETRY_AFTER = 5  # seconds a refused sign-in is told to wait

log = logging.getLogger(__name__)


class HashingBusy(AuthgateError):
    """Too many passwords are being checked already; nothing was counted or checked."""

    def __init__(self, retry_after: int = RETRY_AFTER) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many passwords being checked; try again in {retry_after} s")


class HashingBroken(HashingBusy):
    """A hashing process died with this hash: it was not checked; the next one gets new
    processes. Answered like ``HashingBusy`` ("try again"), never as a right password."""


def lower_priority() -> None:
    """Let the calling process's thread, and the threads it starts, run only on CPU nothing
    else wants.

    Linux only: there the scheduling policy and nice value belong to a thread (``0``: the
    caller) and are inherited by the threads it creates. Lowering needs no privilege; a
    system that refuses both leaves the thread as it was."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)


_rest_until = 0.0  # in a pool process: when the rest after its last hash ends


def paced(crowded: bool, work: Callable[..., T], *args: object) -> T:
    """``work(*args)`` in a pool process. ``crowded`` (other hashes were waiting when this
    one was handed over: a flood of sign-ins): first the rest the previous hash earned, as
    long as its CPU time times ``REST``, so that a flood takes at most ``1 / (1 + REST)`` of
    a core per process from the check (``SCHED_IDLE`` alone let argon2 take the short idle
    gaps the check's round trips leave, and its 64 MiB of memory traffic then slowed every
    hop of the check). A sign-in with nobody waiting beside it never rests."""
    global _rest_until
    wait = _rest_until - time.monotonic()
    if crowded and wait > 0:
        time.sleep(wait)
    started = time.process_time()
    try:
        return work(*args)
    finally:
        _rest_until = time.monotonic() + (time.process_time() - started) * REST


def _start_method() -> str:
    """Never ``fork``: forking a server with threads can copy a lock some thread held."""
    return "forkserver" if sys.platform == "linux" else "spawn"


class HashingPool:
    """``workers`` low-priority processes for argon2, ``waiting`` places in the queue."""

    def __init__(
        self,
        workers: int = WORKERS,
        waiting: int = WAITING,
        prepare_process: Callable[[], None] = lower_priority,
    ) -> None:
        self.capacity = workers + waiting
        self._workers = workers
        self._prepare = prepare_process
        self._taken = 0
        self._lock = threading.Lock()
        self._closed = False
        self._executor: Executor | None = None  # made by the first hash: no process before

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
        """``work(*args)`` in a pool process, or ``HashingBusy`` when the queue is full."""
        with self.reserve() as place:
            return await place.run(work, *args)

    def close(self) -> None:
        """Refuse new hashes and drop the queued ones; the processes end after the running
        ones (a server's shutdown does not wait for them)."""
        with self._lock:
            self._closed = True
            executor = self._executor
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _new_executor(self) -> Executor:
        """Its processes (and multiprocessing's resource tracker) start with its first hash."""
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context(_start_method()),
            initializer=self._prepare,
        )

    def _submit(self, work: Callable[..., T], *args: object) -> tuple[Executor, Future[T]]:
        """Hand ``work`` to the processes, replacing them first if they broke before; the
        executor it went to, and its future."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the hashing pool is closed")
            if self._executor is None:
                self._executor = self._new_executor()
            executor = self._executor
        crowded = self._taken > self._workers  # more hashes than processes: a queue
        try:
            return executor, executor.submit(paced, crowded, work, *args)
        except BrokenProcessPool:
            executor = self._replace(executor)
            return executor, executor.submit(paced, crowded, work, *args)

    def _replace(self, broken: Executor) -> Executor:
        """Fresh processes in place of ``broken`` (once, however many hashes noticed)."""
        with self._lock:
            if self._executor is broken and not self._closed:
                self._executor = self._new_executor()
            executor = self._executor or broken
        broken.shutdown(wait=False, cancel_futures=True)
        return executor

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
        """``work(*args)`` in a pool process, awaited off the event loop; ``HashingBroken``
        when that process died before it answered."""
        if not self._held:
            raise RuntimeError("this reservation was used or given back")
        pool = self._pool
        executor, future = pool._submit(work, *args)
        self._held = False  # from now on the hash gives the place back when it is done
        future.add_done_callback(lambda _: pool._give_back())
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as broken:
            log.error("a password-hashing process ended unexpectedly: %s", broken)
            pool._replace(executor)
            raise HashingBroken() from None

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._pool._give_back()
