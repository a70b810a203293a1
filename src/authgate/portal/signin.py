"""Where every way of signing in ends, so that each factor's page only proves its factor.

- ``portal_session``: the browser's portal session, if any.
- ``first_factor_ok``: a password was right (or a passkey alone, for a user who allows it).
  A user with a second factor enrolled, and any sign-in whose first factor is not enough,
  gets a *pending* sign-in (a signed cookie that lives five minutes) and goes to the
  second-factor step; anyone else gets a portal session at once.
- ``start_session``: a portal session, and the device cookie that names this browser one of
  the user's devices (issued only here, when the sign-in is complete).
- ``subject_of``: whom the second-factor step is for: the pending sign-in, or (a step-up)
  the portal session the browser already has.
- ``second_factor_ok``: a second factor was right: the pending sign-in becomes a portal
  session with both factors, or the portal session records the new factor (its app
  sessions see it on their next check); then on to where the sign-in was going.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from authgate.forward.cookies import set_cookie
from authgate.forward.sessions import SessionRecord
from authgate.portal.cookies import (
    device_cookie,
    device_cookie_name,
    portal_cookie,
    portal_cookie_name,
)
from authgate.portal.forms import redirect
from authgate.signing import PENDING_MAX_AGE
from authgate.storage.store import UserInfo
from authgate.web.requests import PageRequest
from authgate.web.runtime import Runtime

PENDING_COOKIE = "authgate_pending"
SECOND_FACTOR_PATH = "/login/second-factor"


@dataclass(frozen=True)
class Subject:
    """Who the second-factor step is for."""

    user: UserInfo
    amr: tuple[str, ...]  # the factors proved so far
    state: str  # the sign-in's state token ("" for none: the portal's home)
    remember: bool = False
    session: SessionRecord | None = None  # a step-up: the portal session that gains a factor


def pending_cookie_name(rt: Runtime) -> str:
    return ("__Host-" if rt.settings.public_secure else "") + PENDING_COOKIE


def pending_cookie(rt: Runtime, value: str, max_age: int) -> str:
    return set_cookie(
        pending_cookie_name(rt), value, secure=rt.settings.public_secure, max_age=max_age
    )


def after_sign_in(rt: Runtime, state: str) -> str:
    """Where a finished sign-in goes: on to the app it was for, or the portal's home."""
    public = rt.settings.public_url
    return f"{public}/flow/authorize?state={quote(state)}" if state else f"{public}/"


async def portal_session(rt: Runtime, request: Request) -> SessionRecord | None:
    value = PageRequest.read(request, rt.settings).cookie(portal_cookie_name(rt.settings))
    session_id = rt.signing.session.unsign(value) if value else None
    if not session_id:
        return None
    await rt.refresh()
    record = await rt.sessions.get(session_id)
    return record if record is not None and record.kind == "portal" else None


async def first_factor_ok(
    rt: Runtime,
    request: Request,
    user: UserInfo,
    amr: Sequence[str],
    *,
    remember: bool,
    state: str,
    second_factor_needed: bool = False,
) -> Response:
    """A first factor was right: on to the second-factor step when the user has one (or
    ``second_factor_needed``), else a portal session now."""
    enrolled = await rt.store.enrolled_factors(user.id)
    if enrolled.any or second_factor_needed:
        payload = {"u": user.uid, "m": ",".join(amr), "r": "1" if remember else "", "s": state}
        response = redirect(rt.settings.public_url + SECOND_FACTOR_PATH)
        cookie = pending_cookie(rt, rt.signing.pending.dump(payload), PENDING_MAX_AGE)
        response.headers.append("set-cookie", cookie)
        return response
    return await start_session(rt, request, user, amr, remember=remember, state=state)


async def start_session(
    rt: Runtime,
    request: Request,
    user: UserInfo,
    amr: Sequence[str],
    *,
    remember: bool,
    state: str,
) -> Response:
    """A new portal session signed in with ``amr``; its cookie, and on to ``state``."""
    ip = PageRequest.read(request, rt.settings).ip
    lifetime = rt.settings.remember_me_lifetime if remember else rt.settings.session_lifetime
    session_id = await rt.store.create_session(
        user.id,
        kind="portal",
        lifetime=lifetime,
        remember=remember,
        ip=ip,
        user_agent=request.headers.get("user-agent", ""),
        amr=amr,
    )
    await rt.store.audit("login_ok", actor=user.username, ip=ip, detail=json.dumps({"amr": amr}))
    response = redirect(after_sign_in(rt, state))
    signed = rt.signing.session.sign(session_id)
    response.headers.append(
        "set-cookie", portal_cookie(rt.settings, signed, lifetime if remember else None)
    )
    page = PageRequest.read(request, rt.settings)
    if page.cookie(pending_cookie_name(rt)):
        response.headers.append("set-cookie", pending_cookie(rt, "", 0))
    # only a finished sign-in names this browser a device of the user: a right password
    # alone must not buy a fresh device budget for guessing the second factor
    devices = rt.devices.read(page.cookie(device_cookie_name(rt.settings)))
    device = rt.devices.issue(devices, user.uid)
    response.headers.append("set-cookie", device_cookie(rt.settings, device, rt.devices.lifetime))
    return response


async def subject_of(rt: Runtime, request: Request, state: str = "") -> Subject | None:
    """The pending sign-in of this browser, else its portal session (a step-up for
    ``state``), else None: nobody to ask a second factor of."""
    page = PageRequest.read(request, rt.settings)
    value = page.cookie(pending_cookie_name(rt))
    pending = rt.signing.pending.load(value) if value else None
    if pending is not None and {"u", "m", "r", "s"} <= pending.keys():
        user = await rt.store.find_user_by_uid(pending["u"])
        if user is not None and not user.disabled:
            amr = tuple(method for method in pending["m"].split(",") if method)
            return Subject(user, amr, pending["s"], remember=pending["r"] == "1")
    session = await portal_session(rt, request)
    if session is None:
        return None
    user = await rt.store.find_user_by_uid(session.identity.uid)
    if user is None:
        return None
    return Subject(user, session.identity.amr, state, session=session)


async def second_factor_ok(
    rt: Runtime, request: Request, subject: Subject, method: str
) -> Response:
    """``method`` (TOTP, PASSKEY, RECOVERY_CODE) was proved for ``subject``: finish the
    pending sign-in, or record the factor on the portal session (a step-up)."""
    amr = (*subject.amr, *([] if method in subject.amr else [method]))
    if subject.session is None:
        return await start_session(
            rt, request, subject.user, amr, remember=subject.remember, state=subject.state
        )
    session_id = subject.session.identity.session_id
    await rt.store.add_session_factors(session_id, [method])
    rt.sessions.clear()
    ip = PageRequest.read(request, rt.settings).ip
    await rt.store.audit(
        "step_up", actor=subject.user.username, ip=ip, detail=json.dumps({"amr": amr})
    )
    return redirect(after_sign_in(rt, subject.state))
