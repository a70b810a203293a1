"""``authgate manifests``: every output is guarded by a golden file, plus the rules each
output must keep (every identity header, no Set-Cookie, the outpost carve-out, ...).

Regenerate the golden files after an intended change with
``AUTHGATE_UPDATE_GOLDEN=1 pytest tests/unit/test_manifests.py`` and read the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from authgate.deploy import spec as s
from authgate.deploy.targets import TARGETS, render_middleware
from authgate.forward.headers import IDENTITY_HEADERS

from .manifest_cases import CASES, COMFY_OFFNET, GRAFANA, WIKI_LAN, caching, stripping

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AUTHGATE_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_its_golden_file(name: str) -> None:
    text = CASES[name]()
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"no golden file {path}: run with AUTHGATE_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file"


def test_every_golden_file_has_a_case() -> None:
    assert {p.name for p in GOLDEN.iterdir()} == set(CASES)


def docs(text: str) -> list[dict[str, object]]:
    return [d for d in YAML(typ="safe").load_all(text) if d]


def by_kind(text: str) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for doc in docs(text):
        out.setdefault(str(doc["kind"]), []).append(doc)
    return out


def test_ingress_nginx_lists_every_identity_header_and_not_set_cookie() -> None:
    ingresses = by_kind(TARGETS["ingress-nginx"].render(GRAFANA))["Ingress"]
    main = next(i for i in ingresses if i["metadata"]["name"] == "grafana")  # type: ignore[index]
    notes = main["metadata"]["annotations"]  # type: ignore[index]
    listed = notes["nginx.ingress.kubernetes.io/auth-response-headers"].split(",")
    assert listed == [*IDENTITY_HEADERS, "Authorization"]
    assert "Set-Cookie" not in listed
    signin = notes["nginx.ingress.kubernetes.io/auth-signin"]
    assert (
        signin == "https://grafana.example.com/outpost.goauthentik.io/start?rd=$escaped_request_uri"
    )
    assert not any("snippet" in k for k in notes)


def test_ingress_nginx_outpost_ingress_has_no_auth_and_sets_upstream_vhost() -> None:
    kinds = by_kind(TARGETS["ingress-nginx"].render(GRAFANA))
    outpost = next(i for i in kinds["Ingress"] if i["metadata"]["name"] == "grafana-outpost")  # type: ignore[index]
    notes = outpost["metadata"]["annotations"]  # type: ignore[index]
    assert (
        notes["nginx.ingress.kubernetes.io/upstream-vhost"] == "authgate.authgate.svc.cluster.local"
    )
    assert not any("auth-" in k for k in notes)
    external = next(x for x in kinds["Service"] if x["spec"]["type"] == "ExternalName")  # type: ignore[index]
    assert external["spec"]["externalName"] == "authgate.authgate.svc.cluster.local"  # type: ignore[index]
    config = kinds["ConfigMap"][0]
    assert config["data"] == {
        "X-Forwarded-Host": "grafana.example.com",
        "X-Forwarded-Proto": "https",
    }


def test_an_ip_auth_service_cannot_be_an_external_name() -> None:
    spec = s.Spec(**{**GRAFANA.__dict__, "auth": s.parse_auth_service("http://10.0.0.5:9000")})
    with pytest.raises(s.SpecError, match="DNS name"):
        TARGETS["ingress-nginx"].render(spec)


def test_off_cluster_backend_gets_a_selectorless_service_and_endpoint_slice() -> None:
    kinds = by_kind(TARGETS["traefik"].render(COMFY_OFFNET))
    service = kinds["Service"][0]
    assert "selector" not in service["spec"]  # type: ignore[operator]
    (slice_,) = kinds["EndpointSlice"]
    assert slice_["apiVersion"] == "discovery.k8s.io/v1"
    assert slice_["addressType"] == "IPv4"
    labels = slice_["metadata"]["labels"]  # type: ignore[index]
    assert labels["kubernetes.io/service-name"] == service["metadata"]["name"]  # type: ignore[index]
    assert slice_["ports"][0]["name"] == service["spec"]["ports"][0]["name"]  # type: ignore[index]
    assert "Endpoints" not in kinds


def test_legacy_endpoints_replace_the_endpoint_slice() -> None:
    spec = s.Spec(**{**COMFY_OFFNET.__dict__, "legacy_endpoints": True})
    kinds = by_kind(TARGETS["traefik"].render(spec))
    assert "EndpointSlice" not in kinds
    (endpoints,) = kinds["Endpoints"]
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "192.168.1.50"}]  # type: ignore[index]


def test_ipv6_backend_gets_an_ipv6_slice() -> None:
    spec = s.Spec(
        **{**COMFY_OFFNET.__dict__, "backend": s.parse_backend("[fd00::5]:80", ip_only=True)}
    )
    (slice_,) = by_kind(TARGETS["traefik"].render(spec))["EndpointSlice"]
    assert slice_["addressType"] == "IPv6"
    assert slice_["endpoints"] == [{"addresses": ["fd00::5"]}]


def test_traefik_two_routes_only_the_first_carries_the_middleware() -> None:
    (route,) = by_kind(TARGETS["traefik"].render(COMFY_OFFNET))["IngressRoute"]
    assert route["apiVersion"] == "traefik.io/v1alpha1"
    first, second = route["spec"]["routes"]  # type: ignore[index]
    assert first["middlewares"] == [{"name": "authgate", "namespace": "authgate"}]
    assert "middlewares" not in second
    assert second["match"].endswith("PathPrefix(`/outpost.goauthentik.io/`)")
    assert second["services"] == [{"name": "authgate", "namespace": "authgate", "port": 9000}]
    assert route["spec"]["tls"] == {"certResolver": "letsencrypt"}  # type: ignore[index]


def test_traefik_legacy_uses_the_v2_group() -> None:
    (route,) = by_kind(TARGETS["traefik-legacy"].render(COMFY_OFFNET))["IngressRoute"]
    assert route["apiVersion"] == "traefik.containo.us/v1alpha1"


def test_traefik_needs_the_auth_service_as_a_cluster_name() -> None:
    spec = s.Spec(
        **{**COMFY_OFFNET.__dict__, "auth": s.parse_auth_service("http://auth.example.com")}
    )
    with pytest.raises(s.SpecError, match="cluster DNS name"):
        TARGETS["traefik"].render(spec)


def test_envoy_gateway_security_policy_sends_the_cookie_and_returns_every_header() -> None:
    kinds = by_kind(
        TARGETS["envoy-gateway"].render(s.Spec(**{**GRAFANA.__dict__, "tls_secret": ""}))
    )
    (policy,) = kinds["SecurityPolicy"]
    ext = policy["spec"]["extAuth"]  # type: ignore[index]
    assert "cookie" in ext["headersToExtAuth"]
    assert ext["http"]["path"] == "/outpost.goauthentik.io/auth/envoy"
    assert ext["http"]["headersToBackend"] == [*IDENTITY_HEADERS, "Authorization"]
    assert policy["spec"]["targetRefs"] == [  # type: ignore[index]
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "grafana"}
    ]
    names = [r["metadata"]["name"] for r in kinds["HTTPRoute"]]  # type: ignore[index]
    assert names == ["grafana", "grafana-outpost"]
    (grant,) = kinds["ReferenceGrant"]
    assert grant["metadata"]["namespace"] == "authgate"  # type: ignore[index]


def test_gateway_routes_refuse_tls_flags() -> None:
    with pytest.raises(s.SpecError, match="Gateway's listener"):
        TARGETS["envoy-gateway"].render(GRAFANA)


def test_traefik_gateway_filter_names_a_middleware_in_the_route_namespace() -> None:
    spec = s.Spec(**{**COMFY_OFFNET.__dict__, "cert_resolver": ""})
    kinds = by_kind(TARGETS["traefik-gateway"].render(spec))
    (middleware,) = kinds["Middleware"]
    assert middleware["metadata"]["namespace"] == "comfyui-offnet"  # type: ignore[index]
    app_route = kinds["HTTPRoute"][0]
    (rule,) = app_route["spec"]["rules"]  # type: ignore[index]
    assert rule["filters"] == [
        {
            "type": "ExtensionRef",
            "extensionRef": {"group": "traefik.io", "kind": "Middleware", "name": "authgate"},
        }
    ]
    assert "filters" not in kinds["HTTPRoute"][1]["spec"]["rules"][0]  # type: ignore[index]


def test_nginx_block_copies_every_identity_header() -> None:
    text = TARGETS["nginx"].render(WIKI_LAN)
    for header in [*IDENTITY_HEADERS, "Authorization"]:
        assert f"proxy_set_header {header} " in text
    assert "proxy_pass_request_body off;" in text
    assert 'proxy_set_header Content-Length "";' in text
    assert "return 302 http://wiki.lan:8080/outpost.goauthentik.io/start?rd=$request_uri;" in text


def test_caddy_copies_every_identity_header() -> None:
    text = TARGETS["caddy"].render(WIKI_LAN)
    assert "copy_headers " + " ".join([*IDENTITY_HEADERS, "Authorization"]) in text
    assert "handle /outpost.goauthentik.io/* {" in text


def test_config_values_that_would_break_quoting_are_refused() -> None:
    spec = s.Spec(**{**WIKI_LAN.__dict__, "tls_cert": 'x";\ninclude /etc/passwd'})
    https = s.Spec(**{**spec.__dict__, "app": s.parse_app("wiki", "https://wiki.lan")})
    with pytest.raises(s.SpecError, match="cannot be written"):
        TARGETS["nginx"].render(https)


@pytest.mark.parametrize(
    ("value", "ip_only", "message"),
    [
        ("192.168.1.50", True, "IP:PORT"),
        ("192.168.1.50:http", True, "port must be a number"),
        ("192.168.1.50:70000", True, "port must be a number"),
        ("nas.lan:80", True, "needs an IP address"),
        ("bad host:80", False, "not a host name"),
    ],
)
def test_bad_backend_values(value: str, ip_only: bool, message: str) -> None:
    with pytest.raises(s.SpecError, match=message):
        s.parse_backend(value, ip_only=ip_only)


def test_auth_service_parsing() -> None:
    auth = s.parse_auth_service("http://authgate.authgate.svc.cluster.local:9000")
    assert auth.service_ref() == ("authgate", "authgate")
    assert s.parse_auth_service("https://auth.example.com").port == 443
    assert s.parse_auth_service("http://authgate.auth.svc").service_ref() == ("authgate", "auth")
    for bad in ("ftp://x", "http://x/path", "authgate:9000", "http://x:99999"):
        with pytest.raises(s.SpecError):
            s.parse_auth_service(bad)


# --------------------------------------------------------------------------------------------
# --strip-cookie: every target copies Cookie from authgate's answer, as well as every
# identity header; without it nothing about Cookie changes
# --------------------------------------------------------------------------------------------

KUBE_GATEWAY = s.Spec(**{**GRAFANA.__dict__, "tls_secret": ""})
TRAEFIK_GATEWAY = s.Spec(**{**COMFY_OFFNET.__dict__, "cert_resolver": ""})


def _copied(target: str, spec: s.Spec) -> list[str]:
    """The header names the output has the proxy copy from authgate's answer."""
    text = TARGETS[target].render(spec)
    if target == "nginx":
        return re.findall(
            r"proxy_set_header (\S+) \$authgate_\w+_(?:h\d+|authorization|upstream_cookie);", text
        )
    if target == "caddy":
        (line,) = [ln.split()[1:] for ln in text.splitlines() if "copy_headers" in ln]
        return line
    if target == "traefik-file":
        (mw,) = YAML(typ="safe").load(text)["http"]["middlewares"].values()
        return list(mw["forwardAuth"]["authResponseHeaders"])
    kinds = by_kind(text)
    if target == "ingress-nginx":
        main = kinds["Ingress"][-1]["metadata"]["annotations"]  # type: ignore[index]
        return str(main["nginx.ingress.kubernetes.io/auth-response-headers"]).split(",")
    if target == "envoy-gateway":
        policy = kinds["SecurityPolicy"][0]["spec"]["extAuth"]  # type: ignore[index]
        return list(policy["http"]["headersToBackend"])
    middleware = kinds["Middleware"][0]["spec"]["forwardAuth"]  # type: ignore[index]
    return list(middleware["authResponseHeaders"])


