"""Plain, frozen views of apps, rules and identities that the hot path judges with."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cached_property

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    allow_preflight: bool = False  # CORS preflights pass without a session
    case_insensitive_paths: bool = False  # every path rule matches in any letter case
    # worked out once here, read on every check
    secure: bool = field(init=False, repr=False, compare=False)  # the URL is https
    has_bindings: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "secure", self.scheme == "https")
        object.__setattr__(self, "has_bindings", bool(self.bound_users or self.bound_groups))

    @property
    def paths(self) -> str:
        """The path option as the CLI and the state file spell it."""
        return "case-insensitive" if self.case_insensitive_paths else "case-sensitive"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"


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
