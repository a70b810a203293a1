"""``authgate import``: register every host an existing setup protects as an app."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from authgate.cli.command import emit, json_option, run_store

if TYPE_CHECKING:
    from authgate.doctor.imports import AppPlan, Outcome
    from authgate.storage.store import Store


def _plans(paths: tuple[str, ...]) -> list[AppPlan]:
    from authgate.doctor import imports, sources
    from authgate.doctor.findings import Severity
    from authgate.doctor.kube import Inventory
    from authgate.doctor.survey import host_setups

    inputs = sources.read(paths, sys.stdin)
    problems = [p for p in inputs.problems if p.severity is Severity.ERROR]
    for problem in problems:
        click.echo(f"authgate: {problem.where or problem.object}: {problem.problem}", err=True)
    if problems:
        click.echo("authgate: nothing imported; fix the input first", err=True)
        sys.exit(2)
    return imports.plan(host_setups(inputs, Inventory(inputs.objects)))


def _describe(outcome: Outcome) -> str:
    plan = outcome.plan
    if outcome.action == "exists":
        lines = [f"exists     {outcome.detail}"]
    else:
        verb = "added" if outcome.action == "added" else "would add"
        lines = [f"{verb:10} app {plan.slug} for {plan.url} (from {plan.source}, {plan.where})"]
        lines += [f"           skip path {p}" for p in plan.skip_paths]
    lines += [f"           note: {n}" for n in plan.notes]
    return "\n".join(lines)


def _text(outcomes: list[Outcome], dry_run: bool) -> str:
    if not outcomes:
        return "no host behind forward auth found: nothing to import"
    lines = [_describe(o) for o in outcomes]
    if any(o.action != "exists" for o in outcomes):
        lines.append(
            "New apps admit every signed-in user: the manifests do not say who may enter "
            "(authgate app delete SLUG, then app add … --group G, to restrict one)."
        )
    if dry_run:
        lines.append("Dry run: nothing was changed.")
    return "\n".join(lines)


@click.command("import")
@click.argument("paths", nargs=-1, required=True, metavar="FILE|DIR|-")
@click.option("--dry-run", is_flag=True, help="Only print what would be registered.")
@json_option
@click.pass_context
def import_(ctx: click.Context, paths: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Register every host that ingress-nginx, Traefik, nginx or Caddy configs protect with
    forward auth (authentik's outpost setup included) as an authgate app. Hosts that already
    have an app are left alone."""
    from authgate.doctor.imports import decide

    plans = _plans(paths)
    if dry_run:
        from authgate.cli.doctor import known_apps

        apps, _ = known_apps(ctx)  # creates nothing: a dry run leaves no database behind
        outcomes = decide(plans, apps or [], dry_run=True)
    else:

        async def action(store: Store) -> list[Outcome]:
            decided = decide(plans, await store.load_apps(), dry_run=False)
            for outcome in decided:
                if outcome.action == "added":
                    plan = outcome.plan
                    await store.add_app(plan.slug, url=plan.url, skip_paths=plan.skip_paths)
                    await store.audit("app_added", subject=plan.slug, detail=f"{plan.url} (import)")
            return decided

        outcomes = run_store(ctx, action)
    emit(as_json, [o.to_dict() for o in outcomes], lambda: _text(outcomes, dry_run))
