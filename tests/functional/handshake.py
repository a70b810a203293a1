"""Checks that arrive as WebSocket handshakes: in-process as an ASGI ``websocket`` scope, and
through the two ASGI servers authgate runs on (granian, uvicorn), started in this event loop.

Caddy's ``forward_auth`` copies the client's ``Upgrade``/``Connection`` into the check, so a
server with WebSockets on hands authgate a ``websocket`` scope instead of ``http``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx

from authgate.server import AuthgateApp

#: what a client's upgrade adds to a request; a proxy that copies it hands it to the check
UPGRADE = {
    "upgrade": "websocket",
    "connection": "Upgrade",
    "sec-websocket-version": "13",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
}
DENIAL = "websocket.http.response"  # the ASGI extension a server offers in scope["extensions"]
CLOSED_BEFORE_ACCEPT = 403  # what uvicorn and granian answer when the app closes unaccepted


class HandshakeTransport(httpx.AsyncBaseTransport):
    """Hands each request to the app as a ``websocket`` scope, the way a server with
    WebSockets on does for a request carrying ``Upgrade: websocket``; the app's answer comes
    back as that server would put it on the wire (101 when it accepted).

    ``denial_response=False`` plays a server without the ``websocket.http.response`` extension.
    """

    def __init__(self, app: AuthgateApp, *, denial_response: bool = True) -> None:
        self.app = app
        self.extensions: dict[str, Any] = {DENIAL: {}} if denial_response else {}
        self.sent: list[dict[str, Any]] = []  # every message of the last request

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        connected = False

        async def receive() -> dict[str, Any]:
            nonlocal connected
            if not connected:
                connected = True
                return {"type": "websocket.connect"}
            return {"type": "websocket.disconnect", "code": 1006}

        async def send(message: dict[str, Any]) -> None:
            self.sent.append(message)

        self.sent = []
        await self.app(self._scope(request), receive, send)
        return self._response()

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        return {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": ("authgate.svc", 80),
            "client": ("127.0.0.1", 5555),
            "root_path": "",
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "subprotocols": [],
            "extensions": self.extensions,
        }

    def _response(self) -> httpx.Response:
        kinds = [m["type"] for m in self.sent]
        if not kinds:
            raise AssertionError("the app sent nothing for the handshake")
        if kinds[0] == "websocket.accept":
            return httpx.Response(101)
        if kinds[0] == "websocket.close":
            return httpx.Response(CLOSED_BEFORE_ACCEPT)
        assert kinds == ["websocket.http.response.start", "websocket.http.response.body"], kinds
        start, body = self.sent
        return httpx.Response(start["status"], headers=start["headers"], content=body["body"])


class ToServer(httpx.AsyncBaseTransport):
    """Sends every request to 127.0.0.1:``port`` whatever host the URL names (its Host header
    stays as the client built it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _listening(port: int, task: asyncio.Task[Any]) -> None:
    while True:
        if task.done():
            task.result()  # the server failed: its exception, else this
            raise AssertionError("the server stopped before it listened")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return


@contextlib.asynccontextmanager
async def serving(app: AuthgateApp, server: str) -> AsyncIterator[int]:
    """``app`` served by ``server`` ("granian" or "uvicorn") in this event loop, with its
    WebSocket support on (as when either is run directly); yields the port."""
    port = _free_port()
    if server == "uvicorn":
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="error")
        running = uvicorn.Server(config)
        task = asyncio.create_task(running.serve())

        def stop() -> None:
            running.should_exit = True

    else:
        from granian.constants import Interfaces
        from granian.server.embed import Server

        embedded = Server(
            app, address="127.0.0.1", port=port, interface=Interfaces.ASGINL, log_enabled=False
        )
        task = asyncio.create_task(embedded.serve())
        stop = embedded.stop
    try:
        await _listening(port, task)
        yield port
    finally:
        stop()
        await task
