"""Traefik: seed 2's shared ForwardAuth Middleware and two-route IngressRoute (CRDs
``traefik.io/v1alpha1``, or ``traefik.containo.us/v1alpha1`` for Traefik v2), and the same
setup for the file provider."""

from __future__ import annotations

from dataclasses import dataclass

from authgate.deploy.kube import ObjectMeta, backend_documents, backend_ref, meta
from authgate.deploy.serialize import Document, Notes, dump_documents, dump_mapping
from authgate.deploy.spec import OUTPOST, Spec, SpecError

GROUP = "traefik.io"
LEGACY_GROUP = "traefik.containo.us"
MIDDLEWARE = "authgate"
#: the shared Middleware for apps with strip_cookie: it also copies ``Cookie``. A separate
#: one, because Traefik removes every listed header from the request before copying the
#: answer's: listing Cookie for an app whose answer carries none would drop its cookies.
STRIP_COOKIE_MIDDLEWARE = "authgate-strip-cookie"


@dataclass(frozen=True, kw_only=True)
class ForwardAuth:
    address: str
    trust_forward_header: bool = True
    auth_response_headers: list[str]


@dataclass(frozen=True, kw_only=True)
class MiddlewareSpec:
    forward_auth: ForwardAuth


@dataclass(frozen=True, kw_only=True)
class Middleware:
    api_version: str
    kind: str = "Middleware"
    metadata: ObjectMeta
    spec: MiddlewareSpec


@dataclass(frozen=True, kw_only=True)
class MiddlewareRef:
    name: str
    namespace: str | None = None


@dataclass(frozen=True, kw_only=True)
class RouteService:
    name: str
    namespace: str | None = None
    port: int


@dataclass(frozen=True, kw_only=True)
class Route:
    kind: str = "Rule"
    match: str
    middlewares: list[MiddlewareRef] | None = None
    services: list[RouteService]
    notes: Notes | None = None


@dataclass(frozen=True, kw_only=True)
class RouteTLS:
    secret_name: str | None = None
    cert_resolver: str | None = None


@dataclass(frozen=True, kw_only=True)
class IngressRouteSpec:
    entry_points: list[str]
    routes: list[Route]
    tls: RouteTLS | None = None


@dataclass(frozen=True, kw_only=True)
class IngressRoute:
    api_version: str
    kind: str = "IngressRoute"
    metadata: ObjectMeta
    spec: IngressRouteSpec


def forward_auth(spec: Spec) -> ForwardAuth:
    return ForwardAuth(
        address=spec.auth.url(f"{OUTPOST}/auth/traefik"),
        auth_response_headers=spec.upstream_headers(),
    )


def middleware_name(spec: Spec) -> str:
    """One shared Middleware per set of copied headers: ``authgate``, ``-strip-cookie``
    and/or ``-jwt-bearer`` appended."""
    name = STRIP_COOKIE_MIDDLEWARE if spec.strip_cookie else MIDDLEWARE
    return f"{name}-jwt-bearer" if spec.jwt_bearer else name


def strip_cookie_note(spec: Spec) -> str:
    """What the copied headers beyond the identity headers do (strip_cookie, jwt_bearer)."""
    note = ""
    if spec.strip_cookie:
        note += (
            "\nWith strip_cookie, authResponseHeaders lists Cookie too: Traefik replaces the "
            "app's\nCookie with the one in authgate's answer, the browser's cookies without "
            "authgate's."
        )
    if spec.jwt_bearer:
        note += (
            "\nWith jwt_bearer, the Authorization that authResponseHeaders copies is "
            "Bearer <X-authentik-jwt>,\nnever the client's own Authorization."
        )
    return note


def host_rule(spec: Spec) -> str:
    return f"Host(`{spec.app.hostname}`)"


def outpost_rule(spec: Spec) -> str:
    return f"{host_rule(spec)} && PathPrefix(`{OUTPOST}/`)"


def _auth_service_ref(spec: Spec, target: str) -> tuple[str, str]:
    ref = spec.auth.service_ref()
    if ref is None:
        raise SpecError(
            f"--auth-service {spec.auth.origin}: --target {target} needs the cluster DNS name of "
            "authgate's Service, e.g. http://authgate.authgate.svc.cluster.local:9000"
        )
    return ref


def middleware_document(spec: Spec, *, legacy: bool = False) -> Document:
    """The shared Middleware (``authgate manifests --middleware``), once per cluster."""
    namespace = spec.namespace
    middleware = Middleware(
        api_version=f"{LEGACY_GROUP if legacy else GROUP}/v1alpha1",
        metadata=meta(middleware_name(spec), namespace),
        spec=MiddlewareSpec(forward_auth=forward_auth(spec)),
    )
    shared = "every app's IngressRoute"
    options = [name for name in ("strip_cookie", "jwt_bearer") if getattr(spec, name)]
    if options:
        shared = f"the IngressRoutes of apps with {' and '.join(options)}"
    return Document(
        middleware,
        f"authgate's ForwardAuth middleware, shared by {shared}.\n"
        "authResponseHeaders names every identity header authgate sends; Traefik removes\n"
        "them from the client's request first, so a client cannot forge them.\n"
        "IngressRoutes in other namespaces need the provider's allowCrossNamespace: true."
        + strip_cookie_note(spec),
    )


