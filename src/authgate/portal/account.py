"""``/account``: the page where a person runs their own access.

The page is a list of *sections* (password, second factors, passkeys, sessions…). Each is a
template under ``templates/`` and a function that gathers what that template shows for the
signed-in user; the section's own routes (its forms post to ``/account/<section>/…``) live
in its own module. ``notice`` in the query names a message from ``NOTICES`` to show once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.forward.sessions import SessionRecord
from authgate.portal.forms import page, redirect
from authgate.portal.passkeys_section import passkeys_section
from authgate.portal.signin import portal_session
from authgate.portal.two_factor_section import two_factor_section
from authgate.storage.store import UserInfo
from authgate.web.requests import runtime_of
from authgate.web.runtime import Runtime


@dataclass(frozen=True)
class Account:
    """Whose account page this is: the signed-in user and the portal session showing it."""

    user: UserInfo
    session: SessionRecord


Gather = Callable[[Runtime, Request, Account], Awaitable[dict[str, object]]]

# (template, gather) in the order the page shows them
SECTIONS: tuple[tuple[str, Gather], ...] = (
    ("account_two_factor.html", two_factor_section),
    ("account_passkeys.html", passkeys_section),
)

# what a section's form may say after it acted (``?notice=<key>``); nothing else is shown
NOTICES: dict[str, str] = {
    "form_expired": "The form expired. Please try again.",
    "totp_on": "Two-step sign-in is on: your authenticator app's code is asked after your "
    "password.",
    "totp_off": "The authenticator app was removed.",
    "totp_already_on": "An authenticator app is set up already. Remove it first to set up another.",
    "codes_new": "New recovery codes were made; the old ones no longer work.",
    "code_wrong": "That code is not right, or was used already. Nothing was changed.",
    "no_factor": "Set up an authenticator app or a passkey first.",
    "passkey_added": "Your passkey is registered.",
    "passkey_renamed": "The passkey is renamed.",
    "passkey_removed": "The passkey is removed.",
    "passkey_name_missing": "Give the passkey a name.",
    "passwordless_on": "You can now sign in with a passkey alone.",
    "passwordless_off": "Signing in with a passkey alone is off.",
    "passwordless_needs_passkey": "Register a passkey first.",
}


async def signed_in_account(rt: Runtime, request: Request) -> Account | None:
    session = await portal_session(rt, request)
    if session is None:
        return None
    user = await rt.store.find_user_by_uid(session.identity.uid)
    return None if user is None or user.disabled else Account(user, session)


async def account_page(request: Request) -> Response:
    rt = runtime_of(request)
    account = await signed_in_account(rt, request)
    if account is None:
        return redirect(f"{rt.settings.public_url}/login")
    sections = [(template, await gather(rt, request, account)) for template, gather in SECTIONS]
    return page(
        rt,
        request,
        "account.html",
        user=account.user,
        sections=sections,
        notice=NOTICES.get(request.query_params.get("notice", ""), ""),
        public_url=rt.settings.public_url,
        logout_action=f"{rt.settings.public_url}/logout",
    )


ROUTES = [Route("/account", account_page, methods=["GET"])]
