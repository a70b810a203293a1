"""The signing keys in the store, on SQLite and PostgreSQL: one first set however many
instances race for it, rotation, and pruning of keys whose verifying time is over."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from authgate.config import load_settings
from authgate.errors import ConflictError
from authgate.storage.store import Store, now
from authgate.web.keys import load_keys

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def materials(keys: list[object]) -> list[tuple[str, int, str]]:
    return [(k.kind, k.generation, k.material.reveal()) for k in keys]  # type: ignore[attr-defined]


async def test_the_first_set_is_made_once(store: Store) -> None:
    before = await store.revision()
    assert await store.create_first_keys(["h1"], ["j1"]) is True
    assert await store.create_first_keys(["h2"], ["j2"]) is False
    keys = await store.signing_keys()
    assert materials(keys) == [("hmac", 1, "h1"), ("jwt", 1, "j1")]
    assert all(k.signs for k in keys)
    assert await store.revision() == before + 1  # running servers load the keys


async def test_an_imported_older_key_verifies_until_its_time(store: Store) -> None:
    until = now() + DAY
    assert await store.create_first_keys(["new", "old"], ["j"], older_verify_until=until)
    keys = await store.signing_keys()
    assert materials(keys) == [("hmac", 1, "new"), ("hmac", 0, "old"), ("jwt", 1, "j")]
    old = keys[1]
    assert not old.signs and old.verify_until is not None
    assert abs((old.verify_until - until).total_seconds()) < 1
    assert materials(await store.signing_keys(at=until + MINUTE)) == [
        ("hmac", 1, "new"),
        ("jwt", 1, "j"),
    ]


async def test_racing_instances_end_with_one_set(store_url: str, store: Store) -> None:
    """Several instances (engines of their own) on an empty store at the same moment."""
    others = [Store(store_url) for _ in range(4)]
    try:
        made = await asyncio.gather(
            *(s.create_first_keys([f"h{i}"], [f"j{i}"]) for i, s in enumerate(others))
        )
        assert made.count(True) == 1, made
        winner = made.index(True)
        for each in [store, *others]:
            assert materials(await each.signing_keys()) == [
                ("hmac", 1, f"h{winner}"),
                ("jwt", 1, f"j{winner}"),
            ]
    finally:
        for s in others:
            await s.close()


async def test_racing_servers_load_the_same_keys(store_url: str, tmp_path: object) -> None:
    """The whole start of a server (web.keys.load_keys) on two engines at once: both sign
    and verify with one key set."""
    settings = [
        load_settings(
            {"AUTHGATE_DATA_DIR": f"{tmp_path}/{name}", "AUTHGATE_DATABASE_URL": store_url}
        )
        for name in ("a", "b")
    ]
    stores = [Store(store_url), Store(store_url)]
    try:
        from authgate.storage.migrate import upgrade

        await upgrade(stores[0].engine)
        a, b = await asyncio.gather(
            *(load_keys(s, st) for s, st in zip(settings, stores, strict=True))
        )
        assert a.tokens.jwks == b.tokens.jwks and len(a.tokens.jwks["keys"]) == 1
        assert b.signing.session.unsign(a.signing.session.sign("sid")) == "sid"
        assert len(await stores[0].signing_keys()) == 2
    finally:
        for st in stores:
            await st.close()


async def test_rotate_makes_new_signers_and_the_old_keys_verify_for_a_while(store: Store) -> None:
    await store.create_first_keys(["h1"], ["j1"])
    before = await store.revision()
    keys = await store.rotate_keys("h2", "j2", DAY, MINUTE)
    assert await store.revision() == before + 1
    assert materials(keys) == [
        ("hmac", 2, "h2"),
        ("hmac", 1, "h1"),
        ("jwt", 2, "j2"),
        ("jwt", 1, "j1"),
    ]
    assert [k.signs for k in keys] == [True, False, True, False]
    hmac_until, jwt_until = keys[1].verify_until, keys[3].verify_until
    assert hmac_until is not None and jwt_until is not None
    assert abs((hmac_until - now() - DAY).total_seconds()) < 5
    assert abs((jwt_until - now() - MINUTE).total_seconds()) < 5

    # a second rotation: the first rotated-out keys keep their own time
    keys = await store.rotate_keys("h3", "j3", DAY, MINUTE)
    assert [k.generation for k in keys if k.kind == "hmac"] == [3, 2, 1]
    assert [k.verify_until for k in keys if k.generation == 1 and k.kind == "jwt"] == [jwt_until]


async def test_prune_drops_only_keys_whose_time_is_over(store: Store) -> None:
    await store.create_first_keys(["h1"], ["j1"])
    await store.rotate_keys("h2", "j2", DAY, MINUTE)
    assert await store.prune_keys() == 0  # nothing is over yet
    revision = await store.revision()
    later = now() + 2 * MINUTE
    assert materials(await store.signing_keys(at=later)) == [
        ("hmac", 2, "h2"),
        ("hmac", 1, "h1"),
        ("jwt", 2, "j2"),
    ]
    assert await store.prune_keys(at=later) == 1  # the old JWT key
    assert await store.revision() == revision + 1
    assert await store.prune_keys(at=now() + 10 * 365 * DAY) == 1  # the old HMAC key
    assert materials(await store.signing_keys()) == [("hmac", 2, "h2"), ("jwt", 2, "j2")]


async def test_two_rotations_at_one_moment_do_not_both_win(
    store_url: str, store: Store, request: pytest.FixtureRequest
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: rotations cannot overlap there")
    await store.create_first_keys(["h1"], ["j1"])
    other = Store(store_url)
    try:
        results = await asyncio.gather(
            store.rotate_keys("ha", "ja", DAY, MINUTE),
            other.rotate_keys("hb", "jb", DAY, MINUTE),
            return_exceptions=True,
        )
    finally:
        await other.close()
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) <= 1 and all(isinstance(r, ConflictError) for r in failed), results
    keys = await store.signing_keys()
    signers = [k for k in keys if k.signs]
    assert len(signers) == 2 and {k.kind for k in signers} == {"hmac", "jwt"}
    assert len({k.generation for k in keys if k.kind == "jwt"}) == len(
        [k for k in keys if k.kind == "jwt"]
    )
