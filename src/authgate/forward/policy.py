"""The order of judgement (DESIGN.md), whole and pure: ``decide`` takes the app, the
canonical request and the identity the gate found, and returns the Decision.

1. no app: unknown host (or apps conflict over the host); authentik's query markers;
   CORS preflights of apps that let them through;
2. the app's rules judged without identity (``prejudge``);
3. no valid session: login (Challenge);
4. bindings; 5. the rules again, now with identity;
6. an allowed request to an app that needs MFA, by a session that proved no second factor:
   login again (a Challenge), where the portal asks only for the second factor (step-up).

No I/O, no signer, no clock. Each step appends a line to ``trace`` when one is given; that
trace is what ``authgate explain`` prints.
"""

from __future__ import annotations

import enum
from typing import TypeGuard

from authgate.forward.apps import Conflict
from authgate.forward.cookies import expire_app_cookie, strip_own_cookies
from authgate.forward.decision import (
    Allow,
    Challenge,
    Decision,
    Deny,
    Redirect,
    Unavailable,
    UnknownHost,
)
from authgate.forward.model import AppView, Identity, Rule
from authgate.forward.redirects import login_url
from authgate.forward.request import ForwardRequest

Trace = list[str] | None
CALLBACK_MARKER = "X-authentik-auth-callback=true"
LOGOUT_MARKER = "X-authentik-logout=true"
SECOND_FACTOR_REQUIRED = "second factor required"


class CookieState(enum.Enum):
    """What the gate found of the app cookie: it says why there is no identity."""

    ABSENT = "absent"
    BAD = "bad"  # sent but did not verify, or names no live session of this app
    VALID = "valid"


def decide(
    app: AppView | Conflict | None,
    request: ForwardRequest,
    identity: Identity | None,
    cookie_state: CookieState,
    trace: Trace = None,
    *,
    prefix: str,
) -> Decision:
    """The whole order of judgement. ``prefix`` is the outpost path prefix (login URLs)."""
    if not isinstance(app, AppView):
        return _no_app(request, app)
    early = _before_login(app, request, prefix, trace)
    if early is not None:
        return early
    if identity is None:
        return _challenge(app, request, cookie_state, prefix, trace)
    return _with_identity(app, request, identity, prefix, trace)


def needs_session(app: AppView | Conflict | None, request: ForwardRequest) -> TypeGuard[AppView]:
    """True when ``decide`` reaches step 3 for this request: only then is the session worth
    looking up (a bypass or a deny before login never touches the session store)."""
    if not isinstance(app, AppView):
        return False
    if request.can_redirect and _marker(request.uri):
        return False
    if request.preflight and app.allow_preflight:
        return False
    return prejudge(app, request) is None


def _no_app(request: ForwardRequest, found: Conflict | None) -> Decision:
    """No app answers: an unknown host, or one that apps conflict over (refused, never
    handed to one of them)."""
    if found is None:
        return UnknownHost(request.host)
    return Unavailable(f"{found.reason}; fix: {found.fix}")


def _before_login(
    app: AppView, request: ForwardRequest, prefix: str, trace: Trace
) -> Decision | None:
    # authentik's query markers need a redirect; nginx cannot relay one (a 401 would send
    # the browser to start and back here: a loop), and its outpost location serves both.
    marker = _marker(request.uri) if request.can_redirect else ""
    if marker:
        _note(trace, f"query marker: authentik {marker}")
        _, _, query = request.uri.partition("?")
        where = f"{app.scheme}://{request.host}{prefix}/{marker}"
        return Redirect(where + ("?" + query if marker == "callback" else ""), marker)
    if request.preflight and app.allow_preflight:
        _note(trace, "CORS preflight: allowed without a session for this app")
        return Allow(app, None, "CORS preflight allowed for this app")
    rule = prejudge(app, request, trace)
    if rule is not None and rule.action == "bypass":
        return Allow(app, None, "bypass rule: no login needed", cookie=_cookie(app, request))
    if rule is not None:
        return Deny(app, None, "a deny rule matched before login", "")
    return None


def _challenge(
    app: AppView, request: ForwardRequest, cookie_state: CookieState, prefix: str, trace: Trace
) -> Challenge:
    bad = cookie_state is CookieState.BAD
    reason = "cookie did not verify" if bad else "no session"
    _note(trace, f"session: none ({reason}): login")
    clear = expire_app_cookie(app) if bad else ""
    return Challenge(app, login_url(app, request, prefix), reason, clear)


def _with_identity(
    app: AppView, request: ForwardRequest, identity: Identity, prefix: str, trace: Trace
) -> Decision:
    if trace is not None:
        groups = ", ".join(identity.groups) or "-"
        factors = f", signed in with {','.join(identity.amr)}" if identity.amr else ""
        trace.append(f"session: user {identity.username}, groups {groups}{factors}")
    allowed, reason = judge_with_identity(app, request, identity, trace)
    if not allowed:
        return Deny(app, identity, reason, needs_phrase(app))
    if app.needs_mfa:
        step_up = not identity.second_factor
        if trace is not None:
            has = ",".join(identity.amr) or "no factor"
            then = "second factor step" if step_up else "satisfied"
            trace.append(f"mfa: required, session has {has}: {then}")
        if step_up:
            return Challenge(app, login_url(app, request, prefix), SECOND_FACTOR_REQUIRED)
    return Allow(app, identity, reason, cookie=_cookie(app, request))


def _cookie(app: AppView, request: ForwardRequest) -> str | None:
    """The Cookie header the upstream gets: without authgate's cookies, for apps that ask."""
    return strip_own_cookies(request.cookie) if app.strip_cookie else None


def _marker(uri: str) -> str:
    if "?" not in uri:
        return ""
    query = uri.partition("?")[2]
    if CALLBACK_MARKER in query:
        return "callback"
    if LOGOUT_MARKER in query:
        return "sign_out"
    return ""


def _note(trace: Trace, line: str) -> None:
    if trace is not None:
        trace.append(line)


def rule_matches_request(rule: Rule, request: ForwardRequest) -> bool:
    """Path, method and network conditions (not users or groups)."""
    if rule.path_prefix and not _prefix_match(request.path, rule):
        return False
    if rule.path_regex is not None and not rule.path_regex.match(request.path):
        return False
    if rule.methods and request.method not in rule.methods:
        return False
    if rule.networks:
        address = request.address
        if address is None or not any(address in net for net in rule.networks):
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
