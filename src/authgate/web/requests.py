"""Reading a Starlette request the way the hot path reads a proxy's: trusted proxies only."""

from __future__ import annotations

from starlette.requests import Request

from authgate.config import Settings
from authgate.forward.hosts import canonical_host
from authgate.forward.request import BadRequest, Headers, client_address


def request_host(request: Request, settings: Settings) -> str | None:
    """The host the browser used: X-Forwarded-Host from a trusted proxy, else Host."""
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-host") if settings.is_trusted_proxy(peer) else None
    return canonical_host(forwarded or request.headers.get("host") or "")


def request_ip(request: Request, settings: Settings) -> str:
    peer = request.client.host if request.client else ""
    try:
        headers = Headers(list(request.scope["headers"]), settings.is_trusted_proxy(peer))
        return client_address(headers, peer, settings.is_trusted_proxy)
    except BadRequest:
        return peer
