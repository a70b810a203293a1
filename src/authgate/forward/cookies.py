"""Cookie names, signed values and Set-Cookie lines. ``Secure`` follows configured URLs only."""

from __future__ import annotations

from authgate.forward.model import AppView

# moved to signing.py (one key ring for every signature); re-exported for its callers
from authgate.signing import CookieSigner as CookieSigner

PORTAL_COOKIE = "authgate_portal"
STATE_COOKIE = "authgate_state"


def app_cookie_name(app: AppView) -> str:
    """Per app, so that apps sharing a host name on other ports never read each other's.

    A host-only https cookie gets the ``__Host-`` prefix, which a sibling host cannot set.
    """
    base = f"authgate_{app.slug}"
    if app.secure and app.mode == "single":
        return "__Host-" + base
    return base


def read_cookie(header: str, name: str) -> str | None:
    """The value of ``name``; None when absent or sent more than once (cookie tossing)."""
    found: str | None = None
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            if found is not None:
                return None
            found = value.strip().strip('"')
    return found


def strip_own_cookies(header: str) -> str:
    """The Cookie header without authgate's cookies, for apps that must not see them."""
    kept = []
    for part in header.split(";"):
        name = part.strip().partition("=")[0]
        if name and not name.removeprefix("__Host-").startswith("authgate_"):
            kept.append(part.strip())
    return "; ".join(kept)


def set_cookie(
    name: str,
    value: str,
    *,
    secure: bool,
    max_age: int | None,
    domain: str = "",
    path: str = "/",
) -> str:
    """One Set-Cookie line: HttpOnly and SameSite=Lax always, Secure when the URL is https."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if domain:
        parts.append(f"Domain={domain}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def app_cookie(app: AppView, value: str, max_age: int | None) -> str:
    domain = app.cookie_domain if app.mode == "domain" else ""
    return set_cookie(
        app_cookie_name(app), value, secure=app.secure, max_age=max_age, domain=domain
    )


def expire_app_cookie(app: AppView) -> str:
    return app_cookie(app, "", 0)
