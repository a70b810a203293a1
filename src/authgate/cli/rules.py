"""``authgate app rule …``: ordered access rules, first match wins."""

from __future__ import annotations

import ipaddress
import re
import sys

import click

from authgate.cli.context import emit, json_option, run_store, table
from authgate.storage.store import RuleSpec, Store

METHOD = re.compile(r"^[A-Za-z]{1,20}$")


def _fail(message: str) -> None:
    click.echo(f"authgate: {message}", err=True)
    sys.exit(2)


def build_rule(
    action: str,
    path: str,
    path_regex: str,
    methods: tuple[str, ...],
    networks: tuple[str, ...],
    groups: tuple[str, ...],
    users: tuple[str, ...],
) -> RuleSpec:
    if path and not path.startswith("/"):
        _fail(f"--path {path!r} must start with /")
    if path_regex:
        try:
            re.compile(path_regex)
        except re.error as exc:
            _fail(f"--path-regex {path_regex!r} is not a valid regular expression: {exc}")
    for method in methods:
        if not METHOD.match(method):
            _fail(f"--method {method!r} is not an HTTP method")
    cidrs: list[str] = []
    for network in networks:
        try:
            cidrs.append(str(ipaddress.ip_network(network, strict=False)))
        except ValueError:
            _fail(f"--network {network!r} is not an address or CIDR range (e.g. 10.0.0.0/8)")
    if action == "bypass" and (groups or users):
        _fail("a bypass rule lets anonymous requests through: it cannot name groups or users")
    return RuleSpec(
        action=action,
        path_prefix=path,
        path_regex=path_regex,
        methods=tuple(m.upper() for m in methods),
        networks=tuple(cidrs),
        users=users,
        groups=groups,
    )


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
