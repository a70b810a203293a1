"""TOTP steps and recovery codes are single-use across workers: two Store objects over one
database (two workers, or two replicas) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from authgate.accounts.recovery_codes import (
    COUNT,
    first_recovery_codes,
    issue_recovery_codes,
    use_recovery_code,
)
from authgate.accounts.totp import (
    code_at_step,
    confirm_totp,
    current_step,
    new_secret,
    use_totp_code,
)
from authgate.storage.store import Store, UserInfo


@pytest.fixture
async def other(store_url: str, store: Store) -> AsyncIterator[Store]:
    """A second worker's Store over the same database."""
    second = Store(store_url)
    yield second
    await second.close()


async def enrolled(store: Store) -> tuple[UserInfo, str]:
    user = await store.add_user("alice", password_hash=None)
    secret = (await store.begin_totp(user.id, new_secret())).secret
    assert await confirm_totp(store, user, code_at_step(secret, current_step()))
    return user, secret


async def test_a_secret_is_no_factor_until_a_code_confirms_it(store: Store) -> None:
    user = await store.add_user("alice", password_hash=None)
    shown = await store.begin_totp(user.id, new_secret())
    assert not shown.confirmed
    assert (await store.begin_totp(user.id, new_secret())).secret == shown.secret  # same page
    assert not (await store.enrolled_factors(user.id)).totp
    code = code_at_step(shown.secret, current_step())
    assert not await use_totp_code(store, user, code)  # unconfirmed: not a sign-in factor
    assert not await confirm_totp(store, user, "000000" if code != "000000" else "111111")
    assert await confirm_totp(store, user, code)
    assert (await store.enrolled_factors(user.id)).totp
    assert not await use_totp_code(store, user, code)  # the confirming code is used up
    assert (await store.begin_totp(user.id, new_secret())).secret == shown.secret


async def test_a_code_works_once_across_two_workers(store: Store, other: Store) -> None:
    user, secret = await enrolled(store)
    code = code_at_step(secret, current_step() + 1)  # the next step: within the drift
    first, second = await asyncio.gather(
        use_totp_code(store, user, code), use_totp_code(other, user, code)
    )
    assert sorted([first, second]) == [False, True]
    assert not await use_totp_code(other, user, code)


async def test_an_older_code_is_refused_after_a_newer_one(store: Store, other: Store) -> None:
    user, secret = await enrolled(store)
    now = current_step()
    assert await use_totp_code(store, user, code_at_step(secret, now + 1))
    assert not await use_totp_code(other, user, code_at_step(secret, now))
    assert not await use_totp_code(other, user, code_at_step(secret, now + 3))  # too far ahead


async def test_a_recovery_code_works_once_across_two_workers(store: Store, other: Store) -> None:
    user, _ = await enrolled(store)
    codes = await first_recovery_codes(store, user)
    assert len(codes) == COUNT and len(set(codes)) == COUNT
    assert await first_recovery_codes(store, user) == []  # a set is there: not made again
    typed = codes[3].lower().replace("-", " ")  # case, spaces and dashes do not matter
    results = await asyncio.gather(
        use_recovery_code(store, user, typed), use_recovery_code(other, user, codes[3])
    )
    assert sorted(results) == [False, True]
    assert (await other.enrolled_factors(user.id)).recovery_codes == COUNT - 1
    assert not await use_recovery_code(store, user, codes[3])
    events = [e for e in await store.list_audit(limit=50) if e.event == "recovery_code_used"]
    assert len(events) == 1 and '"left": 9' in events[0].detail


async def test_a_code_is_used_up_once_whoever_read_it_unused(store: Store, other: Store) -> None:
    """Both workers read the code as unused; only the first UPDATE may use it up."""
    user, _ = await enrolled(store)
    await issue_recovery_codes(store, user)
    (code_id, _), *_ = await store.unused_recovery_codes(user.id)
    assert code_id in dict(await other.unused_recovery_codes(user.id))
    assert await store.use_recovery_code(code_id)
    assert not await other.use_recovery_code(code_id)


async def test_a_new_set_revokes_the_old_one(store: Store) -> None:
    user, _ = await enrolled(store)
    old = await issue_recovery_codes(store, user)
    new = await issue_recovery_codes(store, user)
    assert not set(old) & set(new)
    assert not await use_recovery_code(store, user, old[0])
    assert await use_recovery_code(store, user, new[0])
    other_user = await store.add_user("bob", password_hash=None)
    assert not await use_recovery_code(store, other_user, new[1])  # codes are per user


async def test_only_hashes_are_stored(store: Store) -> None:
    user, _ = await enrolled(store)
    codes = await issue_recovery_codes(store, user)
    stored = [hashed for _, hashed in await store.unused_recovery_codes(user.id)]
    assert len(stored) == COUNT
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert all(len(h) == 64 for h in stored)


async def test_removing_every_factor(store: Store) -> None:
    user, _ = await enrolled(store)
    await issue_recovery_codes(store, user)
    removed = await store.remove_second_factors(user.id)
    assert (removed.totp, removed.passkeys, removed.recovery_codes) == (True, 0, COUNT)
    assert not (await store.enrolled_factors(user.id)).any
    assert await store.totp_secret(user.id) is None
    again = await store.remove_second_factors(user.id)
    assert (again.totp, again.recovery_codes) == (False, 0)
