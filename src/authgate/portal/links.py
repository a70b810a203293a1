"""``/account/link/<token>``: where an invited person, or one given a reset link, chooses a
password (see ``accounts.links``).

Every link that does not work (unknown, malformed, used, expired, ended by a newer one, its
user disabled) gets the same 410 page, so the page tells nobody more than "valid or not".
A posted password must be given twice and pass ``password_problem``; the link is claimed
atomically when it is set (of two parallel posts one wins, the other sees the 410 page).

Afterwards:

- a user with a second factor enrolled goes to the login page: the link replaces the
  password, never the second factor;
- anyone else is signed in with the password (amr ``pwd``) and goes to the portal's home,
  or, when a second factor is required of them, to ``ENROL_PATH`` to enrol one first.
  Required means AUTHGATE_REQUIRE_MFA is on, or an app that needs a second factor admits
  the user by its bindings (an app without bindings admits every signed-in user); its
  path rules are not judged here, the check will judge them when the user gets there.

A portal session this browser still had (someone else's, on a shared computer) is ended.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.accounts.links import LINK_PATH, set_password_by_link
from authgate.accounts.mail import format_expiry
from authgate.accounts.password_rules import MIN_LENGTH, password_problem
from authgate.forward.model import PASSWORD, Identity
from authgate.forward.policy import is_bound
from authgate.portal.cookies import portal_cookie
from authgate.portal.forms import csrf_ok, page, read_form, redirect
from authgate.portal.signin import portal_session, start_session
from authgate.storage.store import AccountLink, UserInfo
from authgate.storage.store.links import INVITE
from authgate.web.requests import PageRequest, runtime_of
from authgate.web.runtime import Runtime

ENROL_PATH = "/account/enrol"  # the enrol-first page of the second-factor section
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
FORM_EXPIRED = "The form expired. Please try again."
MISMATCH = "The two passwords differ. Type the same password twice."


def _gone(rt: Runtime) -> Response:
    """The one answer for every link that does not work."""
    return rt.pages.error(
        410,
        "This link is no longer valid",
        "Ask your administrator for a new one.",
        hint="A link works once, for 24 hours, and a newer link replaces it.",
    )


def _form(
    rt: Runtime, request: Request, token: str, link: AccountLink, status: int = 200, error: str = ""
) -> Response:
    invite = link.purpose == INVITE
    return page(
        rt,
        request,
        "account_link.html",
        status,
        heading="Choose your password" if invite else "Choose a new password",
        invite=invite,
        username=link.username,
        action=f"{rt.settings.public_url}{LINK_PATH}{token}",
        min_length=MIN_LENGTH,
        expires=format_expiry(link.expires_at),
        error=error,
    )


async def _working_link(rt: Runtime, token: str) -> AccountLink | None:
    return await rt.store.find_link(token) if TOKEN.fullmatch(token) else None


async def link_form(request: Request) -> Response:
    rt = runtime_of(request)
    token = request.path_params["token"]
    link = await _working_link(rt, token)
    return _gone(rt) if link is None else _form(rt, request, token, link)


async def link_submit(request: Request) -> Response:
    rt = runtime_of(request)
    token = request.path_params["token"]
    link = await _working_link(rt, token)
    if link is None:
        return _gone(rt)
    form = await read_form(request)
    if not csrf_ok(rt, request, form):
        return _form(rt, request, token, link, 400, FORM_EXPIRED)
    password = form.get("password", "")
    if password != form.get("confirm", ""):
        return _form(rt, request, token, link, 400, MISMATCH)
    problem = password_problem(password, link.username)
    if problem:
        return _form(rt, request, token, link, 400, problem)
    ip = PageRequest.read(request, rt.settings).ip
    user = await set_password_by_link(rt.store, rt.login.counters, token, password, ip)
    if user is None:  # a parallel post used it a moment ago
        return _gone(rt)
    rt.sessions.clear()  # the user's sessions have ended: no cached one may answer
    await _end_browser_session(rt, request)
    return await _onward(rt, request, user)


async def _end_browser_session(rt: Runtime, request: Request) -> None:
    session = await portal_session(rt, request)
    if session is not None:
        rt.sessions.drop(await rt.store.revoke_family(session.identity.session_id))


async def _onward(rt: Runtime, request: Request, user: UserInfo) -> Response:
    """The password is set: to the login page, or signed in to the home or the enrol page."""
    public = rt.settings.public_url
    if (await rt.store.enrolled_factors(user.id)).any:
        to_login = redirect(f"{public}/login")
        to_login.headers.append("set-cookie", portal_cookie(rt.settings, "", 0))
        return to_login
    response = await start_session(rt, request, user, (PASSWORD,), remember=False, state="")
    if await second_factor_required(rt, user):
        response.headers["location"] = f"{public}{ENROL_PATH}"
    return response


async def second_factor_required(rt: Runtime, user: UserInfo) -> bool:
    """AUTHGATE_REQUIRE_MFA, or an app that needs a second factor admits ``user`` by its
    bindings."""
    if rt.settings.require_mfa:
        return True
    await rt.refresh()
    identity = Identity.of_account(user, "")
    return any(app.needs_mfa and is_bound(app, identity) for app in rt.index.apps.values())


ROUTES = [
    Route(LINK_PATH + "{token}", link_form, methods=["GET"]),
    Route(LINK_PATH + "{token}", link_submit, methods=["POST"]),
]
