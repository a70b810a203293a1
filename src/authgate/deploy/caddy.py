"""Caddy: one Caddyfile site block with ``forward_auth`` and the login flow carved out."""

from __future__ import annotations

from authgate.deploy import conf
from authgate.deploy.conf import Comment, Item, block, d
from authgate.deploy.spec import OUTPOST, Spec, SpecError


def _upstream(spec: Spec) -> str:
    auth = spec.auth
    return auth.origin if auth.scheme == "https" else auth.origin.removeprefix("http://")


def _site_address(spec: Spec) -> str:
    app = spec.app
    if spec.listen is not None:
        return f"{app.scheme}://{app.hostname}:{spec.listen.port}"
    return app.host if app.secure else app.origin


def _copy_comment(spec: Spec) -> str:
    text = "every identity header (a client's own is removed)"
    if spec.jwt_bearer:
        text += ",\nand Authorization: Bearer <X-authentik-jwt> (the app has jwt_bearer)"
    if not spec.strip_cookie:
        return text
    return (
        f"{text}, and the Cookie of authgate's\n"
        "answer (the app has strip_cookie: the browser's cookies without authgate's).\n"
        "Needs Caddy v2.11.2 or later: older versions keep the browser's Cookie, authgate's\n"
        "included, when authgate's answer has no cookie left to set."
    )


def items(spec: Spec) -> list[Item]:
    if spec.backend is None:
        raise SpecError("give the app's upstream: --backend HOST:PORT")
    if spec.tls_secret or spec.cert_resolver:
        raise SpecError("--tls-secret and --cert-resolver are not for Caddy (it gets certificates)")
    bind = [d("bind", spec.listen.host)] if spec.listen and spec.listen.host else []
    return [
        Comment(
            f"authgate forward auth for app {spec.name} ({spec.app.origin}).\n"
            "Add this site block to your Caddyfile; check it with caddy validate."
        ),
        block(
            _site_address(spec),
            body=[
                *bind,
                block(
                    "handle",
                    f"{OUTPOST}/*",
                    comment="the login flow (start, callback, sign_out): authgate, unprotected",
                    body=[d("reverse_proxy", _upstream(spec))],
                ),
                block(
                    "handle",
                    comment="the app: every request is checked first",
                    body=[
                        block(
                            "forward_auth",
                            _upstream(spec),
                            body=[
                                d("uri", f"{OUTPOST}/auth/caddy"),
                                d(
                                    "copy_headers",
                                    *spec.upstream_headers(),
                                    comment=_copy_comment(spec),
                                ),
                            ],
                        ),
                        d("reverse_proxy", spec.backend.hostport),
                    ],
                ),
            ],
        ),
    ]


def render(spec: Spec) -> str:
    return conf.render(items(spec), conf.CADDY)
