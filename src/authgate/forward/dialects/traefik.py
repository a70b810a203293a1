"""Traefik ForwardAuth (seed 2): the original request arrives as X-Forwarded-* headers.

Traefik hands any non-2xx answer to the client as it is, so browsers get a 302 to the login
and scripts a 401 with JSON.
"""

from __future__ import annotations

from collections.abc import Callable

from authgate.forward.answers import to_client as render
from authgate.forward.context import ForwardRequest, Headers, build_request, client_address

name = "traefik"
__all__ = ["name", "parse", "render"]


def parse(
    headers: Headers,
    scope_path: str,
    scope_method: str,
    peer: str,
    trusted: bool,
    is_trusted: Callable[[str], bool],
) -> ForwardRequest:
    """X-Forwarded-Host/-Uri/-Method from a trusted proxy; from anyone else only ``Host``."""
    if trusted:
        host = headers.single("x-forwarded-host") or headers.get("host")
        uri = headers.single("x-forwarded-uri") or "/"
        method = headers.single("x-forwarded-method") or scope_method
    else:
        host, uri, method = headers.get("host"), "/", scope_method
    ip = client_address(headers, peer, trusted, is_trusted)
    return build_request(headers, method=method, host=host, uri=uri, client_ip=ip)
