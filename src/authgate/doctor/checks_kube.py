"""Static checks for the Kubernetes objects around the routes: Services, endpoints, Traefik
CRDs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from authgate.doctor.findings import Finding, Where, error, warning
from authgate.doctor.kube import KObject, dig, items, line_of, mapping, same_namespace, text
from authgate.doctor.survey import Survey

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def externalname_ip(survey: Survey) -> Iterator[Finding]:
    for svc in survey.inventory.of("Service"):
        name = text(svc.spec.get("externalName"))
        try:
            ipaddress.ip_address(name)
        except ValueError:
            continue
        yield error(
            "externalname-ip",
            svc.ref,
            f"externalName {name} is an IP address: Kubernetes treats it as a DNS name, the "
            "lookup fails and the proxy answers 502/503",
            "use a Service without selector plus an EndpointSlice with that IP (seed 000's "
            "headless Service and endpoints)",
            svc.at("spec", "externalName"),
        )


def _ports(svc: KObject) -> list[Mapping[str, Any]]:
    return [mapping(p) for p in items(svc.spec.get("ports"))]


def _backends(survey: Survey) -> Iterator[tuple[KObject, str, str, str, Where]]:
    """(referring object, namespace, service name, port, place) for every service reference."""
    for ing in survey.inventory.of("Ingress"):
        for rule in items(ing.spec.get("rules")):
            for path in items(dig(rule, "http", "paths")):
                svc = mapping(dig(path, "backend", "service"))
                port = mapping(svc.get("port"))
                port_ref = text(port.get("number")) or text(port.get("name"))
                where = Where(ing.file, line_of(path) or ing.where.line)
                yield ing, ing.namespace, text(svc.get("name")), port_ref, where
    for route_obj in survey.inventory.of("IngressRoute"):
        for route in items(route_obj.spec.get("routes")):
            for svc in (mapping(s) for s in items(mapping(route).get("services"))):
                if text(svc.get("kind")) in ("", "Service"):
                    namespace = text(svc.get("namespace")) or route_obj.namespace
                    where = Where(route_obj.file, line_of(svc) or route_obj.where.line)
                    yield route_obj, namespace, text(svc.get("name")), text(svc.get("port")), where


def service_ports(survey: Survey) -> Iterator[Finding]:
    for owner, namespace, name, port, where in _backends(survey):
        svc = survey.inventory.find("Service", namespace, name)
        if svc is None or not port or text(svc.spec.get("type")) == "ExternalName":
            continue
        known = {text(p.get("port")) for p in _ports(svc)} | {
            text(p.get("name")) for p in _ports(svc)
        }
        if port not in known - {""}:
            offered = ", ".join(sorted(k for k in known if k)) or "none"
            yield error(
                "service-port-mismatch",
                owner.ref,
                f"it sends traffic to port {port} of Service {name}, which has no such port "
                f"(it offers: {offered}): the proxy has no backend and answers 503",
                f"use one of the Service's ports ({offered}) or add port {port} to it",
                where,
            )


def _endpoint_ports(survey: Survey, svc: KObject) -> Iterator[tuple[KObject, Mapping[str, Any]]]:
    for eps in survey.inventory.of("Endpoints"):
        if eps.name == svc.name and same_namespace(eps.namespace, svc.namespace):
            for subset in items(eps.body.get("subsets")):
                for port in items(mapping(subset).get("ports")):
                    yield eps, mapping(port)
    for eps in _slices(survey, svc):
        for port in items(eps.body.get("ports")):
            yield eps, mapping(port)


def _slices(survey: Survey, svc: KObject) -> list[KObject]:
    return [
        s
        for s in survey.inventory.of("EndpointSlice")
        if text(mapping(dig(s.body, "metadata", "labels")).get(SERVICE_NAME_LABEL)) == svc.name
        and same_namespace(s.namespace, svc.namespace)
    ]


def endpoints(survey: Survey) -> Iterator[Finding]:
    """Services without selector: their endpoints must exist and name the Service's ports."""
    for svc in survey.inventory.of("Service"):
        if svc.spec.get("selector") or text(svc.spec.get("type")) == "ExternalName":
            continue
        found = list(_endpoint_ports(survey, svc))
        has_objects = survey.inventory.find("Endpoints", svc.namespace, svc.name) or _slices(
            survey, svc
        )
        if not has_objects:
            yield warning(
                "endpoints-missing",
                svc.ref,
                "a Service without selector gets its addresses only from Endpoints or "
                "EndpointSlices, and none for it are among the given manifests: if there are "
                "none in the cluster either, the proxy answers 503",
                f"add an EndpointSlice labelled {SERVICE_NAME_LABEL}: {svc.name} with the "
                "backend's address",
                svc.where,
            )
            continue
        yield from _port_names(svc, found)


