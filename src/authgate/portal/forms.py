"""What every portal page shares: redirects, pages whose forms carry a CSRF token, and the
bounded form reader. Every POST of the portal checks ``csrf_ok`` before it acts."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from authgate.portal.cookies import csrf_cookie, csrf_cookie_name
from authgate.web.requests import PageRequest
from authgate.web.runtime import Runtime

FORM_LIMIT = 8192


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers={"cache-control": "no-store"})


def csrf_seed(rt: Runtime, request: Request) -> str | None:
    return PageRequest.read(request, rt.settings).cookie(csrf_cookie_name(rt.settings))


def with_csrf(
    rt: Runtime, request: Request, body: Callable[[str], str], status: int = 200
) -> Response:
    """A page whose forms carry a CSRF token; a browser without a seed gets a new one."""
    seed = csrf_seed(rt, request)
    new_cookie = None
    if not seed or len(seed) >= 100:
        seed = secrets.token_urlsafe(24)
        new_cookie = csrf_cookie(rt.settings, seed)
    response = rt.pages.html(body(rt.signing.csrf.token(seed)), status)
    if new_cookie:
        response.headers.append("set-cookie", new_cookie)
    return response


def page(
    rt: Runtime, request: Request, template: str, http_status: int = 200, **ctx: object
) -> Response:
    """``template`` rendered with ``csrf_token`` (for its forms) and ``ctx``."""

    def body(token: str) -> str:
        return rt.pages.render(template, csrf_token=token, **ctx)

    return with_csrf(rt, request, body, http_status)


async def read_form(request: Request, max_fields: int = 20) -> dict[str, str]:
    """The posted form's text fields; nothing when it is larger than ``FORM_LIMIT``."""
    if int(request.headers.get("content-length") or 0) > FORM_LIMIT:
        return {}
    form = await request.form(max_files=0, max_fields=max_fields)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def csrf_ok(rt: Runtime, request: Request, form: dict[str, str]) -> bool:
    return rt.signing.csrf.verify(csrf_seed(rt, request), form.get("csrf_token"))
