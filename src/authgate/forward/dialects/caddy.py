"""Caddy ``forward_auth``: the same X-Forwarded-* shape as Traefik, the original Host kept.

Caddy copies ``copy_headers`` only when non-empty and hands other answers to the client.
"""

from __future__ import annotations

from authgate.forward.answers import to_client as render
from authgate.forward.dialects.traefik import parse

name = "caddy"
__all__ = ["name", "parse", "render"]
