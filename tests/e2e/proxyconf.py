"""Proxy configurations in the shapes of the seeds, as plain text for the real binaries.

* ``ingress_nginx_conf``: what ingress-nginx v1.x renders from seed 000's two Ingresses
  (the protected one with the ``auth-*`` annotations, the unprotected outpost one with
  ``upstream-vhost``), written as plain nginx.
* ``traefik_dynamic``: seed 003's ForwardAuth middleware and two-route IngressRoute in the
  file provider's form.
* ``caddyfile``: Caddy's ``forward_auth`` with the outpost path carved out.

Each also routes ``probe.test`` straight to the echo upstream, so a fixture can tell when the
proxy really routes (not only listens). ``apps`` are ``(host, upstream_port)`` pairs; a host is
a bare name such as ``app1.test``, and the browser reaches it as ``http://host:listen_port``.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Sequence

OUTPOST = "/outpost.goauthentik.io"
PROBE_HOST = "probe.test"
AUTH_SERVICE = "authgate.auth.svc"  # stands for authentik-server.authentik.svc.cluster.local

App = tuple[str, int]

# Not in the seeds, added as authentik's own proxy docs do: the tests of how a session signed
# in (amr) read it from the JWT the upstream receives.
JWT_HEADER = "X-authentik-jwt"
# seed 000: nginx.ingress.kubernetes.io/auth-response-headers (+ JWT_HEADER)
NGINX_AUTH_RESPONSE_HEADERS = (
    "Set-Cookie",
    "X-authentik-username",
    "X-authentik-groups",
    "X-authentik-email",
    "X-authentik-uid",
    JWT_HEADER,
)
# seed 003: Middleware authentik-forward-auth, forwardAuth.authResponseHeaders (+ JWT_HEADER)
TRAEFIK_AUTH_RESPONSE_HEADERS = (
    "X-Authentik-Username",
    "X-Authentik-Groups",
    "X-Authentik-Email",
    "X-Authentik-Uid",
    "X-Authentik-Name",
    "Authorization",
    JWT_HEADER,
)
CADDY_COPY_HEADERS = (
    "X-Authentik-Username",
    "X-Authentik-Groups",
    "X-Authentik-Email",
    "X-Authentik-Name",
    "X-Authentik-Uid",
    JWT_HEADER,
)


def _probe_port(apps: Sequence[App], probe_port: int | None) -> int:
    if probe_port is not None:
        return probe_port
    if not apps:
        raise ValueError("no apps and no probe_port: nothing for probe.test to reach")
    return apps[0][1]


def _name(host: str) -> str:
    """A host as an identifier for router, service and location names."""
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")


def _hash(*parts: str) -> str:
    """ingress-nginx names its auth and signin locations by a hash of path and URL."""
    return hashlib.sha1("".join(parts).encode(), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------------------------
# ingress-nginx (seed 000)
# --------------------------------------------------------------------------------------------

# the headers ingress-nginx sets on every proxied request (nginx.tmpl, "location {{ $path }}")
_NGINX_UPSTREAM_HEADERS = """\
proxy_http_version 1.1;
proxy_set_header Upgrade $http_upgrade;
proxy_set_header Connection $connection_upgrade;
proxy_set_header X-Request-ID $req_id;
proxy_set_header X-Real-IP $remote_addr;
proxy_set_header X-Forwarded-For $remote_addr;
proxy_set_header X-Forwarded-Host $http_host;
proxy_set_header X-Forwarded-Port $server_port;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Scheme $scheme;
proxy_set_header X-Original-Forwarded-For $http_x_forwarded_for;
proxy_set_header Proxy "";"""
UPSTREAM_HEADERS = textwrap.indent(_NGINX_UPSTREAM_HEADERS, " " * 12)


def _nginx_app_server(host: str, listen_port: int, upstream_port: int) -> str:
    browser_host = f"{host}:{listen_port}"
    auth_url = f"http://{AUTH_SERVICE}{OUTPOST}/auth/nginx"
    signin_url = f"http://{browser_host}{OUTPOST}/start?rd=$scheme://$http_host$request_uri"
    auth_location = f"/_external-auth-{_hash('/', auth_url)[:16]}-Prefix"
    signin_location = f"@{_hash('/', signin_url)[:16]}"
    response_headers = "\n".join(
        f"        auth_request_set $authHeader{i} $upstream_http_{h.lower().replace('-', '_')};\n"
        f"        proxy_set_header '{h}' $authHeader{i};"
        for i, h in enumerate(NGINX_AUTH_RESPONSE_HEADERS)
    )
    return f"""\
    server {{
        listen 127.0.0.1:{listen_port};
        server_name {host};

        # == Ingress {{app-name}}-outpost: path /outpost.goauthentik.io/ (Prefix), no auth,
        #    annotation upstream-vhost: "{AUTH_SERVICE}" -> Host of the proxied request;
        #    X-Forwarded-Host/-Proto/-For and X-Real-IP as ingress-nginx sets them
        #    (the auth-proxy-set-headers ConfigMap does not apply on this Ingress).
        location {OUTPOST}/ {{
{UPSTREAM_HEADERS}
            proxy_set_header Host "{AUTH_SERVICE}";
            proxy_pass http://{AUTH_SERVICE};
        }}

        # == annotation auth-url: "{auth_url}"
        #    rendered by ingress-nginx as this internal location (nginx.tmpl, $authPath).
        location = {auth_location} {{
            internal;

            proxy_pass_request_body     off;
            proxy_set_header            Content-Length          "";
            proxy_set_header            X-Forwarded-Proto       "";
            proxy_set_header            X-Request-ID            $req_id;

            proxy_set_header            Host                    {AUTH_SERVICE};
            proxy_set_header            X-Original-URL          $scheme://$http_host$request_uri;
            proxy_set_header            X-Original-Method       $request_method;
            proxy_set_header            X-Sent-From             "nginx-ingress-controller";
            proxy_set_header            X-Real-IP               $remote_addr;
            proxy_set_header            X-Forwarded-For         $remote_addr;
            proxy_set_header            X-Auth-Request-Redirect $request_uri;

            proxy_buffering             off;
            proxy_buffer_size           4k;
            proxy_buffers               4 4k;
            proxy_request_buffering     on;
            proxy_http_version          1.1;
            proxy_pass_request_headers  on;

            # == annotation auth-proxy-set-headers: "{{NAMESPACE}}/{{app-name}}-auth-headers"
            #    ConfigMap data: X-Forwarded-Host = the app's host, X-Forwarded-Proto = "https"
            proxy_set_header 'X-Forwarded-Host' '{browser_host}';
            proxy_set_header 'X-Forwarded-Proto' 'https';

            set $target {auth_url};
            proxy_pass $target;
        }}

        # == annotation auth-signin: "{signin_url}"
        #    it has its own rd=, so ingress-nginx uses it verbatim (unescaped, like the seed)
        location {signin_location} {{
            internal;
            add_header Set-Cookie $auth_cookie;
            return 302 {signin_url};
        }}

        # == Ingress {{app-name}}: path / (Prefix) -> {{app-name}}-backend (the echo app)
        location / {{
            # auth-url: this location requires authentication
            auth_request        {auth_location};
            auth_request_set    $auth_cookie $upstream_http_set_cookie;
            add_header          Set-Cookie $auth_cookie;
            # == annotation auth-response-headers: "{",".join(NGINX_AUTH_RESPONSE_HEADERS)}"
{response_headers}

            # auth-signin: a 401 from auth-url sends the browser there; 403 stays 403
            error_page 401 = {signin_location};

{UPSTREAM_HEADERS}
            proxy_set_header Host $http_host;
            proxy_pass http://127.0.0.1:{upstream_port};
        }}
    }}
