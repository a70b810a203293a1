"""Passkeys and their challenges, on every store backend: a challenge is answered once (also
by two workers at the same moment) and not after it expired; a counter only moves forward;
sign-in with a passkey alone needs a passkey."""

from __future__ import annotations

import asyncio
import os

import pytest

from authgate.errors import ConflictError
from authgate.storage.store import NewPasskey, Store


def new_passkey(sign_count: int = 0) -> NewPasskey:
    return NewPasskey(os.urandom(16).hex(), "pk", sign_count, ("internal", "hybrid"))


async def test_a_challenge_is_taken_once_for_its_purpose(store: Store) -> None:
    user = await store.add_user("erin")
    await store.add_challenge(b"c1", "register", user.id)
    assert await store.take_challenge(b"c1", "passwordless") is None
    taken = await store.take_challenge(b"c1", "register")
    assert taken is not None and taken.user_id == user.id
    assert await store.take_challenge(b"c1", "register") is None
    assert await store.take_challenge(b"never", "register") is None


async def test_two_workers_answering_one_challenge_at_once_get_it_once(store: Store) -> None:
    await store.add_challenge(b"race", "passwordless", None)
    twin = Store(store.url)
    try:
        results = await asyncio.gather(
            store.take_challenge(b"race", "passwordless"),
            twin.take_challenge(b"race", "passwordless"),
        )
    finally:
        await twin.close()
    assert sum(r is not None for r in results) == 1


async def test_an_expired_challenge_is_refused_and_swept(store: Store) -> None:
    await store.add_challenge(b"old", "passwordless", None, lifetime=-1)
    assert await store.take_challenge(b"old", "passwordless") is None
    await store.add_challenge(b"stale", "passwordless", None, lifetime=-1)
    await store.add_challenge(b"fresh", "passwordless", None)
    assert await store.count_challenges() == 1


async def test_the_counter_only_moves_forward_and_fits_32_bits(store: Store) -> None:
    user = await store.add_user("erin")
    passkey = await store.add_passkey(user.id, new_passkey(), "Laptop")
    assert passkey.transports == ("internal", "hybrid")
    assert await store.record_passkey_use(passkey.id, 0)  # an authenticator that never counts
    assert await store.record_passkey_use(passkey.id, 2**32 - 1)
    assert not await store.record_passkey_use(passkey.id, 2**32 - 1)
    assert not await store.record_passkey_use(passkey.id, 7)
    (stored,) = await store.passkeys_of(user.id)
    assert stored.sign_count == 2**32 - 1 and stored.last_used_at is not None


async def test_a_credential_id_belongs_to_one_passkey(store: Store) -> None:
    erin, finn = await store.add_user("erin"), await store.add_user("finn")
    new = new_passkey()
    await store.add_passkey(erin.id, new, "one")
    with pytest.raises(ConflictError):
        await store.add_passkey(finn.id, new, "two")
    found = await store.passkey_owner(new.credential_id)
    assert found is not None and found[1].username == "erin"


async def test_passwordless_needs_a_passkey_and_goes_with_the_last(store: Store) -> None:
    user = await store.add_user("erin")
    assert not await store.set_passwordless(user.id, True)
    first = await store.add_passkey(user.id, new_passkey(), "one")
    second = await store.add_passkey(user.id, new_passkey(), "two")
    assert await store.set_passwordless(user.id, True)
    assert await store.remove_passkey(user.id, first.id) is not None
    assert (await store.get_user("erin")).passwordless
    other = await store.add_user("finn")
    assert await store.remove_passkey(other.id, second.id) is None
    assert not await store.rename_passkey(other.id, second.id, "mine")
    assert await store.remove_passkey(user.id, second.id) is not None
    assert not (await store.get_user("erin")).passwordless
