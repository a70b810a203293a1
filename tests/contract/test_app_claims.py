"""One app per host and per cookie domain, bindings changed in place, and the path-case
option: the Store contract on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from authgate.errors import ConflictError, NotFoundError
from authgate.forward.apps import AppIndex, Conflict
from authgate.storage import models as m
from authgate.storage.migrate import current, downgrade, upgrade
from authgate.storage.store import BindingChange, Store
from tests.app_rows import insert_app_row


async def test_a_taken_host_is_refused_by_every_write(store: Store) -> None:
    await store.add_app("wiki", url="http://wiki.example.com")
    await store.add_app("aaa", url="http://aaa.example.com")
    with pytest.raises(ConflictError, match="already the host of app wiki"):
        await store.add_app("bbb", url="http://WIKI.example.com.")
    with pytest.raises(ConflictError, match="already the host of app wiki"):
        await store.update_app("aaa", url="http://wiki.example.com:80")
    with pytest.raises(ConflictError, match="already the host of app wiki"):
        await store.update_app("ccc", url="http://wiki.example.com", create=True)
    with pytest.raises(ConflictError, match="already the host of app wiki"):
        await store.set_app_options("aaa", external_url="http://wiki.example.com", name="A")
    assert [(a.slug, a.host, a.name) for a in await store.load_apps()] == [
        ("aaa", "aaa.example.com", "aaa"),
        ("wiki", "wiki.example.com", "wiki"),
    ]
    await store.set_app_options("wiki", external_url="https://wiki.example.com")  # its own


async def test_one_domain_mode_app_per_cookie_domain(store: Store) -> None:
    await store.add_app("corp", url="https://www.corp.lan", mode="domain", cookie_domain="corp.lan")
    with pytest.raises(ConflictError, match=r"cookie domain corp\.lan is already shared by"):
        await store.add_app(
            "two", url="https://two.corp.lan", mode="domain", cookie_domain="corp.lan"
        )
    await store.add_app("wiki", url="https://wiki.corp.lan")  # a host app inside: allowed
    with pytest.raises(ConflictError, match="must lie within its cookie domain"):
        await store.set_app_options("corp", external_url="https://elsewhere.lan")


async def test_the_database_itself_refuses_a_second_claim(store: Store) -> None:
    """The root of it: a unique key, so no writer that skips the check can add a twin."""
    await store.add_app("wiki", url="http://wiki.example.com")
    row = {
        "slug": "twin",
        "name": "twin",
        "external_url": "http://wiki.example.com",
        "mode": "single",
        "cookie_domain": "",
        "created_at": datetime.now(UTC),
        "host_key": "wiki.example.com",
    }
    with pytest.raises(IntegrityError):
        async with store.engine.begin() as conn:
            await conn.execute(insert(m.Application).values(**row))


async def test_two_racing_adds_for_one_host_leave_one_app(store_url: str) -> None:
    stores = [Store(store_url), Store(store_url)]
    try:
        await upgrade(stores[0].engine)
        results = await asyncio.gather(
            *(s.add_app(f"app{i}", url="http://race.lan") for i, s in enumerate(stores)),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["AppView", "ConflictError"]
        assert len(await stores[0].load_apps()) == 1
    finally:
        for s in stores:
            await s.close()


async def test_a_store_that_already_holds_twins_migrates_and_refuses_the_host(
    store: Store,
) -> None:
    await downgrade(store.engine, "0002")
    await insert_app_row(store.engine, "wiki", "http://wiki.example.com")
    await insert_app_row(store.engine, "aaa", "http://WIKI.example.com.")
    await upgrade(store.engine)  # not refused: the twins stay, to be reported and fixed
    assert (await current(store.engine) or "") >= "0003"
    async with store.engine.connect() as conn:
        keys = dict((await conn.execute(select(m.Application.slug, m.Application.host_key))).all())
    assert keys == {"wiki": "wiki.example.com", "aaa": None}  # the oldest keeps the key
    index = AppIndex(await store.load_apps())
    assert index.lookup("wiki.example.com") is None
    conflict = index.resolve("wiki.example.com")
    assert isinstance(conflict, Conflict) and conflict.slugs == ("wiki", "aaa")
    assert conflict.fix == "authgate app set aaa --url NEW-URL (or: authgate app delete aaa)"
    with pytest.raises(ConflictError):  # the twin cannot be kept on that host by a write
        await store.set_app_options("aaa", external_url="http://wiki.example.com")
    await store.set_app_options("aaa", external_url="http://aaa.example.com")
    assert AppIndex(await store.load_apps()).conflicts == []


async def test_bindings_change_in_one_step_or_not_at_all(store: Store) -> None:
    await store.add_user("bob", groups=["ops"])
    await store.add_group("staff")
    await store.add_app("wiki", url="http://wiki.lan", groups=["staff"])
    before = await store.revision()
    app = await store.set_app_options(
        "wiki", BindingChange(add_groups=("ops", "ops"), add_users=("bob",)), name="Wiki"
    )
    assert (app.bound_groups, app.bound_users, app.name) == ({"ops", "staff"}, {"bob"}, "Wiki")
    assert await store.revision() == before + 1
    with pytest.raises(NotFoundError):
        await store.set_app_options(
            "wiki", BindingChange(remove_groups=("staff",), add_users=("ghost",)), name="X"
        )
    unchanged = await store.get_app("wiki")
    assert (unchanged.bound_groups, unchanged.name) == ({"ops", "staff"}, "Wiki")
    app = await store.set_app_options(
        "wiki", BindingChange(remove_groups=("staff", "ops"), remove_users=("bob",))
    )
    assert not app.has_bindings


async def test_case_insensitive_paths_are_kept_per_app(store: Store) -> None:
    app = await store.add_app("iis", url="http://iis.lan", case_insensitive_paths=True)
    assert app.case_insensitive_paths and app.paths == "case-insensitive"
    app = await store.set_app_options("iis", case_insensitive_paths=False)
    assert app.paths == "case-sensitive"
    app = await store.update_app("iis", url="http://iis.lan", case_insensitive_paths=True)
    assert app.case_insensitive_paths
