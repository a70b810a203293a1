"""Host -> Application, from an in-memory index rebuilt whenever the store changes."""

from __future__ import annotations

from collections.abc import Iterable

from authgate.forward.hosts import hostname_of, within_domain
from authgate.forward.model import AppView


class AppIndex:
    """Exact hosts first; then domain-mode apps, the longest cookie domain first."""

    def __init__(self, apps: Iterable[AppView] = ()) -> None:
        self.apps: dict[str, AppView] = {}
        self.by_host: dict[str, AppView] = {}
        domain_apps: list[AppView] = []
        for app in apps:
            self.apps[app.slug] = app
            self.by_host.setdefault(app.host, app)
            if app.mode == "domain" and app.cookie_domain:
                domain_apps.append(app)
        self.domain_apps = sorted(domain_apps, key=lambda a: -len(a.cookie_domain))

    def lookup(self, host: str) -> AppView | None:
        app = self.by_host.get(host)
        if app is not None:
            return app
        name = hostname_of(host)
        for candidate in self.domain_apps:
            if within_domain(name, candidate.cookie_domain):
                return candidate
        return None

    def __len__(self) -> int:
        return len(self.apps)
