"""``authgate group …``"""

from __future__ import annotations

import click

from authgate.cli.command import emit, json_option, run_store, table
from authgate.storage.store import Store


@click.group()
def group() -> None:
    """Manage groups."""


@group.command("add")
@click.argument("name")
@json_option
@click.pass_context
def add(ctx: click.Context, name: str, as_json: bool) -> None:
    """Add a group."""

    async def action(store: Store) -> None:
        await store.add_group(name)
        await store.audit("group_added", subject=name)

    run_store(ctx, action)
    emit(as_json, {"group": name}, f"added group {name}")


@group.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List groups with their member counts."""
    groups = run_store(ctx, lambda store: store.list_groups())
    emit(
        as_json,
        [{"group": g, "members": n} for g, n in groups],
        lambda: table([[g, str(n)] for g, n in groups], ["group", "members"]),
    )


@group.command("delete")
@click.argument("name")
@json_option
@click.pass_context
def delete(ctx: click.Context, name: str, as_json: bool) -> None:
    """Delete a group (memberships and app bindings to it go too)."""

    async def action(store: Store) -> None:
        await store.delete_group(name)
        await store.audit("group_deleted", subject=name)

    run_store(ctx, action)
    emit(as_json, {"group": name, "deleted": True}, f"deleted group {name}")
