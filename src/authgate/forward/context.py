"""ForwardRequest: what a proxy asked about, in one canonical shape, built once per check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from authgate.forward.headers import is_identity_header
from authgate.forward.hosts import canonical_host
from authgate.forward.paths import UnjudgeablePath, judge_path, split_uri


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    method: str
    host: str  # canonical host[:port]
    uri: str  # path and query as the client sent them
    path: str  # canonical path, what rules judge
    client_ip: str
    cookie: str  # the raw Cookie header
    browser: bool  # a top-level navigation that can follow a redirect to a login page
    preflight: bool = False  # a CORS preflight: OPTIONS with Origin and the request method
    referer: str = ""  # for a script's 401: the page it was loaded by, to return to after login
    can_redirect: bool = True  # False for nginx: it relays only 2xx, 401 and 403


class BadRequest(Exception):
    """The proxy's request cannot be judged; ``reason`` says why, for the log line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Headers:
    """Lower-cased request headers; repeated names are remembered, not merged silently."""

    __slots__ = ("repeated", "values")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.values: dict[str, str] = {}
        self.repeated: set[str] = set()
        for name_b, value_b in raw:
            name = name_b.decode("latin-1").lower()
            value = value_b.decode("latin-1")
            if name in self.values:
                self.repeated.add(name)
                self.values[name] += ", " + value
            else:
                self.values[name] = value

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def single(self, name: str) -> str | None:
        """A header that must appear at most once (forwarded headers, Cookie)."""
        if name in self.repeated:
            raise BadRequest(f"header {name} sent more than once")
        return self.values.get(name)

    def forged_identity(self) -> str | None:
        """The first identity header name a client tried to send, in any case or with ``_``."""
        for name in self.values:
            if is_identity_header(name):
                return name
        return None


def is_browser(headers: Headers) -> bool:
    """A top-level navigation (redirect to login) versus a script or XHR (401 JSON)."""
    mode = headers.get("sec-fetch-mode")
    if mode is not None:
        return mode.strip().lower() == "navigate"
    if headers.get("x-requested-with"):
        return False
    return "text/html" in (headers.get("accept") or "").lower()


def client_address(
    headers: Headers, peer: str, trusted: bool, is_trusted: Callable[[str], bool]
) -> str:
    """The right-most address in X-Forwarded-For that is not a trusted proxy."""
    if not trusted:
        return peer
    forwarded = headers.single("x-forwarded-for")
    if not forwarded:
        return headers.get("x-real-ip") or peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


def build_request(
    headers: Headers,
    *,
    method: str,
    host: str | None,
    uri: str,
    client_ip: str,
    can_redirect: bool = True,
) -> ForwardRequest:
    """Validate the parts a dialect read and return the canonical request, or raise."""
    forged = headers.forged_identity()
    if forged is not None:
        raise BadRequest(f"client sent identity header {forged}")
    canon = canonical_host(host or "")
    if canon is None:
        raise BadRequest(f"unusable host {host!r}")
    if len(uri) > 8192:
        raise BadRequest("request URI longer than 8 KiB")
    raw_path, _ = split_uri(uri)
    try:
        path = judge_path(raw_path)
    except UnjudgeablePath as exc:
        raise BadRequest(f"path refused: {exc}") from None
    verb = method.strip().upper()
    if not verb.isalpha() or len(verb) > 20:
        raise BadRequest(f"unusable method {method!r}")
    return ForwardRequest(
        method=verb,
        host=canon,
        uri=uri if uri.startswith("/") else "/" + uri,
        path=path,
        client_ip=client_ip,
        cookie=headers.single("cookie") or "",
        browser=is_browser(headers),
        preflight=verb == "OPTIONS"
        and bool(headers.get("origin"))
        and bool(headers.get("access-control-request-method")),
        referer=(headers.get("referer") or "")[:2048],
        can_redirect=can_redirect,
    )
