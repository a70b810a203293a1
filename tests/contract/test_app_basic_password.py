"""The app option ``basic_password`` kept by every store backend: off unless asked for, set and
cleared by each way an app is written, and off for the apps of a store migrated from before
the option existed."""

from __future__ import annotations

from authgate.storage.migrate import downgrade, upgrade
from authgate.storage.store import Store
from tests.app_rows import insert_app_row


async def test_basic_password_is_off_unless_asked_for(store: Store) -> None:
    plain = await store.add_app("plain", url="http://plain.lan")
    flagged = await store.add_app("dav", url="http://dav.lan", basic_password=True)
    assert (plain.basic_password, flagged.basic_password) == (False, True)
    loaded = {a.slug: a.basic_password for a in await store.load_apps()}
    assert loaded == {"plain": False, "dav": True}


async def test_set_app_options_turns_it_on_and_off_and_announces_the_change(
    store: Store,
) -> None:
    await store.add_app("dav", url="http://dav.lan", strip_cookie=True)
    before = await store.revision()
    app = await store.set_app_options("dav", basic_password=True)
    assert app.basic_password and app.strip_cookie  # the other switches are kept
    assert await store.revision() == before + 1
    app = await store.set_app_options("dav", name="DAV")  # not named: kept
    assert app.basic_password and app.name == "DAV"
    app = await store.set_app_options("dav", basic_password=False)
    assert not app.basic_password and app.strip_cookie


async def test_update_app_makes_it_exactly_what_is_given(store: Store) -> None:
    app = await store.update_app("dav", url="http://dav.lan", basic_password=True, create=True)
    assert app.basic_password
    app = await store.update_app("dav", url="http://dav.lan")  # not given: off
    assert not app.basic_password


async def test_apps_from_before_the_option_migrate_to_off(store: Store) -> None:
    await downgrade(store.engine, "0009")
    await insert_app_row(store.engine, "old", "http://old.lan")
    await upgrade(store.engine)
    assert not (await store.get_app("old")).basic_password
    await store.set_app_options("old", basic_password=True)
    await downgrade(store.engine, "0009")  # the column goes, the app stays
    await upgrade(store.engine)
    assert not (await store.get_app("old")).basic_password
