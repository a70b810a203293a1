"""``<prefix>/start``, ``/callback``, ``/sign_out`` and ``/ping`` on every app's host.

start:    remember the target, set a state nonce cookie on the app host, go to the portal.
callback: a one-time code from the portal + the matching nonce -> an app session cookie.
sign_out: end the portal session and every app session that came from it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from authgate.flow.rd import rd_from_query
from authgate.forward.cookies import (
    STATE_COOKIE,
    app_cookie,
    app_cookie_name,
    expire_app_cookie,
    set_cookie,
)
from authgate.forward.model import AppView
from authgate.forward.redirects import app_owns_host, judge_redirect, safe_redirect, start_url
from authgate.web.requests import PageRequest, runtime_of
from authgate.web.runtime import Runtime

log = logging.getLogger("authgate.flow")


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=302)
    response.headers["cache-control"] = "no-store"
    return response


async def _app_for(rt: Runtime, page: PageRequest) -> tuple[AppView | None, str]:
    await rt.refresh()
    host = page.host
    if host is None:
        return None, page.headers.get("host") or ""
    return rt.index.lookup(host), host


def _not_found(rt: Runtime, host: str) -> Response:
    conflict = rt.index.resolve(host) if host else None
    if conflict is not None and not isinstance(conflict, AppView):
        log.error("sign-in refused on %s: %s. Fix: %s", host, conflict.reason, conflict.fix)
        message = "More than one app is registered for this address, so no one can sign in here."
        hint = "An administrator can see which in the server log or with authgate doctor."
        return rt.pages.error(503, "This address is not configured", message, hint)
    return rt.pages.html(rt.pages.unknown_host_body(host), 404)


def _state_cookie(rt: Runtime, app: AppView, name: str, value: str, max_age: int) -> str:
    path = f"{rt.settings.outpost_prefix}/"
    return set_cookie(name, value, secure=app.secure, max_age=max_age, path=path)


async def start(request: Request) -> Response:
    rt = runtime_of(request)
    page = PageRequest.read(request, rt.settings)
    app, host = await _app_for(rt, page)
    if app is None:
        return _not_found(rt, host)
    target = safe_redirect(rd_from_query(request.scope["query_string"].decode("latin-1")), app)
    origin_host = host if app_owns_host(app, host) else app.host
    if not page.browser:
        # A script or asset followed the proxy's redirect here (nginx can only say 401):
        # tell it to log in, and leave the login state alone for the page's own flow.
        back = judge_redirect(request.headers.get("referer"), app) or f"{app.origin}/"
        return JSONResponse(
            {
                "error": "login required",
                "login_url": start_url(app, origin_host, rt.settings.outpost_prefix, back),
            },
            status_code=401,
            headers={"cache-control": "no-store"},
        )
    nonce = secrets.token_urlsafe(16)
    state = rt.signing.state.dump(
        {"a": app.slug, "rd": target, "n": nonce, "o": f"{app.scheme}://{origin_host}"}
    )
    response = _redirect(f"{rt.settings.public_url}/flow/authorize?state={state}")
    # One cookie per sign-in, named by its nonce: logins started in parallel (several
    # tabs, a page and its assets behind nginx) never overwrite each other's.
    nonce_state = rt.signing.state.dump({"n": nonce})
    max_age = rt.signing.state.max_age
    response.headers.append(
        "set-cookie", _state_cookie(rt, app, state_cookie_name(nonce), nonce_state, max_age)
    )
    return response


async def callback(request: Request) -> Response:
    rt = runtime_of(request)
    page = PageRequest.read(request, rt.settings)
    app, host = await _app_for(rt, page)
    if app is None:
        return _not_found(rt, host)
    state = rt.signing.state.load(request.query_params.get("state", ""))
    name = state_cookie_name(state.get("n", "")) if state else ""
    cookie = page.cookie(name) if name else None
    nonce = (rt.signing.state.load(cookie) or {}).get("n", "") if cookie else ""
    code = request.query_params.get("code", "")
    problem = _callback_problem(state, nonce, app, host)
    consumed = await rt.store.consume_code(code) if code and problem is None else None
    if problem is None and consumed is None:
        problem = "the sign-in code is unknown, expired or already used"
    if problem is None and consumed is not None and state is not None:
        portal_id, app_id, code_nonce = consumed
        if app_id != app.id or not hmac.compare_digest(code_nonce, state["n"]):
            problem = "the sign-in code was issued for another app or browser"
        else:
            response = await _finish_login(rt, request, page, app, portal_id, state["rd"])
            response.headers.append("set-cookie", _state_cookie(rt, app, name, "", 0))
            return response
    log.info("callback refused on %s: %s", host, problem)
    return rt.pages.error(
        400,
        "This sign-in link cannot be used",
        f"{problem}.",
        hint=f"Open {app.external_url} to start again.",
    )


async def sign_out(request: Request) -> Response:
    rt = runtime_of(request)
    page = PageRequest.read(request, rt.settings)
    app, _ = await _app_for(rt, page)
    response = _redirect(f"{rt.settings.public_url}/signed-out")
    if app is None:
        return response
    value = page.cookie(app_cookie_name(app))
    session_id = rt.signing.session.unsign(value) if value else None
    if session_id and not await _sign_out_confirmed(rt, request, session_id):
        # Another site sent the browser here (a link, an image): ask first, so that a
        # page elsewhere cannot sign people out. The app's own links go straight through.
        return rt.pages.html(
            rt.pages.render(
                "logout.html",
                logout_action=str(request.url),
                csrf_token=rt.signing.csrf.token("sign_out:" + session_id),
            )
        )
    if session_id:
        ended = await rt.store.revoke_family(session_id)
        rt.sessions.drop(ended)
        await rt.store.audit("logout", app=app.slug, ip=page.ip, detail="sign_out")
    response.headers.append("set-cookie", expire_app_cookie(app))
    return response


async def ping(request: Request) -> Response:
    return PlainTextResponse("pong\n")


ROUTES = [
    Route("/start", start, methods=["GET"]),
    Route("/callback", callback, methods=["GET"]),
    Route("/sign_out", sign_out, methods=["GET", "POST"]),
    Route("/ping", ping, methods=["GET", "HEAD"]),
]


async def _sign_out_confirmed(rt: Runtime, request: Request, session_id: str) -> bool:
    """authentik signs out on a plain GET; so do we, unless another site started it."""
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=5)
        token = form.get("csrf_token")
        return isinstance(token, str) and rt.signing.csrf.verify("sign_out:" + session_id, token)
    return request.headers.get("sec-fetch-site", "").lower() != "cross-site"


def state_cookie_name(nonce: str) -> str:
    return f"{STATE_COOKIE}_{nonce[:12]}"


def _callback_problem(
    state: dict[str, str] | None, nonce: str, app: AppView, host: str
) -> str | None:
    if state is None:
        return "the sign-in state is missing, expired or altered"
    if state.get("a") != app.slug or state.get("o") != f"{app.scheme}://{host}":
        return "the sign-in state belongs to another app"
    if not nonce or not hmac.compare_digest(nonce, state.get("n", "")):
        return "this browser did not start the sign-in (cookie missing)"
    return None


async def _finish_login(
    rt: Runtime, request: Request, page: PageRequest, app: AppView, portal_id: str, target: str
) -> Response:
    portal = await rt.store.load_session(portal_id)
    if portal is None:
        return _redirect(app.external_url)
    session_id = await rt.store.create_session(
        portal.identity.user_id,
        kind="app",
        lifetime=0,
        parent_id=portal_id,
        app_id=app.id,
        ip=page.ip,
        user_agent=request.headers.get("user-agent", ""),
        expires_at=datetime.fromtimestamp(portal.expires_at, UTC),
    )
    remaining = max(0, int(portal.expires_at - time.time()))
    response = _redirect(safe_redirect(target, app))
    response.headers.append(
        "set-cookie", app_cookie(app, rt.signing.session.sign(session_id), remaining)
    )
    await rt.store.audit("app_login", actor=portal.identity.username, app=app.slug, ip=page.ip)
    return response
