"""``authgate audit``: the latest events (logins, denials, changes), newest first."""

from __future__ import annotations

import click

from authgate.cli.command import emit, json_option, run_store, table


@click.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--event", "event_name", default="", help="Only this event, e.g. access_denied.")
@click.option("--user", "username", default="", help="Only events of this user.")
@json_option
@click.pass_context
def audit(ctx: click.Context, limit: int, event_name: str, username: str, as_json: bool) -> None:
    """Show the audit log: logins, failures, sign-outs, denials and admin changes."""
    events = run_store(ctx, lambda store: store.list_audit(limit, event_name, username))
    data = [
        {
            "at": e.at.isoformat(),
            "event": e.event,
            "user": e.actor,
            "app": e.app,
            "subject": e.subject,
            "ip": e.ip,
            "decision": e.decision_id,
        }
        for e in events
    ]
    rows = [
        [
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.event,
            e.actor or "-",
            e.app or "-",
            e.subject[:40] or "-",
            e.decision_id or "-",
        ]
        for e in events
    ]
    emit(as_json, data, lambda: table(rows, ["at", "event", "user", "app", "subject", "decision"]))
