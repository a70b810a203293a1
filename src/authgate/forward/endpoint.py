"""The ASGI glue of the hot path: parse -> judge -> render, as one raw ASGI callable.

Mounted by the top-level app under ``<prefix>/auth/`` before Starlette's router; it reads
``scope`` headers directly and sends prebuilt header lists.

A check may arrive as a WebSocket handshake: Caddy's ``forward_auth`` copies the client's
``Upgrade``/``Connection`` into it, and an ASGI server with WebSockets on then hands us a
``websocket`` scope. It is judged as the GET it is and answered as plain HTTP through the
server's ``websocket.http.response`` extension; never accepted.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable
from types import ModuleType

from starlette.types import Receive, Scope, Send

from authgate.forward.answers import JSON, Answer, Pages, fill_page, json_body, start_message
from authgate.forward.decision import (
    Allow,
    Decision,
    Invalid,
    Unavailable,
    decision_fields,
    decision_line,
)
from authgate.forward.dialects import caddy, envoy, nginx, traefik
from authgate.forward.gate import Gate
from authgate.forward.request import BadRequest, ForwardRequest, Headers, client_address
from authgate.forward.reuse import Key, RecentAllows, request_key

log = logging.getLogger("authgate.forward")
ALLOW = Allow.outcome
DIALECTS: dict[str, ModuleType] = {m.name: m for m in (nginx, traefik, caddy, envoy)}
Audit = Callable[[Decision, ForwardRequest | None, str, list[str]], None]


# The revision file is looked at no more often than this (seconds): the checks of a busy
# moment share one stat, and any change (which takes longer to make) is seen by the next.
STAT_INTERVAL = 0.001
ADDRESS_LIMIT = 64  # the longest text worth remembering as an address (IPv6 with a zone)


class CheckTallies:
    """The checks counted in plain numbers, which ``web.metrics`` hands to prometheus-client
    later, off the check's path (a prometheus-client increment costs more than the check):
    per (dialect, outcome) a row ``[count, seconds, n_0, ..., n_k, n_inf]``, ``n_i`` the
    checks that fell in bucket ``i`` of ``bounds`` (prometheus' ``le``: at most the bound),
    the last one above all."""

    def __init__(self, keys: Iterable[tuple[str, str]], bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.width = len(bounds) + 3
        self.rows: dict[tuple[str, str], list[float]] = {k: [0] * self.width for k in keys}

    def add(self, dialect: str, outcome: str, seconds: float) -> None:
        """One check answered (an unknown dialect or outcome is not counted)."""
        row = self.rows.get((dialect, outcome))
        if row is not None:
            row[0] += 1
            row[1] += seconds
            row[2 + bisect_left(self.bounds, seconds)] += 1

    def take(self) -> list[tuple[tuple[str, str], list[float]]]:
        """The rows that counted a check since the last take, each emptied in place."""
        taken = []
        for key, row in self.rows.items():
            if row[0]:
                taken.append((key, row.copy()))
                row[:] = [0] * self.width
        return taken


class ForwardAuthEndpoint:
    def __init__(
        self,
        gate: Gate,
        pages: Pages,
        is_trusted: Callable[[str], bool],
        revision_file: str,
        reload: Callable[[], Awaitable[None]],
        audit: Audit,
        tallies: CheckTallies | None = None,
    ) -> None:
        self.gate = gate
        self.tallies = tallies
        self.pages = pages
        self.is_trusted = is_trusted
        self.revision_file = revision_file
        self.reload = reload
        self.audit = audit
        self._seen: tuple[int, int] | None = None
        self._next_stat = 0.0
        self._reloading: tuple[tuple[int, int], asyncio.Future[None]] | None = None
        self.auth_prefix = gate.prefix + "/auth/"
        self.recent = RecentAllows(gate)
        self._trusted_peers: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        name, _, _ = scope["path"][len(self.auth_prefix) :].partition("/")
        dialect = DIALECTS.get(name)
        if dialect is None:
            body = json_body(error=f"unknown dialect {name!r}", known=", ".join(DIALECTS))
            await send_answer(scope, receive, send, Answer(404, [JSON], body))
            return
        moved = self._store_moved()
        key = None
        # a debug log has a line for every check: then every check is judged
        if moved is None and scope["type"] == "http" and not log.isEnabledFor(logging.DEBUG):
            key = self._key(scope, name)
            kept = self.recent.answer(key, time.time()) if key is not None else None
            if kept is not None:
                await send(kept)
                await send(EMPTY)
                self._count(name, ALLOW, started)
                return
        request: ForwardRequest | None = None
        try:
            request = self._request(scope, dialect)
            if moved is not None:
                await self._follow_store(moved)
            decision: Decision = await self.gate.check(request)
        except BadRequest as exc:
            decision = Invalid(exc.reason)
        except Exception as exc:
            if self.gate.sessions.outage.down_since is None:
                log.error("forward-auth check failed, refusing the request: %s", exc, exc_info=True)
            # else: the outage is logged once where it began, not once per check
            decision = Unavailable(f"the check could not be made: {type(exc).__name__}")
        browser = request.browser if request is not None else False
        answer = fill_page(dialect.render(decision, browser), self.pages)
        await send_answer(scope, receive, send, answer)
        elapsed = self._count(name, decision.outcome, started)
        _log(name, decision, request, answer.status, int(elapsed * 1e6))
        if isinstance(decision, Allow):
            if key is not None and request is not None and not request.authorization:
                self.recent.keep(key, decision, answer)
        else:
            await self._record(decision, request, name)

    def _count(self, name: str, outcome: str, started: float) -> float:
        """Count the check in the tallies; its seconds."""
        elapsed = time.perf_counter() - started
        if self.tallies is not None:
            self.tallies.add(name, outcome, elapsed)
        return elapsed

    @staticmethod
    def _key(scope: Scope, name: str) -> Key | None:
        client = scope.get("client")
        return request_key(
            name,
            scope["method"],
            scope.get("raw_path") or scope["path"].encode(),
            scope.get("query_string", b""),
            client[0] if client else "",
            scope["headers"],
        )

    def _request(self, scope: Scope, dialect: ModuleType) -> ForwardRequest:
        """The canonical request, built once: the dialect reads what the proxy asks about,
        the client address comes from the trusted-proxy headers."""
        client = scope.get("client")
        peer = client[0] if client else ""
        headers = Headers(scope["headers"], self._trusted(peer))
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        path = raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        # a websocket scope has no method: an upgrade is a GET
        target = dialect.parse(headers, path, scope.get("method", "GET"))
        client_ip = client_address(headers, peer, self._trusted)
        return ForwardRequest.from_target(target, headers, client_ip)

    def _store_moved(self) -> tuple[int, int] | None:
        """The revision file's new stamp when it moved, else None: a change by the CLI or
        another worker on this machine is obeyed by the next check that starts more than
        ``STAT_INTERVAL`` after it. Under load that is one stat per many checks; a check
        that follows a change (a commit, a CLI run: each takes longer than the interval)
        always looks."""
        now = time.monotonic()
        if now < self._next_stat:
            return None
        self._next_stat = now + STAT_INTERVAL
        try:
            st = os.stat(self.revision_file)
            stamp = (st.st_ino, st.st_mtime_ns)
        except OSError:
            stamp = (0, 0)
        return None if stamp == self._seen else stamp

    async def _follow_store(self, stamp: tuple[int, int]) -> None:
        """Reload the apps to ``stamp``. Checks that arrive while a reload runs wait for that
        one reload, not one each: with 10,000 apps a reload takes a while, and every check in
        flight would queue its own."""
        if self._reloading is None or self._reloading[0] != stamp:
            self._reloading = (stamp, asyncio.ensure_future(self._reload_to(stamp)))
        await asyncio.shield(self._reloading[1])

    async def _reload_to(self, stamp: tuple[int, int]) -> None:
        try:
            await self.reload()
            self._seen = stamp
        finally:
            if self._reloading is not None and self._reloading[0] == stamp:
                self._reloading = None

    def _trusted(self, address: str) -> bool:
        """Whether ``address`` (the peer, or a forwarded hop) is a trusted proxy, remembered;
        a string too long to be an address is judged afresh (a hop is the client's text)."""
        trusted = self._trusted_peers.get(address)
        if trusted is None:
            trusted = self.is_trusted(address)
            if len(address) <= ADDRESS_LIMIT:
                if len(self._trusted_peers) > 10_000:
                    self._trusted_peers.clear()
                self._trusted_peers[address] = trusted
        return trusted

    async def _record(self, decision: Decision, request: ForwardRequest | None, name: str) -> None:
        """Every decision that is not a plain allow is kept with its trace, by its id. The
        trace comes from judging again with tracing on: the allow path never pays for it."""
        trace: list[str] = []
        if request is None:
            trace.append(f"request refused before judgement: {decision.reason}")
        else:
            try:
                await self.gate.check(request, trace)
            except Exception as exc:
                trace.append(f"tracing failed: {exc}")
        self.audit(decision, request, name, trace)


async def send_answer(scope: Scope, receive: Receive, send: Send, answer: Answer) -> None:
    """``answer`` as an ordinary HTTP response, whether the scope is ``http`` or a WebSocket
    handshake: the same status, headers and body either way."""
    if scope["type"] == "http":
        await send(answer.start or start_message(answer.status, answer.headers, answer.body))
        await send({"type": "http.response.body", "body": answer.body} if answer.body else EMPTY)
        return
    headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
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
EMPTY = {"type": "http.response.body", "body": b""}


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
    if log.isEnabledFor(level):
        where = f"{request.method} {request.host}{request.path}" if request else "-"
        fields = decision_fields(dialect, decision, where, status, micros)
        log.log(level, decision_line(dialect, decision, where, status, micros), extra=fields)


__all__ = ["DIALECTS", "CheckTallies", "ForwardAuthEndpoint", "send_answer"]
