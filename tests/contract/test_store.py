"""The Store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from authgate.errors import ConflictError, NotFoundError
from authgate.storage.migrate import current, downgrade, upgrade
from authgate.storage.store import RuleSpec, Store
from authgate.storage.store.sessions import count_live


async def test_users_groups_and_memberships(store: Store) -> None:
    await store.add_user("alice", email="a@x.test", name="Alice", groups=["staff", "ops"])
    user = await store.get_user("alice")
    assert user.groups == ("ops", "staff")
    assert [g for g, _ in await store.list_groups()] == ["ops", "staff"]
    with pytest.raises(ConflictError):
        await store.add_user("alice")
    with pytest.raises(ConflictError):
        await store.add_user("bad name")
    await store.remove_from_group("alice", "ops")
    assert (await store.get_user("alice")).groups == ("staff",)
    await store.delete_group("staff")
    assert (await store.get_user("alice")).groups == ()
    await store.delete_user("alice")
    with pytest.raises(NotFoundError):
        await store.get_user("alice")


async def test_apps_with_bindings_and_skip_paths(store: Store) -> None:
    await store.add_user("bob", groups=["staff"])
    app = await store.add_app(
        "wiki",
        url="http://Wiki.LAN:8080",
        groups=["staff"],
        users=["bob"],
        skip_paths=["^/public"],
    )
    assert app.host == "wiki.lan:8080"
    assert app.bound_groups == {"staff"} and app.bound_users == {"bob"}
    assert app.rules[0].action == "bypass"
    with pytest.raises(NotFoundError):
        await store.add_app("other", url="http://o.lan", groups=["nope"])
    with pytest.raises(ConflictError):
        await store.add_app("wiki", url="http://w2.lan")
    await store.delete_app("wiki")
    assert await store.load_apps() == []


async def test_sessions_revocation_and_disable(store: Store) -> None:
    user = await store.add_user("carol", groups=["g"])
    app = await store.add_app("a", url="http://a.lan")
    portal = await store.create_session(user.id, kind="portal", lifetime=3600)
    child = await store.create_session(
        user.id, kind="app", lifetime=3600, parent_id=portal, app_id=app.id
    )
    record = await store.load_session(child)
    assert record is not None and record.identity.username == "carol"
    assert record.identity.groups == ("g",) and record.app_id == app.id
    assert await store.revoke_family(child) == {portal, child}
    assert await store.load_session(child) is None
    assert await store.load_session(portal) is None

    again = await store.create_session(user.id, kind="portal", lifetime=3600)
    await store.set_disabled("carol", True)
    assert await store.load_session(again) is None


async def test_a_step_up_on_the_portal_session_reaches_its_app_sessions(store: Store) -> None:
    user = await store.add_user("erin")
    app = await store.add_app("a", url="http://a.lan")
    portal = await store.create_session(user.id, kind="portal", lifetime=3600, amr=["pwd"])
    child = await store.create_session(
        user.id, kind="app", lifetime=3600, parent_id=portal, app_id=app.id
    )
    record = await store.load_session(child)
    assert record is not None and record.identity.amr == ("pwd",)
    assert not record.identity.second_factor
    before = await store.revision()
    await store.add_session_factors(portal, ["otp", "pwd"])
    assert await store.revision() == before + 1  # every server drops its cached sessions
    record = await store.load_session(child)
    assert record is not None and record.identity.amr == ("pwd", "otp")
    assert record.identity.second_factor


async def test_expired_sessions_are_gone(store: Store) -> None:
    user = await store.add_user("dave")
    sid = await store.create_session(user.id, kind="portal", lifetime=0)
    assert await store.load_session(sid) is None


async def test_codes_are_single_use(store: Store) -> None:
    user = await store.add_user("erin")
    app = await store.add_app("b", url="http://b.lan")
    sid = await store.create_session(user.id, kind="portal", lifetime=60)
    code = await store.create_code(sid, app.id, "nonce")
    assert await store.consume_code(code) == (sid, app.id, "nonce")
    assert await store.consume_code(code) is None
    assert await store.consume_code("made-up") is None


async def test_revision_moves_on_every_change(store: Store) -> None:
    before = await store.revision()
    await store.add_group("x")
    assert await store.revision() == before + 1


async def test_migrations_go_down_and_up_again(store: Store) -> None:
    assert await current(store.engine) is not None
    await downgrade(store.engine, "base")
    assert await current(store.engine) is None
    await upgrade(store.engine)
    await store.add_user("frank")
    assert (await store.get_user("frank")).username == "frank"


async def test_the_migrations_make_exactly_the_tables_the_models_describe(store: Store) -> None:
    """A column or index added to ``models.py`` without a migration (or the other way round)
    is a store that differs between a fresh install and an upgraded one."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from authgate.storage.models import Base

    def differences(sync: Any) -> list[Any]:
        context = MigrationContext.configure(sync, opts={"compare_server_default": False})
        return list(compare_metadata(context, Base.metadata))

    async with store.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []


async def test_audit_batches_and_retention(store: Store) -> None:
    events = [{"event": "login_required", "app": "a", "decision_id": f"d{i}"} for i in range(500)]
    await store.audit_many(events)
    found = await store.find_decision("d499")
    assert found is not None and found.event == "login_required"
    assert await store.prune_audit(3600) == 0
    assert await store.prune_audit(-1) == 500
    assert await store.list_audit() == []