STRIP_CASES = [
    ("ingress-nginx", GRAFANA),
    ("envoy-gateway", KUBE_GATEWAY),
    ("traefik-gateway", TRAEFIK_GATEWAY),
    ("nginx", WIKI_LAN),
    ("traefik-file", WIKI_LAN),
    ("caddy", WIKI_LAN),
]


@pytest.mark.parametrize(("target", "spec"), STRIP_CASES)
def test_strip_cookie_copies_cookie_and_every_identity_header(target: str, spec: s.Spec) -> None:
    assert _copied(target, stripping(spec)) == [*IDENTITY_HEADERS, "Authorization", "Cookie"]


@pytest.mark.parametrize(("target", "spec"), STRIP_CASES)
def test_without_strip_cookie_cookie_is_never_copied(target: str, spec: s.Spec) -> None:
    assert _copied(target, spec) == [*IDENTITY_HEADERS, "Authorization"]
    assert "strip_cookie" not in TARGETS[target].render(spec)


def test_nginx_strip_cookie_replaces_the_cookie_with_the_answers() -> None:
    text = TARGETS["nginx"].render(stripping(WIKI_LAN))
    assert "auth_request_set $authgate_wiki_upstream_cookie $upstream_http_cookie;" in text
    assert "proxy_set_header Cookie $authgate_wiki_upstream_cookie;" in text
    # the login cookie still reaches the browser, and nothing else sets Cookie
    assert "auth_request_set $authgate_wiki_cookie $upstream_http_set_cookie;" in text
    assert text.count("proxy_set_header Cookie") == 1


