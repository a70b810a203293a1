"""``authgate user invite`` and ``authgate user reset-link``: one-time links where a person
chooses a password (``accounts.links``).

The link is printed whatever happens to the mail: when AUTHGATE_SMTP_URL is set and
mailing fails, the command says so on stderr and still exits 0, because the link exists
and works; ``--json`` carries the outcome in ``mail`` (null when no SMTP server is set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from authgate.cli.command import emit, json_option, load, run_store
from authgate.storage.store import Store

if TYPE_CHECKING:  # imported when used: argon2 and smtplib stay out of ``authgate --help``
    from authgate.accounts.links import IssuedLink


def _data(issued: IssuedLink) -> dict[str, object]:
    user, link, delivery = issued.user, issued.link, issued.delivery
    mail = None
    if delivery is not None:
        mail = {"to": delivery.to, "sent": delivery.sent, "error": delivery.error}
    return {
        "user": user.username,
        "email": user.email,
        "name": user.name,
        "groups": list(user.groups),
        "purpose": link.purpose,
        "link": issued.url,
        "expires_at": link.expires_at.isoformat(),
        "mail": mail,
    }


def _report(issued: IssuedLink, as_json: bool, first_line: str) -> None:
    from authgate.accounts.mail import format_expiry

    delivery = issued.delivery
    lines = [
        first_line,
        f"link (works once, until {format_expiry(issued.link.expires_at)}):",
        issued.url,
    ]
    if delivery is not None and delivery.sent:
        lines.append(f"mailed to {delivery.to}")
    emit(as_json, _data(issued), "\n".join(lines))
    if delivery is not None and not delivery.sent:
        click.echo(
            f"authgate: the link was not mailed ({delivery.error}); it works all the same: "
            "hand it over yourself",
            err=True,
        )


@click.command("invite")
@click.argument("name")
@click.option("--email", default="", help="Where the link is mailed (AUTHGATE_SMTP_URL).")
@click.option("--name", "full_name", default="", help="Full name shown to apps.")
@click.option("--group", "groups", multiple=True, help="Group to join (created if missing).")
@json_option
@click.pass_context
def invite(
    ctx: click.Context,
    name: str,
    email: str,
    full_name: str,
    groups: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a user without a password and print a one-time link (24 h) where they choose it."""
    settings = load(ctx, require_public_url=True)

    async def action(store: Store) -> IssuedLink:
        from authgate.accounts.links import invite as invite_user

        return await invite_user(store, settings, name, email=email, name=full_name, groups=groups)

    issued = run_store(ctx, action)
    _report(issued, as_json, f"invited {issued.user.username} (no password until the link is used)")


@click.command("reset-link")
@click.argument("name")
@json_option
@click.pass_context
def reset_link(ctx: click.Context, name: str, as_json: bool) -> None:
    """Print a one-time link (24 h) where a user chooses a new password; their earlier links
    stop working. Using it signs the user out everywhere and lifts a lock on the account."""
    settings = load(ctx, require_public_url=True)

    async def action(store: Store) -> IssuedLink:
        from authgate.accounts.links import issue_link

        return await issue_link(store, settings, name)

    issued = run_store(ctx, action)
    _report(issued, as_json, f"reset link for {issued.user.username}")
