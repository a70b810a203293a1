"""Portal pages. ``/flow/authorize`` is the hinge of cross-domain SSO: with a portal session
it re-judges the target URL with the app's policy and either shows the deny page or hands the
app's callback a one-time code; without one it shows the login form first."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from authgate.accounts.login import FAILED, Attempt
from authgate.forward.cookies import read_cookie
from authgate.forward.decision import Deny, decision_line
from authgate.forward.model import AppView
from authgate.forward.policy import CookieState, decide
from authgate.forward.request import BadRequest, ForwardRequest
from authgate.forward.sessions import SessionRecord
from authgate.portal.cookies import (
    csrf_cookie,
    csrf_cookie_name,
    device_cookie,
    device_cookie_name,
    portal_cookie,
    portal_cookie_name,
)
from authgate.web.pages import html_page
from authgate.web.requests import request_ip
from authgate.web.runtime import Runtime

FORM_LIMIT = 8192
log = logging.getLogger("authgate.portal")


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"cache-control": "no-store"})


async def portal_session(rt: Runtime, request: Request) -> SessionRecord | None:
    value = read_cookie(request.headers.get("cookie", ""), portal_cookie_name(rt.settings))
    session_id = rt.session_signer.unsign(value) if value else None
    if not session_id:
        return None
    await rt.refresh()
    record = await rt.sessions.get(session_id)
    return record if record is not None and record.kind == "portal" else None


def _csrf(rt: Runtime, request: Request) -> tuple[str, str | None]:
    """(token for the form, Set-Cookie for a new seed or None)."""
    seed = read_cookie(request.headers.get("cookie", ""), csrf_cookie_name(rt.settings))
    if seed and len(seed) < 100:
        return rt.csrf_token(seed), None
    seed = secrets.token_urlsafe(24)
    return rt.csrf_token(seed), csrf_cookie(rt.settings, seed)


def _page(
    rt: Runtime, request: Request, template: str, http_status: int = 200, **ctx: object
) -> Response:
    token, new_cookie = _csrf(rt, request)
    response = html_page(rt, rt.render(template, csrf_token=token, **ctx), http_status)
    if new_cookie:
        response.headers.append("set-cookie", new_cookie)
    return response


async def _form(request: Request) -> dict[str, str]:
    if int(request.headers.get("content-length") or 0) > FORM_LIMIT:
        return {}
    form = await request.form(max_files=0, max_fields=20)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _csrf_ok(rt: Runtime, request: Request, form: dict[str, str]) -> bool:
    seed = read_cookie(request.headers.get("cookie", ""), csrf_cookie_name(rt.settings))
    return rt.csrf_ok(seed, form.get("csrf_token"))


def routes(rt: Runtime) -> list[Route]:
    public = rt.settings.public_url

    def login_page(request: Request, state: str, status: int = 200, **ctx: object) -> Response:
        app = _state_app(rt, state)
        return _page(
            rt,
            request,
            "login.html",
            status,
            action=f"{public}/login",
            state=state,
            app_name=app.name if app else "",
            **ctx,
        )

    def throttled_page(request: Request, state: str, username: str, seconds: int) -> Response:
        """The client address must wait: says nothing of the account it tried."""
        message = f"Too many failed sign-ins from your network. Try again in {seconds} seconds."
        page = login_page(request, state, 429, username=username, error=message)
        page.headers["retry-after"] = str(seconds)
        return page

    async def home(request: Request) -> Response:
        session = await portal_session(rt, request)
        if session is None:
            return _redirect(f"{public}/login")
        user = await rt.store.find_user(session.identity.username)
        expires = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return _page(
            rt,
            request,
            "signed_in.html",
            user=user,
            session_expires=expires,
            logout_action=f"{public}/logout",
        )

    async def login_form(request: Request) -> Response:
        state = request.query_params.get("state", "")
        if await portal_session(rt, request) is not None and state:
            return _redirect(f"{public}/flow/authorize?state={quote(state)}")
        return login_page(request, state)

    async def login_submit(request: Request) -> Response:
        form = await _form(request)
        state = form.get("state", "")
        typed = form.get("username", "")[:1024]
        username = typed[:150]
        cookie_header = request.headers.get("cookie", "")
        if not _csrf_ok(rt, request, form):
            return login_page(request, state, 400, error="The form expired. Please try again.")
        ip = request_ip(request, rt.settings)
        devices = rt.devices.read(read_cookie(cookie_header, device_cookie_name(rt.settings)))
        attempt = Attempt(typed, form.get("password", "")[:1024], ip, devices)
        outcome = await rt.login.sign_in(attempt)
        if outcome.retry_after:
            return throttled_page(request, state, username, outcome.retry_after)
        user = outcome.user
        if user is None:
            await rt.store.audit("login_failed", actor=username, ip=ip)
            return login_page(request, state, 401, username=username, error=FAILED)
        remember = form.get("remember") == "1"
        lifetime = rt.settings.remember_me_lifetime if remember else rt.settings.session_lifetime
        session_id = await rt.store.create_session(
            user.id,
            kind="portal",
            lifetime=lifetime,
            remember=remember,
            ip=ip,
            user_agent=request.headers.get("user-agent", ""),
        )
        await rt.store.audit("login_ok", actor=user.username, ip=ip)
        target = f"{public}/flow/authorize?state={quote(state)}" if state else f"{public}/"
        response = _redirect(target)
        cookie_age = lifetime if remember else None
        response.headers.append(
            "set-cookie", portal_cookie(rt.settings, rt.session_signer.sign(session_id), cookie_age)
        )
        device = rt.devices.issue(devices, user.uid)
        response.headers.append(
            "set-cookie", device_cookie(rt.settings, device, rt.devices.lifetime)
        )
        return response

    async def authorize(request: Request) -> Response:
        state_token = request.query_params.get("state", "")
        state = rt.load_state(state_token)
        await rt.refresh()
        app = rt.index.apps.get(state["a"]) if state else None
        if state is None or app is None:
            return _page(
                rt,
                request,
                "error.html",
                400,
                status=400,
                title="This sign-in link expired",
                message="Open the app again to start a new sign-in.",
            )
        session = await portal_session(rt, request)
        if session is None:
            return _redirect(f"{public}/login?state={quote(state_token)}")
        trace: list[str] = []
        ip = request_ip(request, rt.settings)
        decision = _judge_target(rt, app, state["rd"], ip, session, trace)
        if isinstance(decision, Deny):
            log.info(decision_line("portal", decision, state["rd"][:300], 403))
            await rt.store.audit(
                "access_denied",
                actor=session.identity.username,
                app=app.slug,
                subject=state["rd"][:300],
                ip=ip,
                decision_id=decision.decision_id,
                detail=json.dumps({"dialect": "portal", "reason": decision.reason, "trace": trace}),
            )
            return _page(
                rt,
                request,
                "denied.html",
                403,
                username=session.identity.username,
                app_name=app.name,
                needs=decision.needs or "a rule that allows you",
                reason=decision.reason,
                decision_id=decision.decision_id,
                switch_action=f"{public}/switch",
                home_url=f"{public}/",
            )
        code = await rt.store.create_code(session.identity.session_id, app.id, state["n"])
        callback = f"{state['o']}{rt.settings.outpost_prefix}/callback"
        return _redirect(f"{callback}?code={quote(code)}&state={quote(state_token)}")

    async def logout_form(request: Request) -> Response:
        return _page(rt, request, "logout.html", logout_action=f"{public}/logout")

    async def logout_submit(request: Request) -> Response:
        form = await _form(request)
        if not _csrf_ok(rt, request, form):
            return _redirect(f"{public}/logout")
        session = await portal_session(rt, request)
        if session is not None:
            ended = await rt.store.revoke_family(session.identity.session_id)
            rt.sessions.drop(ended)
            await rt.store.audit(
                "logout", actor=session.identity.username, ip=request_ip(request, rt.settings)
            )
        after = (
            f"{public}/login" if request.url.path.endswith("/switch") else f"{public}/signed-out"
        )
        response = _redirect(after)
        response.headers.append("set-cookie", portal_cookie(rt.settings, "", 0))
        return response

    async def signed_out(request: Request) -> Response:
        return _page(rt, request, "signed_out.html", login_url=f"{public}/login")

    async def jwks(request: Request) -> Response:
        return JSONResponse(rt.tokens.jwks, headers={"cache-control": "max-age=300"})

    return [
        Route("/", home, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/favicon.ico", lambda request: Response(status_code=204), methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/flow/authorize", authorize, methods=["GET"]),
        Route("/logout", logout_form, methods=["GET"]),
        Route("/logout", logout_submit, methods=["POST"]),
        Route("/switch", logout_submit, methods=["POST"]),
        Route("/signed-out", signed_out, methods=["GET"]),
    ]


def _state_app(rt: Runtime, state: str) -> AppView | None:
    payload = rt.load_state(state) if state else None
    return rt.index.apps.get(payload["a"]) if payload else None


def _judge_target(
    rt: Runtime, app: AppView, target: str, ip: str, session: SessionRecord, trace: list[str]
) -> Deny | None:
    """The same judgement the check will make for ``target``: never issue a code for a URL
    the check would refuse (that is a redirect loop)."""
    try:
        # authentik's query markers are the check's to follow: only the rules are judged here
        request = ForwardRequest.from_url(target, "GET", ip, can_redirect=False)
    except BadRequest as exc:
        trace.append(f"target URL cannot be judged: {exc.reason}")
        return Deny(app, session.identity, f"target URL cannot be judged: {exc.reason}", "")
    prefix = rt.settings.outpost_prefix
    decision = decide(app, request, session.identity, CookieState.VALID, trace, prefix=prefix)
    return decision if isinstance(decision, Deny) else None
