"""``authgate app rule …``: ordered access rules, first match wins."""

from __future__ import annotations

import sys

import click

from authgate.cli.command import emit, json_option, run_store, table
from authgate.statefile.rules import check_rule
from authgate.storage.store import RuleSpec, Store

FLAGS = {
    "action": "--action",
    "path": "--path",
    "path_regex": "--path-regex",
    "methods": "--method",
    "networks": "--network",
    "groups": "--group",
    "users": "--user",
}


def build_rule(
    action: str,
    path: str,
    path_regex: str,
    methods: tuple[str, ...],
    networks: tuple[str, ...],
    groups: tuple[str, ...],
    users: tuple[str, ...],
) -> RuleSpec:
    """The rule, checked as the state file's rules are; each problem on one line, exit 2."""
    spec, problems = check_rule(
        action,
        path=path,
        path_regex=path_regex,
        methods=methods,
        networks=networks,
        groups=groups,
        users=users,
    )
    for problem in problems:
        flag = f"{FLAGS[problem.key]} " if problem.key else ""
        click.echo(f"authgate: {flag}{problem.text}", err=True)
    if problems:
        sys.exit(2)
    return spec


@click.group()
def rule() -> None:
    """Ordered access rules of an app (first match wins)."""


@rule.command("add")
@click.argument("slug")
@click.option("--action", type=click.Choice(["allow", "deny", "bypass"]), required=True)
@click.option(
    "--path", default="", help="Path prefix, on whole segments (/admin matches /admin/x)."
)
@click.option("--path-regex", default="", help="Regex matched from the start of the path.")
@click.option("--method", "methods", multiple=True, help="HTTP method (repeat).")
@click.option("--network", "networks", multiple=True, help="Client address or CIDR (repeat).")
@click.option("--group", "groups", multiple=True, help="Only for members of this group.")
@click.option("--user", "users", multiple=True, help="Only for this user.")
@click.option("--position", type=int, default=None, help="1-based place in the list.")
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    slug: str,
    action: str,
    path: str,
    path_regex: str,
    methods: tuple[str, ...],
    networks: tuple[str, ...],
    groups: tuple[str, ...],
    users: tuple[str, ...],
    position: int | None,
    as_json: bool,
) -> None:
    """Add a rule to an app."""
    spec = build_rule(action, path, path_regex, methods, networks, groups, users)

    async def act(store: Store) -> int:
        at = await store.add_rule(slug, spec, position)
        await store.audit("rule_added", subject=slug, detail=f"#{at} {action}")
        return at

    at = run_store(ctx, act)
    emit(as_json, {"app": slug, "position": at, **spec.columns()}, f"rule {at} added to {slug}")


@rule.command("list")
@click.argument("slug")
@json_option
@click.pass_context
def list_(ctx: click.Context, slug: str, as_json: bool) -> None:
    """List an app's rules in the order they are tried."""
    found = run_store(ctx, lambda store: store.get_app(slug))
    rows = [[str(i), r.describe()] for i, r in enumerate(found.rules, 1)]
    data = [{"position": i, "rule": r.describe()} for i, r in enumerate(found.rules, 1)]
    emit(as_json, data, lambda: table(rows, ["#", "rule"]))


@rule.command("delete")
@click.argument("slug")
@click.argument("position", type=int)
@json_option
@click.pass_context
def delete(ctx: click.Context, slug: str, position: int, as_json: bool) -> None:
    """Delete rule number POSITION of an app."""

    async def act(store: Store) -> None:
        await store.delete_rule(slug, position)
        await store.audit("rule_deleted", subject=slug, detail=f"#{position}")

    run_store(ctx, act)
    emit(as_json, {"app": slug, "deleted": position}, f"rule {position} deleted from {slug}")
