"""``authgate apply`` / ``export``: the state file read, compared with the store and applied
(idempotent, prune never empties ``admins``), and written back in the same format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from authgate.errors import ConfigError
from authgate.statefile.apply import carry_out, current_state
from authgate.statefile.model import parse_state, state_data
from authgate.statefile.plan import plan
from authgate.storage.migrate import upgrade
from authgate.storage.store import Store

FILE = """
groups: [staff]
users:
  alice: {email: alice@example.com, name: Alice, groups: [staff, admins]}
  bob: {groups: [ops], password_hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"}
apps:
  grafana: {url: https://Grafana.example.com/, groups: [staff], skip_paths: ["^/api/health$"]}
  wiki: {url: "http://wiki.lan:8080", name: Wiki, users: [bob]}
"""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await upgrade(store.engine)
    yield store
    await store.close()


async def apply_text(store: Store, text: str, *, prune: bool = False) -> list[str]:
    revisions: list[int] = []
    current = await current_state(store)
    changes = plan(current, parse_state(text), prune=prune)
    await carry_out(store, current, changes, revisions.append)
    return [c.describe() for c in changes]


async def test_apply_creates_everything_and_is_idempotent(store: Store) -> None:
    first = await apply_text(store, FILE)
    assert "+ app grafana: https://grafana.example.com" in first
    assert await apply_text(store, FILE) == []
    alice = await store.get_user("alice")
    assert (alice.email, alice.groups) == ("alice@example.com", ("admins", "staff"))
    bob = await store.get_user("bob")
    assert bob.password_hash is not None and bob.password_hash.startswith("$argon2id$")
    grafana = await store.get_app("grafana")
    assert grafana.bound_groups == {"staff"}
    assert [r.describe() for r in grafana.rules] == ["bypass path ~ ^/api/health$"]
    assert (await store.get_app("wiki")).bound_users == {"bob"}


async def test_export_round_trips_without_passwords(store: Store) -> None:
    await apply_text(store, FILE)
    data = state_data(await current_state(store))
    assert "password_hash" not in str(data)
    assert data["apps"]["wiki"] == {"url": "http://wiki.lan:8080", "name": "Wiki", "users": ["bob"]}
    from authgate.deploy.serialize import dump_mapping

    assert await apply_text(store, dump_mapping(data)) == []


async def test_update_changes_fields_bindings_and_skip_paths(store: Store) -> None:
    await apply_text(store, FILE)
    changed = FILE.replace("groups: [staff], skip_paths", "groups: [ops], skip_paths").replace(
        '"^/api/health$"', '"^/public/"'
    )
    changed = changed.replace("alice@example.com", "alice@example.org")
    described = await apply_text(store, changed)
    assert "~ user alice: email 'alice@example.com' -> 'alice@example.org'" in described
    grafana = await store.get_app("grafana")
    assert grafana.bound_groups == {"ops"}
    assert [r.describe() for r in grafana.rules] == ["bypass path ~ ^/public/"]
    assert (await store.get_user("alice")).email == "alice@example.org"


async def test_without_prune_nothing_is_deleted(store: Store) -> None:
    await apply_text(store, FILE)
    assert await apply_text(store, "apps: {}") == []
    assert len(await store.load_apps()) == 2


async def test_prune_deletes_what_the_file_omits_but_keeps_the_last_admin(store: Store) -> None:
    await apply_text(store, FILE)
    described = await apply_text(store, "users:\n  bob: {groups: [ops]}\n", prune=True)
    assert "= user alice: the last member of group admins" in described
    assert "- app grafana" in described and "- app wiki" in described
    assert [u.username for u in await store.list_users()] == ["alice", "bob"]
    assert "admins" in (await store.get_user("alice")).groups
    assert await store.load_apps() == []


async def test_removing_the_last_admin_from_the_group_is_refused(store: Store) -> None:
    await apply_text(store, FILE)
    described = await apply_text(store, FILE.replace("[staff, admins]", "[staff]"))
    assert described[0] == "= user alice: the last member of group admins"
    assert "admins" in (await store.get_user("alice")).groups


def test_every_problem_in_the_file_is_reported_at_once() -> None:
    text = """
users:
  "bad name": {}
  carol: {disabled: maybe, password_hash: plain, shoe_size: 42}
apps:
  Bad: {url: ftp://x}
  wiki: {url: https://wiki.example.com, mode: domain, users: [dave], skip_paths: ["("]}
"""
    with pytest.raises(ConfigError) as info:
        parse_state(text)
    problems = "\n".join(info.value.problems)
    for expected in (
        "users.bad name: is not a valid user name",
        "users.carol.disabled: must be true or false",
        "users.carol.password_hash: must be an argon2 hash",
        "users.carol: unknown key 'shoe_size'",
        "apps.Bad: is not a valid slug",
        "apps.Bad.url: must be an absolute http(s) URL",
        "apps.wiki.cookie_domain: mode domain needs a cookie_domain",
        "apps.wiki.skip_paths: '(' is not a valid regular expression",
        "apps.wiki.users: 'dave' is not among the file's users",
    ):
        assert expected in problems


def test_not_yaml_is_one_problem() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_state("{unclosed")
