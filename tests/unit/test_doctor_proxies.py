"""nginx, Caddy and Traefik's file provider: each proxy's own routing rules, applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from authgate.doctor import caddy, nginx
from authgate.doctor.findings import Severity
from authgate.doctor.traefik import RouterRule
from authgate.forward.headers import IDENTITY_HEADERS
from tests.e2e.proxyconf import caddyfile, ingress_nginx_conf, traefik_dynamic

from .doctor_helpers import check, errors, ids, only, write

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
APPS = [("app1.test", 8001), ("app2.test", 8002)]


# -- nginx --------------------------------------------------------------------------------------


def test_seed000_rendered_as_nginx_passes(tmp_path: Path) -> None:
    found = check([write(tmp_path, "nginx.conf", ingress_nginx_conf(8080, 9000, APPS))])
    assert errors(found) == []
    assert "identity-headers-not-overwritten" in ids(found, WARN)


def test_nginx_without_upstream_keepalive_is_an_info(tmp_path: Path) -> None:
    found = check([write(tmp_path, "nginx.conf", ingress_nginx_conf(8080, 9000, APPS[:1]))])
    finding = only(found, "auth-keepalive-off")
    assert finding.severity is INFO and "keepalive" in finding.fix


@pytest.mark.parametrize(("target", "name"), [("nginx", "gen.conf"), ("ingress-nginx", "gen.yaml")])
def test_generated_configs_keep_connections_to_authgate(
    tmp_path: Path, target: str, name: str
) -> None:
    from authgate.deploy import spec as s
    from authgate.deploy.targets import TARGETS

    spec = s.Spec(
        app=s.parse_app("gen", "http://gen.test"),
        auth=s.parse_auth_service(s.DEFAULT_AUTH_SERVICE),
        backend=s.parse_backend("10.0.0.5:3000", ip_only=True),
        auth_cache=1,
    )
    found = check([write(tmp_path, name, TARGETS[target].render(spec))])
    assert errors(found) == []
    assert "auth-keepalive-off" not in ids(found)
    assert "auth-control-byte-500" not in ids(found)


NGINX_SITE = """\
upstream authgate {{
    server 127.0.0.1:9000;
    {keepalive}
}}
server {{
    listen 443 ssl;
    server_name wiki.lan;
    location = /auth {{
        internal;
        proxy_pass http://authgate/outpost.goauthentik.io/auth/nginx;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
        {guard}
    }}
    location @refused {{
        return 403;
    }}
    location /outpost.goauthentik.io/ {{
        {outpost_auth}
        proxy_pass http://authgate;
    }}
    location / {{
        auth_request /auth;
        {headers}
        error_page 401 = @signin;
        proxy_pass http://127.0.0.1:3000;
    }}
    location @signin {{
        return 302 https://$http_host/outpost.goauthentik.io/start?rd=$scheme://$http_host$request_uri;
    }}
}}
"""


GUARD = "proxy_intercept_errors on; error_page 400 = @refused;"


def nginx_site(
    keepalive: str = "keepalive 8;", outpost_auth: str = "", headers: str = "", guard: str = GUARD
) -> str:
    headers = headers or "\n        ".join(
        f"proxy_set_header {h} $upstream_http_{h.lower().replace('-', '_')};"
        for h in IDENTITY_HEADERS
    )
    return NGINX_SITE.format(
        keepalive=keepalive, outpost_auth=outpost_auth, headers=headers, guard=guard
    )


@pytest.mark.parametrize(
    "guard", ["", "error_page 400 = @refused;", "proxy_intercept_errors on; error_page 401 = @x;"]
)
def test_nginx_without_the_control_byte_guard_is_an_info(tmp_path: Path, guard: str) -> None:
    finding = only(
        check([write(tmp_path, "wiki.conf", nginx_site(guard=guard))]), "auth-control-byte-500"
    )
    assert finding.severity is INFO and "proxy_intercept_errors on" in finding.fix


def test_nginx_with_keepalive_and_every_header_has_no_finding(tmp_path: Path) -> None:
    found = check([write(tmp_path, "wiki.conf", nginx_site())])
    assert ids(found) == ["apps-not-compared"]


def test_nginx_keepalive_needs_http_1_1_too(tmp_path: Path) -> None:
    text = nginx_site().replace("proxy_http_version 1.1;", "")
    assert "auth-keepalive-off" in ids(check([write(tmp_path, "wiki.conf", text)]))


def test_nginx_server_level_auth_request_covers_the_outpost_location(tmp_path: Path) -> None:
    text = nginx_site().replace(
        "    server_name wiki.lan;\n", "    server_name wiki.lan;\n    auth_request /auth;\n"
    )
    finding = only(check([write(tmp_path, "wiki.conf", text)]), "outpost-behind-auth")
    assert finding.severity is ERR
    assert finding.object == "server wiki.lan location /outpost.goauthentik.io/"
    assert "auth_request off" in finding.fix


def test_nginx_auth_request_off_in_the_outpost_location(tmp_path: Path) -> None:
    text = nginx_site(outpost_auth="auth_request off;").replace(
        "    server_name wiki.lan;\n", "    server_name wiki.lan;\n    auth_request /auth;\n"
    )
    assert errors(check([write(tmp_path, "wiki.conf", text)])) == []


def test_nginx_without_an_outpost_location(tmp_path: Path) -> None:
    text = nginx_site()
    start = text.index("    location /outpost.goauthentik.io/")
    text = text[:start] + text[text.index("    location / {") :]
    finding = only(check([write(tmp_path, "wiki.conf", text)]), "no-outpost-route")
    assert finding.severity is ERR and "redirect" in finding.problem


def test_nginx_identity_headers_inherit_from_the_server_only_when_the_location_has_none(
    tmp_path: Path,
) -> None:
    server_level = "\n    ".join(f"proxy_set_header {h} '';" for h in IDENTITY_HEADERS)
    text = nginx_site(headers="proxy_set_header Host $host;").replace(
        "    server_name wiki.lan;\n", f"    server_name wiki.lan;\n    {server_level}\n"
    )
    finding = only(check([write(tmp_path, "wiki.conf", text)]), "identity-headers-not-overwritten")
    assert "Remote-User" in finding.problem  # the location's own proxy_set_header wins


def test_nginx_auth_location_to_the_traefik_endpoint(tmp_path: Path) -> None:
    text = nginx_site().replace("auth/nginx", "auth/traefik")
    assert (
        only(check([write(tmp_path, "wiki.conf", text)]), "auth-endpoint-dialect").severity is ERR
    )


def test_nginx_location_choice() -> None:
    server = nginx.parse(
        "server { location / {} location ^~ /static/ {} location ~ \\.php$ {} "
        "location = /exact {} location /outpost.goauthentik.io/ {} }"
    )[0]
    locs = nginx.locations(server)

    def pick(path: str) -> str:
        found = nginx.select(locs, path)
        return found.label if found else ""

    assert pick("/exact") == "location = /exact"
    assert pick("/static/a.php") == "location ^~ /static/"
    assert pick("/x/a.php") == "location ~ \\.php$"
    assert pick("/outpost.goauthentik.io/start") == "location /outpost.goauthentik.io/"
    assert pick("/other") == "location /"


def test_nginx_parser_keeps_quotes_and_lines() -> None:
    parsed = nginx.parse(
        '# c\nhttp {\n  map $a $b { default "x y"; }\n  server { listen 80; }\n}\n'
    )
    http = parsed[0]
    assert (http.name, http.line) == ("http", 2)
    assert http.block is not None
    assert http.block[0].block == (nginx.Directive("default", ("x y",), 3),)


# -- Caddy --------------------------------------------------------------------------------------


def test_caddyfile_in_the_readme_shape_passes(tmp_path: Path) -> None:
    found = check([write(tmp_path, "Caddyfile", caddyfile(8080, 9000, APPS))])
    assert errors(found) == []
    assert "identity-headers-not-overwritten" in ids(found, WARN)


SITE_LEVEL_AUTH = """\
app.example.com {
    forward_auth authgate:9000 {
        uri /outpost.goauthentik.io/auth/caddy
        copy_headers X-Authentik-Username>Remote-User
    }
    handle /outpost.goauthentik.io/* {
        reverse_proxy authgate:9000
    }
    reverse_proxy app:3000
}
"""


def test_caddy_site_level_forward_auth_runs_before_every_handle(tmp_path: Path) -> None:
    finding = only(check([write(tmp_path, "Caddyfile", SITE_LEVEL_AUTH)]), "outpost-behind-auth")
    assert finding.severity is ERR and "handle" in finding.fix


def test_caddy_route_keeps_the_written_order(tmp_path: Path) -> None:
    text = """\
app.example.com {
    route {
        reverse_proxy /outpost.goauthentik.io/* authgate:9000
        forward_auth authgate:9000 {
            uri /outpost.goauthentik.io/auth/caddy
        }
        reverse_proxy app:3000
    }
}
"""
    assert errors(check([write(tmp_path, "Caddyfile", text)])) == []


def test_caddy_sorts_reverse_proxy_after_forward_auth(tmp_path: Path) -> None:
    text = """\
app.example.com {
    reverse_proxy /outpost.goauthentik.io/* authgate:9000
    forward_auth authgate:9000 {
        uri /outpost.goauthentik.io/auth/caddy
    }
    reverse_proxy app:3000
}
"""
    assert "outpost-behind-auth" in ids(check([write(tmp_path, "Caddyfile", text)]))


def test_caddy_named_matcher_excluding_the_outpost(tmp_path: Path) -> None:
    text = """\
app.example.com {
    @protected not path /outpost.goauthentik.io/*
    forward_auth @protected authgate:9000 {
        uri /outpost.goauthentik.io/auth/caddy
    }
    reverse_proxy /outpost.goauthentik.io/* authgate:9000
    reverse_proxy app:3000
}
"""
    assert errors(check([write(tmp_path, "Caddyfile", text)])) == []


def test_caddy_copy_headers_alias_counts_as_set(tmp_path: Path) -> None:
    finding = only(
        check([write(tmp_path, "Caddyfile", SITE_LEVEL_AUTH)]), "identity-headers-not-overwritten"
    )
    listed = finding.problem.split(":")[0]
    assert "Remote-User" not in listed and "X-authentik-username" in listed


def test_caddy_parser_blocks_and_quotes() -> None:
    nodes = caddy.parse('{\n  admin off\n}\na.test, b.test {\n  respond "hi there" 200\n}\n')
    assert nodes[0].name == "" and nodes[0].block == (caddy.Node("admin", ("off",), 2),)
    assert (nodes[1].name, nodes[1].args) == ("a.test,", ("b.test",))
    assert nodes[1].block == (caddy.Node("respond", ("hi there", "200"), 5),)


# -- Traefik ------------------------------------------------------------------------------------


def test_traefik_file_provider_in_seed003_shape_passes(tmp_path: Path) -> None:
    found = check([write(tmp_path, "dynamic.yaml", traefik_dynamic(9000, APPS))])
    assert errors(found) == []
    assert "identity-headers-not-overwritten" in ids(found, WARN)


def test_traefik_file_provider_outpost_router_with_the_middleware(tmp_path: Path) -> None:
    text = traefik_dynamic(9000, APPS[:1]).replace(
        "      service: authgate\n",
        "      middlewares: [authentik-forward-auth]\n      service: authgate\n",
    )
    finding = only(check([write(tmp_path, "dynamic.yaml", text)]), "outpost-behind-auth")
    assert finding.object == "router app1-test-outpost"


def test_traefik_file_provider_router_with_an_unknown_middleware(tmp_path: Path) -> None:
    text = traefik_dynamic(9000, APPS[:1]).replace(
        "middlewares: [authentik-forward-auth]", "middlewares: [authentik-forwardauth]"
    )
    found = check([write(tmp_path, "dynamic.yaml", text)])
    assert only(found, "traefik-middleware-missing").severity is ERR


def test_traefik_chain_middleware_is_followed(tmp_path: Path) -> None:
    text = (
        traefik_dynamic(9000, APPS[:1])
        .replace("middlewares: [authentik-forward-auth]", "middlewares: [secured]")
        .replace(
            "  middlewares:\n",
            "  middlewares:\n    secured:\n      chain:\n"
            "        middlewares: [authentik-forward-auth]\n",
            1,
        )
    )
    found = check([write(tmp_path, "dynamic.yaml", text)])
    assert errors(found) == []
    assert "identity-headers-not-overwritten" in ids(found)


@pytest.mark.parametrize(
    ("rule", "host", "path", "expected"),
    [
        ("Host(`a.test`)", "A.test", "/x", True),
        ("Host(`a.test`) && PathPrefix(`/outpost.goauthentik.io/`)", "a.test", "/x", False),
        ("Host(`a.test`) && !PathPrefix(`/outpost.goauthentik.io/`)", "a.test", "/x", True),
        ("Host(`a.test`) && !PathPrefix(`/o/`)", "a.test", "/o/start", False),
        ("(Host(`a.test`) || Host(`b.test`)) && Path(`/x`)", "b.test", "/x", True),
        ('Host("a.test","b.test")', "b.test", "/", True),
        ("HostRegexp(`^.+\\.example\\.com$`)", "x.example.com", "/", True),
        ("HostRegexp(`{sub:[a-z]+}.example.com`)", "abc.example.com", "/", True),
        ("Host(`a.test`) && Method(`POST`)", "a.test", "/", True),
        ("PathRegexp(`^/api/v[0-9]+`)", "a.test", "/api/v2/x", True),
    ],
)
def test_traefik_router_rules(rule: str, host: str, path: str, expected: bool) -> None:
    assert RouterRule(rule).matches(host, path) is expected


@pytest.mark.parametrize("bad", ["Host(`a`", "Host(`a`) &&", "Nope", "Host(`a`) Host(`b`)"])
def test_traefik_router_rules_that_cannot_be_read(bad: str) -> None:
    with pytest.raises(ValueError, match="rule"):
        RouterRule(bad)


AUTHENTIK_NGINX = """\
server {
    listen 443 ssl;
    server_name _;
    location / {
        proxy_pass http://127.0.0.1:3000;
        auth_request /outpost.goauthentik.io/auth/nginx;
        error_page 401 = @goauthentik_proxy_signin;
    }
    location /outpost.goauthentik.io {
        proxy_pass http://outpost.company:9000/outpost.goauthentik.io;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }
    location @goauthentik_proxy_signin {
        internal;
        return 302 /outpost.goauthentik.io/start?rd=$request_uri;
    }
}
"""


def test_authentik_documented_nginx_default_server_passes(tmp_path: Path) -> None:
    found = check([write(tmp_path, "site.conf", AUTHENTIK_NGINX)], apps=[])
    assert errors(found) == []  # "_" is no host to register
    assert "auth-keepalive-off" in ids(found, INFO)


def test_nginx_auth_address_follows_the_proxy_pass_of_its_location(tmp_path: Path) -> None:
    text = AUTHENTIK_NGINX.replace(
        "auth_request /outpost.goauthentik.io/auth/nginx",
        "auth_request /outpost.goauthentik.io/auth/caddy",
    )
    finding = only(check([write(tmp_path, "site.conf", text)]), "auth-endpoint-dialect")
    assert "/outpost.goauthentik.io/auth/caddy" in finding.problem


def test_a_middleware_named_auth_that_is_not_forward_auth_protects_nothing(tmp_path: Path) -> None:
    text = (
        traefik_dynamic(9000, APPS[:1])
        .replace("middlewares: [authentik-forward-auth]", "middlewares: [auth-headers]")
        .replace(
            "  middlewares:\n",
            "  middlewares:\n    auth-headers:\n      headers: {customRequestHeaders: {X-A: b}}\n",
            1,
        )
    )
    found = check([write(tmp_path, "dynamic.yaml", text)])
    assert "no-outpost-route" not in ids(found) and "apps-not-compared" not in ids(found)
