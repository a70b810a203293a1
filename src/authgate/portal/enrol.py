"""``/account/enrol``: set up a first second factor to go on.

A session without any factor that reaches an app needing MFA is sent here by
``/flow/authorize`` (``?state=`` is that sign-in), and so is a pending sign-in that must end
with a second factor. The page enrols an authenticator app (the passkeys part of the portal
adds its own option through ``enrol_passkey.html``); the confirming code proves the factor,
so the sign-in or step-up finishes through ``second_factor_ok`` and goes on to the app,
after the first recovery codes were shown once. A user who has a factor is sent to the
second-factor step instead: enrolling is no way around it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.accounts.totp import confirm_totp
from authgate.forward.model import TOTP
from authgate.portal.forms import csrf_ok, page, read_form, redirect
from authgate.portal.recovery_codes import codes_page
from authgate.portal.second_factor import ENROL_PATH, state_param, with_state
from authgate.portal.signin import SECOND_FACTOR_PATH, Subject, second_factor_ok, subject_of
from authgate.portal.totp import NOT_RIGHT, enrolment, totp_enrolled
from authgate.web.requests import runtime_of
from authgate.web.runtime import Runtime


def _state(subject: Subject) -> str:
    """The state the page carries: a step-up's (a pending sign-in keeps its own)."""
    return subject.state if subject.session is not None else ""


def _page(
    rt: Runtime,
    request: Request,
    subject: Subject,
    shown: dict[str, object],
    status: int = 200,
    error: str = "",
) -> Response:
    public = rt.settings.public_url
    return page(
        rt,
        request,
        "totp_enrol.html",
        status,
        action=public + ENROL_PATH,
        cancel_url=f"{public}/",
        state=_state(subject),
        enrol_first=True,
        error=error,
        **shown,
    )


async def _subject_and_secret(
    rt: Runtime, request: Request, state: str
) -> tuple[Subject, dict[str, object]] | Response:
    """Whom this enrolment is for, and the secret to show; else where to go instead."""
    public = rt.settings.public_url
    subject = await subject_of(rt, request, state)
    if subject is None:
        return redirect(f"{public}/login")
    shown = None
    if not (await rt.store.enrolled_factors(subject.user.id)).any:
        shown = await enrolment(rt, subject.user)
    if shown is None:  # a factor is there: prove it instead
        return redirect(public + with_state(SECOND_FACTOR_PATH, _state(subject)))
    return subject, shown


async def enrol_form(request: Request) -> Response:
    rt = runtime_of(request)
    found = await _subject_and_secret(rt, request, state_param(request.query_params.get("state")))
    if isinstance(found, Response):
        return found
    return _page(rt, request, *found)


async def enrol_submit(request: Request) -> Response:
    rt = runtime_of(request)
    form = await read_form(request)
    found = await _subject_and_secret(rt, request, state_param(form.get("state")))
    if isinstance(found, Response):
        return found
    subject, shown = found
    if not csrf_ok(rt, request, form):
        return _page(rt, request, subject, shown, 400, "The form expired. Please try again.")
    if not await confirm_totp(rt.store, subject.user, form.get("code", "")):
        return _page(rt, request, subject, shown, 400, NOT_RIGHT)
    codes = await totp_enrolled(rt, request, subject.user)
    done = await second_factor_ok(rt, request, subject, TOTP)
    if not codes:
        return done
    # the codes first, then on to where the sign-in was going (with its cookies set now)
    shown_codes = codes_page(rt, request, codes, done.headers["location"], first=True)
    for cookie in done.headers.getlist("set-cookie"):
        shown_codes.headers.append("set-cookie", cookie)
    return shown_codes


ROUTES = [
    Route(ENROL_PATH, enrol_form, methods=["GET"]),
    Route(ENROL_PATH, enrol_submit, methods=["POST"]),
]
