"""Small builders for the forward/ unit tests: apps, identities and requests as a proxy
would hand them over, built with the same code the check uses."""

from __future__ import annotations

from authgate.forward.model import AppView, Identity
from authgate.forward.request import ForwardRequest, Headers, Target

PREFIX = "/outpost.goauthentik.io"
NAVIGATE = {"sec-fetch-mode": "navigate", "accept": "text/html"}


def app(slug: str = "wiki", host: str = "wiki.test", **options: object) -> AppView:
    scheme = str(options.pop("scheme", "http"))
    return AppView(
        1,
        slug,
        slug.title(),
        f"{scheme}://{host}",
        scheme,
        host,
        **options,  # type: ignore[arg-type]
    )


def user(username: str = "alice", *groups: str) -> Identity:
    return Identity("s1", "p1", 7, f"uid-{username}", username, f"{username}@x.test", "A", groups)


def request(
    uri: str = "/",
    *,
    host: str = "wiki.test",
    method: str = "GET",
    ip: str = "192.0.2.10",
    can_redirect: bool = True,
    **headers: str,
) -> ForwardRequest:
    """A check as a proxy asks it; ``headers`` by name with ``_`` for ``-`` (a browser
    navigation unless they say otherwise)."""
    sent = NAVIGATE if not headers else {k.replace("_", "-"): v for k, v in headers.items()}
    raw = [(k.encode(), v.encode()) for k, v in sent.items()]
    target = Target(method, host, uri, can_redirect)
    return ForwardRequest.from_target(target, Headers(raw, trusted=True), ip)
