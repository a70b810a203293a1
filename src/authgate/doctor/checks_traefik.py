"""Static checks for Traefik's references: Middlewares that are missing or in another
namespace."""

from __future__ import annotations

from collections.abc import Iterator

from authgate.doctor.findings import Finding, Where, error, warning
from authgate.doctor.kube import KObject, dig, items, line_of, mapping, same_namespace, text
from authgate.doctor.survey import Survey

ALLOW = (
    "set allowCrossNamespace: true on the kubernetesCRD provider (Helm: "
    "providers.kubernetesCRD.allowCrossNamespace=true), or move the objects into namespace "
)


def _refs(obj: KObject) -> Iterator[tuple[str, str, str, Where]]:
    """(kind, namespace, name, place) of every Middleware and Service an IngressRoute names."""
    for route in items(obj.spec.get("routes")):
        for ref in items(mapping(route).get("middlewares")):
            node = mapping(ref)
            where = Where(obj.file, line_of(ref) or obj.where.line)
            yield "Middleware", text(node.get("namespace")), text(node.get("name")), where
        for ref in items(mapping(route).get("services")):
            node = mapping(ref)
            where = Where(obj.file, line_of(ref) or obj.where.line)
            yield "Service", text(node.get("namespace")), text(node.get("name")), where


def cross_namespace(survey: Survey) -> Iterator[Finding]:
    for obj in survey.inventory.of("IngressRoute"):
        others = [
            (kind, ns, name, where)
            for kind, ns, name, where in _refs(obj)
            if ns and not same_namespace(ns, obj.namespace) and "@" not in name
        ]
        if others:
            names = ", ".join(sorted({f"{k} {ns}/{n}" for k, ns, n, _ in others}))
            yield warning(
                "traefik-cross-namespace",
                obj.ref,
                f"it refers to {names} in another namespace: Traefik ignores such references "
                "unless its provider allows them (allowCrossNamespace, default false) — then the "
                "route is not served (404)",
                ALLOW + (obj.namespace or "default"),
                others[0][3],
            )


def missing_middleware(survey: Survey) -> Iterator[Finding]:
    for obj in survey.inventory.of("IngressRoute"):
        for kind, ns, name, where in _refs(obj):
            if kind != "Middleware" or "@" in name:
                continue
            if survey.inventory.find("Middleware", ns or obj.namespace, name) is None:
                yield _missing(obj.ref, f"{ns or obj.namespace or 'default'}/{name}", where)
    for doc, file in survey.inputs.traefik_files:
        defined = mapping(dig(doc, "http", "middlewares"))
        for router_name, router in mapping(dig(doc, "http", "routers")).items():
            for ref in (text(m) for m in items(mapping(router).get("middlewares"))):
                name, _, provider = ref.partition("@")
                if provider in ("", "file") and name not in defined:
                    yield _missing(f"router {router_name}", name, Where(file, line_of(router)))


def _missing(owner: str, name: str, where: Where) -> Finding:
    return error(
        "traefik-middleware-missing",
        owner,
        f"Middleware {name} is not among the given configuration: if it does not exist, Traefik "
        "drops the route and answers 404",
        "create the Middleware (or fix the name and namespace in the reference)",
        where,
    )
