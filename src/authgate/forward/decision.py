"""What the check decided. Dialects render these; nothing else crosses from policy to proxy."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Challenge:
    app: AppView
    start_url: str
    reason: str
    clear_cookie: str = ""  # a Set-Cookie value that expires a cookie that did not verify
    decision_id: str = field(default_factory=new_decision_id)


@dataclass(frozen=True, slots=True)
class Deny:
    app: AppView
    identity: Identity | None
    reason: str
    needs: str
    decision_id: str = field(default_factory=new_decision_id)


@dataclass(frozen=True, slots=True)
class UnknownHost:
    host: str
    decision_id: str = field(default_factory=new_decision_id)

    @property
    def reason(self) -> str:
        return f"no app registered for host {self.host}"


@dataclass(frozen=True, slots=True)
class Invalid:
    reason: str
    decision_id: str = field(default_factory=new_decision_id)


@dataclass(frozen=True, slots=True)
class Unavailable:
    """The check could not be made (the store is down, or a bug): never an allow."""

    reason: str
    decision_id: str = field(default_factory=new_decision_id)


@dataclass(frozen=True, slots=True)
class Redirect:
    """An authentik-style query marker (callback, logout) seen through the middleware."""

    location: str
    reason: str


Decision = Allow | Challenge | Deny | UnknownHost | Invalid | Unavailable | Redirect
