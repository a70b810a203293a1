"""Typed Kubernetes core objects (v1, discovery.k8s.io/v1, networking.k8s.io/v1) and the
pieces every Kubernetes target shares: the app's backend Service and its endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field

from authgate.deploy.serialize import Document
from authgate.deploy.spec import Spec, SpecError

MANAGED_BY = "authgate"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SLICE_MANAGER_LABEL = "endpointslice.kubernetes.io/managed-by"


@dataclass(frozen=True, kw_only=True)
class ObjectMeta:
    name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


def meta(
    name: str,
    namespace: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> ObjectMeta:
    return ObjectMeta(
        name=name,
        namespace=namespace,
        labels={"app.kubernetes.io/managed-by": MANAGED_BY, **(labels or {})},
        annotations=annotations,
    )


@dataclass(frozen=True, kw_only=True)
class ConfigMap:
    api_version: str = "v1"
    kind: str = "ConfigMap"
    metadata: ObjectMeta
    data: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class ServicePort:
    name: str
    port: int
    target_port: int | None = None
    protocol: str = "TCP"


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    type: str
    external_name: str | None = None
    ports: list[ServicePort] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Service:
    api_version: str = "v1"
    kind: str = "Service"
    metadata: ObjectMeta
    spec: ServiceSpec


@dataclass(frozen=True, kw_only=True)
class EndpointPort:
    name: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    addresses: list[str]


@dataclass(frozen=True, kw_only=True)
class EndpointSlice:
    api_version: str = "discovery.k8s.io/v1"
    kind: str = "EndpointSlice"
    metadata: ObjectMeta
    address_type: str
    endpoints: list[Endpoint]
    ports: list[EndpointPort]


@dataclass(frozen=True, kw_only=True)
class EndpointAddress:
    ip: str


@dataclass(frozen=True, kw_only=True)
class EndpointSubset:
    addresses: list[EndpointAddress]
    ports: list[EndpointPort]


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    api_version: str = "v1"
    kind: str = "Endpoints"
    metadata: ObjectMeta
    subsets: list[EndpointSubset]


@dataclass(frozen=True, kw_only=True)
class ServiceBackendPort:
    number: int


@dataclass(frozen=True, kw_only=True)
class IngressServiceBackend:
    name: str
    port: ServiceBackendPort


@dataclass(frozen=True, kw_only=True)
class IngressBackend:
    service: IngressServiceBackend


@dataclass(frozen=True, kw_only=True)
class HTTPIngressPath:
    path: str
    path_type: str
    backend: IngressBackend


@dataclass(frozen=True, kw_only=True)
class HTTPIngressRuleValue:
    paths: list[HTTPIngressPath]


@dataclass(frozen=True, kw_only=True)
class IngressRule:
    host: str
    http: HTTPIngressRuleValue


@dataclass(frozen=True, kw_only=True)
class IngressTLS:
    hosts: list[str]
    secret_name: str


@dataclass(frozen=True, kw_only=True)
class IngressSpec:
    ingress_class_name: str
    tls: list[IngressTLS] = field(default_factory=list)
    rules: list[IngressRule]


@dataclass(frozen=True, kw_only=True)
class Ingress:
    api_version: str = "networking.k8s.io/v1"
    kind: str = "Ingress"
    metadata: ObjectMeta
    spec: IngressSpec


# --------------------------------------------------------------------------------------------
# the app's backend, shared by every Kubernetes target
# --------------------------------------------------------------------------------------------

PORT_NAME = "http"


def backend_ref(spec: Spec) -> tuple[str, int]:
    """(Service name, port) the app's routes point at."""
    if spec.backend is None:
        raise SpecError("give the app's upstream: --service NAME:PORT or --backend IP:PORT")
    if spec.backend.service:
        return spec.backend.host, spec.backend.port
    return f"{spec.name}-backend", spec.backend.port


def backend_documents(spec: Spec) -> list[Document]:
    """For ``--backend IP:PORT``: a selector-less Service plus its EndpointSlice (or the
    deprecated Endpoints with ``--legacy-endpoints``); nothing for ``--service``."""
    backend = spec.backend
    if backend is None or backend.service:
        return []
    name, port = backend_ref(spec)
    service = Service(
        metadata=meta(name, spec.namespace),
        spec=ServiceSpec(
            type="ClusterIP",
            ports=[ServicePort(name=PORT_NAME, port=port, target_port=port)],
        ),
    )
    documents = [
        Document(
            service,
            f"The app's upstream outside the cluster ({backend.hostport}): a Service without\n"
            "a selector, whose endpoints are written by hand below.",
        )
    ]
    ports = [EndpointPort(name=PORT_NAME, port=port)]
    if spec.legacy_endpoints:
        endpoints = Endpoints(
            metadata=meta(name, spec.namespace),
            subsets=[EndpointSubset(addresses=[EndpointAddress(ip=backend.host)], ports=ports)],
        )
        comment = "Endpoints is deprecated since Kubernetes 1.33 (--legacy-endpoints)."
        documents.append(Document(endpoints, comment))
    else:
        slice_ = EndpointSlice(
            metadata=meta(
                name,
                spec.namespace,
                labels={SERVICE_NAME_LABEL: name, SLICE_MANAGER_LABEL: MANAGED_BY},
            ),
            address_type=backend.ip_family,
            endpoints=[Endpoint(addresses=[backend.host])],
            ports=ports,
        )
        comment = (
            f"The address behind Service {name}: the label {SERVICE_NAME_LABEL} ties it to\n"
            "the Service, the port name matches the Service port's name."
        )
        documents.append(Document(slice_, comment))
    return documents
