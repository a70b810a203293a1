"""What ``apply`` would change: the store's state against the file's, as a list of changes.

Pure: no store, no I/O. Objects the file names are made to match it exactly (fields,
switches, memberships, bindings, rules in order); objects it does not name are deleted only
with ``prune``. Group ``admins`` never loses its last member: the plan keeps one instead.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from authgate.errors import ConfigError
from authgate.forward.hosts import url_host
from authgate.statefile.model import AppState, State, UserState, claim_problems
from authgate.statefile.rules import describe
from authgate.storage.store import RuleSpec

ADMINS = "admins"


@dataclass(frozen=True)
class Change:
    action: str  # add | update | delete | keep
    kind: str  # group | user | app
    name: str
    details: tuple[str, ...] = ()
    user: UserState | None = None
    app: AppState | None = None

    def describe(self) -> str:
        sign = {"add": "+", "update": "~", "delete": "-", "keep": "="}[self.action]
        tail = f": {'; '.join(self.details)}" if self.details else ""
        return f"{sign} {self.kind} {self.name}{tail}"

    def as_data(self) -> dict[str, object]:
        return {
            "action": self.action,
            "kind": self.kind,
            "name": self.name,
            "details": list(self.details),
        }


def _set_diff(label: str, old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    added = [f"+{x}" for x in new if x not in old]
    removed = [f"-{x}" for x in old if x not in new]
    return [f"{label} {' '.join(added + removed)}"] if added or removed else []


def _field(label: str, old: object, new: object) -> list[str]:
    return [f"{label} {old!r} -> {new!r}"] if old != new else []


def _user_details(old: UserState, new: UserState) -> list[str]:
    details = _field("email", old.email, new.email) + _field("name", old.name, new.name)
    details += _set_diff("groups", old.groups, new.groups)
    if old.disabled != new.disabled:
        details.append("disabled" if new.disabled else "enabled")
    if new.password_hash and new.password_hash != old.password_hash:
        details.append("password hash replaced")
    return details


def _app_details(slug: str, old: AppState, new: AppState) -> list[str]:
    details = _field("url", old.url, new.url)
    details += _field("name", old.name or slug, new.name or slug)
    details += _field("mode", old.mode, new.mode)
    details += _field("cookie_domain", old.cookie_domain, new.cookie_domain)
    details += _set_diff("groups", old.groups, new.groups)
    details += _set_diff("users", old.users, new.users)
    details += _field("strip_cookie", old.strip_cookie, new.strip_cookie)
    details += _field("jwt_bearer", old.jwt_bearer, new.jwt_bearer)
    details += _field("basic_password", old.basic_password, new.basic_password)
    details += _field("allow_preflight", old.allow_preflight, new.allow_preflight)
    details += _field("paths", old.paths, new.paths)
    details += _field("mfa", old.mfa, new.mfa)
    details += _field("icon", old.icon, new.icon)
    details += _field("description", old.description, new.description)
    return details + _rules_diff(old.all_rules(), new.all_rules())


def _rules_diff(old: tuple[RuleSpec, ...], new: tuple[RuleSpec, ...]) -> list[str]:
    """The rules removed (``-#N``, their old place) and added (``+#N``, their new place),
    numbered as ``authgate app rule list`` shows them; unchanged rules are not listed."""
    details: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        details += [f"rule -#{i + 1} {describe(old[i])}" for i in range(i1, i2)]
        details += [f"rule +#{j + 1} {describe(new[j])}" for j in range(j1, j2)]
    return details


def _protect_admins(current: State, desired: State, prune: bool) -> tuple[State, list[Change]]:
    """Keep one member of ``admins`` when the file would leave it empty."""
    members = sorted(n for n, u in current.users.items() if ADMINS in u.groups)
    if not members:
        return desired, []

    def stays(name: str) -> bool:
        if name in desired.users:
            return ADMINS in desired.users[name].groups
        return not prune

    if any(stays(n) for n in members) and (ADMINS in desired.all_groups() or not prune):
        return desired, []
    keeper = members[0]
    users = dict(desired.users)
    base = users.get(keeper, current.users[keeper])
    users[keeper] = replace(
        base, groups=(*base.groups, ADMINS) if ADMINS not in base.groups else base.groups
    )
    note = Change("keep", "user", keeper, (f"the last member of group {ADMINS}",))
    return replace(desired, users=users), [note]


def _app_changes(current: State, desired: State, prune: bool) -> list[Change]:
    """Adds and updates of apps (and, with ``prune``, deletions), in an order where no app
    ever takes a host or cookie domain that another still holds. A file that would leave
    two apps with one host (one of them an app it does not name) is refused."""
    kept = {s: a for s, a in current.apps.items() if s not in desired.apps and not prune}
    problems = claim_problems(desired.apps, kept)
    if problems:
        raise ConfigError([f"{where}: {text}" for where, text in problems])
    changes: list[Change] = []
    for slug, want_app in sorted(desired.apps.items()):
        have_app = current.apps.get(slug)
        if have_app is None:
            added = (want_app.url, *_rules_diff((), want_app.all_rules()))
            changes.append(Change("add", "app", slug, added, app=want_app))
        elif app_changes := _app_details(slug, have_app, want_app):
            changes.append(Change("update", "app", slug, tuple(app_changes), app=want_app))
    if prune:
        changes += [
            Change("delete", "app", s) for s in sorted(set(current.apps) - set(desired.apps))
        ]
    return _release_first(current, changes)


def _claims(app: AppState | None) -> set[str]:
    if app is None:
        return set()
    domain = {f"domain {app.cookie_domain}"} if app.mode == "domain" else set()
    return {f"host {url_host(app.url)}", *domain}


def _release_first(current: State, changes: list[Change]) -> list[Change]:
    """``changes`` in their order, except that an app giving up a host or cookie domain is
    changed before the app that takes it; two apps swapping hosts are refused."""
    held = {slug: _claims(app) for slug, app in current.apps.items()}
    waits = {
        c.name: {
            d.name for d in changes if d.name != c.name and held.get(d.name, set()) & _claims(c.app)
        }
        for c in changes
    }
    ordered: list[Change] = []
    pending = list(changes)
    while pending:
        done = {c.name for c in ordered}
        ready = next((c for c in pending if waits[c.name] <= done), None)
        if ready is None:
            names = ", ".join(c.name for c in pending)
            raise ConfigError(
                [f"apps {names} take each other's hosts: move one to a free URL in a first apply"]
            )
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def plan(current: State, desired: State, *, prune: bool = False) -> list[Change]:
    """Changes in the order they can be carried out: adds and updates, then deletions."""
    desired, notes = _protect_admins(current, desired, prune)
    changes: list[Change] = []
    have_groups, want_groups = set(current.all_groups()), desired.all_groups()
    changes += [Change("add", "group", g) for g in sorted(want_groups - have_groups)]
    for name, want in sorted(desired.users.items()):
        have = current.users.get(name)
        if have is None:
            joined = tuple(_set_diff("groups", (), want.groups))
            changes.append(Change("add", "user", name, joined, user=want))
        elif user_changes := _user_details(have, want):
            changes.append(Change("update", "user", name, tuple(user_changes), user=want))
    changes += _app_changes(current, desired, prune)
    if prune:
        changes += [
            Change("delete", "user", n) for n in sorted(set(current.users) - set(desired.users))
        ]
        changes += [Change("delete", "group", g) for g in sorted(have_groups - want_groups)]
    return notes + changes
