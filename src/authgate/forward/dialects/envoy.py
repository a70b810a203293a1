"""Envoy ``ext_authz`` (HTTP service): the original method and path follow our path prefix,
the original Host is kept. Only 200 allows; other answers reach the client."""

from __future__ import annotations

from authgate.forward.answers import to_client as render
from authgate.forward.request import Headers, Target

name = "envoy"
MOUNT = "/auth/envoy"  # the original path follows this part of the check's own path
__all__ = ["name", "parse", "render"]


def parse(headers: Headers, path: str, method: str) -> Target:
    """``path`` is the check's raw path and query: what follows the mount is the original."""
    raw, sep, query = path.partition("?")
    original = raw.partition(MOUNT)[2] or "/"
    return Target(method, headers.get("host"), original + sep + query)
