"""Portal pages. ``/flow/authorize`` is the hinge of cross-domain SSO: with a portal session
it re-judges the target URL with the app's policy and either shows the deny page, asks for
the second factor the app needs (step-up: no password again), or hands the app's callback a
one-time code; without one it shows the login form first."""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from authgate.accounts.hashing import HashingBusy
from authgate.accounts.login import FAILED, Attempt
from authgate.forward.decision import Challenge, Deny, decision_line
from authgate.forward.model import PASSWORD, AppView
from authgate.forward.policy import CookieState, decide
from authgate.forward.request import BadRequest, ForwardRequest
from authgate.forward.sessions import SessionRecord
from authgate.portal.cookies import device_cookie_name, portal_cookie
from authgate.portal.forms import csrf_ok, page, read_form, redirect, with_csrf
from authgate.portal.launcher import home
from authgate.portal.second_factor import step_up
from authgate.portal.signin import first_factor_ok, portal_session
from authgate.web.audit import decision_event
from authgate.web.requests import PageRequest, runtime_of
from authgate.web.runtime import Runtime

log = logging.getLogger("authgate.portal")


def _login_page(
    rt: Runtime, request: Request, state: str, status: int = 200, **ctx: object
) -> Response:
    app = _state_app(rt, state)
    action = f"{rt.settings.public_url}/login"
    app_name = app.name if app else ""
    return page(
        rt, request, "login.html", status, action=action, state=state, app_name=app_name, **ctx
    )


def _busy_page(rt: Runtime, request: Request, state: str, username: str, seconds: int) -> Response:
    """Too many sign-ins are being checked right now: nothing was counted, try again."""
    message = f"Too many people are signing in right now. Please try again in {seconds} seconds."
    answer = _login_page(rt, request, state, 503, username=username, error=message)
    answer.headers["retry-after"] = str(seconds)
    return answer


def _throttled_page(
    rt: Runtime, request: Request, state: str, username: str, seconds: int
) -> Response:
    """The client address must wait: says nothing of the account it tried."""
    message = f"Too many failed sign-ins from your network. Try again in {seconds} seconds."
    answer = _login_page(rt, request, state, 429, username=username, error=message)
    answer.headers["retry-after"] = str(seconds)
    return answer


async def login_form(request: Request) -> Response:
    rt = runtime_of(request)
    state = request.query_params.get("state", "")
    if await portal_session(rt, request) is not None and state:
        return redirect(f"{rt.settings.public_url}/flow/authorize?state={quote(state)}")
    return _login_page(rt, request, state)


async def login_submit(request: Request) -> Response:
    rt = runtime_of(request)
    form = await read_form(request)
    state = form.get("state", "")
    typed = form.get("username", "")[:1024]
    username = typed[:150]
    if not csrf_ok(rt, request, form):
        return _login_page(rt, request, state, 400, error="The form expired. Please try again.")
    page = PageRequest.read(request, rt.settings)
    ip = page.ip
    devices = rt.devices.read(page.cookie(device_cookie_name(rt.settings)))
    attempt = Attempt(typed, form.get("password", "")[:1024], ip, devices)
    try:
        outcome = await rt.login.sign_in(attempt)
    except HashingBusy as busy:
        return _busy_page(rt, request, state, username, busy.retry_after)
    if outcome.retry_after:
        return _throttled_page(rt, request, state, username, outcome.retry_after)
    user = outcome.user
    if user is None:
        await rt.store.audit("login_failed", actor=username, ip=ip)
        return _login_page(rt, request, state, 401, username=username, error=FAILED)
    remember = form.get("remember") == "1"
    return await first_factor_ok(rt, request, user, (PASSWORD,), remember=remember, state=state)


