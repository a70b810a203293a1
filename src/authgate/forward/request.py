"""ForwardRequest: what a proxy asked about, in one canonical shape, built once per check.

A dialect reads its proxy's headers into a ``Target`` (method, host, URI, whether the proxy
can relay a redirect); the endpoint adds the client address and builds the request from it
with ``ForwardRequest.from_target``. ``authgate explain`` and the portal judge a plain URL
with ``ForwardRequest.from_url``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from authgate.forward.headers import is_identity_header
from authgate.forward.hosts import canonical_host
from authgate.forward.paths import UnjudgeablePath, judge_path, split_uri

# What a proxy asks about repeats all day: the canonical form of a host, of a path and the
# verdict on a header name are remembered (bounded; a full memo starts afresh, which costs
# only time). Refusals are never remembered: they are judged every time.
MEMO_LIMIT = 10_000
MEMO_KEY_LIMIT = 1024  # longer keys are judged afresh: a memo must not hoard memory
_hosts: dict[str, str] = {}
_paths: dict[str, str] = {}
_plain_header_names: dict[bytes, str] = {}  # raw name -> lower case, never a refused one

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BadRequest(Exception):
    """The proxy's request cannot be judged; ``reason`` says why, for the log line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Target:
    """What a dialect read from its proxy's request, not yet validated."""

    method: str
    host: str | None
    uri: str  # path and query as the client sent them
    can_redirect: bool = True  # False for nginx: it relays only 2xx, 401 and 403


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    method: str
    host: str  # canonical host[:port]
    uri: str  # path and query as the client sent them
    path: str  # canonical path, what rules judge
    client_ip: str  # the client address as it was given, for logs, audit and explain
    address: Address | None  # the same, parsed once; None when it is no IP address
    cookie: str  # the raw Cookie header
    browser: bool  # a top-level navigation that can follow a redirect to a login page
    preflight: bool = False  # a CORS preflight: OPTIONS with Origin and the request method
    referer: str = ""  # for a script's 401: the page it was loaded by, to return to after login
    can_redirect: bool = True  # False for nginx: it relays only 2xx, 401 and 403
    authorization: str = ""  # the raw Authorization header: a credential (forward.credentials)

    @classmethod
    def from_target(cls, target: Target, headers: Headers, client_ip: str) -> ForwardRequest:
        """Validate the parts a dialect read and return the canonical request, or raise."""
        forged = headers.forged_identity()
        if forged is not None:
            raise BadRequest(f"client sent identity header {forged}")
        host = _canonical_host(target.host or "")
        if host is None:
            raise BadRequest(f"unusable host {target.host!r}")
        uri = target.uri
        if len(uri) > 8192:
            raise BadRequest("request URI longer than 8 KiB")
        path = _canonical_path(uri)
        method = target.method.strip().upper()
        if not method.isalpha() or len(method) > 20:
            raise BadRequest(f"unusable method {target.method!r}")
        return cls(
            method=method,
            host=host,
            uri=uri if uri.startswith("/") else "/" + uri,
            path=path,
            client_ip=client_ip,
            address=parse_address(client_ip),
            cookie=headers.single("cookie") or "",
            browser=is_browser(headers),
            preflight=method == "OPTIONS"
            and bool(headers.get("origin"))
            and bool(headers.get("access-control-request-method")),
            referer=(headers.get("referer") or "")[:2048],
            can_redirect=target.can_redirect,
            authorization=headers.single("authorization") or "",
        )

    @classmethod
    def from_url(
        cls, url: str, method: str, client_ip: str, can_redirect: bool = True
    ) -> ForwardRequest:
        """The request a browser opening ``url`` would make, without headers or cookies."""
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("http", "https"):
            raise BadRequest(f"not an absolute http(s) URL: {url[:100]!r}")
        host, slash, path = rest.partition("/")
        target = Target(method, host, slash + path or "/", can_redirect)
        return cls.from_target(target, Headers([]), client_ip)


