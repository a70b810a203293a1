"""A check whose request carries ``Authorization``: which credential decides, and how.

* No app, or a request the app's rules settle without a user (bypass, deny before login,
  query markers, preflights): judged as usual; the credential is not read.
* A scheme authgate does not handle (Digest, Negotiate, …): the app's own; judged as usual
  (the cookie decides) and handed on to the app.
* Bearer or Basic that a verifier knows (authgate's tokens and app passwords; an external
  issuer's JWT): that credential decides, whatever cookie comes with it. Refused: 401 with
  WWW-Authenticate. Verified: the same policy as a browser (bindings, rules); allowed, the
  upstream never sees the credential. A token is not a second factor: an app that needs
  one refuses it with 403 ``insufficient_scope`` (sign in with a browser there).
* Bearer or Basic that no verifier knows, or that cannot be read: maybe the app's own
  (a browser's remembered Basic login, an SPA's Bearer for its API). A valid app cookie
  decides then, and the header goes on to the app; a browser without one is sent to log
  in; anyone else gets the 401 with WWW-Authenticate.

The user's real password in Basic is accepted only for an app with ``basic_password`` whose
MFA is not required (``accounts.basic_password``); elsewhere no verifier knows it. A
verifier that cannot judge now (``CredentialUnavailable``: the password-hashing queue is
full) makes the check a 503.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from authgate.forward.api_secrets import is_own
from authgate.forward.apps import Conflict
from authgate.forward.credentials import (
    Basic,
    Credential,
    CredentialUnavailable,
    MalformedCredential,
    Refused,
    parse_authorization,
    scheme_of,
    verify,
)
from authgate.forward.decision import (
    Allow,
    Challenge,
    CredentialRefused,
    Decision,
    Unavailable,
)
from authgate.forward.model import AppView
from authgate.forward.policy import CookieState, Trace, decide, needs_session
from authgate.forward.request import ForwardRequest

if TYPE_CHECKING:
    from authgate.forward.gate import Gate

NO_SECOND_FACTOR = "the app requires a second factor, which a token or app password is not"


async def check_with_credential(gate: Gate, request: ForwardRequest, trace: Trace) -> Decision:
    """The decision for ``request``, whose ``authorization`` is not empty."""
    plain = replace(request, authorization="")
    app: AppView | Conflict | None = gate.index.find(request, trace)
    if not needs_session(app, request):
        return _hand_on(await gate.check(plain, trace), request.authorization)
    try:
        credential = parse_authorization(request.authorization)
    except MalformedCredential as exc:
        refused = Refused(exc.reason, "invalid_request")
        return await _unknown(gate, plain, request, trace, refused, None)
    if credential is None:
        _note(trace, "authorization: a scheme authgate does not read: the app's own")
        return _hand_on(await gate.check(plain, trace), request.authorization)
    try:
        verdict = await verify(gate.verifiers, credential, app, request.client_ip)
    except CredentialUnavailable as exc:
        _note(trace, f"credential: cannot be judged now: {exc}")
        return Unavailable(f"the credential could not be checked now: {exc}")
    if verdict is None:
        return await _unknown(
            gate, plain, request, trace, Refused("unknown credential"), credential
        )
    scheme = scheme_of(credential)
    if isinstance(verdict, Refused):
        _note(trace, f"credential ({scheme}): refused: {verdict.reason}")
        return CredentialRefused(app, None, verdict.reason, verdict.error, scheme)
    identity = verdict.identity
    _note(trace, f"credential ({scheme}): {','.join(identity.amr)} of user {identity.username}")
    decision = decide(app, request, identity, CookieState.VALID, trace, prefix=gate.prefix)
    if isinstance(decision, Allow):
        allowed = gate.with_token(decision) if decision.identity is not None else decision
        return replace(allowed, authorization="")
    if isinstance(decision, Challenge):  # the second-factor step-up a browser would get
        _note(trace, f"credential: {NO_SECOND_FACTOR}")
        return CredentialRefused(app, identity, NO_SECOND_FACTOR, "insufficient_scope", scheme, 403)
    if decision.identity is not None:  # policy refused the user: bindings or a rule
        return CredentialRefused(
            decision.app, identity, decision.reason, "insufficient_scope", scheme, 403
        )
    return decision


async def _unknown(
    gate: Gate,
    plain: ForwardRequest,
    request: ForwardRequest,
    trace: Trace,
    refused: Refused,
    credential: Credential | None,
) -> Decision:
    """No verifier knows the credential (or it cannot be read): perhaps the app's own."""
    _note(trace, f"credential: {refused.reason}: the app's own? a cookie or a login decides")
    decision = await gate.check(plain, trace)
    if isinstance(decision, Allow):
        return _hand_on(decision, request.authorization)
    if isinstance(decision, Challenge) and not request.browser:
        scheme = scheme_of(credential) if credential else _scheme_named(request.authorization)
        return CredentialRefused(decision.app, None, refused.reason, refused.error, scheme)
    return decision


def _hand_on(decision: Decision, authorization: str) -> Decision:
    """An allow with the client's Authorization handed back to the upstream, unless it is
    one of authgate's own credentials (never shown to an app)."""
    if not isinstance(decision, Allow):
        return decision
    return replace(decision, authorization="" if _is_authgates(authorization) else authorization)


def _is_authgates(authorization: str) -> bool:
    try:
        credential = parse_authorization(authorization)
    except MalformedCredential:
        return False
    if credential is None:
        return False
    return is_own(credential.password if isinstance(credential, Basic) else credential.token)


def _scheme_named(authorization: str) -> str:
    return "Basic" if authorization.strip()[:6].lower() == "basic " else "Bearer"


def _note(trace: Trace, line: str) -> None:
    if trace is not None:
        trace.append(line)
