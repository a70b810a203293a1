"""Invitations and password resets by one-time link: what ``authgate user invite`` and
``user reset-link`` do, and what the link page does when the person chooses a password.

A link is ``<public URL>/account/link/<token>``, the token 32 random bytes (base64url) of
which the store keeps only a hash; it works once, for 24 hours, and a newer link for the
same user ends the older ones. With AUTHGATE_SMTP_URL set it is also mailed to the user.
Using it sets the password, ends every session of the user and lifts a lock that failed
sign-ins put on the account.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from authgate.accounts.login import unlock_account
from authgate.accounts.mail import Delivery, mail_link
from authgate.accounts.passwords import hash_password_async
from authgate.config import Settings
from authgate.errors import ConflictError
from authgate.storage.store import AccountLink, LoginCounters, Store, UserInfo
from authgate.storage.store.links import INVITE, RESET

LINK_PATH = "/account/link/"
EVENTS = {INVITE: "invite_created", RESET: "reset_link_created"}


@dataclass(frozen=True)
class IssuedLink:
    """A link just made: the URL to hand over (shown once) and what became of mailing it
    (None: AUTHGATE_SMTP_URL is not set)."""

    user: UserInfo
    url: str
    link: AccountLink
    delivery: Delivery | None


def link_url(public_url: str, token: str) -> str:
    return f"{public_url}{LINK_PATH}{token}"


async def invite(
    store: Store,
    settings: Settings,
    username: str,
    *,
    email: str = "",
    name: str = "",
    groups: Sequence[str] = (),
    tls: ssl.SSLContext | None = None,
) -> IssuedLink:
    """A new user without a password (nobody can sign in as them) and their invitation."""
    await store.add_user(username, email=email, name=name, password_hash=None, groups=groups)
    await store.audit("user_added", subject=username)
    return await issue_link(store, settings, username, INVITE, tls=tls)


async def issue_link(
    store: Store,
    settings: Settings,
    username: str,
    purpose: str = RESET,
    *,
    tls: ssl.SSLContext | None = None,
) -> IssuedLink:
    """A new link of ``purpose`` for an existing user (their earlier links stop working);
    mailed to the user's address when AUTHGATE_SMTP_URL is set. A disabled user gets none
    (ConflictError): a link never works for them."""
    user = await store.get_user(username)
    if user.disabled:  # the link would be dead on arrival
        raise ConflictError(f"user {user.username!r} is disabled: enable them first")
    token, link = await store.create_link(user.username, purpose)
    detail = json.dumps({"expires_at": link.expires_at.isoformat()})
    await store.audit(EVENTS[purpose], subject=user.username, detail=detail)
    url = link_url(settings.public_url, token)
    delivery = None
    if settings.smtp_url:
        delivery = await mail_link(settings, user, user.email, url, link, tls)
        outcome = {"to": delivery.to, "sent": delivery.sent, "error": delivery.error}
        await store.audit("link_mailed", subject=user.username, detail=json.dumps(outcome))
    return IssuedLink(user, url, link, delivery)


async def set_password_by_link(
    store: Store, counters: LoginCounters, token: str, password: str, ip: str = ""
) -> UserInfo | None:
    """Use the link of ``token`` to give its user ``password`` (already judged acceptable):
    the user, or None when the link does not work (unknown, used, expired, or used by a
    parallel request a moment ago)."""
    hashed = await hash_password_async(password)
    link = await store.use_link(token, hashed)
    if link is None:
        return None
    await unlock_account(store, counters, link.username)
    detail = json.dumps({"purpose": link.purpose})
    await store.audit(
        "password_set_by_link", actor=link.username, subject=link.username, ip=ip, detail=detail
    )
    return await store.get_user(link.username)
