"""The app option ``jwt_bearer`` kept by every store backend: off unless asked for, set and
cleared by each way an app is written, and off for the apps of a store migrated from before
the option existed."""

from __future__ import annotations

from authgate.storage.migrate import downgrade, upgrade
from authgate.storage.store import Store
from tests.app_rows import insert_app_row


async def test_jwt_bearer_is_off_unless_asked_for(store: Store) -> None:
    plain = await store.add_app("plain", url="http://plain.lan")
    flagged = await store.add_app("api", url="http://api.lan", jwt_bearer=True)
    assert (plain.jwt_bearer, flagged.jwt_bearer) == (False, True)
    loaded = {a.slug: a.jwt_bearer for a in await store.load_apps()}
    assert loaded == {"plain": False, "api": True}


async def test_set_app_options_turns_it_on_and_off_and_announces_the_change(
    store: Store,
) -> None:
    await store.add_app("api", url="http://api.lan", strip_cookie=True)
    before = await store.revision()
    app = await store.set_app_options("api", jwt_bearer=True)
    assert app.jwt_bearer and app.strip_cookie  # the other switches are kept
    assert await store.revision() == before + 1
    app = await store.set_app_options("api", name="API")  # not named: kept
    assert app.jwt_bearer and app.name == "API"
    app = await store.set_app_options("api", jwt_bearer=False)
    assert not app.jwt_bearer and app.strip_cookie


async def test_update_app_makes_it_exactly_what_is_given(store: Store) -> None:
    app = await store.update_app("api", url="http://api.lan", jwt_bearer=True, create=True)
    assert app.jwt_bearer
    app = await store.update_app("api", url="http://api.lan")  # not given: off
    assert not app.jwt_bearer


async def test_apps_from_before_the_option_migrate_to_off(store: Store) -> None:
    await downgrade(store.engine, "0007")
    await insert_app_row(store.engine, "old", "http://old.lan")
    await upgrade(store.engine)
    assert not (await store.get_app("old")).jwt_bearer
    await store.set_app_options("old", jwt_bearer=True)
    await downgrade(store.engine, "0007")  # the column goes, the app stays
    await upgrade(store.engine)
    assert not (await store.get_app("old")).jwt_bearer
