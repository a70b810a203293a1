"""``authgate token …`` and ``authgate app-password …``: create (the secret is printed once),
list and revoke the credentials scripts and non-browser clients use."""

from __future__ import annotations

from datetime import datetime

import click

from authgate.cli.command import emit, fail, json_option, run_store, table
from authgate.forward.api_secrets import APP_PASSWORD, TOKEN
from authgate.storage.store import ApiCredentialInfo, Store, now

HOW = {
    TOKEN: "send it as 'Authorization: Bearer <token>'",
    APP_PASSWORD: "use it as the password of HTTP Basic, with the user name",
}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _row(info: ApiCredentialInfo) -> dict[str, object]:
    return {
        "id": info.lookup,
        "kind": info.kind,
        "user": info.username,
        "apps": list(info.apps),
        "description": info.description,
        "state": info.state(now()),
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "last_used_at": info.last_used_at.isoformat() if info.last_used_at else None,
        "last_used_ip": info.last_used_ip,
    }


def _group(kind: str, name: str, what: str) -> click.Group:
    @click.group(name, help=f"Create, list and revoke {what}.")
    def group() -> None:
        pass

    @group.command("create")
    @click.option("--user", "username", required=True, help="Whose it is.")
    @click.option(
        "--app", "apps", multiple=True, help="Only this app (repeat); default: every app."
    )
    @click.option(
        "--expires", default=None, help="Lifetime such as 30d, 12h or 1w; default: never."
    )
    @click.option("--description", default="", help="What it is for (shown in lists).")
    @json_option
    @click.pass_context
    def create(
        ctx: click.Context,
        username: str,
        apps: tuple[str, ...],
        expires: str | None,
        description: str,
        as_json: bool,
    ) -> None:
        from authgate.config.loader import parse_duration

        lifetime = None
        if expires is not None:
            try:
                lifetime = parse_duration(expires)
            except ValueError as exc:
                fail(f"--expires {expires!r}: {exc}")

        async def action(store: Store) -> tuple[str, ApiCredentialInfo]:
            from authgate.accounts.api_credentials import issue

            issued = await issue(
                store,
                username,
                kind,
                apps=apps,
                lifetime=lifetime,
                description=description,
                actor="cli",
            )
            return issued.secret, issued.info

        secret, info = run_store(ctx, action)
        limits = ", ".join(info.apps) or "every app the user may reach"
        text = (
            f"{kind.replace('_', ' ')} {info.lookup} for {info.username} ({limits}; expires "
            f"{_when(info.expires_at)}). It is shown only now; {HOW[kind]}:\n{secret}"
        )
        emit(as_json, {**_row(info), "secret": secret}, text)

    @group.command("list")
    @click.option("--user", "username", default=None, help="Only this user's.")
    @json_option
    @click.pass_context
    def list_(ctx: click.Context, username: str | None, as_json: bool) -> None:
        found = run_store(ctx, lambda store: store.list_api_credentials(username, kind))
        at = now()
        rows = [
            [
                i.lookup,
                i.username,
                i.state(at),
                ",".join(i.apps) or "*",
                _when(i.expires_at),
                _when(i.last_used_at),
                i.last_used_ip or "-",
                i.description,
            ]
            for i in found
        ]
        headers = ["id", "user", "state", "apps", "expires", "last used", "from", "description"]
        emit(as_json, [_row(i) for i in found], lambda: table(rows, headers))

    @group.command("revoke")
    @click.argument("lookup", metavar="ID")
    @json_option
    @click.pass_context
    def revoke(ctx: click.Context, lookup: str, as_json: bool) -> None:
        async def action(store: Store) -> ApiCredentialInfo:
            from authgate.accounts.api_credentials import revoke as revoke_one

            return await revoke_one(store, lookup, actor="cli")

        info = run_store(ctx, action)
        kind_name = info.kind.replace("_", " ")
        emit(as_json, _row(info), f"revoked {kind_name} {info.lookup} of {info.username}")

    return group


token = _group(TOKEN, "token", "API tokens (Authorization: Bearer)")
app_password = _group(APP_PASSWORD, "app-password", "app passwords (HTTP Basic)")
