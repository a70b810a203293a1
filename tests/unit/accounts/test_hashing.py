"""The password-hashing pool: argon2 at the lowest CPU priority, a bounded queue that
refuses at once when full, and hashes made with other parameters still verifying."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest
from argon2 import PasswordHasher

from authgate.accounts.hashing import HashingBusy, HashingPool
from authgate.accounts.passwords import hash_password, verify_password

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread priority is Linux's")


def _policy_and_nice() -> tuple[int, int]:
    thread = threading.get_native_id()
    return os.sched_getscheduler(thread), os.getpriority(os.PRIO_PROCESS, thread)


def _in_a_thread_started_here() -> tuple[int, int]:
    """What a thread started by the pool's thread runs at (as argon2's lane threads do)."""
    seen: list[tuple[int, int]] = []
    child = threading.Thread(target=lambda: seen.append(_policy_and_nice()))
    child.start()
    child.join()
    return seen[0]


@linux_only
async def test_hashing_threads_and_the_threads_they_start_run_at_idle_priority() -> None:
    pool = HashingPool(workers=1, waiting=0)
    try:
        policy, _ = await pool.run(_policy_and_nice)
        child_policy, _ = await pool.run(_in_a_thread_started_here)
    finally:
        pool.close()
    assert policy == os.SCHED_IDLE
    assert child_policy == os.SCHED_IDLE
    # the event loop's own thread is untouched
    assert _policy_and_nice()[0] == os.SCHED_OTHER


async def test_a_full_queue_refuses_at_once_and_takes_new_work_when_freed() -> None:
    pool = HashingPool(workers=1, waiting=1)
    gate = threading.Event()
    try:
        running = asyncio.ensure_future(pool.run(gate.wait, 10))
        waiting = asyncio.ensure_future(pool.run(lambda: "second"))
        await asyncio.sleep(0.05)
        with pytest.raises(HashingBusy) as refused:
            await pool.run(lambda: "third")
        assert refused.value.retry_after > 0
        gate.set()
        assert await running is True
        assert await waiting == "second"
        assert await pool.run(lambda: "after") == "after"
        assert pool.taken == 0
    finally:
        gate.set()
        pool.close()


async def test_an_unused_reservation_gives_its_place_back() -> None:
    pool = HashingPool(workers=1, waiting=0)
    try:
        with pool.reserve():
            assert pool.taken == 1
            with pytest.raises(HashingBusy):
                pool.reserve()
        assert pool.taken == 0
    finally:
        pool.close()


async def test_a_hash_whose_waiter_went_away_keeps_its_place_until_it_is_done() -> None:
    pool = HashingPool(workers=1, waiting=0)
    gate = threading.Event()
    try:
        waiter = asyncio.ensure_future(pool.run(gate.wait, 10))
        await asyncio.sleep(0.05)
        waiter.cancel()
        await asyncio.sleep(0.05)
        assert pool.taken == 1  # the thread still hashes: its CPU is not free yet
        gate.set()
        for _ in range(100):
            if pool.taken == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.taken == 0
    finally:
        gate.set()
        pool.close()


async def test_hashes_made_with_other_parameters_still_verify_in_the_pool() -> None:
    older = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash("old secret")
    pool = HashingPool()
    try:
        assert await pool.run(verify_password, older, "old secret") is True
        assert await pool.run(verify_password, older, "wrong") is False
        made = await pool.run(hash_password, "new secret")
        assert await pool.run(verify_password, made, "new secret") is True
        assert await pool.run(verify_password, None, "anything") is False  # the dummy
    finally:
        pool.close()
