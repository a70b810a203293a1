"""A tiny echo app: every HTTP request is answered with what it looked like as JSON.

It stands in for the protected upstream in ``make run`` and in the end-to-end tests,
which read the identity headers the proxy handed it. WebSocket connections are
accepted and every text message is sent straight back, except ``whoami``: that one is
answered with the handshake request as JSON (the headers the proxy handed the upgrade).

Run it with ``python -m authgate.demo.whoami --host 127.0.0.1 --port 8000``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def describe(scope: Scope) -> dict[str, Any]:
    """The request as the echo reports it: method, path, raw query and headers."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return {
        "method": scope.get("method", "GET"),
        "path": scope.get("path", "/"),
        "query": scope.get("query_string", b"").decode("latin-1"),
        "headers": headers,
    }


async def _http(scope: Scope, receive: Receive, send: Send) -> None:
    more_body = True
    while more_body:  # drain the request body; the echo does not report it
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more_body = bool(message.get("more_body", False))
    body = json.dumps(describe(scope), indent=2, sort_keys=True).encode() + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


WHOAMI = "whoami"  # the one text message answered with the handshake instead of an echo


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            text = message.get("text")
            if text == WHOAMI:
                text = json.dumps(describe(scope), indent=2, sort_keys=True)
            if text is not None:
                await send({"type": "websocket.send", "text": text})
        else:  # websocket.disconnect
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point."""
    if scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Echo every request back as JSON.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    import uvicorn  # imported late: importing this module must stay cheap

    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
