"""Caddy ``forward_auth``: the same X-Forwarded-* shape as Traefik, the original Host kept.

Caddy copies ``copy_headers`` only when non-empty and hands other answers to the client.
"""

from __future__ import annotations

from collections.abc import Callable

from authgate.forward.answers import to_client as render
from authgate.forward.context import ForwardRequest, Headers
from authgate.forward.dialects.traefik import parse_forwarded

name = "caddy"
__all__ = ["name", "parse", "render"]


def parse(
    headers: Headers,
    scope_path: str,
    scope_method: str,
    peer: str,
    trusted: bool,
    is_trusted: Callable[[str], bool],
) -> ForwardRequest:
    return parse_forwarded(headers, scope_method, peer, trusted, is_trusted)
