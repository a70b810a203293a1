"""The only place that judges a redirect target (``rd``): it must stay on the app's own hosts."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit

from authgate.forward.hosts import canonical_host, within_domain
from authgate.forward.model import AppView

MAX_LENGTH = 4096


def app_owns_host(app: AppView, host: str) -> bool:
    """True when a canonical host belongs to the app (its own host, or its cookie domain)."""
    if host == app.host:
        return True
    return (
        app.mode == "domain" and bool(app.cookie_domain) and within_domain(host, app.cookie_domain)
    )


def login_url(app: AppView, host: str, prefix: str, target: str) -> str:
    """Where a login starts on ``host``: the outpost's ``start``, returning to ``target``
    (a URL already judged). The check's Challenge and the flow's 401 for scripts both use it."""
    return f"{app.scheme}://{host}{prefix}/start?rd={quote(target, safe='')}"


def safe_redirect(rd: str | None, app: AppView) -> str:
    """``rd`` as an absolute URL on one of the app's hosts, else the app's own URL.

    Relative paths (``/x``) are resolved against the app's URL. Anything with a backslash,
    control character, user info, another scheme or another host falls back to the app's URL.
    The scheme is always the one the app is configured with, never the one in ``rd``.
    """
    judged = judge_redirect(rd, app)
    return judged if judged is not None else app.external_url


def judge_redirect(rd: str | None, app: AppView) -> str | None:
    """The cleaned absolute URL when ``rd`` may be followed, otherwise None."""
    if not rd or len(rd) > MAX_LENGTH:
        return None
    if any(ch in rd for ch in "\\\t\r\n ") or not rd.isprintable():
        return None
    if rd.startswith("/") and not rd.startswith("//"):
        return _on_host(app, app.host, rd)
    try:
        parts = urlsplit(rd)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not rd.lower().startswith(
        parts.scheme.lower() + "://"
    ):
        return None
    if "@" in parts.netloc or "%" in parts.netloc:
        return None
    host = canonical_host(parts.netloc)
    if host is None or not app_owns_host(app, host):
        return None
    path = parts.path or "/"
    # The host is fixed above, so a path such as //admin stays on it (scheme://host//admin).
    if not path.startswith("/") or "\\" in unquote(path):
        return None
    return _on_host(app, host, urlunsplit(("", "", path, parts.query, parts.fragment)))


def _on_host(app: AppView, host: str, path_and_query: str) -> str:
    return f"{app.scheme}://{host}{path_and_query}"
