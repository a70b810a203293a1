"""Kubernetes Ingresses: ingress-nginx's path rules, or Traefik's when Traefik runs them.

ingress-nginx merges every Ingress of a host into one server: an ``Exact`` path wins, then the
longest ``Prefix`` (whole path elements) or ``ImplementationSpecific`` (a plain prefix). The
``auth-*`` annotations of an Ingress apply to all of its paths and to no other Ingress.
"""

from __future__ import annotations

from collections.abc import Iterator

from authgate.doctor.findings import Where
from authgate.doctor.kube import Inventory, KObject, dig, items, line_of, mapping, text
from authgate.doctor.routes import OUTPOST, ForwardAuth, HostSetup, Route, group_by_host, path_regex
from authgate.doctor.traefik import Router, RouterRule, crd_auth, guessed_auth

TRAEFIK_ANNOTATION = "traefik.ingress.kubernetes.io/"


def runs_on_traefik(ing: KObject) -> bool:
    cls = text(ing.spec.get("ingressClassName")) or text(
        ing.annotations.get("kubernetes.io/ingress.class")
    )
    return cls.startswith("traefik") or any(
        k.startswith(TRAEFIK_ANNOTATION) for k in ing.annotations
    )


def nginx_auth(ing: KObject) -> ForwardAuth | None:
    url = ing.annotation("auth-url")
    if url is None:
        return None
    headers = ing.annotation("auth-response-headers")
    return ForwardAuth(
        proxy="ingress-nginx",
        label=f"annotation auth-url of {ing.ref}",
        address=url,
        where=ing.at("metadata", "annotations", "nginx.ingress.kubernetes.io/auth-url"),
        copied=tuple(h.strip() for h in (headers or "").split(",") if h.strip()),
        copied_label="auth-response-headers",
        keepalive=_keepalive(ing.annotation("auth-keepalive")),
    )


def _keepalive(value: str | None) -> bool:
    """``auth-keepalive`` is a number of idle connections; off when absent or 0."""
    text = (value or "").strip()
    return text.isdigit() and int(text) > 0


def traefik_auth(inv: Inventory, ing: KObject) -> ForwardAuth | None:
    """``router.middlewares: <namespace>-<name>@kubernetescrd, …`` resolved among Middlewares."""
    value = text(ing.annotations.get(TRAEFIK_ANNOTATION + "router.middlewares"))
    for ref in (r.strip() for r in value.split(",") if r.strip()):
        for mw in inv.of("Middleware"):
            if ref == f"{mw.namespace or 'default'}-{mw.name}@kubernetescrd":
                found = crd_auth(inv, mw.namespace, mw.name)
                if found is not None:
                    return found
        guess = guessed_auth(ref, ing.where)
        if guess is not None and not ref.endswith("@kubernetescrd"):
            return guess
    return None


def _paths(ing: KObject) -> Iterator[tuple[str, object, str, str, str]]:
    """(host, path node, path, pathType, backend) for every path of every rule with a host."""
    for rule in items(ing.spec.get("rules")):
        host = text(mapping(rule).get("host")).lower()
        if not host:
            continue
        for p in items(dig(rule, "http", "paths")):
            node = mapping(p)
            service = mapping(dig(node, "backend", "service"))
            port = mapping(service.get("port"))
            backend = (
                f"{text(service.get('name'))}:{text(port.get('number')) or text(port.get('name'))}"
            )
            yield host, p, text(node.get("path")) or "/", text(node.get("pathType")), backend


def _tls_hosts(ing: KObject) -> set[str]:
    return {
        text(h).lower() for t in items(ing.spec.get("tls")) for h in items(mapping(t).get("hosts"))
    }


def _route(
    ing: KObject,
    host: str,
    node: object,
    path: str,
    kind: str,
    backend: str,
    auth: ForwardAuth | None,
    proxy: str,
) -> Route:
    how = {"Exact": "exact", "Prefix": "elements"}.get(kind, "string")
    return Route(
        proxy=proxy,
        label=f"{ing.ref} path {path}",
        where=Where(ing.file, line_of(node) or ing.where.line),
        host=host,
        name=ing.name,
        auth=auth,
        tls=host in _tls_hosts(ing),
        backend=backend,
        outpost=path.startswith(OUTPOST),
        open_path=None if path == "/" else path_regex(path, how),
        path=path,
    )


def _serves(kind: str, route_path: str, path: str) -> bool:
    if kind == "Exact":
        return path == route_path
    if kind == "Prefix":
        base = route_path.rstrip("/")
        return path == base or path.startswith(base + "/") or base == ""
    return path.startswith(route_path)


def nginx_setups(inv: Inventory) -> list[HostSetup]:
    table: list[tuple[Route, str, str]] = []
    for ing in inv.of("Ingress"):
        if runs_on_traefik(ing):
            continue
        auth = nginx_auth(ing)
        for host, node, path, kind, backend in _paths(ing):
            route = _route(ing, host, node, path, kind, backend, auth, "ingress-nginx")
            table.append((route, path, kind))

    def serving(host: str, _routes: list[Route], path: str) -> Route | None:
        hits = [(r, p, k) for r, p, k in table if r.host == host and _serves(k, p, path)]
        best = max(hits, key=lambda h: (h[2] == "Exact", len(h[1])), default=None)
        return best[0] if best else None

    return group_by_host("ingress-nginx", [r for r, _, _ in table], serving)


def traefik_routers(inv: Inventory) -> list[Router]:
    """Ingresses that Traefik runs, as the routers Traefik makes of them."""
    found: list[Router] = []
    for ing in inv.of("Ingress"):
        if not runs_on_traefik(ing):
            continue
        auth = traefik_auth(inv, ing)
        for host, node, path, kind, backend in _paths(ing):
            matcher = "Path" if kind == "Exact" else "PathPrefix"
            try:
                rule = RouterRule(f"Host(`{host}`) && {matcher}(`{path}`)")
            except ValueError:
                continue
            route = _route(ing, host, node, path, kind, backend, auth, "traefik")
            found.append(Router(route, rule, len(rule.source)))
    return found
