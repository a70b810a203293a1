"""``authgate import``: the seeds' hosts become apps, once, with the right URL and skip paths."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from authgate.cli.main import cli
from authgate.doctor import imports, sources
from authgate.doctor.kube import Inventory
from authgate.doctor.survey import host_setups
from authgate.storage.migrate import upgrade
from authgate.storage.store import Store

from .doctor_helpers import SEED000, SEED003, edit, write

COMFY = "https://comfyui.k3s.internal.zolty.systems"
OFFNET = "https://comfyui-offnet.k3s.internal.zolty.systems"


def plans(*paths: str | Path) -> list[imports.AppPlan]:
    inputs = sources.read([str(p) for p in paths], io.StringIO(""))
    return imports.plan(host_setups(inputs, Inventory(inputs.objects)))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = Store(f"sqlite+aiosqlite:///{tmp_path}/db")
    await upgrade(db.engine)
    yield db
    await db.close()


async def apply(store: Store, found: list[imports.AppPlan]) -> list[imports.Outcome]:
    outcomes = imports.decide(found, await store.load_apps(), dry_run=False)
    for outcome in outcomes:
        if outcome.action == "added":
            plan = outcome.plan
            await store.add_app(plan.slug, url=plan.url, skip_paths=plan.skip_paths)
    return outcomes


def test_seed000_plans_one_app_over_http() -> None:
    [plan] = plans(SEED000)
    assert (plan.slug, plan.url, plan.skip_paths) == ("wiki", "http://wiki.bogocat.com", ())
    assert plan.source == "Ingress/wiki/wiki path /"


def test_seed003_plans_two_apps_over_https() -> None:
    assert [(p.slug, p.url, p.skip_paths) for p in plans(SEED003)] == [
        ("comfyui", COMFY, ()),
        ("comfyui-offnet", OFFNET, ()),
    ]


async def test_both_seeds_are_registered_and_a_second_run_changes_nothing(store: Store) -> None:
    first = await apply(store, plans(SEED000, SEED003))
    assert [o.action for o in first] == ["added"] * 3
    apps = {a.slug: a for a in await store.load_apps()}
    assert {s: a.external_url for s, a in apps.items()} == {
        "wiki": "http://wiki.bogocat.com",
        "comfyui": COMFY,
        "comfyui-offnet": OFFNET,
    }
    assert apps["comfyui"].host == "comfyui.k3s.internal.zolty.systems"
    again = await apply(store, plans(SEED000, SEED003))
    assert [o.action for o in again] == ["exists"] * 3
    assert "already served by app wiki" in again[0].detail
    assert len(await store.load_apps()) == 3


async def test_a_host_with_an_app_under_another_slug_is_left_alone(store: Store) -> None:
    await store.add_app("my-wiki", url="http://wiki.bogocat.com")
    [outcome] = await apply(store, plans(SEED000))
    assert outcome.action == "exists" and "my-wiki" in outcome.detail


async def test_a_taken_slug_gets_a_suffix(store: Store) -> None:
    await store.add_app("wiki", url="http://old-wiki.example.com")
    [outcome] = await apply(store, plans(SEED000))
    assert (outcome.action, outcome.plan.slug) == ("added", "wiki-2")


def test_open_routes_on_the_host_become_skip_paths(tmp_path: Path) -> None:
    seed = write(tmp_path, "wiki.yaml", SEED000.read_text())
    edit(
        seed,
        "          - path: /outpost.goauthentik.io/\n",
        "          - path: /public\n            pathType: Prefix\n            backend:\n"
        "              service: {name: wiki-backend, port: {number: 8080}}\n"
        "          - path: /healthz\n            pathType: Exact\n            backend:\n"
        "              service: {name: wiki-backend, port: {number: 8080}}\n"
        "          - path: /outpost.goauthentik.io/\n",
    )
    [plan] = plans(seed)
    assert plan.skip_paths == ("^/public(/|$)", "^/healthz$")


def test_traefik_open_route_becomes_a_skip_path(tmp_path: Path) -> None:
    route = write(tmp_path, "r.yaml", (SEED003 / "comfyui" / "comfyui-ingress.yaml").read_text())
    edit(
        route,
        "    # Route 2",
        "    - match: Host(`comfyui.k3s.internal.zolty.systems`) && PathPrefix(`/api/health`)\n"
        "      services: [{name: comfyui, port: 8188}]\n    # Route 2",
    )
    [plan] = plans(route, SEED003 / "public-ingress")
    assert plan.skip_paths == (r"^/api/health",)


def test_an_open_route_that_would_open_a_protected_one_is_not_a_skip_path(tmp_path: Path) -> None:
    seed = write(tmp_path, "w.yaml", SEED000.read_text())
    edit(seed, "          - path: /\n", "          - path: /app/admin\n")
    edit(
        seed,
        "          - path: /outpost.goauthentik.io/\n",
        "          - path: /app\n            pathType: Prefix\n            backend:\n"
        "              service: {name: wiki-backend, port: {number: 8080}}\n"
        "          - path: /outpost.goauthentik.io/\n",
    )
    [plan] = plans(seed)
    assert plan.skip_paths == ()
    assert "would also open /app/admin" in plan.notes[0]


def test_unprotected_hosts_are_not_imported(tmp_path: Path) -> None:
    text = SEED000.read_text()
    start = text.index("# Main ingress")
    assert plans(write(tmp_path, "w.yaml", text[:start])) == []


# -- the command --------------------------------------------------------------------------------


def run(tmp_path: Path, *args: str) -> Result:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(cli, list(args), env=env, prog_name="authgate")


def test_import_command_registers_and_reports(tmp_path: Path) -> None:
    result = run(tmp_path, "import", str(SEED000), str(SEED003))
    assert result.exit_code == 0, result.output
    assert "added      app wiki for http://wiki.bogocat.com" in result.stdout
    listed = json.loads(run(tmp_path, "app", "list", "--json").stdout)
    assert sorted(a["slug"] for a in listed) == ["comfyui", "comfyui-offnet", "wiki"]
    again = run(tmp_path, "import", "--json", str(SEED000))
    assert [o["action"] for o in json.loads(again.stdout)] == ["exists"]


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, "import", "--dry-run", str(SEED003))
    assert result.exit_code == 0
    assert f"would add  app comfyui for {COMFY}" in result.stdout
    assert "Dry run" in result.stdout
    assert not (tmp_path / "data").exists()


def test_bad_input_imports_nothing(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "kind: [\n")
    result = run(tmp_path, "import", str(SEED000), str(bad))
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr and "nothing imported" in result.stderr
    assert not (tmp_path / "data").exists()
