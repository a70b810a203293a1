"""The order of judgement (DESIGN.md): rules without identity, session, bindings, rules.

Pure functions of (app, request, identity). Each step appends a line to ``trace`` when one
is given; that trace is what ``authgate explain`` prints.
"""

from __future__ import annotations

import ipaddress

from authgate.forward.context import ForwardRequest
from authgate.forward.model import AppView, Identity, Rule

Trace = list[str] | None


def rule_matches_request(rule: Rule, request: ForwardRequest) -> bool:
    """Path, method and network conditions (not users or groups)."""
    if rule.path_prefix and not _prefix_match(request.path, rule):
        return False
    if rule.path_regex is not None and not rule.path_regex.match(request.path):
        return False
    if rule.methods and request.method not in rule.methods:
        return False
    if rule.networks:
        try:
            ip = ipaddress.ip_address(request.client_ip)
        except ValueError:
            return False
        if not any(ip in net for net in rule.networks):
            return False
    return True


def _prefix_match(path: str, rule: Rule) -> bool:
    if rule.ignore_case:
        return rule.prefix_pattern.match(path) is not None
    prefix = rule.path_prefix
    if prefix.endswith("/"):
        return path.startswith(prefix) or path == prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def prejudge(app: AppView, request: ForwardRequest, trace: Trace = None) -> Rule | None:
    """Step 2: rules judged without identity. The first rule whose path, method and network
    hold decides when it is ``bypass`` or ``deny``; one that is ``allow`` or names users or
    groups needs an identity, which ends this step."""
    for position, rule in enumerate(app.rules, 1):
        if not rule_matches_request(rule, request):
            if trace is not None:
                trace.append(f"rule {position} ({rule.describe()}) does not match")
            continue
        if rule.action == "allow" or rule.needs_identity:
            if trace is not None:
                trace.append(f"rule {position} ({rule.describe()}) matches, needs a user")
            return None
        if trace is not None:
            trace.append(f"rule {position} ({rule.describe()}) matches: {rule.action}")
        return rule
    return None


def names_identity(users: frozenset[str], groups: frozenset[str], identity: Identity) -> bool:
    """True when the user is listed, or is in one of the listed groups."""
    return identity.username in users or any(g in groups for g in identity.groups)


def is_bound(app: AppView, identity: Identity) -> bool:
    return not app.has_bindings or names_identity(app.bound_users, app.bound_groups, identity)


def needs_phrase(app: AppView) -> str:
    """What the app requires, for the deny page: 'group admins', 'user bob or group ops'."""
    parts: list[str] = []
    if app.bound_groups:
        groups = sorted(app.bound_groups)
        parts.append(("group " if len(groups) == 1 else "one of the groups ") + ", ".join(groups))
    if app.bound_users:
        users = sorted(app.bound_users)
        parts.append(("user " if len(users) == 1 else "one of the users ") + ", ".join(users))
    return " or ".join(parts) or "a rule that allows you"


def judge_with_identity(
    app: AppView, request: ForwardRequest, identity: Identity, trace: Trace = None
) -> tuple[bool, str]:
    """Steps 4-5: (allowed, reason)."""
    if not is_bound(app, identity):
        reason = f"user {identity.username} is not bound to app {app.slug}"
        if trace is not None:
            trace.append(f"bindings: {reason}")
        return False, reason
    if trace is not None:
        trace.append("bindings: " + ("bound" if app.has_bindings else "none (any signed-in user)"))
    for position, rule in enumerate(app.rules, 1):
        miss = ""
        if not rule_matches_request(rule, request):
            miss = "does not match"
        elif rule.needs_identity and not names_identity(rule.users, rule.groups, identity):
            miss = f"is not for user {identity.username}"
        if miss:
            if trace is not None:
                trace.append(f"rule {position} ({rule.describe()}) {miss}")
            continue
        if trace is not None:
            trace.append(f"rule {position} ({rule.describe()}) matches: {rule.action}")
        if rule.action == "deny":
            return False, f"rule {position} denies"
        return True, f"rule {position} allows"
    return True, "no rule matched: allowed"
