"""``create_app(settings)``: the hot path first, then Starlette for the portal and the flow.

The top of the server: it wires ``web`` (runtime, pages, audit, sync), ``flow``, ``portal``
and the hot path (``forward.endpoint``) together; nothing below imports it. ASGI servers
(granian, uvicorn) start it through ``authgate.server:app_from_environment``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from authgate.config import Settings, load_settings
from authgate.errors import StoreError
from authgate.flow import routes as flow_routes
from authgate.forward.answers import JSON, NO_STORE, Answer, json_body
from authgate.forward.endpoint import ForwardAuthEndpoint, send_answer
from authgate.portal import account as account_routes
from authgate.portal import (
    enrol,
    passkey_account,
    passkey_signin,
    recovery_codes,
    second_factor,
    totp,
)
from authgate.portal import links as link_routes
from authgate.portal import routes as portal_routes
from authgate.web import health, metrics
from authgate.web.logging import configure_logging
from authgate.web.requests import runtime_of
from authgate.web.runtime import Runtime

log = logging.getLogger("authgate")
NO_WEBSOCKET = Answer(
    404, [JSON, NO_STORE], json_body(error="authgate serves no WebSocket at this address")
)
STATIC = Path(__file__).resolve().parent / "portal" / "static"


class AuthgateApp:
    """The ASGI callable: ``<prefix>/auth/*`` goes to the raw hot path, the rest to Starlette.

    A WebSocket handshake on ``<prefix>/auth/*`` is a check (see ``forward.endpoint``); on
    any other path it is refused with a plain 404, never accepted.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.auth_prefix = settings.outpost_prefix + "/auth/"
        self.forward = ForwardAuthEndpoint(
            runtime.gate,
            runtime.pages,
            settings.is_trusted_proxy,
            str(settings.revision_file),
            runtime.reload,
            runtime.audit.record,
            runtime.metrics.check_tallies,
        )
        self.web = _starlette(runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope["path"].startswith(self.auth_prefix):
            await self.forward(scope, receive, send)
        elif kind == "websocket":
            # a check with the client's Upgrade copied in is judged as the GET it is; no
            # other page of authgate speaks WebSocket
            if scope["path"].startswith(self.auth_prefix):
                await self.forward(scope, receive, send)
            else:
                await send_answer(scope, receive, send, NO_WEBSOCKET)
        else:
            await self.web(scope, receive, send)


def create_app(settings: Settings, runtime: Runtime | None = None) -> AuthgateApp:
    return AuthgateApp(runtime or Runtime(settings))


def app_from_environment() -> AuthgateApp:
    """For ASGI worker processes: settings from the environment ``authgate serve`` prepared."""
    settings = load_settings(os.environ, require_public_url=True)
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    rt: Runtime = app.state.runtime
    await rt.store.check()
    await rt.reload()
    # Everything made so far lives as long as the worker (modules, the app index, the
    # templates: ~130,000 objects). Out of the collector's sight it costs no full collection
    # a pause (~50 ms each, which a check waiting behind it would see as its latency).
    gc.collect()
    gc.freeze()
    task = asyncio.create_task(rt.sync.run())
    issuer_keys = asyncio.create_task(rt.issuer_keys.run()) if rt.settings.issuers else None
    try:
        yield
    finally:
        for each in (task, issuer_keys):
            if each is not None:
                each.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await each
        with contextlib.suppress(Exception):
            await rt.sync.flush()
        await rt.close()


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    title = "Page not found" if status == 404 else "Request not allowed"
    return runtime_of(request).pages.error(status, title, "There is nothing at this address.")


async def _store_down(request: Request, exc: Exception) -> Response:
    rt = runtime_of(request)
    rt.metrics.store_error()
    if rt.health.down_since is None:  # an outage is logged once, where it begins
        log.error("store error on %s: %s", request.url.path, exc)
    return rt.pages.error(
        503,
        "Sign-in is unavailable",
        "authgate cannot reach its database right now. Try again in a minute.",
        hint="Administrators: see authgate's log.",
    )


async def _crashed(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return runtime_of(request).pages.error(
        500, "Something went wrong", "authgate could not finish this request."
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: _not_found,
    StoreError: _store_down,
    SQLAlchemyError: _store_down,
    OSError: _store_down,
    Exception: _crashed,
}


def _starlette(rt: Runtime) -> Starlette:
    routes = [
        *health.ROUTES,
        *metrics.ROUTES,
        Mount(rt.settings.outpost_prefix, routes=flow_routes.ROUTES),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *portal_routes.ROUTES,
        *account_routes.ROUTES,
        *second_factor.ROUTES,
        *totp.ROUTES,
        *recovery_codes.ROUTES,
        *enrol.ROUTES,
        *passkey_account.ROUTES,
        *passkey_signin.ROUTES,
        *link_routes.ROUTES,
    ]
    app = Starlette(routes=routes, lifespan=_lifespan, exception_handlers=EXCEPTION_HANDLERS)
    app.state.runtime = rt
    return app
