"""``authgate user …``"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import click

from authgate.cli.command import emit, json_option, load, read_password, run_store, table
from authgate.cli.invites import invite, reset_link
from authgate.storage.store import Count, LoginCounters, Removed, Store, UserInfo

if TYPE_CHECKING:
    from authgate.accounts.overview import AccountOverview

T = TypeVar("T")


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


def _with_counters(ctx: click.Context, action: Callable[[Store, LoginCounters], Awaitable[T]]) -> T:
    """Run ``action`` with the store and the login counters the servers use."""
    settings = load(ctx)

    async def run(store: Store) -> T:
        from authgate.storage.store.counters import login_counters

        counters = login_counters(store, settings.redis_url, settings.redis_prefix)
        try:
            return await action(store, counters)
        finally:
            if counters is not store:
                await counters.close()

    return run_store(ctx, run)


def _lock_data(count: Count, at: datetime) -> dict[str, object]:
    until = count.locked_until if count.locked_at(at) else None
    return {
        "locked": until is not None,
        "locked_until": until.isoformat() if until else None,
        "failures": count.failures,
    }


def _lock_text(count: Count, at: datetime) -> str:
    if count.locked_at(at) and count.locked_until is not None:
        until = count.locked_until.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"locked until {until} ({count.failures} failed sign-ins)"
    return f"not locked ({count.failures} recent failed sign-ins)"


def _time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _overview_data(overview: AccountOverview, at: datetime) -> dict[str, object]:
    factors, link = overview.factors, overview.pending_link
    return _public(overview.user) | {
        "password_set": overview.user.password_hash is not None,
        "login": _lock_data(overview.lock, at),
        "factors": {
            "totp": factors.totp,
            "passkeys": factors.passkeys,
            "recovery_codes": factors.recovery_codes,
        },
        "sessions": [
            {
                "id": s.id[:12],
                "ip": s.ip,
                "user_agent": s.user_agent,
                "signed_in": s.signed_in.isoformat(),
                "last_seen": s.last_seen.isoformat(),
                "expires_at": s.expires_at.isoformat(),
                "amr": list(s.amr),
                "apps": list(s.apps),
            }
            for s in overview.sessions
        ],
        "pending_link": None
        if link is None
        else {"purpose": link.purpose, "expires_at": link.expires_at.isoformat()},
    }


def _overview_text(overview: AccountOverview, at: datetime) -> str:
    found, factors, link = overview.user, overview.factors, overview.pending_link
    words = {"invite": "invitation", "reset": "reset link"}
    lines = [
        f"user:     {found.username}",
        f"email:    {found.email}",
        f"name:     {found.name}",
        f"groups:   {', '.join(found.groups)}",
        f"status:   {'disabled' if found.disabled else 'active'}",
        f"password: {'set' if found.password_hash is not None else 'not set'}",
        f"login:    {_lock_text(overview.lock, at)}",
        f"factors:  TOTP {'yes' if factors.totp else 'no'}, {factors.passkeys} passkey(s), "
        f"{factors.recovery_codes} recovery code(s) left",
        "link:     "
        + (f"{words[link.purpose]} pending until {_time(link.expires_at)}" if link else "none"),
        f"sessions: {len(overview.sessions)}",
    ]
    for s in overview.sessions:
        apps = ", ".join(s.apps) or "none"
        lines.append(
            f"  {s.id[:12]}  {s.ip or '-'}  signed in {_time(s.signed_in)}  "
            f"last seen {_time(s.last_seen)}  amr {'+'.join(s.amr) or '-'}  apps: {apps}"
        )
    return "\n".join(lines)


@user.command("show")
@click.argument("name")
@json_option
@click.pass_context
def show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a user: lock after failed sign-ins, second factors, live sessions, pending link."""
    from authgate.accounts.overview import account_overview
    from authgate.storage.store import now

    at = now()
    overview = _with_counters(ctx, lambda store, c: account_overview(store, c, name, at))
    emit(as_json, _overview_data(overview, at), lambda: _overview_text(overview, at))


@user.command("unlock")
@click.argument("name")
@json_option
@click.pass_context
def unlock(ctx: click.Context, name: str, as_json: bool) -> None:
    """Lift the lock that failed sign-ins put on a user's account."""
    from authgate.accounts.login import unlock_account

    cleared = _with_counters(ctx, lambda store, c: unlock_account(store, c, name))
    text = f"unlocked {name}" if cleared else f"{name} had no failed sign-ins; nothing to do"
    emit(as_json, {"user": name, "unlocked": True, "cleared": cleared}, text)


@user.command("reset-mfa")
@click.argument("name")
@json_option
@click.pass_context
def reset_mfa(ctx: click.Context, name: str, as_json: bool) -> None:
    """Remove a user's authenticator app, passkeys and recovery codes (they lost them), and
    end the user's sessions: the next sign-in is with the password alone, then they enrol
    again."""

    async def action(store: Store) -> tuple[Removed, int]:
        found = await store.get_user(name)
        removed = await store.remove_second_factors(found.id)
        ended = await store.revoke_user_sessions(found.username)
        detail = json.dumps(asdict(removed) | {"sessions_ended": ended})
        await store.audit("mfa_reset", subject=found.username, detail=detail)
        return removed, ended

    removed, ended = run_store(ctx, action)
    data = {"user": name, "removed": asdict(removed), "sessions_ended": ended}
    totp = "an authenticator app" if removed.totp else "no authenticator app"
    text = (
        f"reset the second factors of {name}: removed {totp}, {removed.passkeys} passkey(s), "
        f"{removed.recovery_codes} unused recovery code(s); ended {ended} session(s)"
    )
    emit(as_json, data, text)


user.add_command(invite)
user.add_command(reset_link)