"""


def ingress_nginx_conf(
    listen_port: int, auth_port: int, apps: Sequence[App], probe_port: int | None = None
) -> str:
    """The ``http {}`` content for nginx: seed 000 as ingress-nginx v1.x renders it, per app."""
    servers = "\n".join(_nginx_app_server(h, listen_port, p) for h, p in apps)
    return f"""\
    # seed 000 (ingress-nginx manifests) rendered the way ingress-nginx v1.x renders them.
    # Service {{app-name}}-authentik (ExternalName to the auth server): this upstream.
    upstream {AUTH_SERVICE} {{
        server 127.0.0.1:{auth_port};
    }}

    # ingress-nginx http-level maps used below
    map $http_x_request_id $req_id {{
        default   $http_x_request_id;
        ""        $request_id;
    }}
    map $http_upgrade $connection_upgrade {{
        default   upgrade;
        ""        close;
    }}

    # ingress-nginx's catch-all server: a host no Ingress names gets 404
    server {{
        listen 127.0.0.1:{listen_port} default_server;
        server_name _;
        location / {{
            return 404;
        }}
    }}

    # readiness probe for the tests: not part of the seed
    server {{
        listen 127.0.0.1:{listen_port};
        server_name {PROBE_HOST};
        location / {{
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_pass http://127.0.0.1:{_probe_port(apps, probe_port)};
        }}
    }}

