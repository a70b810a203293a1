"""What a running server holds: settings, store, signers, the gate and its caches, pages,
the audit queue and the sync with the store. Built once per process by
``authgate.server.create_app``; the routes reach it as ``request.app.state.runtime``
(``web.requests.runtime``), the hot path through what ``create_app`` hands it."""

from __future__ import annotations

from authgate.accounts.devices import DeviceTokens
from authgate.accounts.login import LoginGuard
from authgate.config import Settings
from authgate.forward.apps import AppIndex
from authgate.forward.gate import Gate
from authgate.forward.sessions import SessionCache
from authgate.forward.tokens import TokenIssuer, load_or_create_key
from authgate.signing import Signing
from authgate.storage.revision import open_store
from authgate.storage.store import Store
from authgate.storage.store.counters import login_counters
from authgate.web.audit import AuditQueue
from authgate.web.health import Readiness, StoreHealth, store_check
from authgate.web.metrics import Metrics
from authgate.web.pages import Pages
from authgate.web.sync import StoreSync

DIALECT_NAMES = ("nginx", "traefik", "caddy", "envoy")


class Runtime:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self.signing = Signing(settings.secret_keys)
        self.metrics = Metrics(DIALECT_NAMES, settings.metrics_dir)
        self.health = StoreHealth(
            settings.degraded_grace, self.metrics.store_error, self.metrics.set_degraded
        )
        self.sessions = SessionCache(
            self.store.load_session, settings.idle_timeout, outage=self.health
        )
        self.tokens = TokenIssuer(load_or_create_key(settings.jwt_key_file), settings.public_url)
        self.gate = Gate(self.sessions, self.signing.session, settings.outpost_prefix, self.tokens)
        self.pages = Pages(settings)
        self.devices = DeviceTokens(settings.secret_keys)
        self.login = LoginGuard(
            self.store, login_counters(self.store, settings.redis_url), observe=self.metrics.login
        )
        self.audit = AuditQueue()
        self.sync = StoreSync(
            settings,
            self.store,
            self.gate,
            self.sessions,
            self.audit,
            self.login,
            self.health,
            self.metrics,
        )
        self.refresh = self.sync.refresh
        self.reload = self.sync.reload
        # ready: the store answers and the keys are loaded; another check is one line here
        self.readiness = Readiness(
            [("store", store_check(self.store.revision, self.health)), ("keys", self.keys_check)]
        )

    async def keys_check(self) -> str | None:
        """The keys that sign cookies and tokens are loaded."""
        return None if self.settings.secret_keys else "keys: no cookie-signing key is loaded"

    @property
    def index(self) -> AppIndex:
        return self.gate.index

    async def close(self) -> None:
        """Close the store, and the login counters when they live elsewhere (Redis)."""
        self.metrics.worker_stopped()
        if self.login.counters is not self.store:
            await self.login.counters.close()
        await self.store.close()
