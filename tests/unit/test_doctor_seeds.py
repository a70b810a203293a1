"""The seeds pass the doctor; each way people break them is caught, with its id and severity."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.doctor.findings import Severity
from authgate.forward.headers import IDENTITY_HEADERS

from .doctor_helpers import (
    SEED000,
    SEED003,
    SEED003_MIDDLEWARE,
    SEED003_OFFNET,
    SEED003_ROUTE,
    app,
    check,
    copy_seed003,
    edit,
    errors,
    ids,
    only,
    write,
)

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
ANN = "    nginx.ingress.kubernetes.io/"


@pytest.fixture
def seed000(tmp_path: Path) -> Path:
    return write(tmp_path, "wiki.yaml", SEED000.read_text())


@pytest.fixture
def seed003(tmp_path: Path) -> Path:
    return copy_seed003(tmp_path)


# -- the seeds as written -----------------------------------------------------------------------


def test_seed000_has_no_error_and_the_expected_warnings() -> None:
    found = check([SEED000])
    assert errors(found) == []
    assert set(ids(found, WARN)) == {
        "endpoints-deprecated",
        "ingress-nginx-retired",
        "identity-headers-not-overwritten",
        "nginx-set-cookie-forwarded",
    }
    assert set(ids(found, INFO)) == {"apps-not-compared", "auth-keepalive-off"}


def test_seed003_has_no_error_and_the_expected_warnings() -> None:
    found = check([SEED003])
    assert errors(found) == []
    assert set(ids(found, WARN)) == {
        "traefik-containo-us",
        "traefik-cross-namespace",
        "endpoints-deprecated",
        "identity-headers-not-overwritten",
    }


def test_seeds_with_their_apps_registered_have_no_error() -> None:
    apps = [
        app("wiki", "http://wiki.bogocat.com"),
        app("comfyui", "https://comfyui.k3s.internal.zolty.systems"),
        app("comfyui-offnet", "https://comfyui-offnet.k3s.internal.zolty.systems"),
    ]
    found = check([SEED000, SEED003], apps=apps)
    assert errors(found) == []
    assert "apps-not-compared" not in ids(found)


def test_findings_name_the_file_and_line(seed000: Path) -> None:
    finding = only(check([seed000]), "nginx-set-cookie-forwarded")
    assert finding.object == "Ingress/wiki/wiki"
    assert finding.where is not None and finding.where.file == str(seed000)
    line = seed000.read_text().splitlines()[finding.where.line - 1]  # type: ignore[operator]
    assert "auth-response-headers" in line


# -- the outpost path ---------------------------------------------------------------------------


def test_traefik_outpost_route_with_the_middleware_is_a_redirect_loop(seed003: Path) -> None:
    route = seed003 / SEED003_ROUTE.relative_to(SEED003)
    edit(
        route,
        "    - match: Host(`comfyui.k3s.internal.zolty.systems`) && PathPrefix",
        "    - middlewares: [{name: authentik-forward-auth, namespace: public-ingress}]\n"
        "      match: Host(`comfyui.k3s.internal.zolty.systems`) && PathPrefix",
    )
    finding = only(check([seed003]), "outpost-behind-auth")
    assert finding.severity is ERR
    assert finding.object == "IngressRoute/comfyui/comfyui route 2"
    assert "too many redirects" in finding.problem


def test_traefik_protected_route_with_a_higher_priority_wins_over_the_outpost(
    seed003: Path,
) -> None:
    edit(
        seed003 / SEED003_ROUTE.relative_to(SEED003),
        "    - match: Host(`comfyui.k3s.internal.zolty.systems`)\n",
        "    - match: Host(`comfyui.k3s.internal.zolty.systems`)\n      priority: 1000\n",
    )
    finding = only(check([seed003]), "outpost-behind-auth")
    assert finding.severity is ERR
    assert "route 1 wins" in finding.problem


def test_ingress_nginx_outpost_ingress_with_auth_annotations_is_a_loop(seed000: Path) -> None:
    edit(
        seed000,
        f'{ANN}upstream-vhost: "authentik-server.authentik.svc.cluster.local"\n',
        f'{ANN}upstream-vhost: "authentik-server.authentik.svc.cluster.local"\n'
        f'{ANN}auth-url: "http://authentik-server.authentik.svc.cluster.local'
        '/outpost.goauthentik.io/auth/nginx"\n',
    )
    finding = only(check([seed000]), "outpost-behind-auth")
    assert finding.severity is ERR
    assert finding.object.startswith("Ingress/wiki/wiki-outpost")


def test_ingress_nginx_without_the_outpost_ingress(seed000: Path) -> None:
    text = seed000.read_text()
    start = text.index("# Ingress for outpost paths")
    seed000.write_text(text[:start] + text[text.index("# Main ingress") :])
    finding = only(check([seed000]), "no-outpost-route")
    assert finding.severity is ERR
    assert finding.object == "Ingress/wiki/wiki path /"
    assert "redirects" in finding.problem and "wiki-outpost Ingress" in finding.fix


def test_traefik_without_the_outpost_route(seed003: Path) -> None:
    route = seed003 / SEED003_ROUTE.relative_to(SEED003)
    text = route.read_text()
    route.write_text(text[: text.index("    # Route 2")])
    finding = only(check([seed003]), "no-outpost-route")
    assert finding.severity is ERR
    assert "PathPrefix(`/outpost.goauthentik.io/`)" in finding.fix


# -- ingress-nginx annotations ------------------------------------------------------------------


def test_externalname_with_an_ip(seed000: Path) -> None:
    edit(
        seed000,
        "externalName: authentik-server.authentik.svc.cluster.local",
        "externalName: 10.0.0.7",
    )
    finding = only(check([seed000]), "externalname-ip")
    assert (finding.severity, finding.object) == (ERR, "Service/wiki/wiki-authentik")


def test_ingress_nginx_without_auth_keepalive_is_a_hint(seed000: Path) -> None:
    finding = only(check([seed000]), "auth-keepalive-off")
    assert finding.severity is INFO
    assert "auth-keepalive" in finding.fix and "use-http2" in finding.fix
    edit(
        seed000,
        f'{ANN}auth-url: "',
        f'{ANN}auth-keepalive: "0"\n{ANN}auth-url: "',
    )
    assert "auth-keepalive-off" in ids(check([seed000]))  # 0 is off
    edit(seed000, f'{ANN}auth-keepalive: "0"', f'{ANN}auth-keepalive: "32"')
    assert "auth-keepalive-off" not in ids(check([seed000]))


def test_no_auth_proxy_set_headers_is_only_a_warning_for_authgate(seed000: Path) -> None:
    edit(seed000, f'{ANN}auth-proxy-set-headers: "wiki/wiki-auth-headers"\n', "")
    finding = only(check([seed000]), "nginx-no-forwarded-host")
    assert finding.severity is WARN
    assert "X-Original-URL" in finding.problem and "authentik" in finding.problem


def test_configmap_without_x_forwarded_host_is_a_warning(seed000: Path) -> None:
    edit(seed000, '  X-Forwarded-Host: "wiki.bogocat.com"\n', "")
    finding = only(check([seed000]), "nginx-no-forwarded-host")
    assert finding.severity is WARN
    assert "ConfigMap wiki/wiki-auth-headers has no X-Forwarded-Host" in finding.problem


def test_referenced_configmap_that_is_missing_is_an_error(seed000: Path) -> None:
    edit(seed000, '"wiki/wiki-auth-headers"', '"wiki/wiki-headers"')
    finding = only(check([seed000]), "nginx-proxy-headers-configmap-missing")
    assert finding.severity is ERR
    assert "503" in finding.problem


@pytest.mark.parametrize("snippet", ["configuration-snippet", "auth-snippet"])
def test_snippet_annotations(seed000: Path, snippet: str) -> None:
    edit(
        seed000,
        f'{ANN}backend-protocol: "HTTP"\nspec:\n  ingressClassName: nginx\n  rules:\n'
        "    - host: wiki.bogocat.com\n      http:\n        paths:\n          - path: /\n",
        f'{ANN}backend-protocol: "HTTP"\n{ANN}{snippet}: |\n'
        "      proxy_set_header X-Forwarded-Host $http_host;\n"
        "spec:\n  ingressClassName: nginx\n  rules:\n"
        "    - host: wiki.bogocat.com\n      http:\n        paths:\n          - path: /\n",
    )
    finding = only(check([seed000]), "nginx-snippet")
    assert finding.severity is WARN and snippet in finding.problem


def test_set_cookie_in_auth_response_headers_is_a_warning_never_an_error(seed000: Path) -> None:
    assert only(check([seed000]), "nginx-set-cookie-forwarded").severity is WARN
    edit(seed000, '"Set-Cookie,X-authentik-username', '"X-authentik-username')
    assert "nginx-set-cookie-forwarded" not in ids(check([seed000]))


def test_signin_on_another_domain_is_a_login_loop(seed000: Path) -> None:
    edit(seed000, '"http://wiki.bogocat.com/outpost', '"http://auth.example.org/outpost')
    finding = only(check([seed000]), "nginx-signin-host")
    assert finding.severity is ERR
    assert "login loop" in finding.problem
    assert finding.fix.startswith("auth-signin: http://wiki.bogocat.com/outpost.goauthentik.io/")


def test_signin_on_a_sibling_host_is_fine_for_a_domain_mode_app(seed000: Path) -> None:
    edit(seed000, '"http://wiki.bogocat.com/outpost', '"http://auth.bogocat.com/outpost')
    assert only(check([seed000]), "nginx-signin-host").severity is WARN
    domain_app = app("lab", "http://wiki.bogocat.com", mode="domain", cookie_domain="bogocat.com")
    assert "nginx-signin-host" not in ids(check([seed000], apps=[domain_app]))


def test_signin_over_https_without_tls(seed000: Path) -> None:
    edit(seed000, '"http://wiki.bogocat.com/outpost', '"https://wiki.bogocat.com/outpost')
    finding = only(check([seed000]), "nginx-signin-scheme")
    assert finding.severity is WARN and "no TLS" in finding.problem


def test_no_signin_is_a_bare_401(seed000: Path) -> None:
    text = seed000.read_text()
    start = text.index(f"{ANN}auth-signin")
    seed000.write_text(text[:start] + text[text.index("\n", start) + 1 :])
    assert only(check([seed000]), "nginx-no-signin").severity is ERR


def test_auth_url_of_another_dialect(seed000: Path) -> None:
    edit(seed000, "goauthentik.io/auth/nginx", "goauthentik.io/auth/traefik")
    finding = only(check([seed000]), "auth-endpoint-dialect")
    assert finding.severity is ERR and "500" in finding.problem


def test_ingress_nginx_is_retired(seed000: Path) -> None:
    finding = only(check([seed000]), "ingress-nginx-retired")
    assert finding.severity is WARN
    assert "authgate manifests --target envoy-gateway" in finding.fix


# -- Services and endpoints ---------------------------------------------------------------------


def test_ingress_to_a_port_the_service_lacks(seed000: Path) -> None:
    edit(seed000, "                  number: 8080", "                  number: 9090")
    finding = only(check([seed000]), "service-port-mismatch")
    assert (finding.severity, finding.object) == (ERR, "Ingress/wiki/wiki")
    assert "8080" in finding.fix


def test_endpoints_port_name_differs_from_the_service(seed000: Path) -> None:
    edit(
        seed000,
        "    ports:\n      - name: http\n        port: 8080",
        "    ports:\n      - name: web\n        port: 8080",
    )
    finding = only(check([seed000]), "endpoints-port-mismatch")
    assert (finding.severity, finding.object) == (ERR, "Endpoints/wiki/wiki-backend")


def test_endpoints_port_number_differs_from_target_port(tmp_path: Path) -> None:
    service = write(tmp_path, "svc.yaml", SEED003_OFFNET.read_text())
    edit(service, "    ports:\n      - port: 8188", "    ports:\n      - port: 8189")
    finding = only(check([service]), "endpoints-port-mismatch")
    assert finding.severity is WARN and "8189" in finding.problem


def test_selectorless_service_without_endpoints(seed000: Path) -> None:
    text = seed000.read_text()
    start = text.index("apiVersion: v1\nkind: Endpoints")
    seed000.write_text(text[:start] + text[text.index("---", start) + 4 :])
    finding = only(check([seed000]), "endpoints-missing")
    assert (finding.severity, finding.object) == (WARN, "Service/wiki/wiki-backend")


def test_endpointslice_without_its_service_label(tmp_path: Path) -> None:
    slice_ = write(
        tmp_path,
        "slice.yaml",
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
        "metadata: {name: wiki-backend-1, namespace: wiki}\naddressType: IPv4\n"
        "ports: [{name: http, port: 8080}]\nendpoints: [{addresses: [192.168.1.50]}]\n",
    )
    finding = only(check([slice_]), "endpointslice-label")
    assert finding.severity is ERR


def test_endpointslice_instead_of_endpoints_passes(seed000: Path) -> None:
    text = seed000.read_text()
    start = text.index("apiVersion: v1\nkind: Endpoints")
    slice_ = (
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: wiki-backend-1\n"
        "  namespace: wiki\n  labels:\n    kubernetes.io/service-name: wiki-backend\n"
        "addressType: IPv4\nports:\n  - name: http\n    port: 8080\n"
        "endpoints:\n  - addresses: [192.168.1.50]\n---\n"
    )
    seed000.write_text(text[:start] + slice_ + text[text.index("---", start) + 4 :])
    found = check([seed000])
    assert errors(found) == []
    assert "endpoints-deprecated" not in ids(found)
    assert "endpoints-missing" not in ids(found)


def test_endpoints_are_deprecated() -> None:
    finding = only(check([SEED003_OFFNET]), "endpoints-deprecated")
    assert finding.severity is WARN and "EndpointSlice" in finding.fix


# -- Traefik CRDs -------------------------------------------------------------------------------


def test_middleware_missing(seed003: Path) -> None:
    (seed003 / SEED003_MIDDLEWARE.relative_to(SEED003)).unlink()
    found = check([seed003])
    missing = [f for f in found if f.id == "traefik-middleware-missing"]
    assert len(missing) == 2 and all(f.severity is ERR for f in missing)
    assert "public-ingress/authentik-forward-auth" in missing[0].problem


def test_middleware_in_another_namespace_needs_allow_cross_namespace() -> None:
    found = [f for f in check([SEED003]) if f.id == "traefik-cross-namespace"]
    assert {f.object for f in found} == {
        "IngressRoute/comfyui/comfyui",
        "IngressRoute/comfyui-offnet/comfyui-offnet",
    }
    assert all(f.severity is WARN and "allowCrossNamespace" in f.fix for f in found)


def test_traefik_containo_us_group_is_deprecated(seed003: Path) -> None:
    assert only(check([SEED003_MIDDLEWARE]), "traefik-containo-us").severity is WARN
    for path in seed003.rglob("*.yaml"):
        path.write_text(path.read_text().replace("traefik.containo.us", "traefik.io"))
    assert "traefik-containo-us" not in ids(check([seed003]))


# -- identity headers and registered apps -------------------------------------------------------


def test_identity_headers_the_proxy_does_not_overwrite_are_named() -> None:
    finding = only(check([SEED003]), "identity-headers-not-overwritten")
    assert finding.severity is WARN
    assert "Remote-User" in finding.problem and "X-authentik-jwt" in finding.problem
    listed = finding.problem.split(":")[0]
    assert "X-authentik-username" not in listed  # listed (as X-Authentik-Username): not named


def test_every_identity_header_listed_gives_no_warning(seed000: Path) -> None:
    edit(
        seed000,
        '"Set-Cookie,X-authentik-username,X-authentik-groups,X-authentik-email,X-authentik-uid"',
        '"' + ",".join(IDENTITY_HEADERS) + '"',
    )
    assert "identity-headers-not-overwritten" not in ids(check([seed000]))


def test_host_not_registered_names_the_command() -> None:
    found = check([SEED000], apps=[app("grafana", "https://grafana.example.com")])
    finding = only(found, "host-not-registered")
    assert finding.severity is ERR
    assert "authgate app add wiki --url http://wiki.bogocat.com" in finding.fix


def test_domain_mode_app_covers_its_hosts() -> None:
    domain_app = app("lab", "https://k3s.internal.zolty.systems", "domain", "zolty.systems")
    assert "host-not-registered" not in ids(check([SEED003], apps=[domain_app]))


def test_without_a_store_the_hosts_are_skipped_with_one_info_line() -> None:
    finding = only(check([SEED000, SEED003]), "apps-not-compared")
    assert finding.severity is INFO and "no store in this test" in finding.problem


def test_endpointslice_port_name_differs_from_the_service(tmp_path: Path) -> None:
    text = SEED000.read_text()
    start = text.index("apiVersion: v1\nkind: Endpoints")
    slice_ = (
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: wiki-backend-1\n"
        "  namespace: wiki\n  labels:\n    kubernetes.io/service-name: wiki-backend\n"
        "addressType: IPv4\nports:\n  - port: 8080\n"
        "endpoints:\n  - addresses: [192.168.1.50]\n---\n"
    )
    seed = write(tmp_path, "w.yaml", text[:start] + slice_ + text[text.index("---", start) + 4 :])
    finding = only(check([seed]), "endpoints-port-mismatch")
    assert (finding.severity, finding.object) == (ERR, "EndpointSlice/wiki/wiki-backend-1")
    assert "'http'" in finding.fix


def test_ingress_run_by_traefik_with_the_middleware_annotation(tmp_path: Path) -> None:
    ingress = write(
        tmp_path,
        "ing.yaml",
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: grafana\n"
        "  namespace: monitoring\n  annotations:\n"
        "    traefik.ingress.kubernetes.io/router.middlewares: "
        "public-ingress-authentik-forward-auth@kubernetescrd\n"
        "spec:\n  ingressClassName: traefik\n  rules:\n    - host: grafana.example.com\n"
        "      http:\n        paths:\n          - path: /\n            pathType: Prefix\n"
        "            backend: {service: {name: grafana, port: {number: 3000}}}\n",
    )
    found = check([ingress, SEED003_MIDDLEWARE])
    finding = only(found, "no-outpost-route")
    assert finding.object == "Ingress/monitoring/grafana path /"
    assert "PathPrefix" in finding.fix  # Traefik's fix, not ingress-nginx's
    assert "ingress-nginx-retired" not in ids(found)
