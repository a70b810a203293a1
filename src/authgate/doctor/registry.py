"""Every static check, in the order a person would fix things; ``run`` applies them all."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from authgate.doctor import checks_ingress, checks_kube, checks_routes, checks_traefik
from authgate.doctor.findings import Finding, ordered
from authgate.doctor.survey import Survey

#: A static check: reads the survey, names what goes wrong for the user and the fix.
Check = Callable[[Survey], Iterable[Finding]]

CHECKS: tuple[Check, ...] = (
    checks_routes.outpost_behind_auth,
    checks_routes.no_outpost_route,
    checks_routes.auth_endpoint,
    checks_routes.unregistered_hosts,
    checks_routes.app_conflicts,
    checks_ingress.signin,
    checks_ingress.forwarded_host,
    checks_ingress.snippets,
    checks_ingress.set_cookie_listed,
    checks_ingress.retired,
    checks_kube.externalname_ip,
    checks_kube.service_ports,
    checks_kube.endpoints,
    checks_kube.endpointslice_label,
    checks_kube.deprecated_endpoints,
    checks_kube.traefik_group,
    checks_traefik.missing_middleware,
    checks_traefik.cross_namespace,
    checks_routes.identity_headers,
    checks_routes.keepalive,
    checks_routes.unreadable_guard,
)


def run(survey: Survey, checks: Iterable[Check] = CHECKS) -> list[Finding]:
    """The input's own problems and every check's findings, errors first."""
    found = list(survey.inputs.problems)
    for check in checks:
        found.extend(check(survey))
    return ordered(found)
