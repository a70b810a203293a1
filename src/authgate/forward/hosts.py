"""Canonical host names: lower case, no trailing dot, IDNA applied, default ports dropped."""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT = re.compile(r"^[0-9]{1,5}$")
DEFAULT_PORTS = {"80", "443"}


def canonical_host(raw: str) -> str | None:
    """``host[:port]`` in canonical form, or None when it is not a usable host name
    (the check remembers its answers: ``forward/request.py``).

    Ports 80 and 443 are dropped whatever the scheme: the scheme a proxy reports is not
    trusted, and no one registers an app on http://host:443.
    """
    text = raw.strip()
    if not text or len(text) > 300:
        return None
    host, port = _split_port(text)
    if host is None or (port and (not _PORT.match(port) or not 0 < int(port) < 65536)):
        return None
    name = _canonical_name(host)
    if name is None:
        return None
    return name if not port or port in DEFAULT_PORTS else f"{name}:{int(port)}"


def url_host(url: str) -> str:
    """The canonical ``host[:port]`` of an absolute URL (its lower-cased netloc when that is
    not a usable host)."""
    netloc = url.partition("://")[2].split("/", 1)[0]
    return canonical_host(netloc) or netloc.lower()


def hostname_of(host: str) -> str:
    """The name part of a canonical ``host[:port]``."""
    if host.startswith("["):
        return host[: host.index("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def within_domain(host: str, domain: str) -> bool:
    """True when ``host`` is ``domain`` or ends with whole labels of it."""
    name = hostname_of(host)
    return name == domain or name.endswith("." + domain)


def _split_port(text: str) -> tuple[str | None, str]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None, ""
        rest = text[end + 1 :]
        if rest and not rest.startswith(":"):
            return None, ""
        return text[: end + 1], rest[1:]
    if text.count(":") > 1:
        return None, ""
    host, _, port = text.partition(":")
    if _ and not port:
        return None, ""
    return host, port


def _canonical_name(host: str) -> str | None:
    if host.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    name = host.lower().removesuffix(".")
    if not name or any(ch in name for ch in "\\/@%?#") or not name.isprintable():
        return None
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = name.split(".")
    if all(_LABEL.match(label) for label in labels):
        return name
    return None
