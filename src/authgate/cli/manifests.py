"""``authgate manifests``: ready-to-apply proxy configuration for one app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from authgate.cli.command import emit, fail, json_option, run_store

#: flags that only some targets take: flag -> (is it set?, targets that take it)
K8S = ("ingress-nginx", "traefik", "traefik-legacy", "envoy-gateway", "traefik-gateway")
FLAG_TARGETS: dict[str, tuple[str, ...]] = {
    "--service": K8S,
    "--namespace": K8S,
    "--legacy-endpoints": K8S,
    "--tls-secret": ("ingress-nginx", "traefik", "traefik-legacy"),
    "--cert-resolver": ("traefik", "traefik-legacy", "traefik-file"),
    "--ingress-class": ("ingress-nginx",),
    "--gateway": ("envoy-gateway", "traefik-gateway"),
    "--entry-point": ("traefik", "traefik-legacy", "traefik-file"),
    "--middleware-namespace": ("traefik", "traefik-legacy"),
    "--listen": ("nginx", "caddy"),
    "--tls-cert": ("nginx",),
    "--tls-key": ("nginx",),
    "--auth-cache": ("nginx", "ingress-nginx"),
}


@click.command("manifests")
@click.argument("slug", required=False)
@click.option(
    "--target",
    "target_name",
    help="ingress-nginx, traefik, traefik-legacy, "
    "envoy-gateway, traefik-gateway, nginx, traefik-file or caddy.",
)
@click.option("--url", help="The app's external URL; without it the app comes from the store.")
@click.option("--namespace", help="Kubernetes namespace of the app's objects (default: default).")
@click.option("--service", help="The app's in-cluster Service, NAME:PORT.")
@click.option(
    "--backend",
    help="The app's address: IP:PORT off-cluster, HOST:PORT for nginx, Caddy, traefik-file.",
)
@click.option(
    "--auth-service",
    help="Where the proxy reaches authgate (default: "
    "http://authgate.authgate.svc.cluster.local:9000; http://127.0.0.1:9000 without "
    "Kubernetes).",
)
@click.option("--tls-secret", default="", help="Kubernetes TLS Secret for the app's host.")
@click.option("--cert-resolver", default="", help="Traefik certificate resolver.")
@click.option("--ingress-class", help="ingressClassName (default: nginx).")
@click.option("--legacy-endpoints", is_flag=True, help="Write Endpoints, not an EndpointSlice.")
@click.option("--gateway", help="The Gateway the routes attach to, [NAMESPACE/]NAME.")
@click.option("--entry-point", help="Traefik entry point (default: websecure for https, web).")
@click.option("--middleware-namespace", help="Namespace of the shared Traefik Middleware.")
@click.option("--listen", help="nginx/Caddy: [ADDRESS:]PORT to listen on.")
@click.option("--tls-cert", default="", help="nginx: certificate file for an https app.")
@click.option("--tls-key", default="", help="nginx: key file for an https app.")
@click.option("--middleware", is_flag=True, help="Print the shared Traefik Middleware once.")
@click.option(
    "--strip-cookie",
    is_flag=True,
    help="The app has --strip-cookie: copy Cookie from authgate's answer (taken from the store "
    "when the app comes from there).",
)
@click.option(
    "--jwt-bearer",
    is_flag=True,
    help="The app has --jwt-bearer: copy Authorization from authgate's answer (taken from the "
    "store when the app comes from there).",
)
@click.option(
    "--auth-cache",
    help="nginx, ingress-nginx: the proxy keeps authgate's allow this long (e.g. 1s, at most "
    "60s); a revoked session still gets in for that long.",
)
@json_option
@click.pass_context
def manifests(
    ctx: click.Context,
    /,
    slug: str | None,
    target_name: str | None,
    url: str | None,
    middleware: bool,
    strip_cookie: bool,
    jwt_bearer: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Print proxy configuration for app SLUG (or the shared Traefik --middleware)."""
    from authgate.deploy.spec import SpecError
    from authgate.deploy.targets import TARGETS

    switches = Switches(strip_cookie, jwt_bearer)
    if middleware:
        name = target_name or "traefik"
        if name not in ("traefik", "traefik-legacy") or slug or url:
            fail(
                "--middleware prints the shared Traefik Middleware: no SLUG, --url or "
                "--target other than traefik/traefik-legacy"
            )
        try:
            text = _middleware(name == "traefik-legacy", switches, flags)
        except SpecError as exc:
            fail(str(exc))
        emit(as_json, {"target": name, "middleware": True, "text": text}, text.rstrip("\n"))
        return
    if not slug:
        fail("name the app: authgate manifests SLUG --target TARGET (or --middleware)")
    assert slug is not None
    if target_name not in TARGETS:
        given = f"unknown --target {target_name!r}" if target_name else "--target is required"
        fail(f"{given}; one of: {', '.join(TARGETS)}")
    assert target_name is not None
    _check_flags(target_name, flags)
    if url is None:
        url, switches = _stored_app(ctx, slug, switches)
    try:
        text = _render(target_name, slug, url, switches, flags)
    except SpecError as exc:
        fail(str(exc))
    emit(as_json, {"app": slug, "target": target_name, "text": text}, text.rstrip("\n"))