def test_caddy_strip_cookie_names_the_version_it_needs() -> None:
    text = TARGETS["caddy"].render(stripping(WIKI_LAN))
    assert "Needs Caddy v2.11.2 or later" in text


def test_traefik_strip_cookie_app_uses_its_own_shared_middleware() -> None:
    """Traefik removes every authResponseHeaders name from the request before copying the
    answer's: a Cookie in the shared middleware would take every other app's cookies."""
    (route,) = by_kind(TARGETS["traefik"].render(stripping(COMFY_OFFNET)))["IngressRoute"]
    first, second = route["spec"]["routes"]  # type: ignore[index]
    assert first["middlewares"] == [{"name": "authgate-strip-cookie", "namespace": "authgate"}]
    assert "middlewares" not in second
    plain = by_kind(TARGETS["traefik"].render(COMFY_OFFNET))["IngressRoute"][0]
    assert plain["spec"]["routes"][0]["middlewares"][0]["name"] == "authgate"  # type: ignore[index]
    assert "--middleware --strip-cookie" in TARGETS["traefik"].render(stripping(COMFY_OFFNET))


def test_traefik_strip_cookie_middleware_is_named_apart() -> None:
    spec = s.Spec(app=s.parse_app("authgate", "http://authgate"), auth=GRAFANA.auth)
    (plain,) = docs(render_middleware(spec))
    (strip,) = docs(render_middleware(stripping(spec)))
    assert plain["metadata"]["name"] == "authgate"  # type: ignore[index]
    assert strip["metadata"]["name"] == "authgate-strip-cookie"  # type: ignore[index]
    assert strip["spec"]["forwardAuth"]["authResponseHeaders"][-1] == "Cookie"  # type: ignore[index]
    assert "Cookie" not in plain["spec"]["forwardAuth"]["authResponseHeaders"]  # type: ignore[index]


