"""``authgate app …`` as an admin meets it: one app per host, bindings changed with
``app set``, case-insensitive paths, and ``explain`` saying which app decides and why."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from authgate.cli.main import cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args), input="long password\n")
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        return result.output

    return invoke


def apps(run) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    return {a["slug"]: a for a in json.loads(run("app", "list", "--json"))}


# -- one app per canonical host ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://WIKI.example.com.",
        "https://wiki.example.com/other/path",
        "http://wiki.example.com:80",
        "https://Wiki.Example.Com:443",
    ],
)
def test_a_second_app_for_a_host_is_refused_naming_the_owner(run, url: str) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "wiki", "--url", "http://wiki.example.com")
    output = run("app", "add", "aaa", "--url", url, code=1)
    assert "host wiki.example.com is already the host of app wiki" in output
    assert len(output.strip().splitlines()) == 1
    assert set(apps(run)) == {"wiki"}


def test_another_port_is_another_host(run) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "wiki", "--url", "http://wiki.example.com")
    run("app", "add", "admin", "--url", "http://wiki.example.com:8443")
    assert apps(run)["admin"]["host"] == "wiki.example.com:8443"


def test_app_set_cannot_move_onto_a_taken_host(run) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "wiki", "--url", "http://wiki.example.com")
    run("app", "add", "aaa", "--url", "http://aaa.example.com")
    output = run("app", "set", "aaa", "--url", "http://WIKI.EXAMPLE.COM.", "--name", "A", code=1)
    assert "already the host of app wiki" in output
    aaa = apps(run)["aaa"]
    assert (aaa["url"], aaa["name"]) == ("http://aaa.example.com", "aaa")  # nothing changed
    run("app", "set", "wiki", "--url", "https://wiki.example.com")  # its own host: fine
    run("app", "set", "aaa", "--url", "http://old-wiki.example.com")
    assert apps(run)["aaa"]["host"] == "old-wiki.example.com"


def test_one_domain_mode_app_per_cookie_domain(run) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "corp", "--url", "https://www.corp.example", "--mode", "domain",
        "--cookie-domain", "corp.example")  # fmt: skip
    output = run("app", "add", "corp2", "--url", "https://two.corp.example", "--mode", "domain",
                 "--cookie-domain", "CORP.example.", code=1)  # fmt: skip
    assert "cookie domain corp.example is already shared by domain-mode app corp" in output
    # A host app inside the cookie domain is allowed: the more specific claim.
    run("app", "add", "wiki", "--url", "https://wiki.corp.example")
    # ... but not on the domain-mode app's own host.
    assert "host of app corp" in run("app", "add", "w", "--url", "https://www.corp.example", code=1)


def test_explain_says_the_host_app_decides_over_the_domain_mode_app(run) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "bob", "--group", "guests", "--password-stdin")
    run("group", "add", "staff")
    run("app", "add", "corp", "--url", "https://www.corp.example", "--mode", "domain",
        "--cookie-domain", "corp.example")  # fmt: skip
    run("app", "add", "wiki", "--url", "https://wiki.corp.example", "--group", "staff")
    result = json.loads(
        run("explain", "--url", "https://wiki.corp.example/admin", "--user", "bob", "--json")
    )
    assert result["outcome"] == "deny"
    assert "app: wiki (host wiki.corp.example)" in result["trace"]
    assert (
        "app: wiki is more specific than domain-mode app corp (cookie domain corp.example), "
        "so wiki decides" in result["trace"]
    )
    other = json.loads(
        run("explain", "--url", "https://docs.corp.example/", "--user", "bob", "--json")
    )
    assert other["outcome"] == "allow"
    assert "app: corp (domain mode, docs.corp.example is under corp.example)" in other["trace"]


# -- apply ---------------------------------------------------------------------------------


def test_apply_refuses_a_host_the_store_or_the_file_already_gives_another_app(
    run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "wiki", "--url", "http://wiki.example.com")
    state = tmp_path / "state.yaml"
    state.write_text("apps:\n  aaa: {url: 'http://WIKI.example.com.'}\n")
    output = run("apply", "-f", str(state), code=2)
    assert output.splitlines() == [
        f"authgate: {state}: apps.aaa.url: host wiki.example.com is already the host of app "
        "wiki (in the store, not in the file)"
    ]
    state.write_text(
        "apps:\n  a: {url: 'http://x.example.com'}\n  b: {url: 'http://X.example.com:80/'}\n"
        "  c: {url: 'http://c.lan', mode: domain, cookie_domain: lan}\n"
        "  d: {url: 'http://d.lan', mode: domain, cookie_domain: LAN}\n"
    )
    output = run("apply", "-f", str(state), code=2)
    assert "apps.b.url: host x.example.com is already the host of app a" in output
    assert "apps.d.cookie_domain: cookie domain lan is already shared by domain-mode app c" in (
        output
    )
    assert set(apps(run)) == {"wiki"}


def test_apply_can_move_a_host_from_one_app_to_another(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "wiki", "--url", "http://wiki.example.com")
    state = tmp_path / "state.yaml"
    # "aaa" sorts first, but must wait until "wiki" has let the host go.
    state.write_text(
        "apps:\n  aaa: {url: 'http://wiki.example.com'}\n  wiki: {url: 'http://new.example.com'}\n"
    )
    output = run("apply", "-f", str(state))
    assert output.splitlines()[:2] == [
        "~ app wiki: url 'http://wiki.example.com' -> 'http://new.example.com'",
        "+ app aaa: http://wiki.example.com",
    ]
    assert {s: a["host"] for s, a in apps(run).items()} == {
        "aaa": "wiki.example.com",
        "wiki": "new.example.com",
    }
    # A pruned app gives its host up before another takes it.
    state.write_text("apps:\n  bbb: {url: 'http://wiki.example.com'}\n")
    run("apply", "-f", str(state), "--prune")
    assert {s: a["host"] for s, a in apps(run).items()} == {"bbb": "wiki.example.com"}


def test_apply_refuses_two_apps_swapping_hosts(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "a", "--url", "http://a.lan")
    run("app", "add", "b", "--url", "http://b.lan")
    state = tmp_path / "state.yaml"
    state.write_text("apps:\n  a: {url: 'http://b.lan'}\n  b: {url: 'http://a.lan'}\n")
    output = run("apply", "-f", str(state), code=2)
    assert "apps a, b take each other's hosts" in output
    assert {s: a["host"] for s, a in apps(run).items()} == {"a": "a.lan", "b": "b.lan"}


# -- bindings with app set -----------------------------------------------------------------


def test_app_set_adds_and_removes_groups_and_users(run) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "alice", "--group", "staff", "--password-stdin")
    run("user", "add", "bob", "--group", "ops", "--password-stdin")
    run("app", "add", "wiki", "--url", "http://wiki.lan", "--group", "staff")
    shown = json.loads(
        run("app", "set", "wiki", "--add-group", "ops", "--add-user", "bob", "--json")
    )
    assert (shown["groups"], shown["users"]) == (["ops", "staff"], ["bob"])
    again = json.loads(run("app", "set", "wiki", "--add-group", "ops", "--json"))  # idempotent
    assert again["groups"] == ["ops", "staff"]
    output = run("app", "set", "wiki", "--remove-group", "staff", "--remove-user", "bob")
    assert output.strip() == "updated app wiki (bound: group ops)"
    events = json.loads(run("audit", "--json"))
    assert (events[0]["event"], events[0]["subject"]) == ("app_changed", "wiki")


def test_removing_the_last_binding_warns_that_anyone_may_enter(run) -> None:  # type: ignore[no-untyped-def]
    run("group", "add", "staff")
    run("app", "add", "wiki", "--url", "http://wiki.lan", "--group", "staff")
    output = run("app", "set", "wiki", "--remove-group", "staff")
    assert "app wiki now has no bindings: any signed-in user may use it" in output
    assert apps(run)["wiki"]["groups"] == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--add-group", "ops", "--add-group", "nope"], "no group named 'nope': nothing changed"),
        (["--remove-group", "nope"], "no group named 'nope': nothing changed"),
        (["--add-user", "ghost"], "no user named 'ghost': nothing changed"),
        (["--remove-user", "ghost"], "no user named 'ghost': nothing changed"),
        (["--add-group", "ops", "--remove-group", "ops"], "both name 'ops'"),
        (["--add-user", "bob", "--remove-user", "bob"], "both name 'bob'"),
    ],
)
def test_bad_binding_names_change_nothing(run, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    run("user", "add", "bob", "--group", "ops", "--password-stdin")
    run("app", "add", "wiki", "--url", "http://wiki.lan", "--group", "ops")
    before = apps(run)["wiki"]
    output = run("app", "set", "wiki", "--name", "Renamed", "--paths", "case-insensitive", *args,
                 code=2)  # fmt: skip
    assert needle in output
    assert len(output.strip().splitlines()) == 1
    assert apps(run)["wiki"] == before


def test_bindings_of_a_missing_app(run) -> None:  # type: ignore[no-untyped-def]
    run("group", "add", "ops")
    assert "no app named 'ghost'" in run("app", "set", "ghost", "--add-group", "ops", code=1)


# -- case-insensitive paths ----------------------------------------------------------------


def test_paths_option_is_shown_settable_and_explained(run) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "iis", "--url", "http://iis.lan", "--paths", "case-insensitive")
    run("app", "rule", "add", "iis", "--action", "deny", "--path", "/admin")
    assert apps(run)["iis"]["paths"] == "case-insensitive"
    assert "case-insensitive" in run("app", "list")
    assert "paths: case-insensitive" in run("app", "show", "iis")
    for path in ("/ADMIN", "/Admin/", "/aDmIn/x", "/%41dmin"):
        result = json.loads(run("explain", "--url", f"http://iis.lan{path}", "--json"))
        assert result["outcome"] == "deny", path
        assert (
            "paths: case-insensitive (every path rule matches in any letter case)"
            in (result["trace"])
        )
        assert "rule 1 (deny path /admin* (any case)) matches: deny" in result["trace"]
    text = run("explain", "--url", "http://iis.lan/ADMIN")
    assert "paths: case-insensitive" in text and "outcome: deny" in text
    run("app", "set", "iis", "--paths", "case-sensitive")
    result = json.loads(run("explain", "--url", "http://iis.lan/ADMIN", "--json"))
    assert result["outcome"] == "login"
    assert not any(line.startswith("paths:") for line in result["trace"])


def test_paths_rejects_other_values(run) -> None:  # type: ignore[no-untyped-def]
    output = run("app", "add", "x", "--url", "http://x.lan", "--paths", "insensitive", code=2)
    assert "case-sensitive" in output and "Traceback" not in output


# -- second factor, launcher icon and description -----------------------------------------


def test_require_mfa_is_set_shown_and_reset(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "vault", "--url", "http://vault.lan", "--require-mfa")
    run("app", "add", "wiki", "--url", "http://wiki.lan")
    assert apps(run)["vault"]["mfa"] == "required"
    assert apps(run)["wiki"]["mfa"] == "default"
    assert "mfa: required" in run("app", "show", "vault")
    run("app", "set", "vault", "--no-require-mfa")
    assert apps(run)["vault"]["mfa"] == "optional"
    run("app", "set", "vault", "--mfa-default")
    assert apps(run)["vault"]["mfa"] == "default"
    output = run("app", "set", "vault", "--mfa-default", "--require-mfa", code=2)
    assert "exclude each other" in output


def test_icon_and_description_are_checked_and_kept(run) -> None:  # type: ignore[no-untyped-def]
    run(
        "app", "add", "wiki", "--url", "http://wiki.lan",
        "--icon", "https://wiki.lan/logo.png", "--description", "  The team's\n  notes  ",
    )  # fmt: skip
    assert apps(run)["wiki"]["icon"] == "https://wiki.lan/logo.png"
    assert apps(run)["wiki"]["description"] == "The team's notes"
    for bad in ("javascript:alert(1)", "https://x.lan/a b.png", 'https://x.lan/"onerror=', "x.png"):
        output = run("app", "set", "wiki", "--icon", bad, code=2)
        assert "--icon" in output and "Traceback" not in output
    run("app", "set", "wiki", "--icon", "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=")
    assert apps(run)["wiki"]["icon"].startswith("data:image/svg+xml")
    run("app", "set", "wiki", "--icon", "")
    assert apps(run)["wiki"]["icon"] == ""


def test_mfa_icon_and_description_round_trip_through_the_state_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.yaml"
    state.write_text(
        "apps:\n  vault:\n    url: http://vault.lan\n    mfa: required\n"
        "    icon: https://vault.lan/icon.svg\n    description: Secrets\n"
        "  wiki: {url: 'http://wiki.lan', mfa: optional}\n"
    )
    run("apply", "-f", str(state))
    listed = apps(run)
    assert (listed["vault"]["mfa"], listed["wiki"]["mfa"]) == ("required", "optional")
    assert listed["vault"]["description"] == "Secrets"
    exported = tmp_path / "out.yaml"
    run("export", "-o", str(exported))
    text = exported.read_text()
    assert "mfa: required" in text and "mfa: optional" in text and "icon:" in text
    assert "nothing to change" in run("apply", "-f", str(exported))
    state.write_text("apps:\n  x: {url: 'http://x.lan', mfa: always, icon: 'ftp://x'}\n")
    output = run("apply", "-f", str(state), code=2)
    assert "apps.x.mfa: must be required, optional or default" in output
    assert "apps.x.icon: is not an http(s) or data:image URL" in output


# -- a store that already holds twins: reported by doctor and at serve start -------------


def _add_twin(data: Path, slug: str, url: str) -> None:
    """A row as a store written before the rule could hold it (the Store refuses it)."""
    with sqlite3.connect(data / "authgate.db") as db:
        db.execute(
            "INSERT INTO applications (slug, name, external_url, mode, cookie_domain, "
            "created_at) VALUES (?, ?, ?, 'single', '', '2024-01-01 00:00:00')",
            (slug, slug, url),
        )


def test_doctor_reports_two_apps_for_one_host(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("app", "add", "wiki", "--url", "http://wiki.example.com")
    assert "1 app(s), one per host" in run("doctor", "--store")
    _add_twin(tmp_path / "data", "aaa", "http://WIKI.example.com.")
    findings = json.loads(run("doctor", "--store", "--json", code=1))
    assert findings == [
        {
            "id": "apps-claim-one-host",
            "severity": "error",
            "object": "authgate store: host wiki.example.com",
            "where": None,
            "problem": "host wiki.example.com is claimed by apps wiki and aaa: refused until one "
            "is moved: every request for it is refused (503; 401 behind nginx) instead of one "
            "app's rules and bindings silently applying",
            "fix": "authgate app set aaa --url NEW-URL (or: authgate app delete aaa)",
        }
    ]
    result = json.loads(run("explain", "--url", "http://wiki.example.com/admin", "--json"))
    assert result["outcome"] == "unavailable"
    assert "app: none: host wiki.example.com is claimed by apps wiki and aaa" in result["trace"][1]
    run("app", "set", "aaa", "--url", "http://aaa.example.com")
    assert "one per host" in run("doctor", "--store")


def test_doctor_store_without_a_store(run) -> None:  # type: ignore[no-untyped-def]
    assert "no store at" in run("doctor", "--store", code=1)


def test_serve_reports_two_apps_for_one_host_at_start(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AUTHGATE_DATA_DIR": str(tmp_path / "data"),
        "AUTHGATE_PUBLIC_URL": "http://auth.lan",
    }
    assert CliRunner().invoke(cli, ["app", "add", "wiki", "--url", "http://wiki.lan"], env=env)
    _add_twin(tmp_path / "data", "aaa", "http://WIKI.lan:80")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "authgate", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        lines = []
        for line in server.stderr:
            lines.append(line)
            if "serving on" in line:
                break
        said = "".join(lines)
        assert (
            "authgate: ERROR: host wiki.lan is claimed by apps wiki and aaa: refused until one is "
            "moved; requests for it are refused. Fix: authgate app set aaa --url NEW-URL "
            "(or: authgate app delete aaa)" in said
        ), said
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