{servers}"""


# --------------------------------------------------------------------------------------------
# Traefik (seed 003)
# --------------------------------------------------------------------------------------------


def traefik_dynamic(auth_port: int, apps: Sequence[App], probe_port: int | None = None) -> str:
    """Seed 003's middleware and two-route IngressRoute per app, as file-provider YAML."""
    response_headers = "\n".join(f"          - {h}" for h in TRAEFIK_AUTH_RESPONSE_HEADERS)
    routers: list[str] = []
    services: list[str] = []
    for host, upstream_port in apps:
        name = _name(host)
        routers.append(
            f"""\
    # IngressRoute {name}, route 1: the protected service
    {name}:
      entryPoints: [web]
      rule: "Host(`{host}`)"
      middlewares: [authentik-forward-auth]
      service: {name}-backend
    # IngressRoute {name}, route 2: the auth callback -- NO MIDDLEWARE
    {name}-outpost:
      entryPoints: [web]
      rule: "Host(`{host}`) && PathPrefix(`{OUTPOST}/`)"
      service: authgate"""
        )
        services.append(
            f"""\
    {name}-backend:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{upstream_port}\""""
        )
    return f"""\
# seed 003 (Traefik middleware + two-route IngressRoute) in the file provider's form
http:
  middlewares:
    # Middleware public-ingress/authentik-forward-auth
    authentik-forward-auth:
      forwardAuth:
        address: "http://127.0.0.1:{auth_port}{OUTPOST}/auth/traefik"
        trustForwardHeader: true
        authResponseHeaders:
{response_headers}

  routers:
    # readiness probe for the tests: not part of the seed
    probe:
      entryPoints: [web]
      rule: "Host(`{PROBE_HOST}`)"
      service: probe
{chr(10).join(routers)}

  services:
    # Service authentik/authentik-server, port 80
    authgate:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{auth_port}"
    probe:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:{_probe_port(apps, probe_port)}"
{chr(10).join(services)}
"""


# --------------------------------------------------------------------------------------------
# Caddy
# --------------------------------------------------------------------------------------------


def caddyfile(
    listen_port: int, auth_port: int, apps: Sequence[App], probe_port: int | None = None
) -> str:
    """A Caddyfile: per app site, ``forward_auth`` to authgate and the outpost path carved out."""
    copy_headers = " ".join(CADDY_COPY_HEADERS)
    sites = [
        f"""\
http://{host}:{listen_port} {{
	handle {OUTPOST}/* {{
		reverse_proxy 127.0.0.1:{auth_port}
	}}
	handle {{
		forward_auth 127.0.0.1:{auth_port} {{
			uri {OUTPOST}/auth/caddy
			copy_headers {copy_headers}
			trusted_proxies private_ranges
		}}
		reverse_proxy 127.0.0.1:{upstream_port}
	}}
}}
"""
        for host, upstream_port in apps
    ]
    return f"""\
{{
	admin off
	auto_https off
	persist_config off
}}

# readiness probe for the tests
http://{PROBE_HOST}:{listen_port} {{
	reverse_proxy 127.0.0.1:{_probe_port(apps, probe_port)}
}}

{chr(10).join(sites)}"""


# --------------------------------------------------------------------------------------------
# variants: apps registered with --strip-cookie (issue 4)
# --------------------------------------------------------------------------------------------

