"""Hand-written JSON Schemas for the custom resources ``authgate manifests`` writes, from
the fields their reference documentation defines (required fields, enums, types, limits).

Sources: Traefik's CRD reference (IngressRoute, Middleware ``forwardAuth``; v3.x, same
fields under ``traefik.containo.us`` in v2.11), Gateway API v1 (HTTPRoute, v1beta1
ReferenceGrant) and Envoy Gateway's ``SecurityPolicy`` API (``extAuth``). Objects are
closed (``additionalProperties: false``) so a misspelt field fails; where a resource has
many optional features only the ones authgate may write are listed.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string", "minLength": 1}
STRS: Schema = {"type": "array", "items": STR}
BOOL: Schema = {"type": "boolean"}
PORT: Schema = {"type": "integer", "minimum": 1, "maximum": 65535}
DNS_LABEL: Schema = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"}
HOSTNAME: Schema = {
    "type": "string",
    "pattern": r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    "maxLength": 253,
}


def obj(required: list[str], **properties: Schema) -> Schema:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def array(items: Schema, *, min_items: int = 0, max_items: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items, "minItems": min_items}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


def resource(api_versions: list[str], kind: str, spec: Schema) -> Schema:
    metadata = obj(
        ["name"],
        name=DNS_LABEL,
        namespace=DNS_LABEL,
        labels={"type": "object", "additionalProperties": {"type": "string"}},
        annotations={"type": "object", "additionalProperties": {"type": "string"}},
    )
    return obj(
        ["apiVersion", "kind", "metadata", "spec"],
        apiVersion={"enum": api_versions},
        kind={"const": kind},
        metadata=metadata,
        spec=spec,
    )


# -- Traefik ----------------------------------------------------------------------------------
TRAEFIK_VERSIONS = ["traefik.io/v1alpha1", "traefik.containo.us/v1alpha1"]
_NAMESPACED_REF = obj(["name"], name=STR, namespace=DNS_LABEL)
_ROUTE_SERVICE = obj(
    ["name"],
    name=STR,
    namespace=DNS_LABEL,
    kind={"enum": ["Service", "TraefikService"]},
    port={"anyOf": [PORT, STR]},
    scheme=STR,
    passHostHeader=BOOL,
    serversTransport=STR,
    weight={"type": "integer", "minimum": 0},
    strategy=STR,
    nativeLB=BOOL,
    nodePortLB=BOOL,
)
_ROUTE = obj(
    ["match"],
    kind={"enum": ["Rule"]},
    match=STR,
    priority={"type": "integer", "minimum": 0},
    syntax=STR,
    middlewares=array(_NAMESPACED_REF),
    services=array(_ROUTE_SERVICE),
    observability={"type": "object"},
)
INGRESS_ROUTE = resource(
    TRAEFIK_VERSIONS,
    "IngressRoute",
    obj(
        ["routes"],
        entryPoints=STRS,
        ingressClassName=STR,
        routes=array(_ROUTE, min_items=1),
        tls=obj(
            [],
            secretName=STR,
            certResolver=STR,
            options=_NAMESPACED_REF,
            store=_NAMESPACED_REF,
            domains=array(obj(["main"], main=STR, sans=STRS)),
        ),
    ),
)
FORWARD_AUTH = obj(
    ["address"],
    address={"type": "string", "pattern": r"^https?://"},
    tls=obj([], caSecret=STR, certSecret=STR, insecureSkipVerify=BOOL, caOptional=BOOL),
    trustForwardHeader=BOOL,
    authResponseHeaders=STRS,
    authResponseHeadersRegex=STR,
    authRequestHeaders=STRS,
    addAuthCookiesToResponse=STRS,
    headerField=STR,
    forwardBody=BOOL,
    maxBodySize={"type": "integer"},
    preserveLocationHeader=BOOL,
    preserveRequestMethod=BOOL,
)
MIDDLEWARE = resource(
    TRAEFIK_VERSIONS, "Middleware", obj(["forwardAuth"], forwardAuth=FORWARD_AUTH)
)

# -- Gateway API --------------------------------------------------------------------------------
_PARENT_REF = obj(
    ["name"],
    group=STR,
    kind=STR,
    namespace=DNS_LABEL,
    name=STR,
    sectionName=STR,
    port=PORT,
)
_PATH_MATCH = obj(
    [],
    type={"enum": ["Exact", "PathPrefix", "RegularExpression"]},
    value={"type": "string", "pattern": "^/", "maxLength": 1024},
)
_BACKEND_REF = obj(
    ["name"],
    group={"type": "string"},
    kind=STR,
    name=STR,
    namespace=DNS_LABEL,
    port=PORT,
    weight={"type": "integer", "minimum": 0, "maximum": 1000000},
)
_LOCAL_REF = obj(["group", "kind", "name"], group={"type": "string"}, kind=STR, name=STR)
FILTER_TYPES = [
    "RequestHeaderModifier",
    "ResponseHeaderModifier",
    "RequestMirror",
    "RequestRedirect",
    "URLRewrite",
    "ExtensionRef",
    "CORS",
    "ExternalAuth",
]
_FILTER = {
    **obj(["type"], type={"enum": FILTER_TYPES}, extensionRef=_LOCAL_REF),
    # CEL in the CRD: extensionRef must be set for, and only for, type ExtensionRef
    "if": {"properties": {"type": {"const": "ExtensionRef"}}},
    "then": {"required": ["extensionRef"]},
    "else": {"not": {"required": ["extensionRef"]}},
}
_RULE = obj(
    [],
    name=STR,
    matches=array(obj([], path=_PATH_MATCH, method=STR), max_items=64),
    filters=array(_FILTER, max_items=16),
    backendRefs=array(_BACKEND_REF),
    timeouts=obj([], request=STR, backendRequest=STR),
)
HTTP_ROUTE = resource(
    ["gateway.networking.k8s.io/v1"],
    "HTTPRoute",
    obj(
        [],
        parentRefs=array(_PARENT_REF, max_items=32),
        hostnames=array(HOSTNAME, max_items=16),
        rules=array(_RULE, max_items=16),
    ),
)
REFERENCE_GRANT = resource(
    ["gateway.networking.k8s.io/v1beta1"],
    "ReferenceGrant",
    obj(
        ["from", "to"],
        **{
            "from": array(
                obj(
                    ["group", "kind", "namespace"],
                    group={"type": "string"},
                    kind=STR,
                    namespace=DNS_LABEL,
                ),
                min_items=1,
                max_items=16,
            ),
            "to": array(
                obj(["group", "kind"], group={"type": "string"}, kind=STR, name=STR),
                min_items=1,
                max_items=16,
            ),
        },
    ),
)

# -- Envoy Gateway ------------------------------------------------------------------------------
_POLICY_TARGET = obj(
    ["group", "kind", "name"],
    group={"const": "gateway.networking.k8s.io"},
    kind={"enum": ["Gateway", "HTTPRoute", "GRPCRoute"]},
    name=STR,
    sectionName=STR,
)
_EG_BACKEND_REF = obj(
    ["name"],
    group={"enum": ["", "multicluster.x-k8s.io", "gateway.envoyproxy.io"]},
    kind={"enum": ["Service", "ServiceImport", "Backend"]},
    name=STR,
    namespace=DNS_LABEL,
    port=PORT,
    weight={"type": "integer", "minimum": 0},
)
_HTTP_EXT_AUTH = {
    **obj(
        [],
        backendRef=_EG_BACKEND_REF,
        backendRefs=array(_EG_BACKEND_REF, min_items=1),
        path={"type": "string", "pattern": "^/"},
        headersToBackend=STRS,
    ),
    "anyOf": [{"required": ["backendRef"]}, {"required": ["backendRefs"]}],
}
_EXT_AUTH = {
    **obj(
        [],
        http=_HTTP_EXT_AUTH,
        grpc={"type": "object"},
        headersToExtAuth=STRS,
        bodyToExtAuth=obj(["maxRequestBytes"], maxRequestBytes={"type": "integer", "minimum": 1}),
        timeout=STR,
        failOpen=BOOL,
        recomputeRoute=BOOL,
    ),
    "oneOf": [{"required": ["http"]}, {"required": ["grpc"]}],
}
SECURITY_POLICY = resource(
    ["gateway.envoyproxy.io/v1alpha1"],
    "SecurityPolicy",
    {
        **obj(
            [],
            targetRefs=array(_POLICY_TARGET),
            targetSelectors={"type": "array"},
            extAuth=_EXT_AUTH,
        ),
        "anyOf": [{"required": ["targetRefs"]}, {"required": ["targetSelectors"]}],
    },
)

SCHEMAS: dict[str, Schema] = {
    "IngressRoute": INGRESS_ROUTE,
    "Middleware": MIDDLEWARE,
    "HTTPRoute": HTTP_ROUTE,
    "ReferenceGrant": REFERENCE_GRANT,
    "SecurityPolicy": SECURITY_POLICY,
}
