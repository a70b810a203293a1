"""Build :class:`Settings` from defaults, an optional YAML file and ``AUTHGATE_*`` variables.

This is the only module that reads the environment. Every problem is collected and reported
at once in a :class:`~authgate.errors.ConfigError`, each naming the setting and its source.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from authgate.config.issuers import parse_issuers
from authgate.config.secret import Secret, read_key_file, redact_url
from authgate.config.settings import DEFAULT_TRUSTED_PROXIES, LOOPBACK, Network, Settings
from authgate.errors import ConfigError

ENV_PREFIX = "AUTHGATE_"
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own; ``serve`` sets it
KNOWN = (
    "data_dir",
    "database_url",
    "public_url",
    "host",
    "port",
    "session_lifetime",
    "idle_timeout",
    "remember_me_lifetime",
    "outpost_prefix",
    "trusted_proxies",
    "server",
    "workers",
    "log_level",
    "sync_interval",
    "audit_retention",
    "secret_key",
    "secret_key_file",
    "jwt_key_file",
    "redis_url",
    "redis_prefix",
    "change_feed",
    "require_mfa",
    "smtp_url",
    "smtp_from",
    "degraded_grace",
    "metrics_allow",
    "log_format",
    "issuers",
)
MISSING_PUBLIC_URL = (
    "AUTHGATE_PUBLIC_URL (public_url in a config file) is not set: it is the login portal's "
    "address as browsers reach it, and every login redirect is built from it; "
    "e.g. AUTHGATE_PUBLIC_URL=https://auth.example.com"
)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> int:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"12h"``, ``"30d"`` or ``"1w"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 12h or 7d")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("expected a duration such as 30m, 12h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_networks(value: object) -> tuple[Network, ...]:
    """CIDR list from a YAML list or a comma/space separated string; ``*`` means everyone."""
    items = value if isinstance(value, list) else re.split(r"[,\s]+", str(value))
    nets: list[Network] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if text == "*":
            nets += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            continue
        nets.append(ipaddress.ip_network(text, strict=False))
    return tuple(nets)


def _parse_url(value: object) -> str:
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "expected an absolute http:// or https:// URL, e.g. https://auth.example.com"
        )
    if parts.query or parts.fragment or parts.username:
        raise ValueError("must not carry a query, fragment or user name")
    if parts.path not in ("", "/"):
        raise ValueError(
            "must be the portal's own origin without a path, e.g. https://auth.example.com"
        )
    return text


_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def parse_database_url(value: object) -> str:
    """SQLite or PostgreSQL, always with the async driver authgate ships with."""
    text = str(value).strip()
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in _DRIVERS:
        raise ValueError(
            "use sqlite:///path/to/authgate.db or postgresql://user:password@host/database"
        )
    return f"{_DRIVERS[scheme.lower()]}://{rest}"


def parse_redis_url(value: object) -> str:
    """``redis://``, ``rediss://`` (TLS) or ``unix://``; empty means no Redis."""
    text = str(value).strip()
    if text and urlsplit(text).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("use redis://host:6379/0, rediss://host:6380/0 or unix:///path")
    return text


def _parse_redis_prefix(value: object) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9._:{}/-]{1,64}", text):
        raise ValueError("expected up to 64 letters, digits or ._:{}/- such as authgate:")
    return text


def parse_flag(value: object) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case), or a YAML boolean."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def parse_smtp_url(value: object) -> str:
    """``smtp://[user:password@]host[:port]`` (STARTTLS when offered), ``smtps://`` (TLS from
    the start); empty means no mail is sent."""
    text = str(value).strip()
    if text and (urlsplit(text).scheme not in ("smtp", "smtps") or not urlsplit(text).hostname):
        raise ValueError("use smtp://user:password@mail.example.com:587 or smtps://host:465")
    return text


def _parse_port(value: object) -> int:
    port = int(str(value))
    if not 0 < port < 65536:
        raise ValueError("expected a port between 1 and 65535")
    return port


def _parse_positive(value: object) -> int:
    number = int(str(value))
    if number < 1:
        raise ValueError("expected a whole number of at least 1")
    return number


def _parse_prefix(value: object) -> str:
    text = "/" + str(value).strip().strip("/")
    if text == "/" or not re.fullmatch(r"/[A-Za-z0-9._~/-]+", text):
        raise ValueError("expected a path such as /outpost.goauthentik.io")
    return text