async def authorize(request: Request) -> Response:
    rt = runtime_of(request)
    state_token = request.query_params.get("state", "")
    state = rt.signing.state.load(state_token)
    await rt.refresh()
    app = rt.index.apps.get(state["a"]) if state else None
    if state is None or app is None:
        return with_csrf(rt, request, lambda token: _expired_link(rt, token), 400)
    session = await portal_session(rt, request)
    if session is None:
        return redirect(f"{rt.settings.public_url}/login?state={quote(state_token)}")
    trace: list[str] = []
    ip = PageRequest.read(request, rt.settings).ip
    decision = _judge_target(rt, app, state["rd"], ip, session, trace)
    if isinstance(decision, Deny):
        return await _refuse(rt, request, decision, state["rd"], ip, trace)
    if isinstance(decision, Challenge):  # the app needs a second factor this session lacks
        return await step_up(rt, session, state_token)
    code = await rt.store.create_code(session.identity.session_id, app.id, state["n"])
    callback = f"{state['o']}{rt.settings.outpost_prefix}/callback"
    return redirect(f"{callback}?code={quote(code)}&state={quote(state_token)}")


def _expired_link(rt: Runtime, csrf_token: str) -> str:
    message = "Open the app again to start a new sign-in."
    return rt.pages.error_body(400, "This sign-in link expired", message, csrf_token=csrf_token)


async def _refuse(
    rt: Runtime, request: Request, decision: Deny, target: str, ip: str, trace: list[str]
) -> Response:
    """The check would refuse ``target``: log and audit the decision, show the deny page."""
    log.info(decision_line("portal", decision, target[:300], 403))
    event = decision_event(decision, dialect="portal", subject=target, ip=ip, trace=trace)
    await rt.store.audit(**event)
    return with_csrf(rt, request, lambda token: rt.pages.deny_body(decision, token), 403)


async def logout_form(request: Request) -> Response:
    rt = runtime_of(request)
    return page(rt, request, "logout.html", logout_action=f"{rt.settings.public_url}/logout")


async def logout_submit(request: Request) -> Response:
    rt = runtime_of(request)
    public = rt.settings.public_url
    form = await read_form(request)
    if not csrf_ok(rt, request, form):
        return redirect(f"{public}/logout")
    session = await portal_session(rt, request)
    if session is not None:
        ended = await rt.store.revoke_family(session.identity.session_id)
        rt.sessions.drop(ended)
        ip = PageRequest.read(request, rt.settings).ip
        await rt.store.audit("logout", actor=session.identity.username, ip=ip)
    after = f"{public}/login" if request.url.path.endswith("/switch") else f"{public}/signed-out"
    response = redirect(after)
    response.headers.append("set-cookie", portal_cookie(rt.settings, "", 0))
    return response


async def signed_out(request: Request) -> Response:
    rt = runtime_of(request)
    return page(rt, request, "signed_out.html", login_url=f"{rt.settings.public_url}/login")


async def jwks(request: Request) -> Response:
    """Every key whose tokens may still be alive, the signing key first; nothing (503) before
    the keys are loaded."""
    rt = runtime_of(request)
    if not rt.keys_loaded:
        return JSONResponse({"error": "the signing keys are not loaded yet"}, 503)
    return JSONResponse(rt.tokens.jwks, headers={"cache-control": "max-age=300"})


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/flow/authorize", authorize, methods=["GET"]),
    Route("/logout", logout_form, methods=["GET"]),
    Route("/logout", logout_submit, methods=["POST"]),
    Route("/switch", logout_submit, methods=["POST"]),
    Route("/signed-out", signed_out, methods=["GET"]),
]


def _state_app(rt: Runtime, state: str) -> AppView | None:
    payload = rt.signing.state.load(state) if state else None
    return rt.index.apps.get(payload["a"]) if payload else None


def _judge_target(
    rt: Runtime, app: AppView, target: str, ip: str, session: SessionRecord, trace: list[str]
) -> Deny | Challenge | None:
    """The same judgement the check will make for ``target``: never issue a code for a URL
    the check would refuse or send back to login (that is a redirect loop). A Challenge
    here means the app needs a second factor the portal session has not proved."""
    try:
        # authentik's query markers are the check's to follow: only the rules are judged here
        request = ForwardRequest.from_url(target, "GET", ip, can_redirect=False)
    except BadRequest as exc:
        trace.append(f"target URL cannot be judged: {exc.reason}")
        return Deny(app, session.identity, f"target URL cannot be judged: {exc.reason}", "")
    prefix = rt.settings.outpost_prefix
    decision = decide(app, request, session.identity, CookieState.VALID, trace, prefix=prefix)
    return decision if isinstance(decision, Deny | Challenge) else None
