"""The only renderer of authgate's pages: the portal's and the flow's, the error pages, and
the deny and unknown-host pages the hot path shows a browser (``deny``/``unknown_host`` are
``forward.answers.Pages``). Built from the templates and the settings; every HTML response
gets the same security headers."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from authgate.config import Settings
from authgate.forward.decision import Deny, UnknownHost


def security_headers(public_origin: str) -> dict[str, str]:
    """No inline script, no frames, nothing cached.

    Scripts and styles only from the portal itself (the one script, ``static/passkeys.js``,
    makes the WebAuthn calls to the portal, hence ``connect-src``); images also from
    ``data:`` and any https URL, so the launcher shows the icons apps are given, and from
    http URLs only when the portal itself is served over http (an https page would not load
    them anyway).

    ``form-action`` stays open on purpose: browsers apply it to every redirect after a form
    post too, and a login ends with redirects to the app's own host, wherever it is.
    """
    images = "'self' data: https:" + (" http:" if public_origin.startswith("http:") else "")
    return {
        "cache-control": "no-store",
        "content-security-policy": (
            f"default-src 'none'; script-src 'self' {public_origin}; "
            f"connect-src 'self' {public_origin}; style-src 'self' {public_origin}; "
            f"img-src {images}; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }


def portal_templates() -> Environment:
    return Environment(
        loader=PackageLoader("authgate.portal", "templates"),
        autoescape=select_autoescape(default=True),
    )


class Pages:
    def __init__(self, settings: Settings, templates: Environment | None = None) -> None:
        self.settings = settings
        self.templates = templates or portal_templates()
        self.headers = security_headers(settings.public_origin)

    def render(self, template: str, **context: object) -> str:
        context.setdefault("static_url", self.settings.public_origin + "/static/authgate.css")
        context.setdefault("passkeys_js", self.settings.public_origin + "/static/passkeys.js")
        context.setdefault("portal_url", self.settings.public_url)
        context.setdefault("brand", "authgate")
        return self.templates.get_template(template).render(**context)

    def html(self, body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers=self.headers)

    def error(self, status: int, title: str, message: str, hint: str = "") -> HTMLResponse:
        return self.html(self.error_body(status, title, message, hint), status)

    def error_body(
        self, status: int, title: str, message: str, hint: str = "", **context: object
    ) -> str:
        return self.render(
            "error.html", status=status, title=title, message=message, hint=hint, **context
        )

    def deny_body(self, decision: Deny, csrf_token: str = "") -> str:
        """Who was refused where, and what would let them in; a rule that closes an address
        before any login says so instead."""
        if decision.identity is None:
            return self.error_body(
                403,
                "Access denied",
                f"This address of {decision.app.name} is closed by a rule, whoever asks.",
                decision_id=decision.decision_id,
            )
        public = self.settings.public_url
        return self.render(
            "denied.html",
            username=decision.identity.username,
            app_name=decision.app.name,
            needs=decision.needs or "a rule that allows you",
            reason=decision.reason,
            decision_id=decision.decision_id,
            csrf_token=csrf_token,
            switch_action=public + "/switch",
            home_url=public + "/",
        )

    def unknown_host_body(self, host: str) -> str:
        command = f"authgate app add <slug> --url http://{host}"
        return self.render("not_found.html", host=host, command=command)

    # -- forward.answers.Pages: the bodies of the hot path's rare HTML answers ------------
    def deny(self, decision: Deny) -> bytes:
        return self.deny_body(decision).encode()

    def unknown_host(self, decision: UnknownHost) -> bytes:
        return self.unknown_host_body(decision.host).encode()