def test_traefik_gateway_strip_cookie_filter_names_the_strip_middleware() -> None:
    kinds = by_kind(TARGETS["traefik-gateway"].render(stripping(TRAEFIK_GATEWAY)))
    (middleware,) = kinds["Middleware"]
    assert middleware["metadata"]["name"] == "authgate-strip-cookie"  # type: ignore[index]
    (rule,) = kinds["HTTPRoute"][0]["spec"]["rules"]  # type: ignore[index]
    assert rule["filters"][0]["extensionRef"]["name"] == "authgate-strip-cookie"


def nginx_directives(text: str, name: str) -> list[str]:
    return [
        line.strip().removeprefix(name).strip().rstrip(";")
        for line in text.splitlines()
        if line.strip().startswith(name + " ")
    ]


def test_nginx_checks_over_a_kept_alive_upstream() -> None:
    text = TARGETS["nginx"].render(WIKI_LAN)
    upstream = text[text.index("upstream authgate_wiki {") :]
    upstream = upstream[: upstream.index("}")]
    assert "server 127.0.0.1:9000;" in upstream and "keepalive 32;" in upstream
    auth = text[text.index("location = /_authgate/auth {") :]
    auth = auth[: auth.index("}")]
    assert "proxy_pass http://authgate_wiki/outpost.goauthentik.io/auth/nginx;" in auth
    # keepalive to an upstream needs HTTP/1.1 and no "Connection: close"
    assert "proxy_http_version 1.1;" in auth and 'proxy_set_header Connection "";' in auth
    # authgate still sees the Host it saw before (not the upstream's name)
    assert "proxy_set_header Host 127.0.0.1:9000;" in auth


