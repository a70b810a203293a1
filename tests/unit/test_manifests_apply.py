"""``authgate apply`` / ``export``: the state file read, compared with the store and applied
(idempotent, prune never empties ``admins``), and written back in the same format, rules
and switches included, so that export -> apply -> export gives the same file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from authgate.cli.main import cli
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
    current = await current_state(store)
    changes = plan(current, parse_state(text), prune=prune)
    await carry_out(store, current, changes)
    return [c.describe() for c in changes]


async def test_apply_creates_everything_and_is_idempotent(store: Store) -> None:
    first = await apply_text(store, FILE)
    assert (
        "+ app grafana: https://grafana.example.com; rule +#1 bypass path ~ ^/api/health$" in first
    )
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
  iis: {url: https://iis.example.com, paths: insensitive}
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
        "apps.iis.paths: must be case-sensitive or case-insensitive",
    ):
        assert expected in problems


def test_not_yaml_is_one_problem() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_state("{unclosed")


RULES = """
apps:
  wiki:
    url: http://wiki.lan
    strip_cookie: true
    skip_paths: ["^/health$"]
    rules:
      - {action: allow, path: /admin, groups: [admins]}
      - {action: deny, path: /admin}
      - {action: bypass, path_regex: ^/assets/}
      - {action: deny, methods: [delete, GET], networks: [10.1.2.3, "2001:db8::/32"], users: [bob]}
"""


async def test_rules_keep_their_order_and_are_replaced_when_they_differ(store: Store) -> None:
    await apply_text(store, RULES)
    wiki = await store.get_app("wiki")
    assert (wiki.strip_cookie, wiki.allow_preflight) == (True, False)
    assert [r.describe() for r in wiki.rules] == [
        "bypass path ~ ^/health$",
        "allow path /admin* groups admins",
        "deny path /admin*",
        "bypass path ~ ^/assets/",
        "deny methods DELETE,GET networks 10.1.2.3/32,2001:db8::/32 users bob",
    ]
    assert await apply_text(store, RULES) == []
    swapped = RULES.replace("allow, path: /admin,", "allow, path: /staff,").replace(
        "strip_cookie: true", "allow_preflight: true"
    )
    [described] = await apply_text(store, swapped)
    assert described == (
        "~ app wiki: strip_cookie True -> False; allow_preflight False -> True; "
        "rule -#2 allow path /admin* groups admins; rule +#2 allow path /staff* groups admins"
    )
    assert (await store.get_app("wiki")).rules[1].path_prefix == "/staff"
    insensitive = swapped.replace("allow_preflight: true", "paths: case-insensitive")
    [described] = await apply_text(store, insensitive)
    assert described == (
        "~ app wiki: allow_preflight True -> False; paths 'case-sensitive' -> 'case-insensitive'"
    )
    wiki = await store.get_app("wiki")
    assert wiki.case_insensitive_paths and all(r.ignore_case for r in wiki.rules)
    assert state_data(await current_state(store))["apps"]["wiki"]["paths"] == "case-insensitive"
    assert await apply_text(store, insensitive) == []


async def test_skip_paths_are_the_leading_bypass_regex_rules(store: Store) -> None:
    await apply_text(store, RULES)
    data = state_data(await current_state(store))["apps"]["wiki"]
    assert data["skip_paths"] == ["^/health$"]
    assert [r["action"] for r in data["rules"]] == ["allow", "deny", "bypass", "deny"]
    assert data["rules"][3] == {
        "action": "deny",
        "methods": ["DELETE", "GET"],
        "networks": ["10.1.2.3/32", "2001:db8::/32"],
        "users": ["bob"],
    }
    long_form = RULES.replace(
        'skip_paths: ["^/health$"]\n    rules:\n',
        "rules:\n      - {action: bypass, path_regex: ^/health$}\n",
    )
    assert await apply_text(store, long_form) == []


def test_bad_rules_are_named_by_app_and_index() -> None:
    text = """
