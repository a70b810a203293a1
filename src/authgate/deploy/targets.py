"""Every target ``authgate manifests`` knows: name -> (generator, needs Kubernetes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from authgate.deploy import caddy, gateway, ingress_nginx, nginx, traefik
from authgate.deploy.serialize import dump_documents
from authgate.deploy.spec import Spec


@dataclass(frozen=True)
class Target:
    render: Callable[[Spec], str]
    kubernetes: bool
    summary: str


TARGETS: dict[str, Target] = {
    "ingress-nginx": Target(ingress_nginx.render, True, "Ingress pair + ConfigMap (seed 1)"),
    "traefik": Target(traefik.render, True, "IngressRoute, traefik.io/v1alpha1 (Traefik v3)"),
    "traefik-legacy": Target(
        traefik.render_legacy, True, "IngressRoute, traefik.containo.us/v1alpha1 (Traefik v2)"
    ),
    "envoy-gateway": Target(gateway.render_envoy, True, "HTTPRoutes + SecurityPolicy extAuth"),
    "traefik-gateway": Target(
        gateway.render_traefik, True, "HTTPRoutes + Middleware via ExtensionRef"
    ),
    "nginx": Target(nginx.render, False, "plain nginx server block (auth_request)"),
    "traefik-file": Target(traefik.render_file, False, "Traefik file-provider dynamic YAML"),
    "caddy": Target(caddy.render, False, "Caddyfile site block (forward_auth)"),
}


def render_middleware(spec: Spec, *, legacy: bool = False) -> str:
    """The shared Traefik Middleware, printed once (``--middleware``)."""
    return dump_documents([traefik.middleware_document(spec, legacy=legacy)])
