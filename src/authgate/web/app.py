"""create_app(settings): the hot path first, then Starlette for the portal and the flow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from authgate.config import Settings
from authgate.errors import StoreError
from authgate.flow import routes as flow_routes
from authgate.forward.answers import JSON, NO_STORE, Answer, json_body
from authgate.forward.endpoint import ForwardAuthEndpoint, send_answer
from authgate.portal import routes as portal_routes
from authgate.web.pages import error_page
from authgate.web.runtime import Runtime

log = logging.getLogger("authgate")
NO_WEBSOCKET = Answer(
    404, [JSON, NO_STORE], json_body(error="authgate serves no WebSocket at this address")
)
STATIC = Path(__file__).resolve().parent.parent / "portal" / "static"


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
            runtime,
            settings.is_trusted_proxy,
            runtime.refresh,
            runtime.audit_decision,
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


def _starlette(rt: Runtime) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await rt.store.check()
        await rt.reload()
        task = asyncio.create_task(rt.sync_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                await rt.store.touch_sessions(rt.sessions.take_touched())
                await rt.flush_audit()
            await rt.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        title = "Page not found" if status == 404 else "Request not allowed"
        return error_page(rt, status, title, "There is nothing at this address.")

    async def store_down(request: Request, exc: Exception) -> Response:
        log.error("store error on %s: %s", request.url.path, exc)
        return error_page(
            rt,
            503,
            "Sign-in is unavailable",
            "authgate cannot reach its database right now. Try again in a minute.",
            hint="Administrators: see authgate's log.",
        )

    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return error_page(
            rt, 500, "Something went wrong", "authgate could not finish this request."
        )

    handlers: dict[Any, Any] = {
        HTTPException: not_found,
        StoreError: store_down,
        SQLAlchemyError: store_down,
        OSError: store_down,
        Exception: crashed,
    }
    routes = [
        Mount(rt.settings.outpost_prefix, routes=flow_routes.routes(rt)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        *portal_routes.routes(rt),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)


__all__ = ["AuthgateApp", "Route", "create_app"]
