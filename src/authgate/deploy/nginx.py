"""Plain nginx (no Kubernetes): one ``server`` block with ``auth_request``, in the shape
ingress-nginx renders seed 1, for a file included in the ``http {}`` context."""

from __future__ import annotations

import re

from authgate.deploy import conf
from authgate.deploy.conf import Blank, Comment, Item, Verbatim, block, d
from authgate.deploy.spec import AUTHORIZATION, COOKIE, OUTPOST, Spec, SpecError
from authgate.forward.headers import IDENTITY_HEADERS

AUTH_LOCATION = "/_authgate/auth"
UNREADABLE_LOCATION = "@authgate_unreadable"
FORBIDDEN_LOCATION = "@authgate_forbidden"
#: the body of nginx's 400 for a request authgate's server could not read
UNREADABLE_BODY = "400 Bad Request: a request header holds a control byte"


def _var(spec: Spec, name: str) -> str:
    return f"$authgate_{re.sub(r'[^a-z0-9]', '_', spec.name)}_{name}"


def _listen(spec: Spec) -> list[Item]:
    port = spec.listen.port if spec.listen else spec.app.port
    address = f"{spec.listen.hostport}" if spec.listen and spec.listen.host else str(port)
    if not spec.app.secure:
        return [d("listen", address), d("server_name", spec.app.hostname)]
    host = spec.app.hostname
    return [
        d("listen", address, "ssl"),
        d("server_name", host),
        d(
            "ssl_certificate",
            spec.tls_cert or f"/etc/nginx/tls/{host}.crt",
            comment="the app's certificate and key (--tls-cert, --tls-key)",
        ),
        d("ssl_certificate_key", spec.tls_key or f"/etc/nginx/tls/{host}.key"),
    ]


def _forwarded() -> list[Item]:
    return [
        d("proxy_set_header", "X-Forwarded-For", "$proxy_add_x_forwarded_for"),
        d("proxy_set_header", "X-Forwarded-Proto", "$scheme"),
        d("proxy_set_header", "X-Real-IP", "$remote_addr"),
    ]


#: idle connections nginx keeps open to authgate per worker (``upstream { keepalive }``)
KEEPALIVE = 32


def _name(spec: Spec, name: str) -> str:
    return f"authgate_{re.sub(r'[^a-z0-9]', '_', spec.name)}{name}"


def _upstream(spec: Spec) -> Item:
    return block(
        "upstream",
        _name(spec, ""),
        comment="authgate for the check, over kept-alive connections: a new connection per\n"
        "check costs about half the rate (0.53x for the bare floor)",
        body=[
            d("server", spec.auth.hostport),
            d("keepalive", KEEPALIVE),
        ],
    )


def _cache_path(spec: Spec) -> Item:
    zone = _name(spec, "_cache")
    return d(
        "proxy_cache_path",
        f"/var/cache/nginx/{zone}",
        "levels=1:2",
        f"keys_zone={zone}:10m",
        "max_size=100m",
        "inactive=1m",
        "use_temp_path=off",
        comment=f"--auth-cache: authgate's allows, kept {spec.auth_cache}s (the revocation delay)",
    )


#: everything the check's decision depends on, for the cache key: the original URL (scheme,
#: host, path and query), the method, the client's address (network rules) and the whole
#: Cookie header (never one cookie: two of one name may read differently here and there),
#: and the Authorization header (API tokens, app passwords). Spaces part them: nginx refuses
#: a space in the request line and in Host, so only the last two parts can hold one, and
#: a shift between them still keeps every byte of both credentials in the key.
CACHE_KEY = (
    "$scheme $request_method $remote_addr $http_host $request_uri $http_authorization $http_cookie"
)


def _cache(spec: Spec) -> list[Item]:
    if not spec.auth_cache:
        return []
    return [
        Blank(),
        Comment(
            f"--auth-cache {spec.auth_cache}s: an allow is reused for {spec.auth_cache}s by "
            "the same cookie on the same\nURL and method from the same address; a revoked "
            "session gets in until it expires.\nOnly 200 is kept; nginx never keeps an answer "
            "that sets a cookie."
        ),
        d("proxy_cache", _name(spec, "_cache")),
        d("proxy_cache_key", CACHE_KEY),
        d("proxy_cache_valid", 200, f"{spec.auth_cache}s"),
        d("proxy_ignore_headers", "Cache-Control", "Expires"),
        d("proxy_cache_lock", "on"),
        d("proxy_cache_lock_timeout", "1s"),
    ]