async def test_update_app_replaces_everything_in_one_change(store: Store) -> None:
    await store.add_user("gina", groups=["staff"])
    await store.add_group("ops")
    await store.add_app("wiki", url="http://wiki.lan", groups=["staff"], skip_paths=["^/old"])
    await store.add_rule("wiki", RuleSpec("deny", path_prefix="/gone"))
    before = await store.revision()
    app = await store.update_app(
        "wiki",
        url="https://wiki.example.com",
        name="Wiki",
        groups=["ops"],
        users=["gina"],
        skip_paths=["^/health$"],
        rules=[
            RuleSpec("allow", path_prefix="/admin", groups=("ops",)),
            RuleSpec("deny", path_prefix="/admin", methods=("DELETE", "GET")),
            RuleSpec("bypass", path_regex="^/late", networks=("10.0.0.0/8",)),
        ],
        strip_cookie=True,
        allow_preflight=True,
    )
    assert await store.revision() == before + 1
    assert (app.external_url, app.host, app.name) == (
        "https://wiki.example.com",
        "wiki.example.com",
        "Wiki",
    )
    assert (app.strip_cookie, app.allow_preflight) == (True, True)
    assert app.bound_groups == {"ops"} and app.bound_users == {"gina"}
    assert [r.describe() for r in app.rules] == [
        "bypass path ~ ^/health$",
        "allow path /admin* groups ops",
        "deny path /admin* methods DELETE,GET",
        "bypass path ~ ^/late networks 10.0.0.0/8",
    ]
    cleared = await store.update_app("wiki", url="https://wiki.example.com")
    assert (cleared.name, cleared.rules, cleared.bound_groups) == ("wiki", (), frozenset())
    assert (cleared.strip_cookie, cleared.has_bindings) == (False, False)


async def test_update_app_fails_whole_and_creates_only_when_asked(store: Store) -> None:
    await store.add_app("wiki", url="http://wiki.lan", skip_paths=["^/public"])
    before = await store.revision()
    with pytest.raises(NotFoundError):
        await store.update_app("wiki", url="http://other.lan", groups=["nope"])
    unchanged = await store.get_app("wiki")
    assert unchanged.external_url == "http://wiki.lan" and len(unchanged.rules) == 1
    assert await store.revision() == before
    with pytest.raises(NotFoundError):
        await store.update_app("new", url="http://new.lan")
    with pytest.raises(ConflictError):
        await store.update_app("Bad Slug", url="http://new.lan", create=True)
    created = await store.update_app(
        "new", url="http://new.lan", rules=[RuleSpec("deny", path_prefix="/x")], create=True
    )
    assert [r.describe() for r in created.rules] == ["deny path /x*"]
    assert await store.revision() == before + 1


async def test_update_user_changes_what_is_given_in_one_change(store: Store) -> None:
    user = await store.add_user(
        "hal", email="h@x.test", password_hash="$argon2id$old", groups=["a"]
    )
    sid = await store.create_session(user.id, kind="portal", lifetime=3600)
    before = await store.revision()
    updated = await store.update_user("hal", name="Hal", groups=["b", "c", "b"], disabled=True)
    assert await store.revision() == before + 1
    assert (updated.email, updated.name, updated.groups) == ("h@x.test", "Hal", ("b", "c"))
    assert updated.disabled and updated.password_hash == "$argon2id$old"
    assert await store.load_session(sid) is None
    again = await store.update_user("hal", disabled=False, password_hash="$argon2id$new")
    assert not again.disabled and again.password_hash == "$argon2id$new"
    assert again.groups == ("b", "c")
    with pytest.raises(NotFoundError):
        await store.update_user("ghost", name="x")
    with pytest.raises(ConflictError):
        await store.update_user("hal", groups=["bad name"])
    assert (await store.get_user("hal")).groups == ("b", "c")


async def test_live_sessions_are_counted(store: Store) -> None:
    user = await store.add_user("gauge")
    assert await store.count_live_sessions() == 0
    keep = await store.create_session(user.id, kind="portal", lifetime=3600)
    gone = await store.create_session(user.id, kind="portal", lifetime=3600)
    await store.create_session(user.id, kind="portal", lifetime=0)  # already expired
    await store.revoke_session(gone)
    assert keep and await store.count_live_sessions() == 1


async def test_live_sessions_are_counted_from_the_index_alone(store: Store) -> None:
    """The gauge counts every few seconds: over a million sessions, reading each row for
    ``revoked_at`` cost SQLite 0.25 s of CPU a count; the partial index answers alone."""
    async with store.engine.connect() as conn:
        query = str(count_live().compile(conn.engine, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            plan = " ".join(
                str(row) for row in await conn.execute(text("EXPLAIN QUERY PLAN " + query))
            )
            assert "COVERING INDEX ix_sessions_unrevoked_expires_at" in plan
        else:
            await conn.execute(text("SET enable_seqscan = off"))
            plan = " ".join(str(row) for row in await conn.execute(text("EXPLAIN " + query)))
            assert "Index Only Scan using ix_sessions_unrevoked_expires_at" in plan
