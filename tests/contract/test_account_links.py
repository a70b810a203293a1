"""The account-link contract on SQLite and PostgreSQL: a link works once (also when two
workers use it at the same moment), not after its expiry, and a newer link ends the older."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from authgate.storage import models as m
from authgate.storage.store import Store, code_hash, now
from authgate.storage.store.links import INVITE, RESET


async def test_a_link_works_once_and_sets_the_password_ending_every_session(store: Store) -> None:
    user = await store.add_user("dana", password_hash="old")
    session = await store.create_session(user.id, kind="portal", lifetime=60)
    token, link = await store.create_link("dana", INVITE)
    assert (link.username, link.purpose) == ("dana", INVITE)
    assert link.expires_at - link.created_at == timedelta(hours=24)
    assert await store.find_link(token) == link
    assert await store.pending_link(user.id) == link

    assert await store.use_link(token, "new") == link
    assert (await store.get_user("dana")).password_hash == "new"
    assert await store.load_session(session) is None
    assert await store.use_link(token, "newer") is None
    assert await store.find_link(token) is None
    assert await store.pending_link(user.id) is None
    assert (await store.get_user("dana")).password_hash == "new"


async def test_two_workers_using_one_link_at_once_one_wins(store_url: str, store: Store) -> None:
    """Two engines (two workers' connection pools) post the same link at the same moment."""
    await store.add_user("erin", password_hash="old")
    other = Store(store_url)
    try:
        for round_ in range(5):
            token, _ = await store.create_link("erin", RESET)
            first, second = f"first-{round_}", f"second-{round_}"
            results = await asyncio.gather(
                store.use_link(token, first), other.use_link(token, second)
            )
            winners = [r for r in results if r is not None]
            assert len(winners) == 1, results
            expected = first if results[0] is not None else second
            assert (await store.get_user("erin")).password_hash == expected
    finally:
        await other.close()


async def test_an_expired_link_does_not_work(store: Store) -> None:
    await store.add_user("fay")
    token, _ = await store.create_link("fay", INVITE)
    async with store._tx() as db:
        await db.execute(
            update(m.AccountLink)
            .where(m.AccountLink.token_hash == code_hash(token))
            .values(expires_at=now() - timedelta(seconds=1))
        )
        await db.commit()
    assert await store.find_link(token) is None
    assert await store.use_link(token, "new") is None
    assert (await store.get_user("fay")).password_hash is None


async def test_a_new_link_ends_the_users_earlier_ones(store: Store) -> None:
    user = await store.add_user("gil", password_hash="old")
    await store.add_user("hal")
    first, _ = await store.create_link("gil", INVITE)
    bystander, _ = await store.create_link("hal", RESET)
    second, newest = await store.create_link("gil", RESET)
    assert await store.find_link(first) is None
    assert await store.use_link(first, "new") is None
    assert await store.pending_link(user.id) == newest
    assert await store.find_link(bystander) is not None  # another user's link is untouched
    assert await store.use_link(second, "new") is not None


async def test_unknown_tokens_and_disabled_users_get_nothing(store: Store) -> None:
    await store.add_user("ivy")
    token, _ = await store.create_link("ivy", RESET)
    assert await store.find_link("no-such-token") is None
    assert await store.use_link("no-such-token", "x") is None
    await store.set_disabled("ivy", True)
    assert await store.find_link(token) is None
    assert await store.use_link(token, "new") is None
    await store.set_disabled("ivy", False)
    assert await store.find_link(token) is not None  # the link itself was never used