def test_no_cache_without_the_flag() -> None:
    for text in (TARGETS["nginx"].render(WIKI_LAN), TARGETS["ingress-nginx"].render(GRAFANA)):
        assert "proxy_cache" not in text and "auth-cache" not in text


def test_nginx_auth_cache_keys_on_everything_the_decision_reads() -> None:
    text = TARGETS["nginx"].render(caching(WIKI_LAN))
    (key,) = nginx_directives(text, "proxy_cache_key")
    parts = key.strip('"').split(" ")
    assert parts == [
        "$scheme",
        "$request_method",
        "$remote_addr",
        "$http_host",
        "$request_uri",
        "$http_authorization",  # API tokens and app passwords: every byte of them
        "$http_cookie",  # the whole header, last: with Authorization, the parts with spaces
    ]
    assert nginx_directives(text, "proxy_cache_valid") == ["200 1s"]  # only the allow
    assert nginx_directives(text, "proxy_cache") == ["authgate_wiki_cache"]
    (path,) = nginx_directives(text, "proxy_cache_path")
    assert "keys_zone=authgate_wiki_cache:" in path
    # authgate says no-store; the cache overrides that but never Set-Cookie: an answer that
    # sets a cookie is never kept, so one user's cookie is never handed to another
    (ignored,) = nginx_directives(text, "proxy_ignore_headers")
    assert ignored.split() == ["Cache-Control", "Expires"]
    assert nginx_directives(text, "proxy_cache_lock") == ["on"]


def test_ingress_nginx_auth_cache_annotations() -> None:
    ingresses = by_kind(TARGETS["ingress-nginx"].render(caching(GRAFANA, 5)))["Ingress"]
    main = next(i for i in ingresses if i["metadata"]["name"] == "grafana")  # type: ignore[index]
    notes = main["metadata"]["annotations"]  # type: ignore[index]
    key = notes["nginx.ingress.kubernetes.io/auth-cache-key"]
    for part in ("$http_cookie", "$http_host", "$request_uri", "$request_method", "$remote_addr"):
        assert part in key, part
    assert notes["nginx.ingress.kubernetes.io/auth-cache-duration"] == "200 5s"
    assert notes["nginx.ingress.kubernetes.io/auth-keepalive"] == "32"
    outpost = next(i for i in ingresses if i is not main)
    assert not any("auth-" in k for k in outpost["metadata"]["annotations"])  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "seconds"), [("1s", 1), ("5", 5), (" 30S ", 30), ("1m", 60), ("60s", 60)]
)
def test_auth_cache_duration(value: str, seconds: int) -> None:
    assert s.parse_auth_cache(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("61s", "at most 60s"),
        ("2m", "at most 60s"),
        ("0s", "not a duration"),
        ("500ms", "not a duration"),
        ("1h", "not a duration"),
        ("-1s", "not a duration"),
        ("", "not a duration"),
        ("1s; proxy_cache off", "not a duration"),
    ],
)
def test_auth_cache_duration_refused(value: str, message: str) -> None:
    with pytest.raises(s.SpecError, match=message):
        s.parse_auth_cache(value)
