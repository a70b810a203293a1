"""Plain, frozen views of apps, rules and identities that the hot path judges with."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# How a session signed in (``amr``, RFC 8176 values where one exists): a password, a TOTP
# code, a passkey or security key, a recovery code. Any but the password is a second factor.
PASSWORD = "pwd"  # noqa: S105 - the name of a method, not a password
TOTP = "otp"
PASSKEY = "hwk"
RECOVERY_CODE = "rec"
SECOND_FACTORS = frozenset({TOTP, PASSKEY, RECOVERY_CODE})


@dataclass(frozen=True)
class Rule:
    action: str  # allow | deny | bypass
    path_prefix: str = ""
    path_regex: re.Pattern[str] | None = None
    methods: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    ignore_case: bool = False  # the app's paths are case-insensitive: match in any case

    @property
    def needs_identity(self) -> bool:
        return bool(self.users or self.groups)

    @cached_property
    def prefix_pattern(self) -> re.Pattern[str]:
        """The prefix condition as a case-blind pattern (used only with ``ignore_case``):
        the path is the prefix, or the prefix without its one trailing slash, or goes on
        below it: exactly the case-sensitive test, with re.IGNORECASE."""
        prefix = self.path_prefix
        if prefix.endswith("/"):
            body = f"(?:{re.escape(prefix)}|{re.escape(prefix.rstrip('/'))}\\Z)"
        else:
            body = f"{re.escape(prefix)}(?:/|\\Z)"
        return re.compile(body, re.IGNORECASE)

    def describe(self) -> str:
        parts = [self.action]
        if self.path_prefix:
            parts.append(f"path {self.path_prefix}*")
        if self.path_regex is not None:
            parts.append(f"path ~ {self.path_regex.pattern}")
        if self.methods:
            parts.append("methods " + ",".join(sorted(self.methods)))
        if self.networks:
            parts.append("networks " + ",".join(str(n) for n in self.networks))
        if self.users:
            parts.append("users " + ",".join(sorted(self.users)))
        if self.groups:
            parts.append("groups " + ",".join(sorted(self.groups)))
        if self.ignore_case and (self.path_prefix or self.path_regex is not None):
            parts.append("(any case)")
        return " ".join(parts)


@dataclass(frozen=True)
class AppView:
    id: int
    slug: str
    name: str
    external_url: str
    scheme: str
    host: str  # canonical host[:port], the port only when not the scheme's default
    mode: str = "single"
    cookie_domain: str = ""
    bound_users: frozenset[str] = frozenset()
    bound_groups: frozenset[str] = frozenset()
    rules: tuple[Rule, ...] = ()
    strip_cookie: bool = False  # answer with a Cookie header without authgate's cookies
    jwt_bearer: bool = False  # answer with Authorization: Bearer <the X-authentik-jwt>
    basic_password: bool = False  # Basic with the user's real password (if MFA not required)
    allow_preflight: bool = False  # CORS preflights pass without a session
    case_insensitive_paths: bool = False  # every path rule matches in any letter case
    require_mfa: bool | None = None  # the app's own setting; None follows ``mfa_default``
    mfa_default: bool = False  # AUTHGATE_REQUIRE_MFA, set by whoever loads the apps
    icon: str = ""  # launcher: an image URL
    description: str = ""  # launcher: one line about the app
    # worked out once here, read on every check
    secure: bool = field(init=False, repr=False, compare=False)  # the URL is https
    has_bindings: bool = field(init=False, repr=False, compare=False)
    needs_mfa: bool = field(init=False, repr=False, compare=False)  # a second factor, always

    def __post_init__(self) -> None:
        object.__setattr__(self, "secure", self.scheme == "https")
        object.__setattr__(self, "has_bindings", bool(self.bound_users or self.bound_groups))
        needs = self.mfa_default if self.require_mfa is None else self.require_mfa
        object.__setattr__(self, "needs_mfa", needs)

    @property
    def paths(self) -> str:
        """The path option as the CLI and the state file spell it."""
        return "case-insensitive" if self.case_insensitive_paths else "case-sensitive"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def mfa(self) -> str:
        """The MFA option as the CLI and the state file spell it: required | optional |
        default (follows AUTHGATE_REQUIRE_MFA)."""
        if self.require_mfa is None:
            return "default"
        return "required" if self.require_mfa else "optional"


def with_mfa_default(apps: Iterable[AppView], default: bool) -> list[AppView]:
    """The apps with the global MFA default applied (AUTHGATE_REQUIRE_MFA)."""
    return [
        app if app.mfa_default == default else replace(app, mfa_default=default) for app in apps
    ]


class Account(Protocol):
    """What an identity is made of, of a user (``storage.store.users.UserInfo``)."""

    @property
    def id(self) -> int: ...
    @property
    def uid(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def groups(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Identity:
    session_id: str
    parent_id: str
    user_id: int
    uid: str
    username: str
    email: str
    name: str
    groups: tuple[str, ...] = field(default=())
    expires_at: float = 0.0
    amr: tuple[str, ...] = ()  # how the portal session signed in: PASSWORD, TOTP, …

    @classmethod
    def of_account(
        cls,
        account: Account,
        session_id: str,
        *,
        amr: tuple[str, ...] = (),
        expires_at: float = 0.0,
    ) -> Identity:
        """``account``'s identity under ``session_id`` (no parent session)."""
        return cls(
            session_id=session_id,
            parent_id="",
            user_id=account.id,
            uid=account.uid,
            username=account.username,
            email=account.email,
            name=account.name,
            groups=tuple(account.groups),
            expires_at=expires_at,
            amr=amr,
        )

    @property
    def second_factor(self) -> bool:
        """The session has proved more than a password (a passkey counts on its own)."""
        return any(method in SECOND_FACTORS for method in self.amr)
