"""The state file: typed, validated on reading (every problem at once), written back in
the same shape.

```yaml
groups: [admins, staff]
users:
  alice: {email: alice@example.com, name: Alice, groups: [staff]}
apps:
  grafana:
    url: https://grafana.example.com
    groups: [staff]
    strip_cookie: true
    skip_paths: ["^/api/health$"]
    rules:
      - {action: allow, path: /admin, groups: [admins]}
      - {action: deny, path: /admin}
```

An app's rules are ``skip_paths`` (bypass on a path regex, nothing else) followed by
``rules``, in that order. Export writes the leading run of such bypass rules as
``skip_paths`` and every rule from the first other one on under ``rules``, so the order is
kept exactly. Passwords are never written; ``password_hash:`` (argon2id) may be given to
``apply``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from authgate.errors import ConfigError
from authgate.forward.hosts import canonical_host, url_host, within_domain
from authgate.statefile.rules import KEYS, check_rule, rule_data, skip_path
from authgate.storage.store import NAME, SLUG, RuleSpec
from authgate.storage.store.names import icon_problem, one_line

USER_KEYS = {"email", "name", "groups", "disabled", "password_hash"}
APP_KEYS = {
    "url",
    "name",
    "mode",
    "cookie_domain",
    "groups",
    "users",
    "strip_cookie",
    "jwt_bearer",
    "basic_password",
    "allow_preflight",
    "paths",
    "mfa",
    "icon",
    "description",
    "skip_paths",
    "rules",
}
PATHS = ("case-sensitive", "case-insensitive")
MFA = ("default", "required", "optional")


@dataclass(frozen=True)
class UserState:
    email: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()
    disabled: bool = False
    password_hash: str | None = None  # only when the file gives one; never exported


@dataclass(frozen=True)
class AppState:
    url: str
    name: str = ""
    mode: str = "single"
    cookie_domain: str = ""
    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    skip_paths: tuple[str, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    strip_cookie: bool = False
    jwt_bearer: bool = False  # the answer also carries Authorization: Bearer <the JWT>
    basic_password: bool = False  # Basic with the user's real password is accepted
    allow_preflight: bool = False
    paths: str = "case-sensitive"  # or case-insensitive: path rules match in any case
    mfa: str = "default"  # required | optional | default (AUTHGATE_REQUIRE_MFA)
    icon: str = ""
    description: str = ""

    @property
    def require_mfa(self) -> bool | None:
        return None if self.mfa == "default" else self.mfa == "required"

    def all_rules(self) -> tuple[RuleSpec, ...]:
        """Every rule in the order it is tried: the skip paths, then ``rules``."""
        return (*(skip_path(regex) for regex in self.skip_paths), *self.rules)


@dataclass(frozen=True)
class State:
    groups: tuple[str, ...] = ()
    users: Mapping[str, UserState] = field(default_factory=dict)
    apps: Mapping[str, AppState] = field(default_factory=dict)

    def all_groups(self) -> set[str]:
        """The groups named anywhere: listed, joined by a user, or bound to an app."""
        named = set(self.groups)
        for user in self.users.values():
            named.update(user.groups)
        for app in self.apps.values():
            named.update(app.groups)
        return named


class _Reader:
    """Collects every problem while reading, so the file is fixed in one go."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(where, "must be a mapping")
            return {}
        return {str(k): v for k, v in value.items()}

    def names(self, value: Any, where: str, pattern: re.Pattern[str] = NAME) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, list):
            self.problem(where, "must be a list")
            return ()
        out = []
        for item in value:
            if not isinstance(item, str) or not pattern.match(item):
                self.problem(where, f"{item!r} is not a valid name")
            elif item not in out:
                out.append(item)
        return tuple(out)

    def text(self, value: Any, where: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problem(where, "must be a string")
            return ""
        return value

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, list):
            self.problem(where, "must be a list")
            return ()
        if not all(isinstance(item, str) for item in value):
            self.problem(where, "must be a list of strings")
            return ()
        return tuple(value)

    def flag(self, value: Any, where: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problem(where, "must be true or false")
            return False
        return value

    def unknown_keys(self, data: dict[str, Any], allowed: set[str], where: str) -> None:
        for k in sorted(set(data) - allowed):
            self.problem(where, f"unknown key {k!r} (known: {', '.join(sorted(allowed))})")


def _user(r: _Reader, name: str, raw: Any) -> UserState:
    where = f"users.{name}"
    if not NAME.match(name):
        r.problem(where, "is not a valid user name")
    data = r.mapping(raw, where)
    r.unknown_keys(data, USER_KEYS, where)
    disabled = r.flag(data.get("disabled"), f"{where}.disabled")
    password_hash = r.text(data.get("password_hash"), f"{where}.password_hash") or None
    if password_hash and not password_hash.startswith("$argon2"):
        r.problem(f"{where}.password_hash", "must be an argon2 hash ($argon2id$...)")
    return UserState(
        email=r.text(data.get("email"), f"{where}.email"),
        name=r.text(data.get("name"), f"{where}.name"),
        groups=r.names(data.get("groups"), f"{where}.groups"),
        disabled=disabled,
        password_hash=password_hash,
    )


def _app(r: _Reader, slug: str, raw: Any) -> AppState:
    where = f"apps.{slug}"
    if not SLUG.match(slug):
        r.problem(where, "is not a valid slug (lower-case letters, digits and -)")
    data = r.mapping(raw, where)
    r.unknown_keys(data, APP_KEYS, where)
    url = origin(r.text(data.get("url"), f"{where}.url"))
    if url is None:
        r.problem(f"{where}.url", "must be an absolute http(s) URL such as https://app.example.com")
    mode = data.get("mode", "single")
    domain = r.text(data.get("cookie_domain"), f"{where}.cookie_domain").strip(".").lower()
    if mode not in ("single", "domain"):
        r.problem(f"{where}.mode", "must be single or domain")
    elif mode == "domain" and (not domain or canonical_host(domain) != domain):
        r.problem(f"{where}.cookie_domain", "mode domain needs a cookie_domain such as example.com")
    elif mode == "domain" and url and not within_domain(urlsplit(url).hostname or "", domain):
        r.problem(f"{where}.cookie_domain", "the app's host must lie within it")
    elif mode == "single" and domain:
        r.problem(f"{where}.cookie_domain", "only applies with mode: domain")
    paths = r.text(data.get("paths"), f"{where}.paths") or "case-sensitive"
    if paths not in PATHS:
        r.problem(f"{where}.paths", "must be case-sensitive or case-insensitive")
    mfa = r.text(data.get("mfa"), f"{where}.mfa") or "default"
    if mfa not in MFA:
        r.problem(f"{where}.mfa", "must be required, optional or default")
    skip = r.names(data.get("skip_paths"), f"{where}.skip_paths", re.compile(r".+"))
    for regex in skip:
        for problem in check_rule("bypass", path_regex=regex)[1]:
            r.problem(f"{where}.skip_paths", problem.text)
    return AppState(
        url=url or "",
        name=r.text(data.get("name"), f"{where}.name"),
        mode=str(mode),
        cookie_domain=domain,
        groups=r.names(data.get("groups"), f"{where}.groups"),
        users=r.names(data.get("users"), f"{where}.users"),
        skip_paths=skip,
        rules=_rules(r, f"{where}.rules", data.get("rules")),
        strip_cookie=r.flag(data.get("strip_cookie"), f"{where}.strip_cookie"),
        jwt_bearer=r.flag(data.get("jwt_bearer"), f"{where}.jwt_bearer"),
        basic_password=r.flag(data.get("basic_password"), f"{where}.basic_password"),
        allow_preflight=r.flag(data.get("allow_preflight"), f"{where}.allow_preflight"),
        paths=paths,
        mfa=mfa,
        icon=_icon(r, data.get("icon"), f"{where}.icon"),
        description=one_line(r.text(data.get("description"), f"{where}.description")),
    )


def _icon(r: _Reader, raw: Any, where: str) -> str:
    icon = r.text(raw, where).strip()
    problem = icon_problem(icon) if icon else ""
    if problem:
        r.problem(where, problem)
    return icon


def _rules(r: _Reader, where: str, raw: Any) -> tuple[RuleSpec, ...]:
    """The rules in order; a problem's location is ``rules[i]`` (counted from 0)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        r.problem(where, "must be a list of rules such as {action: deny, path: /admin}")
        return ()
    return tuple(_rule(r, f"{where}[{i}]", item) for i, item in enumerate(raw))


def _rule(r: _Reader, where: str, raw: Any) -> RuleSpec:
    if not isinstance(raw, dict):
        r.problem(where, "must be a mapping such as {action: deny, path: /admin}")
        return RuleSpec("deny")
    data = {str(k): v for k, v in raw.items()}
    r.unknown_keys(data, set(KEYS), where)
    spec, problems = check_rule(
        r.text(data.get("action"), f"{where}.action"),
        path=r.text(data.get("path"), f"{where}.path"),
        path_regex=r.text(data.get("path_regex"), f"{where}.path_regex"),
        methods=r.strings(data.get("methods"), f"{where}.methods"),
        networks=r.strings(data.get("networks"), f"{where}.networks"),
        groups=r.strings(data.get("groups"), f"{where}.groups"),
        users=r.strings(data.get("users"), f"{where}.users"),
    )
    for problem in problems:
        r.problem(f"{where}.{problem.key}" if problem.key else where, problem.text)
    return spec


def origin(url: str) -> str | None:
    parts = urlsplit(url.strip())
    host = canonical_host(parts.netloc) if parts.netloc and "@" not in parts.netloc else None
    if parts.scheme not in ("http", "https") or host is None:
        return None
    return f"{parts.scheme}://{host}"


def claim_problems(
    apps: Mapping[str, AppState], kept: Mapping[str, AppState] | None = None
) -> list[tuple[str, str]]:
    """(where, problem) for every app of ``apps`` whose host, or domain-mode cookie domain,
    an earlier app of ``apps`` or any app of ``kept`` (in the store, not in the file) holds."""
    hosts: dict[str, str] = {}
    domains: dict[str, str] = {}
    for slug, app in (kept or {}).items():
        hosts[url_host(app.url)] = f"app {slug} (in the store, not in the file)"
        if app.mode == "domain":
            domains[app.cookie_domain] = f"app {slug} (in the store, not in the file)"
    found = []
    for slug, app in sorted(apps.items()):
        host = url_host(app.url) if app.url else ""
        if host and host in hosts:
            found.append((f"apps.{slug}.url", f"host {host} is already the host of {hosts[host]}"))
        elif host:
            hosts[host] = f"app {slug}"
        domain = app.cookie_domain if app.mode == "domain" else ""
        if domain and domain in domains:
            text = f"cookie domain {domain} is already shared by domain-mode {domains[domain]}"
            found.append((f"apps.{slug}.cookie_domain", text))
        elif domain:
            domains[domain] = f"app {slug}"
    return found


def parse_state(text: str) -> State:
    """The state in ``text``; ConfigError listing every problem when it is not usable."""
    try:
        raw = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise ConfigError([f"not valid YAML: {str(exc).splitlines()[0]}"]) from exc
    r = _Reader()
    data = r.mapping(raw, "the file")
    r.unknown_keys(data, {"groups", "users", "apps"}, "the file")
    state = State(
        groups=r.names(data.get("groups"), "groups"),
        users={
            str(k): _user(r, str(k), v) for k, v in r.mapping(data.get("users"), "users").items()
        },
        apps={str(k): _app(r, str(k), v) for k, v in r.mapping(data.get("apps"), "apps").items()},
    )
    for slug, app in state.apps.items():
        for user in app.users:
            if user not in state.users:
                r.problem(f"apps.{slug}.users", f"{user!r} is not among the file's users")
    for where, text in claim_problems(state.apps):
        r.problem(where, text)
    if r.problems:
        raise ConfigError(r.problems)
    return state


def state_data(state: State) -> dict[str, Any]:
    """The state as plain data, leaving out what is empty or the default."""

    def user(u: UserState) -> dict[str, Any]:
        out: dict[str, Any] = {"email": u.email, "name": u.name, "groups": list(u.groups)}
        if u.disabled:
            out["disabled"] = True
        return {k: v for k, v in out.items() if v not in ("", [])}

    def app(a: AppState) -> dict[str, Any]:
        out: dict[str, Any] = {"url": a.url, "name": a.name}
        if a.mode != "single":
            out["mode"], out["cookie_domain"] = a.mode, a.cookie_domain
        out.update(groups=list(a.groups), users=list(a.users))
        switches = ("strip_cookie", "jwt_bearer", "basic_password", "allow_preflight")
        out.update({k: True for k in switches if getattr(a, k)})
        if a.paths != "case-sensitive":
            out["paths"] = a.paths
        if a.mfa != "default":
            out["mfa"] = a.mfa
        out.update(icon=a.icon, description=a.description)
        out.update(skip_paths=list(a.skip_paths), rules=[rule_data(x) for x in a.rules])
        return {k: v for k, v in out.items() if v not in ("", [])}

    return {
        "groups": sorted(state.groups),
        "users": {name: user(u) for name, u in sorted(state.users.items())},
        "apps": {slug: app(a) for slug, a in sorted(state.apps.items())},
    }
