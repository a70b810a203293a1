"""The settings object: one frozen dataclass, built once by the loader and passed explicitly."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from authgate.config.issuers import IssuerConfig
from authgate.config.secret import Secret

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TRUSTED_PROXIES = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)
LOOPBACK = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    public_url: str
    host: str = "127.0.0.1"
    port: int = 9000
    session_lifetime: int = 12 * 3600
    idle_timeout: int = 0
    remember_me_lifetime: int = 30 * 86400
    outpost_prefix: str = "/outpost.goauthentik.io"
    trusted_proxies: tuple[Network, ...] = ()
    server: str = "granian"
    workers: int = 1
    log_level: str = "info"
    sync_interval: float = 1.0
    audit_retention: int = 30 * 86400
    # the cookie HMAC keys, newest first, when AUTHGATE_SECRET_KEY(_FILE) overrides the store's
    secret_keys: tuple[Secret, ...] = field(default=(), repr=False)
    jwt_key_file: Path | None = None  # AUTHGATE_JWT_KEY_FILE: a PEM that overrides the store's
    redis_url: str = field(default="", repr=False)  # counters, session cache, change feed
    redis_prefix: str = "authgate:"  # every Redis key and channel authgate uses starts so
    change_feed: str = "auto"  # auto: LISTEN/NOTIFY or Redis pub/sub; poll: the poll alone
    require_mfa: bool = False  # apps that do not say otherwise need a second factor
    smtp_url: str = field(default="", repr=False)  # invitation and reset links are mailed
    smtp_from: str = ""  # the From address of those mails (default: authgate@<portal host>)
    degraded_grace: int = 300  # known sessions keep working this long into a store outage
    metrics_allow: tuple[Network, ...] = ()  # who may read /-/metrics (the loader fills it)
    log_format: str = "text"  # text | json (one object per line)
    metrics_dir: str = ""  # PROMETHEUS_MULTIPROC_DIR, which ``serve`` sets for its workers
    issuers: tuple[IssuerConfig, ...] = ()  # external JWT issuers (machine identities)

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def public_secure(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def revision_file(self) -> Path:
        return self.data_dir / "revision"

    @property
    def legacy_secret_key_file(self) -> Path:
        """Where versions before shared keys kept the cookie keys (imported once, then unused)."""
        return self.data_dir / "secret.key"

    @property
    def legacy_jwt_key_file(self) -> Path:
        """Where versions before shared keys kept the JWT key (imported once, then unused)."""
        return self.data_dir / "jwt.key"

    def is_trusted_proxy(self, address: str) -> bool:
        return _within(address, self.trusted_proxies)

    def may_read_metrics(self, address: str) -> bool:
        """``address`` (the client as the portal judges it) is in ``metrics_allow``."""
        return _within(address, self.metrics_allow)


def _within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)
