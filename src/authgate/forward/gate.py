"""The check's I/O around the pure judgement: find the app, resolve the identity from the
app cookie (signer, then the session cache; the store only on a miss), ``policy.decide``,
then attach the ``X-authentik-jwt`` token to an allow. One entry point: ``check``.

What repeats from check to check is remembered (DESIGN.md, "the hot path's budget"): the
session id a verified Cookie header names, and the token of a (session, app). The session
itself is asked of the session cache every time, so a revoked session ends at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

from authgate.forward.apps import AppIndex
from authgate.forward.cookies import CookieSigner, app_cookie_name, read_cookie
from authgate.forward.credential_check import check_with_credential
from authgate.forward.credentials import CredentialVerifier
from authgate.forward.decision import Allow, Decision
from authgate.forward.model import AppView, Identity
from authgate.forward.policy import CookieState, Trace, decide, needs_session
from authgate.forward.request import ForwardRequest
from authgate.forward.sessions import SessionCache
from authgate.forward.tokens import TokenIssuer

MEMO_LIMIT = 10_000
COOKIE_MEMO_LIMIT = 2048  # longer Cookie headers are verified afresh every time
TOKEN_RENEWAL = 60  # a remembered token is renewed this long before it expires


class Gate:
    def __init__(
        self,
        sessions: SessionCache,
        signer: CookieSigner,
        prefix: str,
        tokens: TokenIssuer | None = None,
        verifiers: Sequence[CredentialVerifier] = (),
    ) -> None:
        self.index = AppIndex()  # replaced whole by load_apps, never changed in place
        self.verifiers = list(verifiers)  # asked in order about a Bearer or Basic credential
        self.sessions = sessions
        self.signer = signer
        self.prefix = prefix
        self.tokens = tokens
        self._sessions_by_cookie: dict[tuple[str, int], str] = {}
        self._tokens: dict[tuple[str, int], tuple[Identity, str, float, Allow]] = {}

    def use_keys(self, signer: CookieSigner, tokens: TokenIssuer | None) -> None:
        """Verify cookies and sign tokens with these from now on. What was remembered under
        the old keys is forgotten: the next token is signed by the new key, and a cookie of
        a key that no longer verifies is refused."""
        self.signer = signer
        self.tokens = tokens
        self._sessions_by_cookie = {}
        self._tokens = {}

    def load_apps(self, apps: Iterable[AppView]) -> AppIndex:
        """Judge by these apps from now on; the new index is returned (with its conflicts)."""
        self.index = AppIndex(apps)
        return self.index

    async def check(self, request: ForwardRequest, trace: Trace = None) -> Decision:
        if request.authorization:
            return await check_with_credential(self, request, trace)
        found = self.index.by_host.get(request.host) if trace is None else None
        app = found if isinstance(found, AppView) else self.index.find(request, trace)
        identity, state = None, CookieState.ABSENT
        if needs_session(app, request):
            identity, state = await self.identity_for(request.cookie, app)
        decision = decide(app, request, identity, state, trace, prefix=self.prefix)
        if isinstance(decision, Allow) and decision.identity is not None and self.tokens:
            return self._with_token(decision, decision.identity, self.tokens)
        return decision

    def with_token(self, allow: Allow) -> Allow:
        """The allow with its ``X-authentik-jwt`` (unchanged without an identity or issuer)."""
        if allow.identity is None or self.tokens is None:
            return allow
        return self._with_token(allow, allow.identity, self.tokens)

    def _with_token(self, allow: Allow, identity: Identity, tokens: TokenIssuer) -> Allow:
        """The allow with the ``X-authentik-jwt`` value for its session and app. The allow
        itself is remembered with the token: the next check of the session reuses it (and
        the answer prepared for it) while nothing it was made of has changed."""
        key = (identity.session_id, allow.app.id)
        kept = self._tokens.get(key)
        now = time.time()
        if kept is not None and kept[0] is identity and now < kept[2]:
            made = kept[3]
            same = made.app is allow.app and made.reason == allow.reason
            if same and allow.cookie is None and made.cookie is None:
                return made
            token, renew_at = kept[1], kept[2]
        else:
            token, expires = tokens.issue(identity, allow.app, now)
            renew_at = expires - TOKEN_RENEWAL
            if len(self._tokens) >= MEMO_LIMIT:
                self._tokens.clear()
        made = Allow(allow.app, identity, allow.reason, token, allow.cookie, allow.decision_id)
        self._tokens[key] = (identity, token, renew_at, made)
        return made

    def fresh_until(self, allow: Allow) -> float:
        """Until when ``allow`` may be given again as it is: its token's renewal time (an
        allow without a token: no end of its own)."""
        if allow.identity is None or not allow.token:
            return math.inf
        kept = self._tokens.get((allow.identity.session_id, allow.app.id))
        if kept is None or kept[3] is not allow:
            return 0.0  # not the remembered one: never reused
        return kept[2]

    async def identity_for(
        self, cookie_header: str, app: AppView
    ) -> tuple[Identity | None, CookieState]:
        """The identity of the app cookie. Fails closed: anything odd is 'no identity'."""
        key = (cookie_header, app.id)
        session_id = self._sessions_by_cookie.get(key)
        if session_id is None:
            value = read_cookie(cookie_header, app_cookie_name(app))
            if not value:
                return None, CookieState.ABSENT
            session_id = self.signer.unsign(value)
            if session_id is None:
                return None, CookieState.BAD
            if len(cookie_header) <= COOKIE_MEMO_LIMIT:
                if len(self._sessions_by_cookie) >= MEMO_LIMIT:
                    self._sessions_by_cookie.clear()
                self._sessions_by_cookie[key] = session_id
        record = await self.sessions.get(session_id)
        if record is None or record.kind != "app" or record.app_id != app.id:
            return None, CookieState.BAD
        return record.identity, CookieState.VALID
