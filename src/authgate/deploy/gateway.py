"""Gateway API (``gateway.networking.k8s.io/v1``): the app's HTTPRoute, an HTTPRoute that
carves out the login flow, and the auth attached either by Envoy Gateway's
``SecurityPolicy.extAuth`` or by a Traefik Middleware through an ``ExtensionRef`` filter."""

from __future__ import annotations

from dataclasses import dataclass, field

from authgate.deploy import traefik
from authgate.deploy.kube import ObjectMeta, backend_documents, backend_ref, meta
from authgate.deploy.serialize import Document, dump_documents, key
from authgate.deploy.spec import OUTPOST, Spec, SpecError
from authgate.forward.headers import IDENTITY_HEADERS

GATEWAY_GROUP = "gateway.networking.k8s.io"
ENVOY_GROUP = "gateway.envoyproxy.io"
#: what Envoy must pass to the auth service besides Host, method, path and Authorization:
#: the session cookie, what tells a browser from a script, the client address, and the
#: identity headers themselves, so that authgate refuses a request that forges one.
HEADERS_TO_EXT_AUTH = (
    "cookie",
    "accept",
    "sec-fetch-mode",
    "x-requested-with",
    "x-forwarded-for",
    *(h.lower() for h in IDENTITY_HEADERS),
)
DEFAULT_GATEWAYS = {"envoy-gateway": "eg", "traefik-gateway": "traefik-gateway"}


@dataclass(frozen=True, kw_only=True)
class ParentReference:
    name: str
    namespace: str | None = None


@dataclass(frozen=True, kw_only=True)
class PathMatch:
    type: str = "PathPrefix"
    value: str


@dataclass(frozen=True, kw_only=True)
class RouteMatch:
    path: PathMatch


@dataclass(frozen=True, kw_only=True)
class LocalObjectReference:
    group: str
    kind: str
    name: str


@dataclass(frozen=True, kw_only=True)
class RouteFilter:
    type: str
    extension_ref: LocalObjectReference | None = None


@dataclass(frozen=True, kw_only=True)
class BackendRef:
    name: str
    namespace: str | None = None
    port: int


@dataclass(frozen=True, kw_only=True)
class RouteRule:
    matches: list[RouteMatch]
    filters: list[RouteFilter] = field(default_factory=list)
    backend_refs: list[BackendRef]


@dataclass(frozen=True, kw_only=True)
class HTTPRouteSpec:
    parent_refs: list[ParentReference]
    hostnames: list[str]
    rules: list[RouteRule]


@dataclass(frozen=True, kw_only=True)
class HTTPRoute:
    api_version: str = f"{GATEWAY_GROUP}/v1"
    kind: str = "HTTPRoute"
    metadata: ObjectMeta
    spec: HTTPRouteSpec


@dataclass(frozen=True, kw_only=True)
class GrantFrom:
    group: str
    kind: str
    namespace: str


@dataclass(frozen=True, kw_only=True)
class GrantTo:
    group: str
    kind: str
    name: str


@dataclass(frozen=True, kw_only=True)
class ReferenceGrantSpec:
    from_: list[GrantFrom] = field(metadata=key("from"))
    to: list[GrantTo]


@dataclass(frozen=True, kw_only=True)
class ReferenceGrant:
    api_version: str = f"{GATEWAY_GROUP}/v1beta1"
    kind: str = "ReferenceGrant"
    metadata: ObjectMeta
    spec: ReferenceGrantSpec


@dataclass(frozen=True, kw_only=True)
class PolicyTargetReference:
    group: str = GATEWAY_GROUP
    kind: str = "HTTPRoute"
    name: str


@dataclass(frozen=True, kw_only=True)
class HTTPExtAuthService:
    backend_refs: list[BackendRef]
    path: str
    headers_to_backend: list[str]


@dataclass(frozen=True, kw_only=True)
class ExtAuth:
    http: HTTPExtAuthService
    headers_to_ext_auth: list[str]


@dataclass(frozen=True, kw_only=True)
class SecurityPolicySpec:
    target_refs: list[PolicyTargetReference]
    ext_auth: ExtAuth


@dataclass(frozen=True, kw_only=True)
class SecurityPolicy:
    api_version: str = f"{ENVOY_GROUP}/v1alpha1"
    kind: str = "SecurityPolicy"
    metadata: ObjectMeta
    spec: SecurityPolicySpec


def _parent(spec: Spec, target: str) -> ParentReference:
    namespace, _, name = (spec.gateway or DEFAULT_GATEWAYS[target]).rpartition("/")
    return ParentReference(name=name, namespace=namespace or None)


def _route(spec: Spec, target: str, name: str, rule: RouteRule) -> HTTPRoute:
    return HTTPRoute(
        metadata=meta(name, spec.namespace),
        spec=HTTPRouteSpec(
            parent_refs=[_parent(spec, target)], hostnames=[spec.app.hostname], rules=[rule]
        ),
    )


def _prefix(value: str) -> list[RouteMatch]:
    return [RouteMatch(path=PathMatch(value=value))]


