"""An access rule as an admin writes it, checked into the ``RuleSpec`` the Store keeps.

``authgate app rule add`` and an entry of an app's ``rules:`` in the state file both go
through ``check_rule``, so the two accept exactly the same rules. It reports every problem,
each naming the rule's key; the caller says where (a flag, or ``apps.wiki.rules[2].path``).
The spec it returns is canonical (methods upper case, networks as CIDR, users and groups
sorted), so a rule read back from the store compares equal to the one written.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from authgate.forward.model import Rule
from authgate.storage.store import NAME, RuleSpec

ACTIONS = ("allow", "deny", "bypass")
KEYS = ("action", "path", "path_regex", "methods", "networks", "groups", "users")
METHOD = re.compile(r"^[A-Za-z]{1,20}$")


@dataclass(frozen=True)
class RuleProblem:
    key: str  # the state file's key (path, path_regex, methods, ...); "" for the whole rule
    text: str


def check_rule(
    action: str,
    *,
    path: str = "",
    path_regex: str = "",
    methods: Sequence[str] = (),
    networks: Sequence[str] = (),
    groups: Sequence[str] = (),
    users: Sequence[str] = (),
) -> tuple[RuleSpec, tuple[RuleProblem, ...]]:
    """The rule as the Store keeps it, and every problem with it (store it only when none)."""
    problems: list[RuleProblem] = []
    if not action:
        problems.append(RuleProblem("action", "is missing: allow, deny or bypass"))
    elif action not in ACTIONS:
        problems.append(RuleProblem("action", f"{action!r} must be allow, deny or bypass"))
    if path and not path.startswith("/"):
        problems.append(RuleProblem("path", f"{path!r} must start with /"))
    if path_regex:
        problems += _regex(path_regex)
    problems += [
        RuleProblem("methods", f"{m!r} is not an HTTP method")
        for m in methods
        if not METHOD.match(m)
    ]
    cidrs = _networks(networks, problems)
    problems += _names("groups", groups) + _names("users", users)
    if action == "bypass" and (groups or users):
        text = "a bypass rule lets anonymous requests through: it cannot name groups or users"
        problems.append(RuleProblem("", text))
    spec = RuleSpec(
        action=action,
        path_prefix=path,
        path_regex=path_regex,
        methods=tuple(sorted({m.upper() for m in methods})),
        networks=tuple(dict.fromkeys(cidrs)),
        users=tuple(sorted(set(users))),
        groups=tuple(sorted(set(groups))),
    )
    return spec, tuple(problems)


def _regex(regex: str) -> list[RuleProblem]:
    try:
        re.compile(regex)
    except re.error as exc:
        return [RuleProblem("path_regex", f"{regex!r} is not a valid regular expression: {exc}")]
    return []


def _names(key: str, names: Sequence[str]) -> list[RuleProblem]:
    """Users and groups a rule names must be names authgate could have made."""
    return [
        RuleProblem(key, f"{n!r} is not a valid {key[:-1]} name")
        for n in names
        if not NAME.match(n)
    ]


def _networks(networks: Sequence[str], problems: list[RuleProblem]) -> list[str]:
    cidrs = []
    for network in networks:
        try:
            cidrs.append(str(ipaddress.ip_network(network, strict=False)))
        except ValueError:
            text = f"{network!r} is not an address or CIDR range (e.g. 10.0.0.0/8)"
            problems.append(RuleProblem("networks", text))
    return cidrs


def skip_path(regex: str) -> RuleSpec:
    """The rule a ``--skip-path`` / ``skip_paths:`` entry stands for."""
    return RuleSpec("bypass", path_regex=regex)


def is_skip_path(spec: RuleSpec) -> bool:
    """A bypass on a path regex and nothing else: what ``skip_paths`` writes in short."""
    return bool(spec.path_regex) and spec == skip_path(spec.path_regex)


def split_skip_paths(specs: Sequence[RuleSpec]) -> tuple[tuple[str, ...], tuple[RuleSpec, ...]]:
    """An app's rules as ``skip_paths`` and ``rules``: the leading skip-path rules, then every
    rule from the first other one on, so that the order is kept exactly."""
    lead = 0
    while lead < len(specs) and is_skip_path(specs[lead]):
        lead += 1
    return tuple(s.path_regex for s in specs[:lead]), tuple(specs[lead:])


def from_view(rule: Rule) -> RuleSpec:
    """A rule of an ``AppView`` (as the Store loads it) back as the spec it was stored from."""
    return RuleSpec(
        action=rule.action,
        path_prefix=rule.path_prefix,
        path_regex=rule.path_regex.pattern if rule.path_regex is not None else "",
        methods=tuple(sorted(rule.methods)),
        networks=tuple(str(n) for n in rule.networks),
        users=tuple(sorted(rule.users)),
        groups=tuple(sorted(rule.groups)),
    )


def describe(spec: RuleSpec) -> str:
    """One line, as ``authgate app rule list`` prints it (the spec must be checked)."""
    return Rule(
        action=spec.action,
        path_prefix=spec.path_prefix,
        path_regex=re.compile(spec.path_regex) if spec.path_regex else None,
        methods=frozenset(spec.methods),
        networks=tuple(ipaddress.ip_network(n, strict=False) for n in spec.networks),
        users=frozenset(spec.users),
        groups=frozenset(spec.groups),
    ).describe()


def rule_data(spec: RuleSpec) -> dict[str, Any]:
    """The rule as an entry of ``rules:`` in the state file, leaving out what is empty."""
    out: dict[str, Any] = {
        "action": spec.action,
        "path": spec.path_prefix,
        "path_regex": spec.path_regex,
        "methods": list(spec.methods),
        "networks": list(spec.networks),
        "groups": list(spec.groups),
        "users": list(spec.users),
    }
    return {k: v for k, v in out.items() if v not in ("", [])}
