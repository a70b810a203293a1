"""The judgement itself: canonical request in, Decision out. Shared by every dialect and
by ``authgate explain``; it awaits the store only on a session-cache miss."""

from __future__ import annotations

from authgate.forward.apps import AppIndex, Conflict
from authgate.forward.context import ForwardRequest
from authgate.forward.cookies import (
    CookieSigner,
    app_cookie_name,
    expire_app_cookie,
    read_cookie,
    strip_own_cookies,
)
from authgate.forward.decision import (
    Allow,
    Challenge,
    Decision,
    Deny,
    Redirect,
    Unavailable,
    UnknownHost,
)
from authgate.forward.model import AppView, Identity
from authgate.forward.policy import Trace, judge_with_identity, needs_phrase, prejudge
from authgate.forward.redirects import judge_redirect, login_url
from authgate.forward.sessions import SessionCache
from authgate.forward.tokens import TokenIssuer

CALLBACK_MARKER = "X-authentik-auth-callback=true"
LOGOUT_MARKER = "X-authentik-logout=true"


def _note(trace: Trace, line: str) -> None:
    if trace is not None:
        trace.append(line)


class Gate:
    def __init__(
        self,
        index: AppIndex,
        sessions: SessionCache,
        signer: CookieSigner,
        prefix: str,
        tokens: TokenIssuer | None = None,
    ) -> None:
        self.index = index
        self.sessions = sessions
        self.signer = signer
        self.prefix = prefix
        self.tokens = tokens

    def start_url(self, app: AppView, request: ForwardRequest) -> str:
        """Where the login starts. A navigation comes back to itself; a script or asset
        request comes back to the page that loaded it (its Referer), never to itself."""
        if request.browser:
            target = f"{app.scheme}://{request.host}{request.uri}"
        else:
            target = judge_redirect(request.referer, app) or f"{app.scheme}://{request.host}/"
        return login_url(app, request.host, self.prefix, target)

    async def judge(self, request: ForwardRequest, trace: Trace = None) -> Decision:
        app = self._app(request, trace)
        if not isinstance(app, AppView):
            return _no_app(request, app)
        early = self._before_login(app, request, trace)
        if early is not None:
            return early
        identity, bad_cookie = await self.identity_for(request.cookie, app)
        return self._after_login(app, request, identity, bad_cookie, trace)

    def explain(
        self, request: ForwardRequest, identity: Identity | None, trace: Trace = None
    ) -> Decision:
        """The same judgement for a given identity instead of a cookie (``authgate explain``)."""
        app = self._app(request, trace)
        if not isinstance(app, AppView):
            return _no_app(request, app)
        early = self._before_login(app, request, trace)
        if early is not None:
            return early
        return self._after_login(app, request, identity, False, trace)

    def judge_identity(
        self, app: AppView, request: ForwardRequest, identity: Identity, trace: Trace = None
    ) -> Decision:
        """Steps 2, 4 and 5 for a known identity (the portal re-judges ``rd`` with this)."""
        rule = prejudge(app, request, trace)
        if rule is not None and rule.action == "deny":
            return Deny(app, identity, "a deny rule matched", "")
        return self._after_login(app, request, identity, False, trace)

    def _app(self, request: ForwardRequest, trace: Trace) -> AppView | Conflict | None:
        app = self.index.resolve(request.host)
        if trace is not None:
            where = f"{request.method} {request.host}{request.path} from {request.client_ip}"
            trace.append(f"request: {where}")
            trace += self._app_lines(request.host, app)
        return app

    def _app_lines(self, host: str, app: AppView | Conflict | None) -> list[str]:
        """Which app answers for ``host`` and why (the trace only)."""
        if app is None:
            return [f"app: no app registered for host {host}"]
        if isinstance(app, Conflict):
            return [f"app: none: {app.reason} (fix: {app.fix})"]
        if app.host == host:
            line = f"app: {app.slug} (host {app.host})"
        else:
            line = f"app: {app.slug} (domain mode, {host} is under {app.cookie_domain})"
        lines = [line]
        for other in self.index.passed_over(host, app):
            lines.append(
                f"app: {app.slug} is more specific than domain-mode app {other.slug} "
                f"(cookie domain {other.cookie_domain}), so {app.slug} decides"
            )
        if app.case_insensitive_paths:
            lines.append("paths: case-insensitive (every path rule matches in any letter case)")
        return lines

    def _before_login(self, app: AppView, request: ForwardRequest, trace: Trace) -> Decision | None:
        # authentik's query markers need a redirect; nginx cannot relay one (a 401 would send
        # the browser to start and back here: a loop), and its outpost location serves both.
        marker = _marker(request.uri) if request.can_redirect else ""
        if marker:
            _note(trace, f"query marker: authentik {marker}")
            _, _, query = request.uri.partition("?")
            where = f"{app.scheme}://{request.host}{self.prefix}/{marker}"
            return Redirect(where + ("?" + query if marker == "callback" else ""), marker)
        if request.preflight and app.allow_preflight:
            _note(trace, "CORS preflight: allowed without a session for this app")
            return Allow(app, None, "CORS preflight allowed for this app")
        rule = prejudge(app, request, trace)
        if rule is not None and rule.action == "bypass":
            return Allow(
                app, None, "bypass rule: no login needed", cookie=self._cookie(app, request)
            )
        if rule is not None:
            return Deny(app, None, "a deny rule matched before login", "")
        return None

    def _after_login(
        self,
        app: AppView,
        request: ForwardRequest,
        identity: Identity | None,
        bad_cookie: bool,
        trace: Trace,
    ) -> Decision:
        if identity is None:
            reason = "cookie did not verify" if bad_cookie else "no session"
            _note(trace, f"session: none ({reason}): login")
            clear = expire_app_cookie(app) if bad_cookie else ""
            return Challenge(app, self.start_url(app, request), reason, clear)
        _note(
            trace, f"session: user {identity.username}, groups {', '.join(identity.groups) or '-'}"
        )
        allowed, reason = judge_with_identity(app, request, identity, trace)
        if not allowed:
            return Deny(app, identity, reason, needs_phrase(app))
        token = self.tokens.token_for(identity, app) if self.tokens else ""
        return Allow(app, identity, reason, token, self._cookie(app, request))

    @staticmethod
    def _cookie(app: AppView, request: ForwardRequest) -> str | None:
        return strip_own_cookies(request.cookie) if app.strip_cookie else None

    async def identity_for(self, cookie_header: str, app: AppView) -> tuple[Identity | None, bool]:
        """(identity, cookie_was_bad). Fails closed: anything odd is 'no identity'."""
        value = read_cookie(cookie_header, app_cookie_name(app))
        if not value:
            return None, False
        session_id = self.signer.unsign(value)
        if session_id is None:
            return None, True
        record = await self.sessions.get(session_id)
        if record is None or record.kind != "app" or record.app_id != app.id:
            return None, True
        return record.identity, False


def _no_app(request: ForwardRequest, found: Conflict | None) -> Decision:
    """No app answers: an unknown host, or one that apps conflict over (refused, never
    handed to one of them)."""
    if found is None:
        return UnknownHost(request.host)
    return Unavailable(f"{found.reason}; fix: {found.fix}")


def _marker(uri: str) -> str:
    if "?" not in uri:
        return ""
    query = uri.partition("?")[2]
    if CALLBACK_MARKER in query:
        return "callback"
    if LOGOUT_MARKER in query:
        return "sign_out"
    return ""
