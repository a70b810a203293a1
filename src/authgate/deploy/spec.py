"""What every generator needs: the app, where its upstream lives, where authgate answers.

Each ``parse_*`` function reads one command-line value and raises ``SpecError`` with one
line naming the flag when the value cannot be used.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from authgate.errors import AuthgateError
from authgate.forward.headers import IDENTITY_HEADERS
from authgate.forward.hosts import canonical_host, hostname_of

OUTPOST = "/outpost.goauthentik.io"
DEFAULT_AUTH_SERVICE = "http://authgate.authgate.svc.cluster.local:9000"
DEFAULT_LOCAL_AUTH_SERVICE = "http://127.0.0.1:9000"
#: authgate's answer to a check for an app with strip_cookie carries the browser's Cookie
#: without authgate's own cookies; the proxy puts it in place of the upstream's Cookie.
COOKIE = "Cookie"
#: copied from the answer like an identity header: authgate's own tokens and app passwords
#: never reach the app (the answer has none), an app with jwt_bearer gets ``Bearer <the
#: X-authentik-jwt>``, an app's own Authorization comes back in it
AUTHORIZATION = "Authorization"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_SVC_DNS = re.compile(r"^(?P<name>[a-z0-9-]+)\.(?P<namespace>[a-z0-9-]+)\.svc(\.[a-z0-9.-]+)?$")
_HEADER_SAFE = re.compile(r"^[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]*$")


class SpecError(AuthgateError):
    """A command-line value no generator can use; the message names the flag."""


@dataclass(frozen=True)
class Address:
    """``host:port``: an IP address, a DNS name or (``service``) a Kubernetes Service name."""

    host: str
    port: int
    service: bool = False

    @property
    def is_ip(self) -> bool:
        return _ip(self.host) is not None

    @property
    def ip_family(self) -> str:
        ip = _ip(self.host)
        return "IPv6" if ip is not None and ip.version == 6 else "IPv4"

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class AuthService:
    """Where the proxy reaches authgate, e.g. ``http://authgate.authgate.svc.cluster.local:9000``."""

    scheme: str
    host: str
    port: int

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{Address(self.host, self.port).hostport}"

    @property
    def hostport(self) -> str:
        return Address(self.host, self.port).hostport

    def url(self, path: str) -> str:
        return self.origin + path

    @property
    def is_ip(self) -> bool:
        return _ip(self.host) is not None

    def service_ref(self) -> tuple[str, str] | None:
        """(name, namespace) when the host is a Service's cluster DNS name."""
        match = _SVC_DNS.match(self.host)
        return (match["name"], match["namespace"]) if match else None


@dataclass(frozen=True)
class App:
    """The protected app as browsers reach it."""

    slug: str
    scheme: str
    host: str  # canonical host[:port]

    @property
    def hostname(self) -> str:
        return hostname_of(self.host)

    @property
    def port(self) -> int:
        name = self.hostname
        rest = self.host[len(name) :]
        return int(rest[1:]) if rest.startswith(":") else (443 if self.secure else 80)

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def secure(self) -> bool:
        return self.scheme == "https"

    @property
    def signin_url(self) -> str:
        return f"{self.origin}{OUTPOST}/start"


@dataclass(frozen=True)
class Spec:
    """Everything a target generator reads; built once from the flags."""

    app: App
    auth: AuthService
    backend: Address | None = None
    namespace: str = "default"
    tls_secret: str = ""
    cert_resolver: str = ""
    ingress_class: str = "nginx"
    legacy_endpoints: bool = False
    gateway: str = ""  # [NAMESPACE/]NAME of the Gateway the routes attach to
    entry_point: str = ""
    listen: Address | None = None
    middleware_namespace: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    strip_cookie: bool = False  # the app's --strip-cookie: copy Cookie from authgate's answer
    jwt_bearer: bool = False  # the app's jwt_bearer: copy Authorization from authgate's answer
    auth_cache: int = 0  # --auth-cache: seconds the proxy keeps an allow; 0: no cache

    @property
    def name(self) -> str:
        return self.app.slug

    def upstream_headers(self) -> list[str]:
        """The headers the proxy copies from authgate's answer into the upstream request:
        every identity header, ``Authorization`` (authgate's own credentials stop at the
        proxy) and ``Cookie`` for an app with ``strip_cookie``."""
        return [*IDENTITY_HEADERS, AUTHORIZATION, *([COOKIE] if self.strip_cookie else [])]


