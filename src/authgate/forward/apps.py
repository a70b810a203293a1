"""Host -> Application, from an in-memory index rebuilt whenever the store changes.

One app per canonical host, one domain-mode app per cookie domain. The store refuses a
second claim; a store that holds one anyway (written before that rule) is not resolved by
picking one: the host or cookie domain is a ``Conflict``, refused until an admin fixes it.
Where a host app and a domain-mode app both cover a host, the host app decides (the more
specific claim wins); among domain-mode apps, the longest cookie domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from authgate.forward.hosts import hostname_of, within_domain
from authgate.forward.model import AppView
from authgate.forward.request import ForwardRequest


@dataclass(frozen=True)
class Conflict:
    """Two or more apps claim one host (``kind`` "host") or cookie domain ("cookie domain")."""

    kind: str
    name: str
    slugs: tuple[str, ...]  # the oldest app first

    @property
    def reason(self) -> str:
        apps = ", ".join(self.slugs[:-1]) + " and " + self.slugs[-1]
        return f"{self.kind} {self.name} is claimed by apps {apps}: refused until one is moved"

    @property
    def fix(self) -> str:
        later = self.slugs[1:]
        if self.kind == "host":
            moves = "; ".join(f"authgate app set {s} --url NEW-URL" for s in later)
        else:
            moves = "; ".join(f"change cookie_domain of {s} with authgate apply" for s in later)
        deletes = "; ".join(f"authgate app delete {s}" for s in later)
        return f"{moves} (or: {deletes})"


def find_conflicts(apps: Iterable[AppView]) -> list[Conflict]:
    """Every host and cookie domain that more than one app claims."""
    hosts: dict[str, list[AppView]] = defaultdict(list)
    domains: dict[str, list[AppView]] = defaultdict(list)
    for app in apps:
        hosts[app.host].append(app)
        if app.mode == "domain" and app.cookie_domain:
            domains[app.cookie_domain].append(app)
    found = []
    for kind, claims in (("host", hosts), ("cookie domain", domains)):
        for name, owners in sorted(claims.items()):
            if len(owners) > 1:
                slugs = tuple(a.slug for a in sorted(owners, key=lambda a: a.id))
                found.append(Conflict(kind, name, slugs))
    return found


class AppIndex:
    """Exact hosts first; then domain-mode apps, the longest cookie domain first."""

    def __init__(self, apps: Iterable[AppView] = ()) -> None:
        listed = list(apps)
        self.apps: dict[str, AppView] = {app.slug: app for app in listed}
        self.conflicts = find_conflicts(listed)
        by_kind = {(c.kind, c.name): c for c in self.conflicts}
        self.by_host: dict[str, AppView | Conflict] = {}
        domains: dict[str, AppView | Conflict] = {}
        for app in listed:
            self.by_host[app.host] = by_kind.get(("host", app.host), app)
            if app.mode == "domain" and app.cookie_domain:
                domain = app.cookie_domain
                domains[domain] = by_kind.get(("cookie domain", domain), app)
        self.domains = sorted(domains.items(), key=lambda item: -len(item[0]))

    def resolve(self, host: str) -> AppView | Conflict | None:
        """The app that answers for ``host``, the conflict that blocks it, or None."""
        found = self.by_host.get(host)
        if found is not None:
            return found
        name = hostname_of(host)
        for domain, claim in self.domains:
            if within_domain(name, domain):
                return claim
        return None

    def find(
        self, request: ForwardRequest, trace: list[str] | None = None
    ) -> AppView | Conflict | None:
        """``resolve`` for a request; with ``trace``, the request and why this app answers."""
        found = self.resolve(request.host)
        if trace is not None:
            where = f"{request.method} {request.host}{request.path} from {request.client_ip}"
            trace.append(f"request: {where}")
            trace += self._explain(request.host, found)
        return found

    def _explain(self, host: str, app: AppView | Conflict | None) -> list[str]:
        """Which app answers for ``host`` and why (the trace only)."""
        if app is None:
            return [f"app: no app registered for host {host}"]
        if isinstance(app, Conflict):
            return [f"app: none: {app.reason} (fix: {app.fix})"]
        if app.host == host:
            line = f"app: {app.slug} (host {app.host})"
        else:
            line = f"app: {app.slug} (domain mode, {host} is under {app.cookie_domain})"
        lines = [line]
        for other in self.passed_over(host, app):
            lines.append(
                f"app: {app.slug} is more specific than domain-mode app {other.slug} "
                f"(cookie domain {other.cookie_domain}), so {app.slug} decides"
            )
        if app.case_insensitive_paths:
            lines.append("paths: case-insensitive (every path rule matches in any letter case)")
        return lines

    def lookup(self, host: str) -> AppView | None:
        """The app for ``host``; None when there is none or when apps conflict over it."""
        found = self.resolve(host)
        return found if isinstance(found, AppView) else None

    def passed_over(self, host: str, chosen: AppView) -> list[AppView]:
        """Domain-mode apps that cover ``host`` too but are less specific than ``chosen``."""
        name = hostname_of(host)
        return [
            claim
            for domain, claim in self.domains
            if isinstance(claim, AppView) and claim is not chosen and within_domain(name, domain)
        ]

    def __len__(self) -> int:
        return len(self.apps)
