"""``/login/second-factor``: the step after a right password (a pending sign-in), and the
step-up of a signed-in session that an app needing MFA sent back (``?state=``).

The page asks for a code of the authenticator app, or a recovery code instead; a passkey,
where the passkeys part of the portal provides one, through ``second_factor_passkey.html``.
Every code is judged by ``rt.login.second_factor``: counted on the account's login
counters before it is checked, so six digits cannot be guessed, and a locked account fails
the same way a wrong code does (as at login). A right code ends in ``second_factor_ok``.

``step_up`` is where ``/flow/authorize`` sends a session that lacks the second factor an app
needs: here when the user has a factor, else to ``/account/enrol`` to set one up first.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.accounts.login import Outcome
from authgate.accounts.recovery_codes import use_recovery_code
from authgate.accounts.totp import use_totp_code
from authgate.forward.model import RECOVERY_CODE, TOTP
from authgate.forward.sessions import SessionRecord
from authgate.portal.cookies import device_cookie_name
from authgate.portal.forms import csrf_ok, page, read_form, redirect
from authgate.portal.signin import (
    SECOND_FACTOR_PATH,
    Subject,
    after_sign_in,
    second_factor_ok,
    subject_of,
)
from authgate.storage.store import UserInfo
from authgate.web.requests import PageRequest, runtime_of
from authgate.web.runtime import Runtime

ENROL_PATH = "/account/enrol"
WRONG_CODE = "That code is not right, or was used already. Try again."
STATE_LIMIT = 4096
RECOVERY = "recovery"


def state_param(value: str | None) -> str:
    """The ``state`` a step-up carries; /flow/authorize judges it, so it is only bounded."""
    return value if value and len(value) <= STATE_LIMIT else ""


def with_state(path: str, state: str) -> str:
    return f"{path}?state={quote(state)}" if state else path


async def step_up(rt: Runtime, session: SessionRecord, state: str) -> Response:
    """A portal session without a second factor reached an app that needs one."""
    enrolled = await rt.store.enrolled_factors(session.identity.user_id)
    path = SECOND_FACTOR_PATH if enrolled.any else ENROL_PATH
    return redirect(rt.settings.public_url + with_state(path, state))


def _page(
    rt: Runtime, request: Request, subject: Subject, use: str, status: int = 200, **ctx: object
) -> Response:
    public = rt.settings.public_url
    state = subject.state if subject.session is not None else ""
    here = public + SECOND_FACTOR_PATH
    recovery_url = f"{here}?use={RECOVERY}" + (f"&state={quote(state)}" if state else "")
    return page(
        rt,
        request,
        "second_factor.html",
        status,
        action=here,
        state=state,
        use=use,
        username=subject.user.username,
        step_up=subject.session is not None,
        recovery_url=recovery_url,
        code_url=with_state(here, state),
        login_url=f"{public}/login",
        **ctx,
    )


async def _ready(rt: Runtime, subject: Subject) -> Response | None:
    """Where the browser goes instead of the form: on (a step-up that has a second factor
    already), or to enrol one (a user without any)."""
    if subject.session is not None and subject.session.identity.second_factor:
        return redirect(after_sign_in(rt, subject.state))
    if not (await rt.store.enrolled_factors(subject.user.id)).any:
        state = subject.state if subject.session is not None else ""
        return redirect(rt.settings.public_url + with_state(ENROL_PATH, state))
    return None


async def second_factor_form(request: Request) -> Response:
    rt = runtime_of(request)
    subject = await subject_of(rt, request, state_param(request.query_params.get("state")))
    if subject is None:
        return redirect(f"{rt.settings.public_url}/login")
    elsewhere = await _ready(rt, subject)
    if elsewhere is not None:
        return elsewhere
    use = (
        RECOVERY if request.query_params.get("use") == RECOVERY else await _default_use(rt, subject)
    )
    return _page(rt, request, subject, use)


async def _default_use(rt: Runtime, subject: Subject) -> str:
    """The TOTP form when the user has TOTP; else (passkeys only) the recovery code form
    stays out of the way until asked for."""
    return "totp" if (await rt.store.enrolled_factors(subject.user.id)).totp else ""


async def second_factor_submit(request: Request) -> Response:
    rt = runtime_of(request)
    form = await read_form(request)
    subject = await subject_of(rt, request, state_param(form.get("state")))
    if subject is None:
        return redirect(f"{rt.settings.public_url}/login")
    use = RECOVERY if form.get("use") == RECOVERY else "totp"
    if not csrf_ok(rt, request, form):
        return _page(rt, request, subject, use, 400, error="The form expired. Please try again.")
    elsewhere = await _ready(rt, subject)
    if elsewhere is not None:
        return elsewhere
    typed = form.get("code", "")[:64]
    outcome = await judge_code(rt, request, subject.user, typed, use)
    if outcome.retry_after:
        message = (
            "Too many failed sign-ins from your network. "
            f"Try again in {outcome.retry_after} seconds."
        )
        answer = _page(rt, request, subject, use, 429, error=message)
        answer.headers["retry-after"] = str(outcome.retry_after)
        return answer
    if outcome.user is None:
        await rt.store.audit(
            "second_factor_failed",
            actor=subject.user.username,
            ip=PageRequest.read(request, rt.settings).ip,
            detail=use,
        )
        return _page(rt, request, subject, use, 401, error=WRONG_CODE)
    return await second_factor_ok(rt, request, subject, RECOVERY_CODE if use == RECOVERY else TOTP)


async def judge_code(
    rt: Runtime, request: Request, user: UserInfo, typed: str, use: str = "totp"
) -> Outcome:
    """A TOTP code (or, with ``use="recovery"``, a recovery code) of ``user``, judged on the
    login counters; ``Outcome.user`` is set when it was right."""
    reader = PageRequest.read(request, rt.settings)
    devices = rt.devices.read(reader.cookie(device_cookie_name(rt.settings)))

    async def proof(admitted: UserInfo | None) -> bool:
        if admitted is None:
            return False
        if use == RECOVERY:
            return await use_recovery_code(rt.store, admitted, typed, reader.ip)
        return await use_totp_code(rt.store, admitted, typed)

    return await rt.login.second_factor(user, reader.ip, devices, proof)


async def proven(
    rt: Runtime, request: Request, session: SessionRecord, user: UserInfo, typed: str
) -> bool:
    """May this session change the user's second factors? When it proved one at sign-in (or
    a step-up), or ``typed`` is a right TOTP code now (judged on the login counters)."""
    if session.identity.second_factor:
        return True
    return bool(typed) and (await judge_code(rt, request, user, typed)).user is not None


ROUTES = [
    Route(SECOND_FACTOR_PATH, second_factor_form, methods=["GET"]),
    Route(SECOND_FACTOR_PATH, second_factor_submit, methods=["POST"]),
]
