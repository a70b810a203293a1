"""The app option ``basic_password`` as an admin meets it: ``app add/set
--basic-password``, shown by ``app list``/``show``, carried by the state file (``export`` ->
``apply`` changes nothing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from authgate.cli.main import cli

Run = Callable[..., str]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("AUTHGATE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output
        return result.output

    return invoke


def flags(run: Run) -> dict[str, object]:
    return {a["slug"]: a["basic_password"] for a in json.loads(run("app", "list", "--json"))}


def test_add_and_set_turn_it_on_and_off_and_show_it(run: Run) -> None:
    run("app", "add", "dav", "--url", "http://dav.lan", "--basic-password")
    run("app", "add", "wiki", "--url", "http://wiki.lan")
    assert flags(run) == {"dav": True, "wiki": False}
    listed = run("app", "list").splitlines()
    assert "basic_password" in next(line for line in listed if line.startswith("dav "))
    assert "basic_password" not in next(line for line in listed if line.startswith("wiki "))
    assert "basic_password: True" in run("app", "show", "dav")
    assert "basic_password: False" in run("app", "show", "wiki")

    run("app", "set", "dav", "--no-basic-password")
    run("app", "set", "wiki", "--basic-password", "--jwt-bearer")
    assert flags(run) == {"dav": False, "wiki": True}
    run("app", "set", "wiki", "--name", "Wiki")  # a change that does not name it keeps it
    assert flags(run)["wiki"] is True
    assert "jwt_bearer, basic_password" in run("app", "list")


def test_the_state_file_carries_it_and_applies_it_once(run: Run, tmp_path: Path) -> None:
    state = tmp_path / "state.yaml"
    state.write_text(
        "apps:\n  dav: {url: 'http://dav.lan', basic_password: true}\n"
        "  wiki: {url: 'http://wiki.lan'}\n"
    )
    assert "+ app dav" in run("apply", "-f", str(state))
    assert flags(run) == {"dav": True, "wiki": False}
    exported = tmp_path / "out.yaml"
    run("export", "-o", str(exported))
    apps = YAML(typ="safe").load(exported.read_text())["apps"]
    assert apps["dav"]["basic_password"] is True and "basic_password" not in apps["wiki"]
    assert "nothing to change" in run("apply", "-f", str(exported))

    state.write_text("apps:\n  dav: {url: 'http://dav.lan'}\n  wiki: {url: 'http://wiki.lan'}\n")
    assert "~ app dav: basic_password True -> False" in run("apply", "-f", str(state))
    assert flags(run) == {"dav": False, "wiki": False}
    assert "nothing to change" in run("apply", "-f", str(state))


def test_the_state_file_wants_true_or_false(run: Run, tmp_path: Path) -> None:
    state = tmp_path / "state.yaml"
    state.write_text("apps:\n  dav:\n    url: http://dav.lan\n    basic_password: 'yes'\n")
    output = run("apply", "-f", str(state), code=2)
    assert "apps.dav.basic_password: must be true or false" in output
    assert flags(run) == {}
