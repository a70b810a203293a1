"""``/account``: the page where a person runs their own access.

The page is a list of *sections* (password, second factors, passkeys, sessions…). Each is a
template under ``templates/`` and a function that gathers what that template shows for the
signed-in user; the section's own routes (its forms post to ``/account/<section>/…``) live
in its own module. ``notice`` in the query names a message from ``NOTICES`` to show once.

A section's form is an ``Act`` (see ``account_section``) routed through ``account_form``:
the page checks the sign-in and the CSRF token, and shows a ``Refusal`` in that section
(``errors[section]`` in the templates) with the rest of the page as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.portal import account_credentials, account_password, account_sessions
from authgate.portal.account_section import Account, Act, Gather, Refusal, signed_in_account
from authgate.portal.forms import csrf_ok, page, read_form, redirect
from authgate.portal.passkeys_section import passkeys_section
from authgate.portal.two_factor_section import two_factor_section
from authgate.web.requests import runtime_of
from authgate.web.runtime import Runtime

__all__ = ["NOTICES", "ROUTES", "SECTIONS", "Account", "signed_in_account"]

# (template, gather) in the order the page shows them
SECTIONS: tuple[tuple[str, Gather], ...] = (
    ("account_password.html", account_password.gather),
    ("account_two_factor.html", two_factor_section),
    ("account_passkeys.html", passkeys_section),
    ("account_sessions.html", account_sessions.gather),
    ("account_credentials.html", account_credentials.gather),
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
    **account_password.NOTICES,
    **account_sessions.NOTICES,
    **account_credentials.NOTICES,
}

EXPIRED_FORM = "The form expired. Please try again."


async def show_account(
    rt: Runtime,
    request: Request,
    account: Account,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
) -> Response:
    """The whole page; ``errors`` maps a section to what its form refused."""
    sections = [(template, await gather(rt, request, account)) for template, gather in SECTIONS]
    notice = "" if errors else NOTICES.get(request.query_params.get("notice", ""), "")
    return page(
        rt,
        request,
        "account.html",
        status,
        user=account.user,
        sections=sections,
        notice=notice,
        errors=dict(errors or {}),
        public_url=rt.settings.public_url,
        logout_action=f"{rt.settings.public_url}/logout",
    )


async def account_page(request: Request) -> Response:
    rt = runtime_of(request)
    account = await signed_in_account(rt, request)
    if account is None:
        return redirect(f"{rt.settings.public_url}/login")
    return await show_account(rt, request, account)


def account_form(section: str, act: Act) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a section's form: signed in (else the login page), a CSRF token that
    verifies (else the page again, saying so), then ``act``."""

    async def endpoint(request: Request) -> Response:
        rt = runtime_of(request)
        account = await signed_in_account(rt, request)
        if account is None:
            return redirect(f"{rt.settings.public_url}/login")
        form = await read_form(request)
        outcome = await act(rt, request, account, form) if csrf_ok(rt, request, form) else None
        if isinstance(outcome, Response):
            return outcome
        refusal = outcome or Refusal(EXPIRED_FORM)
        errors = {section: refusal.message}
        answer = await show_account(rt, request, account, refusal.status, errors)
        if refusal.retry_after:
            answer.headers["retry-after"] = str(refusal.retry_after)
        return answer

    return endpoint


ROUTES = [
    Route("/account", account_page, methods=["GET"]),
    *(
        Route(path, account_form(section, act), methods=["POST"])
        for path, section, act in (
            *account_password.FORMS,
            *account_sessions.FORMS,
            *account_credentials.FORMS,
        )
    ),
]
