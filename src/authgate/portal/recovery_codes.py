"""Recovery codes on the portal: the page that shows a new set once, and
``POST /account/recovery-codes``, which makes a new set (the old one stops working).

Making a new set needs what removing a factor needs: a session that proved a second factor,
or a current authenticator code typed into the form. Otherwise a session signed in with a
password alone (say, one older than the user's factor) could mint codes that pass for one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.accounts.recovery_codes import issue_recovery_codes
from authgate.portal.account import signed_in_account
from authgate.portal.forms import csrf_ok, page, read_form, redirect
from authgate.portal.second_factor import proven
from authgate.web.requests import runtime_of
from authgate.web.runtime import Runtime

PATH = "/account/recovery-codes"


def codes_page(
    rt: Runtime, request: Request, codes: list[str], continue_url: str, *, first: bool
) -> Response:
    """The codes, shown this once (every portal page is ``no-store``)."""
    return page(
        rt, request, "recovery_codes.html", codes=codes, continue_url=continue_url, first=first
    )


async def regenerate(request: Request) -> Response:
    rt = runtime_of(request)
    account_url = f"{rt.settings.public_url}/account"
    account = await signed_in_account(rt, request)
    if account is None:
        return redirect(f"{rt.settings.public_url}/login")
    form = await read_form(request)
    if not csrf_ok(rt, request, form):
        return redirect(f"{account_url}?notice=form_expired")
    if not (await rt.store.enrolled_factors(account.user.id)).any:
        return redirect(f"{account_url}?notice=no_factor")
    if not await proven(rt, request, account.session, account.user, form.get("code", "")[:64]):
        return redirect(f"{account_url}?notice=code_wrong")
    codes = await issue_recovery_codes(rt.store, account.user)
    return codes_page(rt, request, codes, f"{account_url}?notice=codes_new", first=False)


ROUTES = [Route(PATH, regenerate, methods=["POST"])]