apps:
  wiki:
    url: http://wiki.lan
    strip_cookie: yes please
    rules:
      - {action: allow, path: admin}
      - {action: bypass, path_regex: "(", groups: [staff]}
      - {action: nope, methods: [GE T], networks: [10.0.0.0/33], users: ["bad name"]}
      - deny /admin
      - {path: /x, paths: /y}
  api: {url: http://api.lan, rules: {action: deny}}
"""
    with pytest.raises(ConfigError) as info:
        parse_state(text)
    assert info.value.problems == [
        "apps.wiki.rules[0].path: 'admin' must start with /",
        "apps.wiki.rules[1].path_regex: '(' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
        "apps.wiki.rules[1]: a bypass rule lets anonymous requests through: "
        "it cannot name groups or users",
        "apps.wiki.rules[2].action: 'nope' must be allow, deny or bypass",
        "apps.wiki.rules[2].methods: 'GE T' is not an HTTP method",
        "apps.wiki.rules[2].networks: '10.0.0.0/33' is not an address or CIDR range "
        "(e.g. 10.0.0.0/8)",
        "apps.wiki.rules[2].users: 'bad name' is not a valid user name",
        "apps.wiki.rules[3]: must be a mapping such as {action: deny, path: /admin}",
        "apps.wiki.rules[4]: unknown key 'paths' (known: action, groups, methods, networks, "
        "path, path_regex, users)",
        "apps.wiki.rules[4].action: is missing: allow, deny or bypass",
        "apps.wiki.strip_cookie: must be true or false",
        "apps.api.rules: must be a list of rules such as {action: deny, path: /admin}",
    ]


# -- the commands, as an admin runs them ---------------------------------------------------

Invoke = Callable[..., str]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``run(DATA_DIR, *args, code=0)``: one authgate command against a data dir."""
    runner = CliRunner()

    def invoke(data: str, *args: str, code: int = 0) -> str:
        monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / data))
        result = runner.invoke(cli, list(args), input="long password\n")
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_export_then_apply_on_an_empty_store_round_trips(run: Invoke, tmp_path: Path) -> None:
    run("a", "user", "add", "alice", "--email", "a@x.test", "--group", "admins", "--password-stdin")
    run("a", "user", "add", "bob", "--name", "Bob", "--group", "staff", "--password-stdin")
    run("a", "user", "disable", "bob")
    run("a", "app", "add", "wiki", "--url", "https://wiki.example.com", "--group", "staff",
        "--user", "alice", "--skip-path", "^/health$", "--mode", "domain",
        "--cookie-domain", "example.com")  # fmt: skip
    run("a", "app", "set", "wiki", "--strip-cookie", "--allow-preflight", "--name", "Wiki")
    for rule in (
        ["--action", "allow", "--path", "/admin", "--group", "admins"],
        ["--action", "deny", "--path", "/admin"],
        ["--action", "bypass", "--path-regex", "^/assets/"],
        ["--action", "deny", "--method", "delete", "--network", "10.0.0.1", "--position", "2"],
    ):
        run("a", "app", "rule", "add", "wiki", *rule)
    run("a", "app", "add", "api", "--url", "http://api.lan:8080", "--paths", "case-insensitive")
    first = tmp_path / "first.yaml"
    run("a", "export", "-o", str(first))
    assert "strip_cookie: true" in first.read_text()
    assert "paths: case-insensitive" in first.read_text()
    assert first.read_text().count("paths: case") == 1  # the default is not written
    run("b", "apply", "-f", str(first))
    assert run("b", "export") == first.read_text()
    assert run("b", "app", "rule", "list", "wiki") == run("a", "app", "rule", "list", "wiki")
    assert run("b", "apply", "-f", str(first)).strip() == "nothing to change"


def test_dry_run_prints_the_difference_and_changes_nothing(run: Invoke, tmp_path: Path) -> None:
    state = tmp_path / "state.yaml"
    state.write_text(RULES)
    run("d", "apply", "-f", str(state))
    before = run("d", "export")
    state.write_text(RULES.replace("{action: deny, path: /admin}", "{action: deny, path: /root}"))
    output = run("d", "apply", "-f", str(state), "--dry-run")
    assert output.splitlines() == [
        "~ app wiki: rule -#3 deny path /admin*; rule +#3 deny path /root*",
        "1 change(s) planned (dry run: nothing changed)",
    ]
    assert run("d", "export") == before


def test_a_bad_rule_is_one_line_per_problem_and_nothing_changes(
    run: Invoke, tmp_path: Path
) -> None:
    state = tmp_path / "state.yaml"
    state.write_text(RULES.replace("path: /admin}", "path: admin}"))
    output = run("e", "apply", "-f", str(state), code=2)
    assert output.splitlines() == [
        f"authgate: {state}: apps.wiki.rules[1].path: 'admin' must start with /"
    ]
    assert "(none)" in run("e", "app", "list")


def test_the_readme_command_line_lists_every_command() -> None:
    from authgate.cli.main import SUBCOMMANDS

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Command line", 1)[1].split("```", 2)[1]
    listed = {line.split()[1] for line in block.splitlines() if line.startswith("authgate ")}
    assert listed == set(SUBCOMMANDS)
