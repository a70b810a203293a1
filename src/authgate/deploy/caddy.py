"""Caddy: one Caddyfile site block with ``forward_auth`` and the login flow carved out."""

from __future__ import annotations

from authgate.deploy import conf
from authgate.deploy.conf import Comment, Item, block, d
from authgate.deploy.spec import OUTPOST, Spec, SpecError
from authgate.forward.headers import IDENTITY_HEADERS


def _upstream(spec: Spec) -> str:
    auth = spec.auth
    return auth.origin if auth.scheme == "https" else auth.origin.removeprefix("http://")


def _site_address(spec: Spec) -> str:
    app = spec.app
    if spec.listen is not None:
        return f"{app.scheme}://{app.hostname}:{spec.listen.port}"
    return app.host if app.secure else app.origin


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
                                    *IDENTITY_HEADERS,
                                    comment="every identity header (a client's own is removed)",
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
