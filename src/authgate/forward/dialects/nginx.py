"""nginx ``auth_request`` and ingress-nginx (seed 1).

nginx accepts only 2xx, 401 and 403 from an auth server; anything else becomes a bare 500.
So every refusal is 401 (the browser is sent to ``auth-signin``, i.e. our ``start``, which
can explain itself) except a deny rule judged before login, which is 403.
"""

from __future__ import annotations

from authgate.forward.answers import NO_STORE, Answer, allow
from authgate.forward.decision import Allow, Challenge, CredentialRefused, Decision, Deny
from authgate.forward.request import BadRequest, Headers, Target

name = "nginx"


def parse(headers: Headers, path: str, method: str) -> Target:
    """The URL in X-Original-URL (else X-Original-URI on the forwarded host) and the method in
    X-Original-Method, from a trusted proxy; from anyone else only ``Host``."""
    if not headers.trusted:
        return Target("GET", headers.get("host"), "/", can_redirect=False)
    original = headers.single("x-original-url")
    host: str | None
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
    return Target(method, host, uri, can_redirect=False)


def _split_url(url: str) -> tuple[str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise BadRequest(f"X-Original-URL is not an http(s) URL: {url[:100]!r}")
    slash = rest.find("/")
    if slash < 0:
        return rest, "/"
    return rest[:slash], rest[slash:]


def render(decision: Decision, browser: bool) -> Answer:
    if isinstance(decision, Allow):
        return allow(decision)
    if isinstance(decision, CredentialRefused):
        # its WWW-Authenticate tells the generated config to answer 401 itself, not to
        # send a script to the sign-in page (nginx copies it on a 401, drops the body)
        from authgate.forward.credentials import refusal_answer

        return refusal_answer(decision)
    if isinstance(decision, Deny) and decision.identity is None:
        return Answer(403, [NO_STORE], b"access denied\n")
    headers = [NO_STORE]
    if isinstance(decision, Challenge) and decision.clear_cookie:
        headers.append((b"set-cookie", decision.clear_cookie.encode()))
    return Answer(401, headers, b"login required\n")
