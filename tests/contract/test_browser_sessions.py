"""A user's own sessions, as the account page reads and ends them, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from authgate.storage.store import Store


async def _family(store: Store, user_id: int, app_id: int, **portal: str) -> tuple[str, str]:
    parent = await store.create_session(user_id, kind="portal", lifetime=3600, **portal)
    child = await store.create_session(
        user_id, kind="app", lifetime=3600, parent_id=parent, app_id=app_id
    )
    return parent, child


async def test_browser_sessions_are_the_users_live_portal_sessions_newest_first(
    store: Store,
) -> None:
    alice = await store.add_user("alice")
    bob = await store.add_user("bob")
    await store.add_app("wiki", url="http://wiki.test", name="The Wiki")
    await store.add_app("git", url="http://git.test", name="Git")
    wiki, git = (a.id for a in sorted(await store.load_apps(), key=lambda a: a.slug != "wiki"))
    first, first_wiki = await _family(store, alice.id, wiki, ip="192.0.2.1", user_agent="UA 1")
    await store.create_session(alice.id, kind="app", lifetime=3600, parent_id=first, app_id=git)
    second = await store.create_session(
        alice.id, kind="portal", lifetime=3600, ip="192.0.2.2", amr=["pwd", "otp"]
    )
    await _family(store, bob.id, wiki)
    gone = await store.create_session(alice.id, kind="portal", lifetime=3600)
    await store.revoke_family(gone)
    await store.create_session(alice.id, kind="portal", lifetime=0)  # expired at once
    later = datetime.now(UTC) + timedelta(minutes=5)
    await store.touch_sessions({first_wiki: later.timestamp()})

    sessions = await store.browser_sessions(alice.id)

    assert [s.id for s in sessions] == [second, first]
    newest, oldest = sessions
    assert (newest.ip, newest.amr, newest.apps) == ("192.0.2.2", ("pwd", "otp"), ())
    assert (oldest.ip, oldest.user_agent, oldest.apps) == ("192.0.2.1", "UA 1", ("Git", "The Wiki"))
    assert abs((oldest.last_seen - later).total_seconds()) < 1  # an app session's last_seen


async def test_revoke_other_sessions_keeps_this_family_only(store: Store) -> None:
    alice = await store.add_user("alice")
    bob = await store.add_user("bob")
    await store.add_app("wiki", url="http://wiki.test")
    app = (await store.load_apps())[0].id
    keep, keep_app = await _family(store, alice.id, app)
    other, other_app = await _family(store, alice.id, app)
    bobs, bobs_app = await _family(store, bob.id, app)
    before = await store.revision()

    ended = await store.revoke_other_sessions(alice.id, keep)

    assert ended == {other, other_app}
    assert await store.revision() > before  # every worker hears of it
    for live in (keep, keep_app, bobs, bobs_app):
        assert await store.load_session(live) is not None
    for dead in (other, other_app):
        assert await store.load_session(dead) is None


async def test_change_password_stores_the_hash_and_ends_the_other_sessions(store: Store) -> None:
    alice = await store.add_user("alice", password_hash="old")
    await store.add_app("wiki", url="http://wiki.test")
    app = (await store.load_apps())[0].id
    keep, keep_app = await _family(store, alice.id, app)
    other, other_app = await _family(store, alice.id, app)

    ended = await store.change_password(alice.id, "new", keep)

    assert ended == {other, other_app}
    assert (await store.get_user("alice")).password_hash == "new"
    assert await store.load_session(keep) is not None
    assert await store.load_session(keep_app) is not None
    assert await store.load_session(other_app) is None


async def test_touching_many_sessions_at_once_writes_each_its_own_time(store: Store) -> None:
    alice = await store.add_user("alice")
    await store.add_app("wiki", url="http://wiki.test")
    (wiki,) = await store.load_apps()
    families = [await _family(store, alice.id, wiki.id) for _ in range(20)]
    base = datetime.now(UTC) + timedelta(minutes=1)
    seen = {
        child: (base + timedelta(seconds=i)).timestamp() for i, (_, child) in enumerate(families)
    }

    await store.touch_sessions(seen)

    by_id = {s.id: s for s in await store.list_sessions("alice")}
    for sid, when in seen.items():
        assert abs(by_id[sid].last_seen.timestamp() - when) < 0.01
    untouched = {parent for parent, _ in families}
    assert all(by_id[p].last_seen < base for p in untouched)


async def test_the_sweep_deletes_only_sessions_that_ended_before_the_cutoff(store: Store) -> None:
    alice = await store.add_user("alice")
    await store.add_app("wiki", url="http://wiki.test")
    (wiki,) = await store.load_apps()
    live_portal, live_app = await _family(store, alice.id, wiki.id)
    revoked_portal, revoked_app = await _family(store, alice.id, wiki.id)
    await store.revoke_family(revoked_portal)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    ended = [
        await store.create_session(alice.id, kind="portal", lifetime=0, expires_at=long_ago)
        for _ in range(5)
    ]
    just_ended = await store.create_session(
        alice.id, kind="portal", lifetime=0, expires_at=datetime.now(UTC) - timedelta(hours=1)
    )

    deleted = await store.prune_sessions(datetime.now(UTC) - timedelta(days=1), batch=2)

    assert deleted == len(ended)
    assert await store.load_session(live_app) is not None  # its portal session is still there
    left = await store.list_sessions("alice")  # live ones only
    assert {s.id for s in left} == {live_portal, live_app}
    assert await store.prune_sessions(datetime.now(UTC), batch=2) == 1  # just_ended; revoked stay
    assert await store.load_session(revoked_app) is None and just_ended not in ended