def parse_app(slug: str, url: str) -> App:
    parts = urlsplit(url.strip())
    host = canonical_host(parts.netloc) if parts.netloc and "@" not in parts.netloc else None
    if parts.scheme not in ("http", "https") or host is None:
        raise SpecError(f"--url {url!r} is not an absolute http(s) URL")
    return App(slug, parts.scheme, host)


def parse_auth_service(url: str) -> AuthService:
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise SpecError(
            f"--auth-service {url!r} is not an http(s) URL such as {DEFAULT_AUTH_SERVICE}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SpecError(f"--auth-service {url!r} must be an origin only, without a path")
    default = 443 if parts.scheme == "https" else 80
    return AuthService(parts.scheme, parts.hostname.lower(), port or default)


def _port(text: str, flag: str, value: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SpecError(f"{flag} {value!r}: the port must be a number from 1 to 65535")
    return int(text)


def _split(value: str, flag: str, form: str) -> tuple[str, str]:
    text = value.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise SpecError(f"{flag} {value!r} is not of the form {form}")
    return host, port


def parse_service(value: str) -> Address:
    """``--service NAME:PORT``: a Kubernetes Service in the app's namespace."""
    name, port = _split(value, "--service", "NAME:PORT")
    if not _SERVICE_NAME.match(name):
        raise SpecError(f"--service {value!r}: {name!r} is not a Kubernetes Service name")
    return Address(name, _port(port, "--service", value), service=True)


def parse_backend(value: str, *, ip_only: bool) -> Address:
    """``--backend IP:PORT`` (Kubernetes targets) or ``HOST:PORT`` (nginx, Caddy, Traefik)."""
    host, port = _split(value, "--backend", "IP:PORT" if ip_only else "HOST:PORT")
    address = Address(host.lower(), _port(port, "--backend", value))
    if ip_only and not address.is_ip:
        raise SpecError(
            f"--backend {value!r}: an off-cluster backend needs an IP address "
            "(an EndpointSlice holds addresses, not names)"
        )
    if not address.is_ip and canonical_host(host) is None:
        raise SpecError(f"--backend {value!r}: {host!r} is not a host name or IP address")
    return address


def parse_listen(value: str) -> Address:
    """``--listen [ADDRESS:]PORT`` for the nginx and Caddy targets."""
    if value.strip().isdigit():
        return Address("", _port(value.strip(), "--listen", value))
    host, port = _split(value, "--listen", "[ADDRESS:]PORT")
    return Address(host, _port(port, "--listen", value))


#: the longest --auth-cache: a revoked session is still let in for up to this long
AUTH_CACHE_MAX = 60
_DURATION = re.compile(r"^(?P<n>[0-9]{1,4})(?P<unit>s|m)?$")


def parse_auth_cache(value: str) -> int:
    """``--auth-cache DURATION`` (``1s``, ``30s``, ``1m``; a bare number is seconds): how long
    the proxy keeps authgate's allow. It is also how late a revocation takes effect."""
    match = _DURATION.match(value.strip().lower())
    seconds = int(match["n"]) * (60 if match["unit"] == "m" else 1) if match else 0
    if match is None or seconds < 1:
        raise SpecError(
            f"--auth-cache {value!r} is not a duration such as 1s, 5s or 1m (whole seconds)"
        )
    if seconds > AUTH_CACHE_MAX:
        raise SpecError(
            f"--auth-cache {value!r}: at most {AUTH_CACHE_MAX}s; a revoked session or a "
            "removed group still gets in for the whole cache time"
        )
    return seconds


def check_k8s_name(value: str, flag: str) -> str:
    if not _DNS_LABEL.match(value):
        raise SpecError(f"{flag} {value!r} is not a Kubernetes name (lower case, digits, '-')")
    return value


def check_safe(value: str, flag: str) -> str:
    """Refuse characters that would break out of a config file's quoting."""
    if not _HEADER_SAFE.match(value):
        raise SpecError(f"{flag} {value!r} holds characters a config file cannot carry")
    return value


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
