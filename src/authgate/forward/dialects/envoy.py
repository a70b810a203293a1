"""Envoy ``ext_authz`` (HTTP service): the original method and path follow our path prefix,
the original Host is kept. Only 200 allows; other answers reach the client."""

from __future__ import annotations

from collections.abc import Callable

from authgate.forward.answers import to_client as render
from authgate.forward.context import ForwardRequest, Headers, build_request, client_address

name = "envoy"
__all__ = ["name", "parse", "render"]


def parse(
    headers: Headers,
    scope_path: str,
    scope_method: str,
    peer: str,
    trusted: bool,
    is_trusted: Callable[[str], bool],
) -> ForwardRequest:
    uri = scope_path or "/"
    ip = client_address(headers, peer, trusted, is_trusted)
    return build_request(
        headers, method=scope_method, host=headers.get("host"), uri=uri, client_ip=ip
    )