@functools.lru_cache(maxsize=4096)  # the same clients ask again and again
def parse_address(text: str) -> Address | None:
    """The client address as an IP address; None when it is none (rules with networks
    then never match)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class Headers:
    """Lower-cased request headers; repeated names are remembered, not merged silently.
    ``trusted`` says whether they came from a trusted proxy, whose forwarded headers count.

    Read in one pass: a header name seen before costs one dict lookup (its lower-cased form
    is remembered, bounded); a name in a refused identity family (``forged_identity``) is
    noticed in the same pass and never remembered."""

    __slots__ = ("forged", "repeated", "trusted", "values")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]], trusted: bool = False) -> None:
        self.trusted = trusted
        self.forged: str | None = None
        self.repeated: set[str] = set()
        known = _plain_header_names
        if isinstance(raw, list):
            # the usual case: every name read before, none twice
            try:
                self.values = {known[name]: value.decode("latin-1") for name, value in raw}
            except KeyError:
                pass
            else:
                if len(self.values) == len(raw):
                    return
        values: dict[str, str] = {}
        self.values = values
        for name_b, value_b in raw:
            name = known.get(name_b)
            if name is None:
                name = self._learn(name_b)
            if name in values:
                self.repeated.add(name)
                values[name] += ", " + value_b.decode("latin-1")
            else:
                values[name] = value_b.decode("latin-1")

    def _learn(self, raw_name: bytes) -> str:
        """The lower-cased name; remembered unless it is an identity header (noted)."""
        name = raw_name.decode("latin-1").lower()
        if is_identity_header(name):
            if self.forged is None:
                self.forged = name
            return name
        if len(raw_name) <= MEMO_KEY_LIMIT:
            if len(_plain_header_names) >= MEMO_LIMIT:
                _plain_header_names.clear()
            _plain_header_names[raw_name] = name
        return name

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def single(self, name: str) -> str | None:
        """A header that must appear at most once (forwarded headers, Cookie)."""
        if name in self.repeated:
            raise BadRequest(f"header {name} sent more than once")
        return self.values.get(name)

    def forged_identity(self) -> str | None:
        """The first identity header name a client tried to send, in any case or with ``_``."""
        return self.forged


def is_browser(headers: Headers) -> bool:
    """A top-level navigation (redirect to login) versus a script or XHR (401 JSON)."""
    mode = headers.get("sec-fetch-mode")
    if mode is not None:
        return mode.strip().lower() == "navigate"
    if headers.get("x-requested-with"):
        return False
    return "text/html" in (headers.get("accept") or "").lower()


def client_address(headers: Headers, peer: str, is_trusted: Callable[[str], bool]) -> str:
    """The right-most address in X-Forwarded-For that is not a trusted proxy; the peer
    itself when the headers did not come from a trusted proxy."""
    if not headers.trusted:
        return peer
    forwarded = headers.single("x-forwarded-for")
    if not forwarded:
        return headers.get("x-real-ip") or peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


def _canonical_host(raw: str) -> str | None:
    """``hosts.canonical_host``, remembered (a refusal is judged afresh every time)."""
    host = _hosts.get(raw)
    if host is not None:
        return host
    host = canonical_host(raw)
    if host is not None and len(raw) <= MEMO_KEY_LIMIT:
        if len(_hosts) >= MEMO_LIMIT:
            _hosts.clear()
        _hosts[raw] = host
    return host


def _canonical_path(uri: str) -> str:
    """The judged path of ``uri`` (its query never counts), remembered; BadRequest when the
    path cannot be judged."""
    key = uri.partition("?")[0]
    try:
        return _paths[key]
    except KeyError:
        pass
    try:
        path = judge_path(split_uri(uri)[0])
    except UnjudgeablePath as exc:
        raise BadRequest(f"path refused: {exc}") from None
    if len(key) <= MEMO_KEY_LIMIT:
        if len(_paths) >= MEMO_LIMIT:
            _paths.clear()
        _paths[key] = path
    return path
