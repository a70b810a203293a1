"""The check's I/O around the pure judgement: find the app, resolve the identity from the
app cookie (signer, then the session cache; the store only on a miss), ``policy.decide``,
then attach the ``X-authentik-jwt`` token to an allow. One entry point: ``check``."""

from __future__ import annotations

from collections.abc import Iterable

from authgate.forward.apps import AppIndex
from authgate.forward.cookies import CookieSigner, app_cookie_name, read_cookie
from authgate.forward.decision import Allow, Decision
from authgate.forward.model import AppView, Identity
from authgate.forward.policy import CookieState, Trace, decide, needs_session
from authgate.forward.request import ForwardRequest
from authgate.forward.sessions import SessionCache
from authgate.forward.tokens import TokenIssuer


class Gate:
    def __init__(
        self,
        sessions: SessionCache,
        signer: CookieSigner,
        prefix: str,
        tokens: TokenIssuer | None = None,
    ) -> None:
        self._index = AppIndex()
        self.sessions = sessions
        self.signer = signer
        self.prefix = prefix
        self.tokens = tokens

    @property
    def index(self) -> AppIndex:
        return self._index

    def load_apps(self, apps: Iterable[AppView]) -> AppIndex:
        """Judge by these apps from now on; the new index is returned (with its conflicts)."""
        self._index = AppIndex(apps)
        return self._index

    async def check(self, request: ForwardRequest, trace: Trace = None) -> Decision:
        app = self._index.find(request, trace)
        identity, state = None, CookieState.ABSENT
        if needs_session(app, request):
            identity, state = await self.identity_for(request.cookie, app)
        decision = decide(app, request, identity, state, trace, prefix=self.prefix)
        if isinstance(decision, Allow) and decision.identity is not None and self.tokens:
            return self._with_token(decision, decision.identity, self.tokens)
        return decision

    @staticmethod
    def _with_token(allow: Allow, identity: Identity, tokens: TokenIssuer) -> Allow:
        """The allow with the ``X-authentik-jwt`` value for its session and app."""
        token = tokens.token_for(identity, allow.app)
        return Allow(allow.app, identity, allow.reason, token, allow.cookie, allow.decision_id)

    async def identity_for(
        self, cookie_header: str, app: AppView
    ) -> tuple[Identity | None, CookieState]:
        """The identity of the app cookie. Fails closed: anything odd is 'no identity'."""
        value = read_cookie(cookie_header, app_cookie_name(app))
        if not value:
            return None, CookieState.ABSENT
        session_id = self.signer.unsign(value)
        if session_id is None:
            return None, CookieState.BAD
        record = await self.sessions.get(session_id)
        if record is None or record.kind != "app" or record.app_id != app.id:
            return None, CookieState.BAD
        return record.identity, CookieState.VALID
