"""Reading a Starlette request the way the hot path reads a proxy's: the same ``Headers``,
forwarded headers only from trusted proxies and only when sent once, the same client
address and the same browser test as the check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from authgate.config import Settings
from authgate.forward.cookies import read_cookie
from authgate.forward.hosts import canonical_host
from authgate.forward.request import BadRequest, Headers, client_address, is_browser

if TYPE_CHECKING:
    from authgate.web.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    """The running server's runtime, which ``create_app`` put on the Starlette app's state."""
    runtime: Runtime = request.app.state.runtime
    return runtime


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the flow and the portal read of a request, through the hot path's helpers."""

    headers: Headers
    peer: str
    trusted: bool  # the peer is a trusted proxy: its forwarded headers count
    is_trusted: Callable[[str], bool]
    cookies: str  # the raw Cookie header

    @classmethod
    def read(cls, request: Request, settings: Settings) -> PageRequest:
        peer = request.client.host if request.client else ""
        trusted = settings.is_trusted_proxy(peer)
        return cls(
            Headers(list(request.scope["headers"]), trusted),
            peer,
            trusted,
            settings.is_trusted_proxy,
            request.headers.get("cookie", ""),
        )

    @property
    def host(self) -> str | None:
        """The host the browser used: X-Forwarded-Host from a trusted proxy, else Host;
        None when it is unusable (or forwarded more than once, which the check refuses)."""
        try:
            forwarded = self.headers.single("x-forwarded-host") if self.trusted else None
        except BadRequest:
            return None
        return canonical_host(forwarded or self.headers.get("host") or "")

    @property
    def ip(self) -> str:
        """The client's address, as the check computes it; the peer when that fails."""
        try:
            return client_address(self.headers, self.peer, self.is_trusted)
        except BadRequest:
            return self.peer

    @property
    def browser(self) -> bool:
        """A top-level navigation, not a script or an asset (the check's test)."""
        return is_browser(self.headers)

    def cookie(self, name: str) -> str | None:
        return read_cookie(self.cookies, name)