def _auth_location(spec: Spec) -> Item:
    return block(
        "location",
        "=",
        AUTH_LOCATION,
        comment="The check: nginx sends only what is set here (no body, the original URL).",
        body=[
            d("internal"),
            d("proxy_pass", f"{spec.auth.scheme}://{_name(spec, '')}{OUTPOST}/auth/nginx"),
            d("proxy_http_version", "1.1"),
            d("proxy_set_header", "Connection", ""),
            d("proxy_set_header", "Host", spec.auth.hostport),
            *_tls_name(spec),
            d("proxy_pass_request_body", "off"),
            d("proxy_set_header", "Content-Length", ""),
            d("proxy_set_header", "X-Original-URL", "$scheme://$http_host$request_uri"),
            d("proxy_set_header", "X-Original-Method", "$request_method"),
            d("proxy_set_header", "X-Forwarded-Host", "$http_host"),
            d("proxy_set_header", "X-Forwarded-For", "$remote_addr"),
            d("proxy_set_header", "X-Real-IP", "$remote_addr"),
            *_unreadable_guard(spec),
            *_cache(spec),
        ],
    )


def _unreadable_guard(spec: Spec) -> list[Item]:
    """nginx passes a header value with a control byte on; authgate's HTTP server refuses
    it with 400 before authgate runs, and ``auth_request`` turns that 400 into a 500. authgate
    itself never answers 400 here, so a 400 means "unreadable": answered 403 (a refusal,
    never an allow) and marked, and the app location tells the client 400."""
    return [
        Blank(),
        Comment(
            "a header value with a control byte (a\\x01b) passes nginx, but authgate's server\n"
            "refuses the request (400) before authgate runs: a refusal, told to the client as\n"
            "400 (auth_request would make a 500 of it)"
        ),
        d("set", _var(spec, "unreadable"), ""),
        d("proxy_intercept_errors", "on"),
        d("error_page", 400, "=", UNREADABLE_LOCATION),
    ]


def _unreadable_location(spec: Spec) -> Item:
    return block(
        "location",
        UNREADABLE_LOCATION,
        comment="authgate's server could not read the check (see the guard above)",
        body=[d("internal"), d("set", _var(spec, "unreadable"), 1), d("return", 403)],
    )


def _forbidden_location(spec: Spec) -> Item:
    return block(
        "location",
        FORBIDDEN_LOCATION,
        comment="403: authgate's refusal, or 400 when its server could not read the request",
        body=[
            d("internal"),
            d("default_type", "text/plain"),
            block(
                "if",
                f"({_var(spec, 'unread')})",
                body=[
                    d("return", 400, Verbatim(f'"{UNREADABLE_BODY}\\n"')),
                ],
            ),
            d("return", 403),
        ],
    )


def _tls_name(spec: Spec) -> list[Item]:
    if spec.auth.scheme != "https":
        return []
    return [d("proxy_ssl_server_name", "on"), d("proxy_ssl_name", spec.auth.host)]


def _outpost_location(spec: Spec) -> Item:
    return block(
        "location",
        f"{OUTPOST}/",
        comment="The login flow (start, callback, sign_out) goes to authgate unprotected.",
        body=[
            d("proxy_pass", spec.auth.origin),
            d("proxy_set_header", "Host", "$http_host"),
            d("proxy_set_header", "X-Forwarded-Host", "$http_host"),
            *_forwarded(),
        ],
    )


