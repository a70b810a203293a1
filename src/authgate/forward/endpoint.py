"""The ASGI glue of the hot path: parse -> judge -> render, as one raw ASGI callable.

Mounted by the top-level app under ``<prefix>/auth/`` before Starlette's router; it reads
``scope`` headers directly and sends prebuilt header lists.

A check may arrive as a WebSocket handshake: Caddy's ``forward_auth`` copies the client's
``Upgrade``/``Connection`` into it, and an ASGI server with WebSockets on then hands us a
``websocket`` scope. It is judged as the GET it is and answered as plain HTTP through the
server's ``websocket.http.response`` extension; never accepted.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from types import ModuleType

from starlette.types import Receive, Scope, Send

from authgate.forward.answers import JSON, Answer, Pages, json_body
from authgate.forward.context import BadRequest, ForwardRequest, Headers
from authgate.forward.decision import Allow, Decision, Deny, Invalid, Unavailable
from authgate.forward.dialects import caddy, envoy, nginx, traefik
from authgate.forward.gate import Gate

log = logging.getLogger("authgate.forward")
DIALECTS: dict[str, ModuleType] = {m.name: m for m in (nginx, traefik, caddy, envoy)}


class ForwardAuthEndpoint:
    def __init__(
        self,
        gate: Gate,
        pages: Pages,
        is_trusted: Callable[[str], bool],
        refresh: Callable[[], Awaitable[None]],
        audit: Callable[[Decision, ForwardRequest | None, str, list[str]], None],
    ) -> None:
        self.gate = gate
        self.pages = pages
        self.is_trusted = is_trusted
        self.refresh = refresh
        self.audit = audit
        self.auth_prefix = gate.prefix + "/auth/"
        self._trusted_peers: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        name, _, _ = scope["path"][len(self.auth_prefix) :].partition("/")
        dialect = DIALECTS.get(name)
        if dialect is None:
            body = json_body(error=f"unknown dialect {name!r}", known=", ".join(DIALECTS))
            await send_answer(scope, receive, send, Answer(404, [JSON], body))
            return
        peer = (scope.get("client") or ("", 0))[0]
        trusted = self._trusted_peers.get(peer)
        if trusted is None:
            if len(self._trusted_peers) > 10_000:
                self._trusted_peers.clear()
            trusted = self._trusted_peers.setdefault(peer, self.is_trusted(peer))
        request: ForwardRequest | None = None
        browser = False
        try:
            headers = Headers(scope["headers"])
            request = dialect.parse(
                headers,
                _envoy_path(scope, self.auth_prefix),
                scope.get("method", "GET"),  # a websocket scope has none: an upgrade is a GET
                peer,
                trusted,
                self.is_trusted,
            )
            browser = request.browser
            await self.refresh()
            decision: Decision = await self.gate.judge(request)
        except BadRequest as exc:
            decision = Invalid(exc.reason)
        except Exception as exc:
            log.error("forward-auth check failed, refusing the request: %s", exc, exc_info=True)
            decision = Unavailable(f"the check could not be made: {type(exc).__name__}")
        answer = dialect.render(decision, browser, self.pages)
        await send_answer(scope, receive, send, answer)
        micros = int((time.perf_counter() - started) * 1e6)
        _log(name, decision, request, answer.status, micros)
        if not isinstance(decision, Allow):
            await self._record(decision, request, name)

    async def _record(self, decision: Decision, request: ForwardRequest | None, name: str) -> None:
        """Every decision that is not a plain allow is kept with its trace, by its id. The
        trace comes from judging again with tracing on: the allow path never pays for it."""
        trace: list[str] = []
        if request is None:
            trace.append(f"request refused before judgement: {getattr(decision, 'reason', '')}")
        else:
            try:
                await self.gate.judge(request, trace)
            except Exception as exc:
                trace.append(f"tracing failed: {exc}")
        self.audit(decision, request, name, trace)


def _envoy_path(scope: Scope, auth_prefix: str) -> str:
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1")
    rest = path.partition(auth_prefix + "envoy")[2]
    query = scope.get("query_string", b"").decode("latin-1")
    return (rest or "/") + ("?" + query if query else "")


async def send_answer(scope: Scope, receive: Receive, send: Send, answer: Answer) -> None:
    """``answer`` as an ordinary HTTP response, whether the scope is ``http`` or a WebSocket
    handshake: the same status, headers and body either way."""
    headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        return
    if (await receive())["type"] != "websocket.connect":
        return  # the client left before the handshake finished
    if WEBSOCKET_RESPONSE not in (scope.get("extensions") or {}):
        _warn_no_websocket_response()
        # closing before accepting makes the server answer 403: never a 101, never an allow
        await send({"type": "websocket.close", "code": 1008})
        return
    start = {"type": "websocket.http.response.start", "status": answer.status}
    await send({**start, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": answer.body})


WEBSOCKET_RESPONSE = "websocket.http.response"  # the ASGI "Websocket Denial Response"


@functools.cache  # once per process: the server does not change while it runs
def _warn_no_websocket_response() -> None:
    log.warning(
        "the ASGI server handed authgate a WebSocket handshake but cannot answer it with "
        "plain HTTP (no %r extension): every such check is refused with 403. Run authgate "
        "with 'authgate serve', or turn the server's WebSocket support off",
        WEBSOCKET_RESPONSE,
    )


def _log(
    dialect: str, decision: Decision, request: ForwardRequest | None, status: int, micros: int
) -> None:
    level = logging.DEBUG if isinstance(decision, Allow) else logging.INFO
    if not log.isEnabledFor(level):
        return
    app = getattr(getattr(decision, "app", None), "slug", "-")
    identity = getattr(decision, "identity", None)
    user = identity.username if identity is not None else "-"
    outcome = type(decision).__name__.lower()
    decision_id = getattr(decision, "decision_id", "")
    where = f"{request.method} {request.host}{request.path}" if request else "-"
    log.log(
        level,
        "decision dialect=%s app=%s user=%s outcome=%s status=%d reason=%r id=%s request=%r us=%d",
        dialect,
        app,
        user,
        outcome,
        status,
        getattr(decision, "reason", ""),
        decision_id or "-",
        where,
        micros,
    )


__all__ = ["DIALECTS", "Deny", "ForwardAuthEndpoint", "send_answer"]
