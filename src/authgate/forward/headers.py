"""Identity -> upstream headers, in every spelling of the compatibility contract."""

from __future__ import annotations

from authgate import __version__
from authgate.forward.model import AppView, Identity

USERNAME = ("x-authentik-username", "remote-user", "x-auth-request-user")
EMAIL = ("x-authentik-email", "remote-email", "x-auth-request-email")
NAME = ("x-authentik-name", "remote-name")
GROUPS = ("x-authentik-groups", "remote-groups", "x-auth-request-groups")

#: Every header name an answer carries on a 200, for docs, generators and the doctor.
IDENTITY_HEADERS = (
    "X-authentik-username",
    "X-authentik-groups",
    "X-authentik-entitlements",
    "X-authentik-email",
    "X-authentik-name",
    "X-authentik-uid",
    "X-authentik-jwt",
    "X-authentik-meta-app",
    "X-authentik-meta-provider",
    "X-authentik-meta-outpost",
    "X-authentik-meta-version",
    "Remote-User",
    "Remote-Groups",
    "Remote-Email",
    "Remote-Name",
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Groups",
)


def _safe(value: str) -> bytes:
    """Header-safe bytes: no CR, LF or other control characters can split the answer."""
    if not value.isprintable():
        value = "".join(ch for ch in value if ch.isprintable())
    return value.encode("utf-8", "replace")


def identity_headers(
    identity: Identity | None, app: AppView, jwt: str = ""
) -> list[tuple[bytes, bytes]]:
    """Every identity header, empty when unknown (a bypass has no identity)."""
    username = email = name = groups = uid = b""
    if identity is not None:
        username = _safe(identity.username)
        email = _safe(identity.email)
        name = _safe(identity.name)
        groups = _safe("|".join(identity.groups))
        uid = _safe(identity.uid)
    out: list[tuple[bytes, bytes]] = []
    out += [(h.encode(), username) for h in USERNAME]
    out += [(h.encode(), email) for h in EMAIL]
    out += [(h.encode(), name) for h in NAME]
    out += [(h.encode(), groups) for h in GROUPS]
    slug = _safe(app.slug)
    out += [
        (b"x-authentik-uid", uid),
        (b"x-authentik-entitlements", b""),
        (b"x-authentik-jwt", _safe(jwt)),
        (b"x-authentik-meta-app", slug),
        (b"x-authentik-meta-provider", slug),
        (b"x-authentik-meta-outpost", b"authgate"),
        (b"x-authentik-meta-version", __version__.encode()),
    ]
    return out