def _auth_backend(spec: Spec, target: str) -> BackendRef:
    ref = spec.auth.service_ref()
    if ref is None:
        raise SpecError(
            f"--auth-service {spec.auth.origin}: --target {target} needs the cluster DNS name of "
            "authgate's Service, e.g. http://authgate.authgate.svc.cluster.local:9000"
        )
    name, namespace = ref
    return BackendRef(name=name, namespace=namespace, port=spec.auth.port)


def _grant(spec: Spec, auth: BackendRef, kinds: list[tuple[str, str]]) -> list[Document]:
    """A ReferenceGrant in authgate's namespace when the routes live elsewhere."""
    if auth.namespace in (None, spec.namespace):
        return []
    assert auth.namespace is not None
    grant = ReferenceGrant(
        metadata=meta(f"authgate-from-{spec.namespace}", auth.namespace),
        spec=ReferenceGrantSpec(
            from_=[GrantFrom(group=g, kind=k, namespace=spec.namespace) for g, k in kinds],
            to=[GrantTo(group="", kind="Service", name=auth.name)],
        ),
    )
    return [
        Document(
            grant,
            f"Lets {', '.join(k for _, k in kinds)} objects in namespace {spec.namespace} "
            f"refer to Service {auth.namespace}/{auth.name}.",
        )
    ]


def _routes(spec: Spec, target: str, filters: list[RouteFilter]) -> list[Document]:
    if spec.tls_secret or spec.cert_resolver:
        raise SpecError("with Gateway API, TLS is set on the Gateway's listener, not on the routes")
    backend, port = backend_ref(spec)
    auth = _auth_backend(spec, target)
    app = _route(
        spec,
        target,
        spec.name,
        RouteRule(
            matches=_prefix("/"),
            filters=filters,
            backend_refs=[BackendRef(name=backend, port=port)],
        ),
    )
    outpost = _route(
        spec,
        target,
        f"{spec.name}-outpost",
        RouteRule(matches=_prefix(OUTPOST), backend_refs=[auth]),
    )
    return [
        *backend_documents(spec),
        Document(app, f"authgate forward auth for app {spec.name} ({spec.app.origin}): the app."),
        Document(
            outpost,
            f"The login flow ({OUTPOST}/start, callback, sign_out) on the app's host, straight\n"
            "to authgate, without auth: protecting it would loop. The longer prefix wins.",
        ),
    ]


def _policy_comment(spec: Spec) -> str:
    text = (
        "Envoy Gateway asks authgate about every request to the app's route. Envoy sends\n"
        "an HTTP auth service only Host, method, path and Authorization unless told:\n"
        "headersToExtAuth adds the cookie and the headers authgate judges by."
    )
    if not spec.strip_cookie:
        return text
    return (
        f"{text}\nThe app has strip_cookie: headersToBackend lists Cookie, so Envoy overrides the\n"
        "app's Cookie with the one in authgate's answer (the browser's cookies without\n"
        "authgate's; an empty one when only authgate's were sent)."
    )


def envoy_documents(spec: Spec) -> list[Document]:
    auth = _auth_backend(spec, "envoy-gateway")
    policy = SecurityPolicy(
        metadata=meta(spec.name, spec.namespace),
        spec=SecurityPolicySpec(
            target_refs=[PolicyTargetReference(name=spec.name)],
            ext_auth=ExtAuth(
                http=HTTPExtAuthService(
                    backend_refs=[auth],
                    path=f"{OUTPOST}/auth/envoy",
                    headers_to_backend=spec.upstream_headers(),
                ),
                headers_to_ext_auth=list(HEADERS_TO_EXT_AUTH),
            ),
        ),
    )
    grant = _grant(spec, auth, [(GATEWAY_GROUP, "HTTPRoute"), (ENVOY_GROUP, "SecurityPolicy")])
    return [
        *_routes(spec, "envoy-gateway", []),
        Document(policy, _policy_comment(spec)),
        *grant,
    ]


def traefik_documents(spec: Spec) -> list[Document]:
    auth = _auth_backend(spec, "traefik-gateway")
    middleware = traefik.middleware_document(spec)
    name = traefik.middleware_name(spec)
    ref = LocalObjectReference(group=traefik.GROUP, kind="Middleware", name=name)
    filters = [RouteFilter(type="ExtensionRef", extension_ref=ref)]
    grant = _grant(spec, auth, [(GATEWAY_GROUP, "HTTPRoute")])
    comment = (
        "An ExtensionRef filter names a Middleware in the route's own namespace, so this\n"
        "namespace gets its own copy of authgate's ForwardAuth middleware."
        + traefik.strip_cookie_note(spec)
    )
    return [Document(middleware.body, comment), *_routes(spec, "traefik-gateway", filters), *grant]


def render_envoy(spec: Spec) -> str:
    return dump_documents(envoy_documents(spec))


def render_traefik(spec: Spec) -> str:
    return dump_documents(traefik_documents(spec))
