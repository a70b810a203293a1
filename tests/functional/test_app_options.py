"""App options as a running server applies them, through every dialect: case-insensitive
paths, one app per host (a store holding twins refuses the host), and bindings changed with
``authgate app set`` taking effect on the very next request."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from authgate.cli.main import cli
from authgate.storage.store import RuleSpec
from tests.app_rows import insert_app_row
from tests.functional.conftest import PUBLIC, Harness
from tests.functional.dialects import DIALECTS, ask


async def _iis_app(harness: Harness, case_insensitive: bool) -> None:
    store = harness.runtime.store
    await store.add_app("iis", url="http://iis.test", case_insensitive_paths=case_insensitive)
    await store.add_rule("iis", RuleSpec("deny", path_prefix="/admin"))
    await store.add_rule("iis", RuleSpec("deny", path_prefix="/caf%C3%A9/"))
    await store.add_rule("iis", RuleSpec("bypass", path_regex="^/Public/"))
    await harness.runtime.reload()


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "uri",
    [
        "/admin",
        "/ADMIN",
        "/Admin/",
        "/aDmIn/x",
        "/%41DMIN",  # an escaped unreserved letter is decoded first
        "/x/../ADMIN",
        "/caf%C3%A9",
        "/CAF%c3%a9/menu",  # escapes are upper-cased by the canonical path, letters folded
    ],
)
async def test_case_insensitive_app_denies_every_spelling(
    harness: Harness, dialect: str, uri: str
) -> None:
    await _iis_app(harness, case_insensitive=True)
    result = await ask(harness.client, dialect, "GET", "iis.test", uri)
    assert result.outcome == "deny", (uri, result.response.status_code)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_case_insensitive_app_still_tells_paths_apart(harness: Harness, dialect: str) -> None:
    await _iis_app(harness, case_insensitive=True)
    for uri, outcome in [
        ("/administrator", "login"),  # a prefix ends at a slash, in any case
        ("/ADMINISTRATOR", "login"),
        ("/PUBLIC/app.css", "allow"),  # a regex rule matches in any case too
        ("/public/app.css", "allow"),
        ("/caf%C3%89", "login"),  # É is not é: escaped bytes are compared as they are
    ]:
        result = await ask(harness.client, dialect, "GET", "iis.test", uri)
        assert result.outcome == outcome, (uri, result.response.status_code)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_case_sensitive_is_the_default(harness: Harness, dialect: str) -> None:
    await _iis_app(harness, case_insensitive=False)
    for uri, outcome in [
        ("/admin/x", "deny"),
        ("/ADMIN", "login"),
        ("/Public/x", "allow"),
        ("/PUBLIC/x", "login"),
    ]:
        result = await ask(harness.client, dialect, "GET", "iis.test", uri)
        assert result.outcome == outcome, (uri, result.response.status_code)


# -- one app per host ----------------------------------------------------------------------


async def _add_twin(harness: Harness, slug: str, url: str) -> None:
    """What a store written before the rule may hold: a second app for a host (the write
    bypasses the Store, which refuses it)."""
    await insert_app_row(harness.runtime.store.engine, slug, url)


async def test_a_host_claimed_twice_is_refused_not_given_to_one_app(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    first = await harness.check("app1.test", "/")
    await harness.login(first.headers["location"])  # alice, bound through group staff
    assert (await harness.check("app1.test", "/")).status_code == 200
    await _add_twin(harness, "aaa", "http://APP1.test.")  # sorts before app1
    with caplog.at_level(logging.ERROR, logger="authgate"):
        await harness.runtime.reload()
    # Before: the index took "aaa" (first by slug), whose missing bindings let anyone in.
    assert (await harness.check("app1.test", "/")).status_code == 503
    assert (
        "host app1.test is claimed by apps app1 and aaa: refused until one is moved; requests "
        "for it are refused. Fix: authgate app set aaa --url NEW-URL (or: authgate app delete "
        "aaa)" in caplog.text
    )
    anonymous = {"cookie": ""}
    for dialect in DIALECTS:
        result = await ask(harness.client, dialect, "GET", "app1.test", "/admin", anonymous)
        assert result.response.status_code in (401, 503), dialect  # nginx can only say 401
    start = await harness.client.get("http://app1.test/outpost.goauthentik.io/start?rd=/")
    assert start.status_code == 503 and "More than one app" in start.text
    assert "aaa" not in start.text  # the visitor is not told the apps' names
    assert (await harness.check("app2.test", "/")).status_code == 302  # others unaffected


async def test_the_host_app_decides_inside_a_domain_mode_apps_cookie_domain(
    harness: Harness,
) -> None:
    store = harness.runtime.store
    await store.add_app(
        "corp", url="http://www.corp.test", mode="domain", cookie_domain="corp.test"
    )
    await store.add_app("wiki", url="http://wiki.corp.test")
    await store.add_rule("wiki", RuleSpec("deny", path_prefix="/admin"))
    await harness.runtime.reload()
    assert (await harness.check("wiki.corp.test", "/admin")).status_code == 403  # wiki's rule
    assert (await harness.check("docs.corp.test", "/admin")).status_code == 302  # corp: login


# -- bindings changed with the CLI, seen by the running server ----------------------------


def _cli(data_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli, list(args), env={"AUTHGATE_DATA_DIR": str(data_dir), "AUTHGATE_PUBLIC_URL": PUBLIC}
    )
    assert result.exit_code == 0, result.output
    return result.output


async def test_app_set_bindings_apply_on_the_next_request(harness: Harness, tmp_path: Path) -> None:
    first = await harness.check("app1.test", "/")
    await harness.login(first.headers["location"])
    assert (await harness.check("app1.test", "/")).status_code == 200  # alice via staff

    await asyncio.to_thread(_cli, tmp_path, "app", "set", "app1", "--remove-group", "staff",
                            "--add-group", "guests")  # fmt: skip
    denied = await harness.check("app1.test", "/")
    assert denied.status_code == 403 and "group guests" in denied.text

    await asyncio.to_thread(_cli, tmp_path, "app", "set", "app1", "--add-user", "alice")
    assert (await harness.check("app1.test", "/")).status_code == 200

    await asyncio.to_thread(_cli, tmp_path, "app", "set", "app1", "--remove-user", "alice")
    assert (await harness.check("app1.test", "/")).status_code == 403