# nginx: the upstream gets the Cookie header of authgate's 200 (the client's cookies without
# authgate_*) instead of the client's own; an empty value means nginx sends no Cookie at all.
NGINX_COOKIE_FROM_AUTH = """\
            # app registered with --strip-cookie: the upstream's Cookie is the one in
            # authgate's answer, i.e. the client's cookies without authgate's own
            auth_request_set    $ag_cookie $upstream_http_cookie;
            proxy_set_header    Cookie $ag_cookie;
"""
STRIP_COOKIE_MIDDLEWARE = "authgate-strip-cookie"


def ingress_nginx_conf_variants(
    listen_port: int,
    auth_port: int,
    apps: Sequence[App],
    strip_cookie_hosts: Sequence[str] = (),
    probe_port: int | None = None,
) -> str:
    """``ingress_nginx_conf`` where the hosts in ``strip_cookie_hosts`` copy ``Cookie`` from
    authgate's answer into the upstream request (everything else exactly as the seed)."""
    conf = ingress_nginx_conf(listen_port, auth_port, apps, probe_port)
    for host in strip_cookie_hosts:
        server = conf.index(f"server_name {host};")
        anchor = conf.index("            # auth-signin: a 401 from auth-url", server)
        conf = conf[:anchor] + NGINX_COOKIE_FROM_AUTH + "\n" + conf[anchor:]
    return conf


def traefik_dynamic_variants(
    auth_port: int,
    apps: Sequence[App],
    strip_cookie_hosts: Sequence[str] = (),
    probe_port: int | None = None,
) -> str:
    """``traefik_dynamic`` plus a second middleware that also lists ``Cookie`` in
    ``authResponseHeaders``, used by the routers of ``strip_cookie_hosts``.

    Traefik removes every listed name from the request and sets it from authgate's 200, so
    the upstream gets authgate's Cookie (the client's without ``authgate_*``). Written as
    JSON, which the file provider reads as YAML.
    """
    import json

    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(traefik_dynamic(auth_port, apps, probe_port))
    http = data["http"]
    seed = http["middlewares"]["authentik-forward-auth"]["forwardAuth"]
    headers = [*seed["authResponseHeaders"], "Cookie"]
    http["middlewares"][STRIP_COOKIE_MIDDLEWARE] = {
        "forwardAuth": {**seed, "authResponseHeaders": headers}
    }
    for host in strip_cookie_hosts:
        http["routers"][_name(host)]["middlewares"] = [STRIP_COOKIE_MIDDLEWARE]
    return json.dumps(data, indent=2) + "\n"


# --------------------------------------------------------------------------------------------
# several replicas behind one ingress (issue 12)
# --------------------------------------------------------------------------------------------


def replicas_nginx_conf(
    listen_port: int, auth_ports: Sequence[int], apps: Sequence[App], portal_host: str
) -> str:
    """Seed 000's ingress-nginx shape with the auth Service backed by every replica: an
    ``upstream`` of them all, tried in turn on a refused or timed-out connection (what
    ingress-nginx's default ``proxy-next-upstream: error timeout`` does with a Service's
    endpoints), and the portal's own Ingress (``portal_host``) to the same upstream."""
    single = f"    upstream {AUTH_SERVICE} {{\n        server 127.0.0.1:{auth_ports[0]};\n    }}\n"
    conf = ingress_nginx_conf(listen_port, auth_ports[0], apps)
    assert single in conf, "ingress_nginx_conf changed its upstream block"
    servers = "".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n" for port in auth_ports
    )
    upstream = (
        f"    upstream {AUTH_SERVICE} {{\n{servers}    }}\n"
        "    proxy_next_upstream error timeout;\n"
        "    proxy_next_upstream_tries 3;\n"
        "    proxy_connect_timeout 2s;\n"
    )
    portal = f"""
    # == Ingress authgate (the portal): {portal_host} -> the same replicas
    server {{
        listen 127.0.0.1:{listen_port};
        server_name {portal_host};
        location / {{
{UPSTREAM_HEADERS}
            proxy_set_header Host $http_host;
            proxy_pass http://{AUTH_SERVICE};
        }}
    }}
"""
    return conf.replace(single, upstream) + portal
