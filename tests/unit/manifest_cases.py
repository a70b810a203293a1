"""The generator inputs the manifest tests share: one Spec per golden file."""

from __future__ import annotations

from collections.abc import Callable

from authgate.deploy import spec as s
from authgate.deploy.targets import TARGETS, render_middleware

KUBE_AUTH = s.parse_auth_service(s.DEFAULT_AUTH_SERVICE)
LOCAL_AUTH = s.parse_auth_service(s.DEFAULT_LOCAL_AUTH_SERVICE)


def _spec(slug: str, url: str, **kwargs: object) -> s.Spec:
    return s.Spec(app=s.parse_app(slug, url), **kwargs)  # type: ignore[arg-type]


GRAFANA = _spec(
    "grafana",
    "https://grafana.example.com",
    auth=KUBE_AUTH,
    backend=s.parse_service("grafana:3000"),
    namespace="monitoring",
    tls_secret="grafana-tls",
)
COMFY_OFFNET = _spec(
    "comfyui-offnet",
    "https://comfyui-offnet.k3s.example.com",
    auth=KUBE_AUTH,
    backend=s.parse_backend("192.168.1.50:8188", ip_only=True),
    namespace="comfyui-offnet",
    cert_resolver="letsencrypt",
)
WIKI_LAN = _spec(
    "wiki",
    "http://wiki.lan:8080",
    auth=LOCAL_AUTH,
    backend=s.parse_backend("192.168.1.20:3000", ip_only=False),
)


def stripping(spec: s.Spec) -> s.Spec:
    """The same app registered with --strip-cookie."""
    return s.Spec(**{**spec.__dict__, "strip_cookie": True})


def caching(spec: s.Spec, seconds: int = 1) -> s.Spec:
    """The same app's config with ``--auth-cache {seconds}s``."""
    return s.Spec(**{**spec.__dict__, "auth_cache": seconds})


#: golden file name -> how it is made
CASES: dict[str, Callable[[], str]] = {
    "ingress-nginx.yaml": lambda: TARGETS["ingress-nginx"].render(GRAFANA),
    "ingress-nginx-offnet.yaml": lambda: TARGETS["ingress-nginx"].render(
        _spec(
            "comfyui-offnet",
            "http://comfyui.lan",
            auth=s.parse_auth_service("http://authgate.auth.svc:80"),
            backend=s.parse_backend("192.168.1.50:8188", ip_only=True),
            namespace="comfyui-offnet",
            ingress_class="nginx-internal",
        )
    ),
    "traefik.yaml": lambda: TARGETS["traefik"].render(COMFY_OFFNET),
    "traefik-legacy.yaml": lambda: TARGETS["traefik-legacy"].render(
        s.Spec(**{**COMFY_OFFNET.__dict__, "legacy_endpoints": True})
    ),
    "traefik-middleware.yaml": lambda: render_middleware(
        _spec("authgate", "http://authgate", auth=KUBE_AUTH, namespace="public-ingress")
    ),
    "envoy-gateway.yaml": lambda: TARGETS["envoy-gateway"].render(
        s.Spec(**{**GRAFANA.__dict__, "tls_secret": "", "gateway": "infra/eg"})
    ),
    "traefik-gateway.yaml": lambda: TARGETS["traefik-gateway"].render(
        s.Spec(**{**COMFY_OFFNET.__dict__, "cert_resolver": ""})
    ),
    "nginx.conf": lambda: TARGETS["nginx"].render(WIKI_LAN),
    "nginx-https.conf": lambda: TARGETS["nginx"].render(
        _spec(
            "grafana",
            "https://grafana.example.com",
            auth=LOCAL_AUTH,
            backend=s.parse_backend("127.0.0.1:3000", ip_only=False),
            tls_cert="/etc/ssl/grafana.pem",
            tls_key="/etc/ssl/grafana.key",
        )
    ),
    "traefik-file.yaml": lambda: TARGETS["traefik-file"].render(WIKI_LAN),
    "caddy.Caddyfile": lambda: TARGETS["caddy"].render(WIKI_LAN),
    # apps with --strip-cookie: the same outputs, also copying Cookie from the answer
    "ingress-nginx-strip-cookie.yaml": lambda: TARGETS["ingress-nginx"].render(stripping(GRAFANA)),
    "traefik-strip-cookie.yaml": lambda: TARGETS["traefik"].render(stripping(COMFY_OFFNET)),
    "traefik-middleware-strip-cookie.yaml": lambda: render_middleware(
        stripping(_spec("authgate", "http://authgate", auth=KUBE_AUTH, namespace="public-ingress"))
    ),
    "envoy-gateway-strip-cookie.yaml": lambda: TARGETS["envoy-gateway"].render(
        stripping(s.Spec(**{**GRAFANA.__dict__, "tls_secret": "", "gateway": "infra/eg"}))
    ),
    "traefik-gateway-strip-cookie.yaml": lambda: TARGETS["traefik-gateway"].render(
        stripping(s.Spec(**{**COMFY_OFFNET.__dict__, "cert_resolver": ""}))
    ),
    "nginx-strip-cookie.conf": lambda: TARGETS["nginx"].render(stripping(WIKI_LAN)),
    "traefik-file-strip-cookie.yaml": lambda: TARGETS["traefik-file"].render(stripping(WIKI_LAN)),
    "caddy-strip-cookie.Caddyfile": lambda: TARGETS["caddy"].render(stripping(WIKI_LAN)),
    # --auth-cache 1s: the proxy keeps authgate's allow for a second
    "nginx-auth-cache.conf": lambda: TARGETS["nginx"].render(caching(WIKI_LAN)),
    "ingress-nginx-auth-cache.yaml": lambda: TARGETS["ingress-nginx"].render(caching(GRAFANA)),
}