def _check_flags(target: str, flags: dict[str, Any]) -> None:
    for flag, targets in FLAG_TARGETS.items():
        value = flags[flag.lstrip("-").replace("-", "_")]
        if value and target not in targets:
            fail(f"{flag} does not apply to --target {target} (only {', '.join(targets)})")
    if flags["service"] and flags["backend"]:
        fail("give either --service NAME:PORT or --backend IP:PORT, not both")
    if flags["legacy_endpoints"] and not flags["backend"]:
        fail("--legacy-endpoints applies to an off-cluster --backend IP:PORT")


@dataclass(frozen=True)
class Switches:
    """The app options that change what the proxy copies from authgate's answer."""

    strip_cookie: bool = False  # Cookie
    jwt_bearer: bool = False  # Authorization


def _stored_app(ctx: click.Context, slug: str, given: Switches) -> tuple[str, Switches]:
    """(external URL, switches) of the registered app; the config must match the app: a flag
    the app does not have would copy a header authgate's answer never carries."""

    async def action(store: Any) -> tuple[str, Switches] | None:
        for app in await store.load_apps():
            if app.slug == slug:
                return app.external_url, Switches(app.strip_cookie, app.jwt_bearer)
        return None

    found = run_store(ctx, action)
    if found is None:
        fail(f"no app named {slug!r} (see authgate app list, or give --url URL)")
    assert found is not None
    stored = found[1]
    if given.strip_cookie and not stored.strip_cookie:
        fail(
            f"app {slug!r} does not strip authgate's cookie: authgate's answer carries no Cookie "
            f"to copy, so the app would get none (authgate app set {slug} --strip-cookie first)"
        )
    if given.jwt_bearer and not stored.jwt_bearer:
        fail(
            f"app {slug!r} does not have jwt_bearer: authgate's answer carries no Authorization "
            f"to copy, so the app would get none (authgate app set {slug} --jwt-bearer first)"
        )
    return found


def _render(target: str, slug: str, url: str, switches: Switches, flags: dict[str, Any]) -> str:
    from authgate.deploy import spec as s
    from authgate.deploy.targets import TARGETS

    kube = TARGETS[target].kubernetes
    if kube:
        s.check_k8s_name(slug, "SLUG")
    default_auth = s.DEFAULT_AUTH_SERVICE if kube else s.DEFAULT_LOCAL_AUTH_SERVICE
    backend = None
    if flags["service"]:
        backend = s.parse_service(flags["service"])
    elif flags["backend"]:
        backend = s.parse_backend(flags["backend"], ip_only=kube)
    spec = s.Spec(
        app=s.parse_app(slug, url),
        auth=s.parse_auth_service(flags["auth_service"] or default_auth),
        backend=backend,
        namespace=s.check_k8s_name(flags["namespace"] or "default", "--namespace"),
        tls_secret=flags["tls_secret"] and s.check_k8s_name(flags["tls_secret"], "--tls-secret"),
        cert_resolver=flags["cert_resolver"]
        and s.check_safe(flags["cert_resolver"], "--cert-resolver"),
        ingress_class=s.check_k8s_name(flags["ingress_class"] or "nginx", "--ingress-class"),
        legacy_endpoints=flags["legacy_endpoints"],
        gateway=_gateway(flags["gateway"]),
        entry_point=flags["entry_point"] and s.check_safe(flags["entry_point"], "--entry-point"),
        listen=s.parse_listen(flags["listen"]) if flags["listen"] else None,
        middleware_namespace=flags["middleware_namespace"]
        and s.check_k8s_name(flags["middleware_namespace"], "--middleware-namespace"),
        tls_cert=flags["tls_cert"] and s.check_safe(flags["tls_cert"], "--tls-cert"),
        tls_key=flags["tls_key"] and s.check_safe(flags["tls_key"], "--tls-key"),
        strip_cookie=switches.strip_cookie,
        jwt_bearer=switches.jwt_bearer,
        auth_cache=s.parse_auth_cache(flags["auth_cache"]) if flags["auth_cache"] else 0,
    )
    return TARGETS[target].render(spec)


def _gateway(value: str | None) -> str:
    from authgate.deploy.spec import check_k8s_name

    if not value:
        return ""
    namespace, _, name = value.rpartition("/")
    if namespace:
        check_k8s_name(namespace, "--gateway")
    check_k8s_name(name, "--gateway")
    return value


def _middleware(legacy: bool, switches: Switches, flags: dict[str, Any]) -> str:
    from authgate.deploy import spec as s
    from authgate.deploy.targets import render_middleware

    for flag in (
        "service",
        "backend",
        "tls_secret",
        "cert_resolver",
        "listen",
        "gateway",
        "auth_cache",
    ):
        if flags[flag]:
            fail(f"--{flag.replace('_', '-')} does not apply to --middleware")
    auth = s.parse_auth_service(flags["auth_service"] or s.DEFAULT_AUTH_SERVICE)
    ref = auth.service_ref()
    namespace = flags["namespace"] or (ref[1] if ref else "default")
    spec = s.Spec(
        app=s.App("authgate", "http", "authgate"),
        auth=auth,
        namespace=s.check_k8s_name(namespace, "--namespace"),
        strip_cookie=switches.strip_cookie,
        jwt_bearer=switches.jwt_bearer,
    )
    return render_middleware(spec, legacy=legacy)
