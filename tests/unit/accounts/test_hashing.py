"""The password-hashing pool: argon2 in other processes at the lowest CPU priority, a
bounded queue that refuses at once when full, a process that dies costing one "try again"
and no more, and hashes made with other parameters still verifying."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest
from argon2 import PasswordHasher

from authgate.accounts import hashing
from authgate.accounts.hashing import HashingBroken, HashingBusy, HashingPool
from authgate.accounts.passwords import hash_password, verify_password
from tests.pool_work import (
    Gate,
    die,
    echo,
    in_a_thread_started_here,
    own_pid,
    policy_and_nice,
    wait_while,
)

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread priority is Linux's")


def _gone(pid: int) -> bool:
    """No such process, or only its exit status left for a parent to read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def _until(condition: object, seconds: float = 5.0) -> bool:
    assert callable(condition)
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return bool(condition())


@linux_only
async def test_hashes_run_in_another_process_at_idle_priority_and_so_do_its_threads() -> None:
    pool = HashingPool(workers=1, waiting=0)
    try:
        pid = await pool.run(own_pid)
        policy, _ = await pool.run(policy_and_nice)
        child_policy, _ = await pool.run(in_a_thread_started_here)
    finally:
        pool.close()
    assert pid != os.getpid()
    assert policy == os.SCHED_IDLE
    assert child_policy == os.SCHED_IDLE
    # the server's own threads are untouched: no thread of it holds the GIL at idle priority
    assert os.sched_getscheduler(threading.get_native_id()) == os.SCHED_OTHER


async def test_a_full_queue_refuses_at_once_and_takes_new_work_when_freed() -> None:
    pool = HashingPool(workers=1, waiting=1)
    with Gate() as gate:
        try:
            running = asyncio.ensure_future(pool.run(wait_while, gate.path, 10))
            waiting = asyncio.ensure_future(pool.run(echo, "second"))
            await asyncio.sleep(0.05)
            with pytest.raises(HashingBusy) as refused:
                await pool.run(echo, "third")
            assert refused.value.retry_after > 0
            gate.open()
            assert await running is True
            assert await waiting == "second"
            assert await pool.run(echo, "after") == "after"
            assert pool.taken == 0
        finally:
            gate.open()
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
    with Gate() as gate:
        try:
            waiter = asyncio.ensure_future(pool.run(wait_while, gate.path, 10))
            assert await _until(lambda: gate.started)  # a process hashes: no cancelling it
            waiter.cancel()
            await asyncio.sleep(0.05)
            assert pool.taken == 1  # the process still hashes: its CPU is not free yet
            gate.open()
            assert await _until(lambda: pool.taken == 0)
        finally:
            gate.open()
            pool.close()


async def test_a_killed_process_fails_its_hash_as_busy_and_the_next_hash_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = HashingPool(workers=1, waiting=1)
    try:
        first = await pool.run(own_pid)
        with pytest.raises(HashingBroken) as broken:
            await pool.run(die)
        assert isinstance(broken.value, HashingBusy)  # "try again", never a checked password
        assert broken.value.retry_after > 0
        assert "ended unexpectedly" in caplog.text
        assert pool.taken == 0
        assert await pool.run(verify_password, None, "anything") is False
        assert await pool.run(own_pid) != first
        assert _gone(first)
    finally:
        pool.close()


@linux_only
async def test_closing_leaves_no_process_behind() -> None:
    pool = HashingPool(workers=2, waiting=0)
    pids = set(await asyncio.gather(pool.run(own_pid), pool.run(own_pid)))
    pool.close()
    assert await _until(lambda: all(_gone(pid) for pid in pids))
    with pytest.raises(RuntimeError):
        await pool.run(echo, "after close")
    assert pool.taken == 0


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


def _burn(seconds: float) -> float:
    """CPU work of about ``seconds``; the CPU time it took."""
    started = time.process_time()
    while time.process_time() - started < seconds:
        sum(range(1000))
    return time.process_time() - started


def test_hashes_in_a_queue_rest_between_them_and_one_without_a_queue_never_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hashing, "REST", 1.0)
    monkeypatch.setattr(hashing, "_rest_until", 0.0)
    started = time.monotonic()
    took = hashing.paced(True, _burn, 0.05)
    assert time.monotonic() - started < took + 0.04  # the first one starts at once
    started = time.monotonic()
    second = hashing.paced(True, _burn, 0.05)
    # a queue: it waited for the first one's rest (its CPU time) before its own work
    assert time.monotonic() - started >= took + second - 0.01
    started = time.monotonic()
    third = hashing.paced(False, _burn, 0.02)  # nobody waiting beside it: no rest
    assert time.monotonic() - started < third + 0.04


async def test_a_hash_is_crowded_only_when_more_wait_than_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[bool] = []

    class Recording:
        def submit(self, fn: object, crowded: bool, *args: object) -> object:
            handed.append(crowded)
            return asyncio.get_running_loop().run_in_executor(None, lambda: None)

    pool = HashingPool(workers=1, waiting=2)
    monkeypatch.setattr(pool, "_new_executor", lambda: Recording())
    first = pool.reserve()
    first.__enter__()
    pool._submit(echo, 1)
    second = pool.reserve()
    pool._submit(echo, 2)
    assert handed == [False, True]
    first.__exit__(None, None, None)
    second.__exit__(None, None, None)
