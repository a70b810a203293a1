"""ingress-nginx: seed 1's pattern without snippets.

The app's Ingress carries the ``auth-*`` annotations; a second Ingress on the same host
sends ``/outpost.goauthentik.io/`` to authgate (through an ExternalName Service) with
``upstream-vhost``; a ConfigMap adds ``X-Forwarded-Host`` to the auth subrequest.

Known limit: the subrequest carries every client header, and a value with a control byte
(``\\x01``) makes authgate's HTTP server answer 400 before authgate runs, which
``auth_request`` turns into a 500. The plain-nginx config intercepts that 400
(``deploy/nginx.py``); annotations cannot, without snippets, so here the client gets the 500.
"""

from __future__ import annotations

from authgate.deploy.kube import (
    ConfigMap,
    HTTPIngressPath,
    HTTPIngressRuleValue,
    Ingress,
    IngressBackend,
    IngressRule,
    IngressServiceBackend,
    IngressSpec,
    IngressTLS,
    ServiceBackendPort,
    ServicePort,
    ServiceSpec,
    backend_documents,
    backend_ref,
    meta,
)
from authgate.deploy.kube import Service as KService
from authgate.deploy.serialize import Document, dump_documents
from authgate.deploy.spec import OUTPOST, Spec, SpecError

PREFIX = "nginx.ingress.kubernetes.io/"
#: kept-alive connections to authgate (ignored while the controller's use-http2 is on)
KEEPALIVE = {
    "auth-keepalive": "32",
    "auth-keepalive-requests": "10000",
    "auth-keepalive-timeout": "60",
}
#: --auth-cache's key: everything the decision depends on. Annotation values take no
#: separators, so the order parts them: the method (upper case), scheme (lower case), the
#: client's address (no letters beyond hex), then the whole Authorization and Cookie
#: headers, the Host (no '/') and the path and query (from the first '/'). Only the
#: boundaries around the two headers can move: every byte of both credentials stays in the
#: key either way, and a Host can only shift into another Host authgate answers as this app.
CACHE_KEY = (
    "$request_method$scheme$remote_addr$http_authorization$http_cookie$http_host$request_uri"
)


def _annotations(values: dict[str, str]) -> dict[str, str]:
    return {PREFIX + k: v for k, v in values.items()}


def _ingress(
    spec: Spec, name: str, path: str, backend: tuple[str, int], annotations: dict[str, str]
) -> Ingress:
    service, port = backend
    tls = [IngressTLS(hosts=[spec.app.hostname], secret_name=spec.tls_secret)]
    http = HTTPIngressRuleValue(
        paths=[
            HTTPIngressPath(
                path=path,
                path_type="Prefix",
                backend=IngressBackend(
                    service=IngressServiceBackend(
                        name=service, port=ServiceBackendPort(number=port)
                    )
                ),
            )
        ]
    )
    return Ingress(
        metadata=meta(name, spec.namespace, annotations=_annotations(annotations)),
        spec=IngressSpec(
            ingress_class_name=spec.ingress_class,
            tls=tls if spec.tls_secret else [],
            rules=[IngressRule(host=spec.app.hostname, http=http)],
        ),
    )


def documents(spec: Spec) -> list[Document]:
    if spec.cert_resolver:
        raise SpecError("--cert-resolver is for the Traefik targets; use --tls-secret here")
    if spec.auth.is_ip:
        raise SpecError(
            f"--auth-service {spec.auth.origin}: an ExternalName Service needs a DNS name, "
            "not an IP address"
        )
    app, auth, name = spec.app, spec.auth, spec.name
    headers_map = f"{name}-auth-headers"
    auth_service = f"{name}-authgate"
    config = ConfigMap(
        metadata=meta(headers_map, spec.namespace),
        data={"X-Forwarded-Host": app.host, "X-Forwarded-Proto": app.scheme},
    )
    external = KService(
        metadata=meta(auth_service, spec.namespace),
        spec=ServiceSpec(
            type="ExternalName",
            external_name=auth.host,
            ports=[ServicePort(name="http", port=auth.port)],
        ),
    )
    outpost = _ingress(
        spec,
        f"{name}-outpost",
        f"{OUTPOST}/",
        (auth_service, auth.port),
        {"upstream-vhost": auth.host, "backend-protocol": auth.scheme.upper()},
    )
    main = _ingress(
        spec,
        name,
        "/",
        backend_ref(spec),
        {
            "auth-url": auth.url(f"{OUTPOST}/auth/nginx"),
            "auth-signin": f"{app.signin_url}?rd=$escaped_request_uri",
            "auth-response-headers": ",".join(spec.upstream_headers()),
            "auth-proxy-set-headers": f"{spec.namespace}/{headers_map}",
            **KEEPALIVE,
            **_cache(spec),
        },
    )
    return [
        Document(
            config,
            f"authgate forward auth for app {name} ({app.origin}) on ingress-nginx.\n"
            "Headers added to every auth subrequest (annotation auth-proxy-set-headers):\n"
            "authgate finds the app by X-Original-URL and, failing that, X-Forwarded-Host.",
        ),
        *backend_documents(spec),
        Document(
            external,
            f"authgate as a name in this namespace, for the outpost Ingress below\n"
            f"(an ExternalName must be a DNS name: {auth.host}).",
        ),
        Document(
            outpost,
            f"The login flow ({OUTPOST}/start, callback, sign_out) on the app's own host,\n"
            "without the auth annotations: protecting it would loop.",
        ),
        Document(main, _main_comment(spec)),
    ]


def _cache(spec: Spec) -> dict[str, str]:
    """--auth-cache: the controller keeps an allow (200 only) for the duration."""
    if not spec.auth_cache:
        return {}
    return {"auth-cache-key": CACHE_KEY, "auth-cache-duration": f"200 {spec.auth_cache}s"}


def _main_comment(spec: Spec) -> str:
    text = (
        "The app behind authgate. auth-signin carries the original URI escaped\n"
        "(authgate's start also takes seed 1's unescaped rd=$scheme://$http_host$request_uri);\n"
        "auth-response-headers names every identity header and not Set-Cookie\n"
        "(ingress-nginx hands the login cookie to the browser by itself).\n"
        "auth-keepalive reuses connections to authgate (a new one per check halves the\n"
        "rate); the controller ignores it while its ConfigMap has use-http2 on (the default)."
    )
    if spec.auth_cache:
        text += (
            f"\nauth-cache-duration: an allow is reused for {spec.auth_cache}s by the same "
            "Cookie header,\nmethod, URL and client address; a revoked session gets in until "
            "it expires."
        )
    if not spec.strip_cookie:
        return text
    return (
        f"{text}\nThe app has strip_cookie: Cookie is listed too, so the app gets the Cookie of\n"
        "authgate's answer (the browser's cookies without authgate's; none left: no Cookie)."
    )


def render(spec: Spec) -> str:
    return dump_documents(documents(spec))
