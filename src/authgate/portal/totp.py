"""An authenticator app (TOTP) on the account page.

- ``GET /account/totp``: the enrolment page: the QR code (SVG, rendered here), the secret
  as text and the ``otpauth://`` URI, and a field for the first code. Until that code is
  right the secret is no factor. The secret is shown only on this page (``no-store``).
- ``POST /account/totp``: the first code confirms it; the session records the factor it
  just proved, and a first set of recovery codes is shown once.
- ``POST /account/totp/remove``: needs a session that proved a second factor or a current
  code; audited. Without any factor left, the recovery codes go too.

A user who has a factor already adds another only from a session that proved one: else a
password-only session (older than the factor) could add its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.accounts.recovery_codes import first_recovery_codes
from authgate.accounts.totp import (
    confirm_totp,
    grouped,
    new_secret,
    provisioning_uri,
    qr_data_uri,
)
from authgate.forward.model import TOTP
from authgate.portal.account import Account, signed_in_account
from authgate.portal.forms import csrf_ok, page, read_form, redirect
from authgate.portal.recovery_codes import codes_page
from authgate.portal.second_factor import proven
from authgate.portal.signin import SECOND_FACTOR_PATH
from authgate.storage.store import UserInfo
from authgate.web.requests import PageRequest, runtime_of
from authgate.web.runtime import Runtime

PATH = "/account/totp"
NOT_RIGHT = "That code is not right. Check that your phone's clock is right and try again."


async def enrolment(rt: Runtime, user: UserInfo) -> dict[str, object] | None:
    """What the enrolment page shows; None when TOTP is on already."""
    secret = await rt.store.begin_totp(user.id, new_secret())
    if secret.confirmed:
        return None
    issuer = urlsplit(rt.settings.public_url).hostname or "authgate"
    uri = provisioning_uri(secret.secret, user.username, issuer)
    return {"secret": grouped(secret.secret), "uri": uri, "qr": qr_data_uri(uri)}


async def totp_enrolled(rt: Runtime, request: Request, user: UserInfo) -> list[str]:
    """Audit a confirmed TOTP secret; the first recovery codes, if the user has none."""
    ip = PageRequest.read(request, rt.settings).ip
    await rt.store.audit("totp_enrolled", actor=user.username, subject=user.username, ip=ip)
    return await first_recovery_codes(rt.store, user)


async def _may_add(rt: Runtime, account: Account) -> bool:
    """A first factor may be added by any session; another only by one that proved one."""
    if account.session.identity.second_factor:
        return True
    return not (await rt.store.enrolled_factors(account.user.id)).any


async def _blocked(rt: Runtime, account: Account) -> Response | None:
    """Where the browser goes instead of enrolling: TOTP is on already, or a step-up first."""
    public = rt.settings.public_url
    if (await rt.store.enrolled_factors(account.user.id)).totp:
        return redirect(f"{public}/account?notice=totp_already_on")
    if not await _may_add(rt, account):
        return redirect(public + SECOND_FACTOR_PATH)  # a step-up first
    return None


def _enrol_page(
    rt: Runtime, request: Request, shown: dict[str, object], status: int = 200, error: str = ""
) -> Response:
    public = rt.settings.public_url
    return page(
        rt,
        request,
        "totp_enrol.html",
        status,
        action=public + PATH,
        cancel_url=f"{public}/account",
        state="",
        enrol_first=False,
        error=error,
        **shown,
    )


async def totp_form(request: Request) -> Response:
    rt = runtime_of(request)
    account = await signed_in_account(rt, request)
    if account is None:
        return redirect(f"{rt.settings.public_url}/login")
    blocked = await _blocked(rt, account)
    if blocked is not None:
        return blocked
    shown = await enrolment(rt, account.user)
    if shown is None:
        return redirect(f"{rt.settings.public_url}/account?notice=totp_already_on")
    return _enrol_page(rt, request, shown)


async def totp_confirm(request: Request) -> Response:
    rt = runtime_of(request)
    public = rt.settings.public_url
    account = await signed_in_account(rt, request)
    if account is None:
        return redirect(f"{public}/login")
    blocked = await _blocked(rt, account)
    if blocked is not None:
        return blocked
    form = await read_form(request)
    shown = await enrolment(rt, account.user)
    if shown is None:
        return redirect(f"{public}/account?notice=totp_already_on")
    if not csrf_ok(rt, request, form):
        return _enrol_page(rt, request, shown, 400, "The form expired. Please try again.")
    if not await confirm_totp(rt.store, account.user, form.get("code", "")):
        return _enrol_page(rt, request, shown, 400, NOT_RIGHT)
    # the code proved the factor: this session has it now (as a step-up would record it)
    await rt.store.add_session_factors(account.session.identity.session_id, [TOTP])
    rt.sessions.clear()
    codes = await totp_enrolled(rt, request, account.user)
    done = f"{public}/account?notice=totp_on"
    return codes_page(rt, request, codes, done, first=True) if codes else redirect(done)


async def totp_remove(request: Request) -> Response:
    rt = runtime_of(request)
    public = rt.settings.public_url
    account = await signed_in_account(rt, request)
    if account is None:
        return redirect(f"{public}/login")
    form = await read_form(request)
    if not csrf_ok(rt, request, form):
        return redirect(f"{public}/account?notice=form_expired")
    user = account.user
    if not (await rt.store.enrolled_factors(user.id)).totp:
        return redirect(f"{public}/account")
    if not await proven(rt, request, account.session, user, form.get("code", "")[:64]):
        return redirect(f"{public}/account?notice=code_wrong")
    await rt.store.remove_totp(user.id)
    if not (await rt.store.enrolled_factors(user.id)).any:
        await rt.store.remove_recovery_codes(user.id)  # no factor left for them to stand in for
    ip = PageRequest.read(request, rt.settings).ip
    await rt.store.audit("totp_removed", actor=user.username, subject=user.username, ip=ip)
    return redirect(f"{public}/account?notice=totp_off")


ROUTES = [
    Route(PATH, totp_form, methods=["GET"]),
    Route(PATH, totp_confirm, methods=["POST"]),
    Route(PATH + "/remove", totp_remove, methods=["POST"]),
]
