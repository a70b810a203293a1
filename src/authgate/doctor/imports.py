"""``authgate import``: the apps an existing setup protects, registered in authgate.

Every host behind forward auth becomes an app: the slug from the Ingress, IngressRoute or
router name, the URL from the host and its TLS, and as skip paths the routes the manifests
leave open on that host (the outpost route aside). A host authgate already serves is left
alone, so running it twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from authgate.doctor.findings import Where
from authgate.doctor.routes import HostSetup, Route
from authgate.forward.hosts import canonical_host, within_domain
from authgate.forward.model import AppView

SLUG_MAX = 63


@dataclass(frozen=True)
class AppPlan:
    slug: str
    url: str
    host: str
    source: str  # the object the app comes from
    where: Where
    skip_paths: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class Outcome:
    plan: AppPlan
    action: str  # added | would-add | exists
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "slug": self.plan.slug,
            "url": self.plan.url,
            "skip_paths": list(self.plan.skip_paths),
            "source": self.plan.source,
            "where": str(self.plan.where),
            "detail": self.detail,
            "notes": list(self.plan.notes),
        }


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:SLUG_MAX].strip("-")
    return slug or "app"


def _skip_paths(setup: HostSetup) -> tuple[tuple[str, ...], tuple[str, ...]]:
    protected = [r for r in setup.routes if r.auth is not None]
    skips: list[str] = []
    notes: list[str] = []
    for route in setup.routes:
        if route.auth is not None or route.outpost:
            continue
        if route.open_path is None:
            notes.append(f"{route.label} leaves the whole host open: no skip path made for it")
            continue
        covered = [p.path for p in protected if p.path and re.match(route.open_path, p.path)]
        if covered:
            notes.append(
                f"{route.label} is open, but a skip path {route.open_path} would also open "
                f"{', '.join(covered)}: not made"
            )
            continue
        skips.append(route.open_path)
    return tuple(dict.fromkeys(skips)), tuple(notes)


def plan(setups: Iterable[HostSetup]) -> list[AppPlan]:
    """One app per protected host, in the order the hosts appear."""
    plans: dict[str, AppPlan] = {}
    names: set[str] = set()
    for setup in setups:
        host = canonical_host(setup.host)
        if not setup.protected or host is None or host in plans:
            continue
        first: Route = next(r for r in setup.routes if r.auth is not None)
        slug = slugify(first.name)
        if slug in names:
            slug = _unique(slugify(f"{first.name}-{host.split('.')[0]}"), names)
        names.add(slug)
        skips, notes = _skip_paths(setup)
        plans[host] = AppPlan(
            slug=slug,
            url=f"{'https' if setup.tls else 'http'}://{host}",
            host=host,
            source=first.label,
            where=first.where,
            skip_paths=skips,
            notes=notes,
        )
    return list(plans.values())


def _unique(slug: str, taken: set[str]) -> str:
    candidate, number = slug, 2
    while candidate in taken:
        suffix = f"-{number}"
        candidate = slug[: SLUG_MAX - len(suffix)] + suffix
        number += 1
    return candidate


def covering_app(apps: Iterable[AppView], host: str) -> AppView | None:
    for app in apps:
        if app.host == host or (app.mode == "domain" and within_domain(host, app.cookie_domain)):
            return app
    return None


def decide(plans: Iterable[AppPlan], apps: list[AppView], dry_run: bool) -> list[Outcome]:
    """What to do with each plan, given the apps that exist (pure: a dry run says the truth)."""
    taken = {a.slug for a in apps}
    outcomes: list[Outcome] = []
    for item in plans:
        existing = covering_app(apps, item.host)
        if existing is not None:
            detail = f"{item.host} is already served by app {existing.slug}: left alone"
            outcomes.append(Outcome(item, "exists", detail))
            continue
        slug = _unique(item.slug, taken)
        taken.add(slug)
        final = AppPlan(
            slug, item.url, item.host, item.source, item.where, item.skip_paths, item.notes
        )
        outcomes.append(Outcome(final, "would-add" if dry_run else "added"))
    return outcomes
