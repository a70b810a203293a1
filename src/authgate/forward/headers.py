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


#: Client header families refused on every check (PROXIES.md): the names authgate emits and
#: the names common apps trust as identity. A family is a prefix and is refused whole, in any
#: case and with ``_`` read as ``-``. docs/proxies.md and README.md show this same list (a
#: unit test compares them). The second column says who emits or trusts the family.
REFUSED_IDENTITY_FAMILIES: tuple[tuple[str, str], ...] = (
    ("x-authentik-", "authgate, authentik"),
    ("remote-", "authgate, Authelia; Navidrome, Paperless-ngx, Graylog, Linkding"),
    ("x-auth-request-", "authgate, oauth2-proxy (--set-xauthrequest)"),
    ("x-remote-", "Kubernetes authenticating proxy, Apache"),
    ("x-webauth-", "Grafana auth.proxy, Gitea/Forgejo reverse-proxy auth, Tailscale"),
    ("x-forwarded-user", "oauth2-proxy, Jenkins reverse-proxy-auth"),
    ("x-forwarded-email", "oauth2-proxy"),
    ("x-forwarded-groups", "oauth2-proxy, Jenkins reverse-proxy-auth"),
    ("x-forwarded-preferred-username", "oauth2-proxy"),
    ("x-forwarded-access-token", "oauth2-proxy"),
    ("x-forwarded-login", "SonarQube"),
    ("x-forwarded-name", "SonarQube"),
    ("x-forwarded-roles", "Rundeck"),
    ("x-forwarded-uuid", "Rundeck"),
    ("x-user", "X-User, X-Username, X-User-Email, X-Userinfo (nginx examples, Kong OIDC)"),
    ("x-email", "nginx + oauth2-proxy examples, Pomerium claim headers"),
    ("x-group", "nginx + oauth2-proxy examples"),
    ("x-authenticated-", "Kong, generic SSO gateways"),
    ("x-consumer-", "Kong"),
    ("x-vouch-", "Vouch Proxy"),
    ("x-pomerium-", "Pomerium"),
    ("cf-access-", "Cloudflare Access"),
    ("tailscale-", "Tailscale Serve"),
    ("x-goog-authenticated-user-", "Google IAP"),
    ("x-goog-iap-jwt-assertion", "Google IAP"),
    ("x-amzn-oidc-", "AWS Application Load Balancer"),
    ("x-ms-client-principal", "Azure App Service authentication"),
    ("x-ms-token-", "Azure App Service authentication"),
    ("x-jwt-assertion", "Grafana auth.jwt, WSO2"),
)
#: Names inside a refused family that proxies and clients send legitimately.
ALLOWED_IN_FAMILIES = frozenset({"x-auth-request-redirect", "x-user-agent"})
_REFUSED_PREFIXES = tuple(prefix for prefix, _ in REFUSED_IDENTITY_FAMILIES)


def is_identity_header(name: str) -> bool:
    """True for a lower-cased header name a client must never send (``_`` read as ``-``)."""
    norm = name.replace("_", "-")
    return norm.startswith(_REFUSED_PREFIXES) and norm not in ALLOWED_IN_FAMILIES


def _safe(value: str) -> bytes:
    """Header-safe bytes: no CR, LF or other control characters can split the answer."""
    if not value.isprintable():
        value = "".join(ch for ch in value if ch.isprintable())
    return value.encode("utf-8", "replace")


# The names encoded once, and the version pair made once (pairs of literals below are
# constants already): an answer is kept for every (session, app) in use, and a kept answer
# made of fewer objects of its own takes less memory for each of them.
_USERNAME = tuple(h.encode() for h in USERNAME)
_EMAIL = tuple(h.encode() for h in EMAIL)
_NAME = tuple(h.encode() for h in NAME)
_GROUPS = tuple(h.encode() for h in GROUPS)
_VERSION = (b"x-authentik-meta-version", __version__.encode())


def identity_headers(
    identity: Identity | None, app: AppView, jwt: str = ""
) -> list[tuple[bytes, bytes]]:
    """Every identity header, empty when unknown (a bypass has no identity); for an app with
    ``jwt_bearer`` also ``Authorization: Bearer <jwt>`` when there is a token (without one
    the header is left out, and the proxy, which copies it, drops the client's own)."""
    username = email = name = groups = uid = b""
    if identity is not None:
        username = _safe(identity.username)
        email = _safe(identity.email)
        name = _safe(identity.name)
        groups = _safe("|".join(identity.groups))
        uid = _safe(identity.uid)
    out: list[tuple[bytes, bytes]] = []
    out += [(h, username) for h in _USERNAME]
    out += [(h, email) for h in _EMAIL]
    out += [(h, name) for h in _NAME]
    out += [(h, groups) for h in _GROUPS]
    slug = _safe(app.slug)
    out += [
        (b"x-authentik-uid", uid),
        (b"x-authentik-entitlements", b""),
        (b"x-authentik-jwt", _safe(jwt)),
        (b"x-authentik-meta-app", slug),
        (b"x-authentik-meta-provider", slug),
        (b"x-authentik-meta-outpost", b"authgate"),
        _VERSION,
    ]
    if app.jwt_bearer and jwt:  # for apps that verify a JWT in Authorization themselves
        out.append((b"authorization", b"Bearer " + _safe(jwt)))
    return out