def _port_names(svc: KObject, found: list[tuple[KObject, Mapping[str, Any]]]) -> Iterator[Finding]:
    by_name = {text(p.get("name")): p for p in _ports(svc)}
    for eps, port in found:
        name = text(port.get("name"))
        where = Where(eps.file, line_of(port) or eps.where.line)
        service_port = by_name.get(name)
        if service_port is None:
            names = ", ".join(repr(n) for n in by_name) or "none"
            yield error(
                "endpoints-port-mismatch",
                eps.ref,
                f"port name {name!r} matches no port of Service {svc.name} (its names: {names}): "
                "Kubernetes pairs them by name, so the Service has no endpoints and the proxy "
                "answers 503",
                f"name the port as the Service does ({names}; '' means unnamed)",
                where,
            )
            continue
        target = text(service_port.get("targetPort")) or text(service_port.get("port"))
        number = text(port.get("port"))
        if target.isdigit() and number and number != target:
            yield warning(
                "endpoints-port-mismatch",
                eps.ref,
                f"traffic goes to port {number} (from here), not to the Service's targetPort "
                f"{target}: for a Service without selector the endpoints decide",
                f"make both the port the backend listens on ({target} or {number})",
                where,
            )


def endpointslice_label(survey: Survey) -> Iterator[Finding]:
    for eps in survey.inventory.of("EndpointSlice"):
        labels = mapping(dig(eps.body, "metadata", "labels"))
        if not text(labels.get(SERVICE_NAME_LABEL)):
            yield error(
                "endpointslice-label",
                eps.ref,
                f"without the label {SERVICE_NAME_LABEL}, no Service uses this EndpointSlice: "
                "its Service has no endpoints (503)",
                f"add metadata.labels: {{{SERVICE_NAME_LABEL}: <the Service's name>}}",
                eps.where,
            )


def deprecated_endpoints(survey: Survey) -> Iterator[Finding]:
    for eps in survey.inventory.of("Endpoints"):
        yield warning(
            "endpoints-deprecated",
            eps.ref,
            "Endpoints is deprecated since Kubernetes 1.33 (kubectl warns on apply); it still "
            "works while the cluster mirrors it",
            "write an EndpointSlice instead: apiVersion discovery.k8s.io/v1, label "
            f"{SERVICE_NAME_LABEL}: {eps.name}, addressType: IPv4, ports named as the "
            "Service's, endpoints: [{addresses: [IP]}]",
            eps.where,
        )


def traefik_group(survey: Survey) -> Iterator[Finding]:
    for obj in survey.inventory.objects:
        if obj.group == "traefik.containo.us":
            yield warning(
                "traefik-containo-us",
                obj.ref,
                "traefik.containo.us is served only by Traefik v2: Traefik v3 ignores this "
                f"{obj.kind}, and its routes answer 404 after an upgrade",
                "apiVersion: traefik.io/v1alpha1 (Traefik v2.10 and later read it too)",
                obj.at("apiVersion"),
            )
