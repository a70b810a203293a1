"""nginx ``auth_request`` and ingress-nginx (seed 1).

nginx accepts only 2xx, 401 and 403 from an auth server; anything else becomes a bare 500.
So every refusal is 401 (the browser is sent to ``auth-signin``, i.e. our ``start``, which
can explain itself) except a deny rule judged before login, which is 403.
"""

from __future__ import annotations

from collections.abc import Callable

from authgate.forward.answers import NO_STORE, Answer, Pages, allow
from authgate.forward.context import (
    BadRequest,
    ForwardRequest,
    Headers,
    build_request,
    client_address,
)
from authgate.forward.decision import Allow, Challenge, Decision, Deny

name = "nginx"


def parse(
    headers: Headers,
    scope_path: str,
    scope_method: str,
    peer: str,
    trusted: bool,
    is_trusted: Callable[[str], bool],
) -> ForwardRequest:
    if not trusted:
        host, uri, method = headers.get("host"), "/", "GET"
    else:
        original = headers.single("x-original-url")
        if original:
            host, uri = _split_url(original)
        else:
            uri = headers.single("x-original-uri") or ""
            if not uri:
                raise BadRequest(
                    "nginx sent neither X-Original-URL nor X-Original-URI: the auth location "
                    "needs proxy_set_header X-Original-URL $scheme://$http_host$request_uri"
                )
            host = headers.single("x-forwarded-host") or headers.get("host")
        method = headers.single("x-original-method") or "GET"
    ip = client_address(headers, peer, trusted, is_trusted)
    return build_request(
        headers, method=method, host=host, uri=uri, client_ip=ip, can_redirect=False
    )


def _split_url(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise BadRequest(f"X-Original-URL is not an http(s) URL: {url[:100]!r}")
    slash = rest.find("/")
    if slash < 0:
        return rest, "/"
    return rest[:slash], rest[slash:]


def render(decision: Decision, browser: bool, pages: Pages) -> Answer:
    if isinstance(decision, Allow):
        return allow(decision)
    if isinstance(decision, Deny) and decision.identity is None:
        return Answer(403, [NO_STORE], b"access denied\n")
    headers = [NO_STORE]
    if isinstance(decision, Challenge) and decision.clear_cookie:
        headers.append((b"set-cookie", decision.clear_cookie.encode()))
    return Answer(401, headers, b"login required\n")
