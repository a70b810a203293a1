"""``authgate user …``"""

from __future__ import annotations

from dataclasses import asdict

import click

from authgate.cli.context import emit, json_option, read_password, run_store, table
from authgate.storage.store import Store, UserInfo


def _public(user: UserInfo) -> dict[str, object]:
    data = asdict(user)
    data.pop("password_hash")
    data.pop("id")
    data["groups"] = list(user.groups)
    return data


@click.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("name")
@click.option("--email", default="")
@click.option("--name", "full_name", default="", help="Full name shown to apps.")
@click.option("--group", "groups", multiple=True, help="Group to join (created if missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True, help="Create the user without a password.")
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    email: str,
    full_name: str,
    groups: tuple[str, ...],
    password_stdin: bool,
    no_password: bool,
    as_json: bool,
) -> None:
    """Add a user; asks for a password unless --password-stdin or --no-password."""
    password = None if no_password else read_password(password_stdin)

    async def action(store: Store) -> UserInfo:
        from authgate.accounts.passwords import hash_password_async

        hashed = await hash_password_async(password) if password else None
        created = await store.add_user(
            name, email=email, name=full_name, password_hash=hashed, groups=groups
        )
        await store.audit("user_added", subject=name)
        return created

    created = run_store(ctx, action)
    emit(as_json, _public(created), f"added user {created.username}")


@user.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List users."""
    users = run_store(ctx, lambda store: store.list_users())
    rows = [
        [u.username, u.email, u.name, ",".join(u.groups), "disabled" if u.disabled else "active"]
        for u in users
    ]
    emit(
        as_json,
        [_public(u) for u in users],
        lambda: table(rows, ["user", "email", "name", "groups", "status"]),
    )


@user.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@json_option
@click.pass_context
def set_password(ctx: click.Context, name: str, password_stdin: bool, as_json: bool) -> None:
    """Set a user's password."""
    password = read_password(password_stdin, "New password")

    async def action(store: Store) -> None:
        from authgate.accounts.passwords import hash_password_async

        await store.set_password(name, await hash_password_async(password))
        await store.audit("user_password_set", subject=name)

    run_store(ctx, action)
    emit(as_json, {"user": name, "password": "set"}, f"password set for {name}")


def _set_disabled(ctx: click.Context, name: str, disabled: bool, as_json: bool) -> None:
    async def action(store: Store) -> None:
        await store.set_disabled(name, disabled)
        await store.audit("user_disabled" if disabled else "user_enabled", subject=name)

    run_store(ctx, action)
    word = "disabled" if disabled else "enabled"
    extra = " and signed out everywhere" if disabled else ""
    emit(as_json, {"user": name, "status": word}, f"{word} {name}{extra}")


@user.command("disable")
@click.argument("name")
@json_option
@click.pass_context
def disable(ctx: click.Context, name: str, as_json: bool) -> None:
    """Disable a user and end their sessions at once."""
    _set_disabled(ctx, name, True, as_json)


@user.command("enable")
@click.argument("name")
@json_option
@click.pass_context
def enable(ctx: click.Context, name: str, as_json: bool) -> None:
    """Enable a disabled user."""
    _set_disabled(ctx, name, False, as_json)


@user.command("delete")
@click.argument("name")
@json_option
@click.pass_context
def delete(ctx: click.Context, name: str, as_json: bool) -> None:
    """Delete a user and their sessions."""

    async def action(store: Store) -> None:
        await store.delete_user(name)
        await store.audit("user_deleted", subject=name)

    run_store(ctx, action)
    emit(as_json, {"user": name, "deleted": True}, f"deleted user {name}")


@user.command("add-group")
@click.argument("name")
@click.argument("group")
@json_option
@click.pass_context
def add_group(ctx: click.Context, name: str, group: str, as_json: bool) -> None:
    """Add a user to a group."""

    async def action(store: Store) -> None:
        await store.add_to_group(name, group)
        await store.audit("membership_added", subject=f"{name} -> {group}")

    run_store(ctx, action)
    emit(as_json, {"user": name, "group": group}, f"{name} is in {group}")


@user.command("remove-group")
@click.argument("name")
@click.argument("group")
@json_option
@click.pass_context
def remove_group(ctx: click.Context, name: str, group: str, as_json: bool) -> None:
    """Remove a user from a group."""

    async def action(store: Store) -> None:
        await store.remove_from_group(name, group)
        await store.audit("membership_removed", subject=f"{name} -> {group}")

    run_store(ctx, action)
    emit(as_json, {"user": name, "group": group, "removed": True}, f"{name} left {group}")
