"""What the check decided. Dialects render these; nothing else crosses from policy to proxy.

Every decision answers the same questions without its caller inspecting its type:
``outcome`` (the word logs and ``explain`` print), ``event`` (the audit event),
``decision_id`` (empty only for a plain allow), ``reason``, ``app`` and ``identity``
(None where there is none).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import ClassVar

from authgate.forward.model import AppView, Identity


def new_decision_id() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True, slots=True)
class Allow:
    app: AppView
    identity: Identity | None  # None for a bypass rule: through without login
    reason: str
    token: str = ""  # the X-authentik-jwt value
    cookie: str | None = None  # the Cookie the upstream should get (apps with strip_cookie)
    decision_id: str = ""  # a plain allow is not recorded, so it needs no id
    # the Authorization the upstream gets: None: no credential was involved (nothing said);
    # "": a credential of authgate's was used up here, the upstream must not see it; else
    # the client's own value, handed back (proxies that list Authorization drop it otherwise)
    authorization: str | None = None

    outcome: ClassVar[str] = "allow"
    event: ClassVar[str] = "access_allowed"


@dataclass(frozen=True, slots=True)
class Challenge:
    app: AppView
    start_url: str
    reason: str
    clear_cookie: str = ""  # a Set-Cookie value that expires a cookie that did not verify
    decision_id: str = field(default_factory=new_decision_id)

    outcome: ClassVar[str] = "login"
    event: ClassVar[str] = "login_required"
    identity: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Deny:
    app: AppView
    identity: Identity | None
    reason: str
    needs: str
    decision_id: str = field(default_factory=new_decision_id)

    outcome: ClassVar[str] = "deny"
    event: ClassVar[str] = "access_denied"


@dataclass(frozen=True, slots=True)
class UnknownHost:
    host: str
    decision_id: str = field(default_factory=new_decision_id)

    outcome: ClassVar[str] = "unknown host"
    event: ClassVar[str] = "unknown_host"
    app: ClassVar[None] = None
    identity: ClassVar[None] = None

    @property
    def reason(self) -> str:
        return f"no app registered for host {self.host}"


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str
    decision_id: str = field(default_factory=new_decision_id)

    outcome: ClassVar[str] = "bad request"
    event: ClassVar[str] = "bad_request"
    app: ClassVar[None] = None
    identity: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The check could not be made (the store is down, or a bug): never an allow."""

    reason: str
    decision_id: str = field(default_factory=new_decision_id)

    outcome: ClassVar[str] = "unavailable"
    event: ClassVar[str] = "check_failed"
    app: ClassVar[None] = None
    identity: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Redirect:
    """An authentik-style query marker (callback, logout) seen through the middleware."""

    location: str
    reason: str
    decision_id: str = field(default_factory=new_decision_id)

    outcome: ClassVar[str] = "redirect"
    event: ClassVar[str] = "flow_marker"
    app: ClassVar[None] = None
    identity: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class CredentialRefused:
    """A credential in Authorization (Bearer/Basic) that does not let the request through:
    401 with WWW-Authenticate, or 403 when it is good but the app's policy refuses its user.
    Never a redirect: whoever sent it is a script, not a person at a login page."""

    app: AppView | None
    identity: Identity | None
    reason: str
    error: str = "invalid_token"  # RFC 6750: invalid_token | invalid_request | insufficient_scope
    scheme: str = "Bearer"  # the scheme of the credential, for WWW-Authenticate
    status: int = 401
    decision_id: str = field(default_factory=new_decision_id)

    outcome: ClassVar[str] = "credential refused"
    event: ClassVar[str] = "credential_refused"


Decision = (
    Allow | Challenge | Deny | UnknownHost | Invalid | Unavailable | Redirect | CredentialRefused
)


def decision_line(
    dialect: str, decision: Decision, request: str, status: int, micros: int | None = None
) -> str:
    """The one log line of a decision; ``request`` is what was judged ("GET host/path", or
    the target URL the portal re-judged), ``micros`` the time taken when measured."""
    user = decision.identity.username if decision.identity is not None else "-"
    line = (
        f"decision dialect={dialect} app={decision.app.slug if decision.app else '-'} "
        f"user={user} outcome={decision.outcome.replace(' ', '_')} status={status} "
        f"reason={decision.reason!r} id={decision.decision_id or '-'} request={request!r}"
    )
    return line if micros is None else f"{line} us={micros}"


def decision_fields(
    dialect: str, decision: Decision, request: str, status: int, micros: int | None = None
) -> dict[str, dict[str, object]]:
    """The same decision as named fields, for ``logging``'s ``extra`` (the JSON log format
    writes them; the text format has them in its line already)."""
    fields: dict[str, object] = {
        "decision_id": decision.decision_id or None,
        "dialect": dialect,
        "app": decision.app.slug if decision.app else None,
        "user": decision.identity.username if decision.identity is not None else None,
        "outcome": decision.outcome,
        "status": status,
        "reason": decision.reason,
        "request": request,
    }
    if micros is not None:
        fields["duration_ms"] = round(micros / 1000, 3)
    return {"fields": fields}
