"""API tokens and app passwords on SQLite and PostgreSQL: kept as hashes, listed without
them, revoked for good (and announced), ended with their user, last use recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from authgate.accounts.api_credentials import issue, revoke
from authgate.errors import ConflictError, NotFoundError
from authgate.forward.api_secrets import APP_PASSWORD, TOKEN, read_secret
from authgate.storage.store import Store, now


async def test_a_token_is_kept_as_a_hash_and_found_by_its_lookup(store: Store) -> None:
    await store.add_user("dana", email="d@x.test", groups=["ops"])
    await store.add_app("wiki", url="http://wiki.test")
    issued = await issue(store, "dana", TOKEN, apps=["wiki"], lifetime=3600, description="ci")
    secret = read_secret(issued.secret)
    assert secret is not None and secret.kind == TOKEN
    assert issued.info.lookup == secret.lookup
    assert issued.info.expires_at is not None
    assert timedelta(minutes=59) < issued.info.expires_at - now() <= timedelta(hours=1)

    owner = await store.load_api_credential(secret.lookup)
    assert owner is not None
    assert owner.secret_hash == secret.hash and secret.secret not in owner.secret_hash
    assert (owner.username, owner.email, owner.groups, owner.apps) == (
        "dana",
        "d@x.test",
        ("ops",),
        ("wiki",),
    )
    assert not owner.revoked and not owner.disabled
    assert await store.load_api_credential("nothere") is None
    [listed] = await store.list_api_credentials("dana")
    assert (listed.description, listed.state(now()), listed.last_used_at) == ("ci", "active", None)


async def test_revoking_ends_it_and_bumps_the_revision(store: Store) -> None:
    await store.add_user("erin")
    issued = await issue(store, "erin", APP_PASSWORD)
    before = await store.revision()
    info = await revoke(store, issued.info.lookup, owner="erin")
    assert info.state(now()) == "revoked"
    assert await store.revision() > before
    owner = await store.load_api_credential(issued.info.lookup)
    assert owner is not None and owner.revoked
    with pytest.raises(NotFoundError):  # someone else's is not found for another owner
        await store.add_user("fay")
        other = await issue(store, "fay", TOKEN)
        await revoke(store, other.info.lookup, owner="erin")


async def test_a_disabled_or_deleted_user_ends_their_credentials(store: Store) -> None:
    await store.add_user("gil")
    issued = await issue(store, "gil", TOKEN)
    await store.set_disabled("gil", True)
    owner = await store.load_api_credential(issued.info.lookup)
    assert owner is not None and owner.disabled
    await store.delete_user("gil")
    assert await store.load_api_credential(issued.info.lookup) is None


async def test_unknown_users_and_apps_and_silly_lifetimes_are_refused(store: Store) -> None:
    await store.add_user("hal")
    with pytest.raises(NotFoundError):
        await issue(store, "nobody", TOKEN)
    with pytest.raises(NotFoundError):
        await issue(store, "hal", TOKEN, apps=["no-such-app"])
    with pytest.raises(ConflictError):
        await issue(store, "hal", TOKEN, lifetime=0)
    assert await store.list_api_credentials("hal") == []


async def test_last_use_is_recorded_in_one_batch(store: Store) -> None:
    await store.add_user("ivy")
    one = await issue(store, "ivy", TOKEN)
    two = await issue(store, "ivy", APP_PASSWORD)
    at = now().timestamp()
    await store.touch_api_credentials(
        {one.info.lookup: (at, "10.0.0.1"), two.info.lookup: (at, "10.0.0.2")}
    )
    found = {c.lookup: c for c in await store.list_api_credentials("ivy")}
    assert found[one.info.lookup].last_used_ip == "10.0.0.1"
    assert found[two.info.lookup].last_used_ip == "10.0.0.2"
    last = found[one.info.lookup].last_used_at
    assert last is not None and abs(last.timestamp() - at) < 1
    assert [c.kind for c in await store.list_api_credentials(kind=TOKEN)] == [TOKEN]