def _parse_choice(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of: {', '.join(choices)}")
        return text

    return parse


_PARSERS: dict[str, Callable[[object], Any]] = {
    "data_dir": lambda v: Path(str(v)),
    "database_url": parse_database_url,
    "public_url": _parse_url,
    "host": lambda v: str(v).strip(),
    "port": _parse_port,
    "session_lifetime": parse_duration,
    "idle_timeout": parse_duration,
    "remember_me_lifetime": parse_duration,
    "outpost_prefix": _parse_prefix,
    "trusted_proxies": parse_networks,
    "server": _parse_choice("granian", "uvicorn"),
    "workers": _parse_positive,
    "log_level": _parse_choice("debug", "info", "warning", "error"),
    "sync_interval": lambda v: max(0.1, float(str(v))),
    "audit_retention": parse_duration,
    "secret_key": lambda v: str(v),
    "secret_key_file": lambda v: Path(str(v)),
    "jwt_key_file": lambda v: Path(str(v)),
    "redis_url": parse_redis_url,
    "redis_prefix": _parse_redis_prefix,
    "change_feed": _parse_choice("auto", "poll"),
    "require_mfa": parse_flag,
    "smtp_url": parse_smtp_url,
    "smtp_from": lambda v: str(v).strip(),
    "degraded_grace": parse_duration,
    "metrics_allow": parse_networks,
    "log_format": _parse_choice("text", "json"),
    "issuers": parse_issuers,
}


def read_yaml_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML settings file; any problem becomes a one-line ConfigError."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([f"config file {path}: cannot read it ({exc.strerror})"]) from exc
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError([f"config file {path}: not valid YAML ({first})"]) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"config file {path}: expected a mapping of settings at the top"])
    return {str(k).replace("-", "_").lower(): v for k, v in data.items()}


def load_settings(
    environ: Mapping[str, str],
    config_file: Path | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    require_public_url: bool = False,
) -> Settings:
    """Merge the sources, parse every value, and raise one ConfigError naming each problem.

    ``require_public_url``: a server builds every login redirect from the public URL, so it
    must be given; commands that only manage the store do without. Nothing is written: the
    signing keys live in the store, a key file is only read when a setting names it.
    """
    raw: dict[str, tuple[object, str]] = {}
    problems: list[str] = []
    file_path = config_file or (
        Path(environ[ENV_PREFIX + "CONFIG"]) if environ.get(ENV_PREFIX + "CONFIG") else None
    )
    if file_path is not None:
        for key, value in read_yaml_file(file_path).items():
            if key not in KNOWN:
                problems.append(f"{key} (config file {file_path}): unknown setting")
            else:
                raw[key] = (value, f"config file {file_path}")
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and name != ENV_PREFIX + "CONFIG":
            key = name[len(ENV_PREFIX) :].lower()
            if key in KNOWN:
                raw[key] = (value, name)
    for key, value in (overrides or {}).items():
        if value is not None:
            raw[key] = (value, f"--{key.replace('_', '-')}")

    if require_public_url and "public_url" not in raw:
        problems.append(MISSING_PUBLIC_URL)
    values: dict[str, Any] = {}
    for key, (value, source) in raw.items():
        try:
            values[key] = _PARSERS[key](value)
        except (ValueError, TypeError) as exc:
            label = source if source.startswith(ENV_PREFIX) else f"{key} ({source})"
            shown = {"secret_key": "(hidden)", "issuers": "(the list)"}.get(
                key, repr(redact_url(str(value)))
            )
            problems.append(f"{label}: {shown} is not usable: {exc}")
    if problems:
        raise ConfigError(problems)
    settings = _build(values)
    metrics_dir = environ.get(MULTIPROC_DIR, "")
    return dataclasses.replace(settings, metrics_dir=metrics_dir) if metrics_dir else settings


def _build(values: dict[str, Any]) -> Settings:
    data_dir: Path = values.get("data_dir", Path("data")).resolve()
    host: str = values.get("host", "127.0.0.1")
    port: int = values.get("port", 9000)
    # Without a public URL (allowed only for commands that do not serve) a local address.
    public_url = values.get("public_url") or f"http://{_display_host(host)}:{port}"
    database_url = values.get("database_url") or f"sqlite+aiosqlite:///{data_dir / 'authgate.db'}"
    keys: list[Secret] = []
    if "secret_key" in values:
        keys = [Secret(values["secret_key"])]
    elif "secret_key_file" in values:
        key_file: Path = values["secret_key_file"]
        try:
            keys = read_key_file(key_file)
        except OSError as exc:
            raise ConfigError([f"secret key file {key_file}: {exc.strerror or exc}"]) from exc
        except ValueError as exc:
            raise ConfigError([f"secret key file {key_file}: not a text file"]) from exc
        if not keys:
            raise ConfigError([f"secret key file {key_file}: holds no key"])
    trusted = values.get("trusted_proxies", parse_networks(list(DEFAULT_TRUSTED_PROXIES)))
    # default: this machine and the proxies in front (an ingress's pod network)
    metrics_allow = values.get("metrics_allow", parse_networks(list(LOOPBACK)) + trusted)
    passthrough = {
        k: values[k]
        for k in (
            "session_lifetime",
            "idle_timeout",
            "remember_me_lifetime",
            "outpost_prefix",
            "server",
            "workers",
            "log_level",
            "sync_interval",
            "audit_retention",
            "redis_url",
            "redis_prefix",
            "change_feed",
            "require_mfa",
            "smtp_url",
            "smtp_from",
            "jwt_key_file",
            "degraded_grace",
            "log_format",
            "issuers",
        )
        if k in values
    }
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        public_url=public_url,
        host=host,
        port=port,
        trusted_proxies=trusted,
        metrics_allow=metrics_allow,
        secret_keys=tuple(keys),
        **passthrough,
    )


def _display_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - only used to print a URL
        return "localhost"
    return f"[{host}]" if ":" in host else host
