"""Traefik ForwardAuth (seed 2): the original request arrives as X-Forwarded-* headers.

Traefik hands any non-2xx answer to the client as it is, so browsers get a 302 to the login
and scripts a 401 with JSON.
"""

from __future__ import annotations

from authgate.forward.answers import to_client as render
from authgate.forward.request import Headers, Target

name = "traefik"
__all__ = ["name", "parse", "render"]


def parse(headers: Headers, path: str, method: str) -> Target:
    """X-Forwarded-Host/-Uri/-Method from a trusted proxy; from anyone else only ``Host``."""
    if not headers.trusted:
        return Target(method, headers.get("host"), "/")
    host = headers.single("x-forwarded-host") or headers.get("host")
    uri = headers.single("x-forwarded-uri") or "/"
    return Target(headers.single("x-forwarded-method") or method, host, uri)