def _app_location(spec: Spec) -> Item:
    assert spec.backend is not None
    cookie = _var(spec, "cookie")
    headers: list[Item] = []
    for i, name in enumerate(IDENTITY_HEADERS):
        value = _var(spec, f"h{i}")
        upstream = "$upstream_http_" + name.lower().replace("-", "_")
        headers += [d("auth_request_set", value, upstream), d("proxy_set_header", name, value)]
    return block(
        "location",
        "/",
        comment="The app: every request is checked first.",
        body=[
            d("auth_request", AUTH_LOCATION),
            d("auth_request_set", cookie, "$upstream_http_set_cookie"),
            d("add_header", "Set-Cookie", cookie),
            d(
                "auth_request_set",
                _var(spec, "www_authenticate"),
                "$upstream_http_www_authenticate",
            ),
            d("auth_request_set", _var(spec, "error"), "$upstream_http_x_authgate_error"),
            d("error_page", 401, "=", "@authgate_signin"),
            d("auth_request_set", _var(spec, "unread"), _var(spec, "unreadable")),
            d("error_page", 403, "=", FORBIDDEN_LOCATION),
            Blank(),
            Comment(
                "every identity header, copied from authgate's answer (a client's own is replaced)"
            ),
            *headers,
            *_authorization_from_answer(spec),
            *_cookie_from_answer(spec),
            Blank(),
            d("proxy_pass", f"http://{spec.backend.hostport}"),
            d("proxy_http_version", "1.1"),
            d("proxy_set_header", "Host", "$http_host"),
            d("proxy_set_header", "Upgrade", "$http_upgrade"),
            d("proxy_set_header", "Connection", _var(spec, "connection")),
            *_forwarded(),
        ],
    )


def _cookie_from_answer(spec: Spec) -> list[Item]:
    """--strip-cookie: the app gets the Cookie of authgate's answer, never the browser's."""
    if not spec.strip_cookie:
        return []
    value = _var(spec, "upstream_cookie")
    return [
        Blank(),
        Comment(
            "the app has strip_cookie: its Cookie is the one in authgate's answer, the\n"
            "browser's cookies without authgate's (none left: nginx sends no Cookie)"
        ),
        d("auth_request_set", value, "$upstream_http_cookie"),
        d("proxy_set_header", COOKIE, value),
    ]


def _authorization_from_answer(spec: Spec) -> list[Item]:
    """The upstream's Authorization, copied from authgate's answer: none after an authgate
    token or app password, ``Bearer <jwt>`` for an app with jwt_bearer, else the client's own
    (an empty value: nginx sends none)."""
    value = _var(spec, "authorization")
    return [
        Blank(),
        Comment(
            "Authorization from authgate's answer: none after an authgate token or app\n"
            "password (the app never sees it), Bearer <X-authentik-jwt> for an app with\n"
            "jwt_bearer, the client's own value otherwise"
        ),
        d("auth_request_set", value, "$upstream_http_authorization"),
        d("proxy_set_header", AUTHORIZATION, value),
    ]


def _signin_location(spec: Spec) -> Item:
    challenge = _var(spec, "www_authenticate")
    return block(
        "location",
        "@authgate_signin",
        comment="401: a refused token or app password (authgate's answer has WWW-Authenticate)\n"
        "gets the 401 with it; anyone else is not signed in: to the login, with the original\n"
        "URI as rd.",
        body=[
            d("internal"),
            d("default_type", "application/json"),
            block(
                "if",
                f"({challenge})",
                comment="(auth_request has copied authgate's WWW-Authenticate already)",
                body=[
                    d("add_header", "Cache-Control", "no-store", "always"),
                    d("return", 401, Verbatim(f'\'{{"error":"{_var(spec, "error")}"}}\'')),
                ],
            ),
            d("add_header", "Set-Cookie", _var(spec, "cookie")),
            d("return", 302, f"{spec.app.signin_url}?rd=$request_uri"),
        ],
    )


def items(spec: Spec) -> list[Item]:
    if spec.backend is None:
        raise SpecError("give the app's upstream: --backend HOST:PORT")
    if spec.tls_secret or spec.cert_resolver:
        raise SpecError("--tls-secret and --cert-resolver are not for nginx; see --tls-cert")
    connection = _var(spec, "connection")
    return [
        Comment(
            f"authgate forward auth for app {spec.name} ({spec.app.origin}).\n"
            "Include this file in nginx's http {} context; check it with nginx -t."
        ),
        block(
            "map",
            "$http_upgrade",
            connection,
            body=[d("default", "upgrade"), d("''", "close")],
            comment="WebSocket upgrades pass through to the app",
        ),
        Blank(),
        _upstream(spec),
        *([_cache_path(spec)] if spec.auth_cache else []),
        Blank(),
        block(
            "server",
            body=[
                *_listen(spec),
                Blank(),
                _outpost_location(spec),
                Blank(),
                _auth_location(spec),
                Blank(),
                _app_location(spec),
                Blank(),
                _signin_location(spec),
                Blank(),
                _unreadable_location(spec),
                Blank(),
                _forbidden_location(spec),
            ],
        ),
    ]


def render(spec: Spec) -> str:
    return conf.render(items(spec), conf.NGINX)
