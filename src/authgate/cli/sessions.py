"""``authgate session …``"""

from __future__ import annotations

import sys

import click

from authgate.cli.command import emit, json_option, run_store, table
from authgate.storage.store import SessionInfo, Store


@click.group()
def session() -> None:
    """List and revoke sessions."""


def _row(s: SessionInfo) -> dict[str, object]:
    return {
        "id": s.id,
        "user": s.username,
        "kind": s.kind,
        "app": s.app,
        "parent": s.parent_id,
        "created_at": s.created_at.isoformat(),
        "expires_at": s.expires_at.isoformat(),
        "last_seen": s.last_seen.isoformat(),
        "ip": s.ip,
    }


@session.command("list")
@click.option("--user", "username", help="Only this user's sessions.")
@json_option
@click.pass_context
def list_(ctx: click.Context, username: str | None, as_json: bool) -> None:
    """List live sessions (portal sessions and the app sessions made from them)."""
    sessions = run_store(ctx, lambda store: store.list_sessions(username))
    rows = [
        [s.id[:12], s.username, s.kind, s.app or "-", s.ip, s.expires_at.strftime("%Y-%m-%d %H:%M")]
        for s in sessions
    ]
    emit(
        as_json,
        [_row(s) for s in sessions],
        lambda: table(rows, ["id", "user", "kind", "app", "ip", "expires"]),
    )


@session.command("revoke")
@click.argument("session_id", required=False)
@click.option("--user", "username", help="Revoke every session of this user.")
@json_option
@click.pass_context
def revoke(ctx: click.Context, session_id: str | None, username: str | None, as_json: bool) -> None:
    """Revoke one session (with its portal session and sibling app sessions) or a user's."""
    if bool(session_id) == bool(username):
        click.echo("authgate: give a session ID or --user NAME (one of them)", err=True)
        sys.exit(2)

    async def action(store: Store) -> int:
        if username:
            count = await store.revoke_user_sessions(username)
            await store.audit("sessions_revoked", subject=username)
            return count
        assert session_id is not None
        matches = [s.id for s in await store.list_sessions() if s.id.startswith(session_id)]
        if len(matches) != 1:
            from authgate.errors import NotFoundError

            raise NotFoundError("session", session_id)
        ended = await store.revoke_session(matches[0])
        await store.audit("sessions_revoked", subject=matches[0][:12])
        return len(ended)

    count = run_store(ctx, action)
    emit(as_json, {"revoked": count}, f"revoked {count} session(s)")
