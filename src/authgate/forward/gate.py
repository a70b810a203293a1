"""The judgement itself: canonical request in, Decision out. Shared by every dialect and
by ``authgate explain``; it awaits the store only on a session-cache miss."""

from __future__ import annotations

from urllib.parse import quote

from authgate.forward.apps import AppIndex
from authgate.forward.context import ForwardRequest
from authgate.forward.cookies import CookieSigner, app_cookie_name, expire_app_cookie, read_cookie
from authgate.forward.decision import Allow, Challenge, Decision, Deny, Redirect, UnknownHost
from authgate.forward.model import AppView, Identity
from authgate.forward.policy import Trace, judge_with_identity, needs_phrase, prejudge
from authgate.forward.sessions import SessionCache
from authgate.forward.tokens import TokenIssuer

CALLBACK_MARKER = "X-authentik-auth-callback=true"
LOGOUT_MARKER = "X-authentik-logout=true"


class Gate:
    def __init__(
        self,
        index: AppIndex,
        sessions: SessionCache,
        signer: CookieSigner,
        prefix: str,
        tokens: TokenIssuer | None = None,
    ) -> None:
        self.tokens = tokens
        self.index = index
        self.sessions = sessions
        self.signer = signer
        self.prefix = prefix

    def start_url(self, app: AppView, request: ForwardRequest) -> str:
        original = f"{app.scheme}://{request.host}{request.uri}"
        return f"{app.scheme}://{request.host}{self.prefix}/start?rd={quote(original, safe='')}"

    async def judge(self, request: ForwardRequest, trace: Trace = None) -> Decision:
        app = self.index.lookup(request.host)
        if app is None:
            if trace is not None:
                trace.append(f"app: no app registered for host {request.host}")
            return UnknownHost(request.host)
        if trace is not None:
            trace.append(f"app: {app.slug} ({app.mode} mode, {app.external_url})")
        marker = _marker(request.uri)
        if marker:
            _, _, query = request.uri.partition("?")
            where = f"{app.scheme}://{request.host}{self.prefix}/{marker}"
            return Redirect(where + ("?" + query if marker == "callback" else ""), marker)
        rule = prejudge(app, request, trace)
        if rule is not None and rule.action == "bypass":
            return Allow(app, None, "bypass rule: no login needed")
        if rule is not None:
            return Deny(app, None, "a deny rule matched before login", "")
        identity, bad_cookie = await self.identity_for(request.cookie, app)
        if identity is None:
            reason = "cookie did not verify" if bad_cookie else "no session cookie"
            if trace is not None:
                trace.append(f"session: none ({reason}): login")
            clear = expire_app_cookie(app) if bad_cookie else ""
            return Challenge(app, self.start_url(app, request), reason, clear)
        if trace is not None:
            trace.append(f"session: user {identity.username}, groups {list(identity.groups)}")
        return self.judge_identity(app, request, identity, trace)

    def judge_identity(
        self, app: AppView, request: ForwardRequest, identity: Identity, trace: Trace = None
    ) -> Decision:
        """Steps 2, 4 and 5 for a known identity (the portal re-judges ``rd`` with this)."""
        rule = prejudge(app, request, trace)
        if rule is not None and rule.action == "deny":
            return Deny(app, identity, "a deny rule matched", "")
        allowed, reason = judge_with_identity(app, request, identity, trace)
        if allowed:
            token = self.tokens.token_for(identity, app) if self.tokens else ""
            return Allow(app, identity, reason, token)
        return Deny(app, identity, reason, needs_phrase(app))

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


def _marker(uri: str) -> str:
    if "?" not in uri:
        return ""
    query = uri.partition("?")[2]
    if CALLBACK_MARKER in query:
        return "callback"
    if LOGOUT_MARKER in query:
        return "sign_out"
    return ""
