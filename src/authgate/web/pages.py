"""HTML responses for the portal and the flow, with the security headers every page gets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse

if TYPE_CHECKING:
    from authgate.web.runtime import Runtime


def security_headers(public_origin: str) -> dict[str, str]:
    """No scripts at all; styles only from ourselves and the portal.

    ``form-action`` stays open on purpose: browsers apply it to every redirect after a form
    post too, and a login ends with redirects to the app's own host, wherever it is.
    """
    return {
        "cache-control": "no-store",
        "content-security-policy": (
            f"default-src 'none'; style-src 'self' {public_origin}; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
    }


def html_page(rt: Runtime, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=rt.page_headers)


def error_page(rt: Runtime, status: int, title: str, message: str, hint: str = "") -> HTMLResponse:
    body = rt.render("error.html", status=status, title=title, message=message, hint=hint)
    return html_page(rt, body, status)