def ingress_route_documents(spec: Spec, *, legacy: bool = False) -> list[Document]:
    if spec.tls_secret and spec.cert_resolver:
        raise SpecError("give either --tls-secret or --cert-resolver, not both")
    target = "traefik-legacy" if legacy else "traefik"
    auth_name, auth_namespace = _auth_service_ref(spec, target)
    backend, port = backend_ref(spec)
    tls = None
    if spec.tls_secret or spec.cert_resolver or spec.app.secure:
        tls = RouteTLS(
            secret_name=spec.tls_secret or None, cert_resolver=spec.cert_resolver or None
        )
    entry = spec.entry_point or ("websecure" if spec.app.secure else "web")
    middleware_ns = spec.middleware_namespace or auth_namespace
    middleware_ref = MiddlewareRef(name=middleware_name(spec), namespace=middleware_ns)
    route = IngressRoute(
        api_version=f"{LEGACY_GROUP if legacy else GROUP}/v1alpha1",
        metadata=meta(spec.name, spec.namespace),
        spec=IngressRouteSpec(
            entry_points=[entry],
            routes=[
                Route(
                    match=host_rule(spec),
                    middlewares=[middleware_ref],
                    services=[RouteService(name=backend, port=port)],
                    notes={"kind": "route 1: the app, behind authgate"},
                ),
                Route(
                    match=outpost_rule(spec),
                    services=[
                        RouteService(name=auth_name, namespace=auth_namespace, port=spec.auth.port)
                    ],
                    notes={"kind": "route 2: the login flow, NO middleware"},
                ),
            ],
            tls=tls,
        ),
    )
    return [
        *backend_documents(spec),
        Document(
            route,
            f"authgate forward auth for app {spec.name} ({spec.app.origin}) on Traefik.\n"
            f"Needs the shared Middleware {middleware_ns}/{middleware_name(spec)}: "
            f"authgate manifests --middleware{_strip_flag(spec)} --namespace {middleware_ns}",
        ),
    ]


def _strip_flag(spec: Spec) -> str:
    return (" --strip-cookie" if spec.strip_cookie else "") + (
        " --jwt-bearer" if spec.jwt_bearer else ""
    )


def render(spec: Spec) -> str:
    return dump_documents(ingress_route_documents(spec))


def render_legacy(spec: Spec) -> str:
    return dump_documents(ingress_route_documents(spec, legacy=True))


# --------------------------------------------------------------------------------------------
# file provider (dynamic configuration), for Traefik without Kubernetes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FileRouterTLS:
    cert_resolver: str | None = None


@dataclass(frozen=True, kw_only=True)
class FileRouter:
    entry_points: list[str] | None = None
    rule: str
    middlewares: list[str] | None = None
    service: str
    tls: FileRouterTLS | None = None
    notes: Notes | None = None


@dataclass(frozen=True, kw_only=True)
class Server:
    url: str


@dataclass(frozen=True, kw_only=True)
class LoadBalancer:
    servers: list[Server]


@dataclass(frozen=True, kw_only=True)
class FileService:
    load_balancer: LoadBalancer


@dataclass(frozen=True, kw_only=True)
class FileMiddleware:
    forward_auth: ForwardAuth


@dataclass(frozen=True, kw_only=True)
class HTTPConfig:
    middlewares: dict[str, FileMiddleware]
    routers: dict[str, FileRouter]
    services: dict[str, FileService]


@dataclass(frozen=True, kw_only=True)
class DynamicConfig:
    http: HTTPConfig


def dynamic_config(spec: Spec) -> DynamicConfig:
    if spec.tls_secret:
        raise SpecError("--tls-secret is for Kubernetes targets; use --cert-resolver here")
    if spec.backend is None:
        raise SpecError("give the app's upstream: --backend HOST:PORT")
    name, auth = spec.name, f"authgate-{spec.name}"
    entry = [spec.entry_point] if spec.entry_point else None
    tls = FileRouterTLS(cert_resolver=spec.cert_resolver or None)
    tls_or_none = tls if spec.cert_resolver or spec.app.secure else None
    lb = LoadBalancer(servers=[Server(url=f"http://{spec.backend.hostport}")])
    return DynamicConfig(
        http=HTTPConfig(
            middlewares={auth: FileMiddleware(forward_auth=forward_auth(spec))},
            routers={
                name: FileRouter(
                    entry_points=entry,
                    rule=host_rule(spec),
                    middlewares=[auth],
                    service=name,
                    tls=tls_or_none,
                    notes={"rule": "the app, behind authgate"},
                ),
                f"{name}-outpost": FileRouter(
                    entry_points=entry,
                    rule=outpost_rule(spec),
                    service=auth,
                    tls=tls_or_none,
                    notes={"rule": "the login flow: NO middleware"},
                ),
            },
            services={
                name: FileService(load_balancer=lb),
                auth: FileService(
                    load_balancer=LoadBalancer(servers=[Server(url=spec.auth.origin)])
                ),
            },
        )
    )


def render_file(spec: Spec) -> str:
    return dump_mapping(
        dynamic_config(spec),
        f"authgate forward auth for app {spec.name} ({spec.app.origin}):\n"
        "Traefik file provider, dynamic configuration (providers.file)." + strip_cookie_note(spec),
    )
