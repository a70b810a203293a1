"""One picture of every proxy: per host, the routes, their forward auth, the outpost route.

Each proxy adapter (ingress.py, traefik.py, nginx.py, caddy.py) applies its own proxy's
matching rules and answers the two questions the rules ask of every host: which routes carry
forward auth, and which route a browser reaches at ``<outpost>/start``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from authgate.doctor.findings import Where

OUTPOST = "/outpost.goauthentik.io"
OUTPOST_PROBE = OUTPOST + "/start"
APP_PROBE = "/a-path-no-outpost-uses"

#: auth endpoint path (under the outpost prefix) that each proxy kind needs
DIALECT_OF = {"ingress-nginx": "nginx", "nginx": "nginx", "traefik": "traefik", "caddy": "caddy"}


@dataclass(frozen=True)
class ForwardAuth:
    """The forward-auth check of a route, as its proxy configures it."""

    proxy: str  # ingress-nginx | traefik | nginx | caddy
    label: str  # "Middleware public-ingress/authentik-forward-auth", "annotation auth-url …"
    address: str  # where the check is sent (URL or upstream + path)
    where: Where
    copied: tuple[str, ...] | None = None  # header names it sets on the upstream request
    copied_label: str = ""  # the setting that lists them (auth-response-headers, …)
    keepalive: bool | None = None  # connections to the auth server reused? None: not judged
    #: nginx: does the auth location turn the server's 400 (a header with a control byte)
    #: into a refusal, rather than leave auth_request to make a 500 of it? None: not judged
    unreadable_guard: bool | None = None


@dataclass(frozen=True)
class Route:
    proxy: str
    label: str  # the object a person edits: "Ingress/wiki/wiki path /", "router wiki"
    where: Where
    host: str
    name: str  # the object's own name (slug source for import)
    auth: ForwardAuth | None
    tls: bool
    backend: str = ""
    outpost: bool = False  # this route is meant for the outpost path (matches it, not the app)
    open_path: str | None = None  # as an authgate --skip-path regex; None: covers the whole host
    path: str = ""  # a path this route serves, as written ("" when it has no path of its own)


@dataclass(frozen=True)
class HostSetup:
    proxy: str
    host: str
    routes: tuple[Route, ...]
    serves_outpost: Route | None  # what a browser reaches at <outpost>/start
    tls: bool = False

    @property
    def protected(self) -> bool:
        return any(r.auth is not None for r in self.routes)

    @property
    def outpost_routes(self) -> list[Route]:
        return [r for r in self.routes if r.outpost]

    @property
    def auths(self) -> list[ForwardAuth]:
        return list(dict.fromkeys(r.auth for r in self.routes if r.auth is not None))


def group_by_host(
    proxy: str,
    routes: Iterable[Route],
    serving: Callable[[str, list[Route], str], Route | None],
) -> list[HostSetup]:
    """One HostSetup per host; ``serving(host, routes, path)`` applies the proxy's own rules."""
    by_host: dict[str, list[Route]] = {}
    for route in routes:
        by_host.setdefault(route.host, []).append(route)
    return [
        HostSetup(
            proxy=proxy,
            host=host,
            routes=tuple(group),
            serves_outpost=serving(host, group, OUTPOST_PROBE),
            tls=any(r.tls for r in group),
        )
        for host, group in by_host.items()
    ]


def path_regex(path: str, how: str = "elements") -> str:
    """A routed path as an authgate skip-path regex: ``exact``, ``string`` prefix (Traefik,
    nginx) or prefix by path ``elements`` (Kubernetes ``Prefix``)."""
    escaped = re.escape(path)
    if how == "exact":
        return f"^{escaped}$"
    if how == "string" or path.endswith("/"):
        return f"^{escaped}"
    return f"^{escaped}(/|$)"
