"""Every static rule, in the order a person would fix things; ``run`` applies them all."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from authgate.doctor import rules_ingress, rules_kube, rules_routes, rules_traefik
from authgate.doctor.context import Context
from authgate.doctor.findings import Finding, ordered

Rule = Callable[[Context], Iterable[Finding]]

RULES: tuple[Rule, ...] = (
    rules_routes.outpost_behind_auth,
    rules_routes.no_outpost_route,
    rules_routes.auth_endpoint,
    rules_routes.unregistered_hosts,
    rules_routes.app_conflicts,
    rules_ingress.signin,
    rules_ingress.forwarded_host,
    rules_ingress.snippets,
    rules_ingress.set_cookie_listed,
    rules_ingress.retired,
    rules_kube.externalname_ip,
    rules_kube.service_ports,
    rules_kube.endpoints,
    rules_kube.endpointslice_label,
    rules_kube.deprecated_endpoints,
    rules_kube.traefik_group,
    rules_traefik.missing_middleware,
    rules_traefik.cross_namespace,
    rules_routes.identity_headers,
    rules_routes.keepalive,
)


def run(ctx: Context, rules: Iterable[Rule] = RULES) -> list[Finding]:
    """The input's own problems and every rule's findings, errors first."""
    found = list(ctx.inputs.problems)
    for rule in rules:
        found.extend(rule(ctx))
    return ordered(found)
