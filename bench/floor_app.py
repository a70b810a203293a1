"""The floor for scenario (h): the least a Python forward-auth check can do under the same
server as authgate. A raw ASGI callable that reads the ``Cookie`` header, looks its value up
in a dict and answers 200 with the identity headers the seed's ingress-nginx configuration
copies to the app (``FLOOR_IDENTITY``: as long as authgate's for the bench user), 401 when
the value is unknown. Run it as
``granian --interface asgi bench.floor_app:app``; the cookie it knows is ``FLOOR_COOKIE``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

FLOOR_COOKIE = b"floor_session=bench-floor-session"
SESSIONS: dict[bytes, bytes] = {FLOOR_COOKIE: b"bench"}

# what the seed's auth-response-headers copy (but Set-Cookie), as long as authgate's values
FLOOR_IDENTITY = (
    ("x-authentik-username", "bench"),
    ("x-authentik-groups", "staff"),
    ("x-authentik-email", "bench@bench.test"),
    ("x-authentik-uid", "a268083c4749403c9323c2f9c47d5645"),
)
_ALLOW = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        *((name.encode(), value.encode()) for name, value in FLOOR_IDENTITY),
        (b"content-length", b"0"),
    ],
}
_DENY = {"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]}
_BODY = {"type": "http.response.body", "body": b""}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    cookie = b""
    for name, value in scope["headers"]:
        if name == b"cookie":
            cookie = value
            break
    await send(_ALLOW if cookie in SESSIONS else _DENY)
    await send(_BODY)
