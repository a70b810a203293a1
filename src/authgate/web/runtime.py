"""What a running server holds: settings, store, signers, the gate and its caches, pages,
the password-hashing pool, the audit queue and the sync with the store. Built once per process by
``authgate.server.create_app``; the routes reach it as ``request.app.state.runtime``
(``web.requests.runtime``), the hot path through what ``create_app`` hands it.

The signers (``signing``, ``tokens``, ``devices``) come from the store: ``reload`` (in the
lifespan, before serving, and on every change) loads them; until then ``keys_loaded`` is
False and they verify nothing anyone holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from authgate.accounts.basic_password import BasicPasswords
from authgate.accounts.devices import DeviceTokens
from authgate.accounts.hashing import HashingPool
from authgate.accounts.jwks import JwksKeys
from authgate.accounts.login import LoginGuard
from authgate.config import Settings
from authgate.forward.apps import AppIndex
from authgate.forward.gate import Gate
from authgate.forward.issued import IssuedCredentials, IssuedRecord, identity_of
from authgate.forward.issuers import ExternalIssuers
from authgate.forward.sessions import SessionCache
from authgate.forward.tokens import TokenIssuer
from authgate.signing import Signing
from authgate.storage.revision import feed_of, open_store
from authgate.storage.store import Store
from authgate.storage.store.counters import login_counters
from authgate.storage.store.sessions import TOUCH_STEP
from authgate.web.audit import AuditQueue
from authgate.web.health import Readiness, StoreHealth, store_check
from authgate.web.keys import ServerKeys, unloaded
from authgate.web.metrics import Metrics
from authgate.web.pages import Pages
from authgate.web.sync import StoreSync

if TYPE_CHECKING:
    from authgate.storage.redis.sessions import RedisSessions

DIALECT_NAMES = ("nginx", "traefik", "caddy", "envoy")


class Runtime:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.feed = feed_of(settings)
        self._own_store = store is None  # a store of our own closes the feed with it
        self.store = store or open_store(settings, self.feed)
        self.metrics = Metrics(DIALECT_NAMES, settings.metrics_dir)
        self.health = StoreHealth(
            settings.degraded_grace, self.metrics.store_error, self.metrics.set_degraded
        )
        self.shared_sessions = shared_sessions(settings, self.store, lambda: self.sync.revision)
        self.sessions = SessionCache(
            self.shared_sessions or self.store.load_session,
            settings.idle_timeout,
            outage=self.health,
            touch_step=TOUCH_STEP.total_seconds(),
        )
        first = unloaded(settings)
        self.credentials = IssuedCredentials(issued_loader(self.store))
        # machine identities: Bearer JWTs of the configured external issuers (a credential
        # verifier for the gate); ``issuer_keys.run`` fetches their JWKS in the background
        self.issuer_keys = JwksKeys(settings.issuers)
        self.issuers = ExternalIssuers(
            settings.issuers,
            self.issuer_keys.by_issuer,
            self.store.find_user,
            generation=lambda: self.sync.revision,
        )
        self.issuer_keys.on_change = self.issuers.forget
        self.hashing = HashingPool()  # argon2 at the lowest CPU priority, a bounded queue
        self.login = LoginGuard(
            self.store,
            login_counters(self.store, settings.redis_url, settings.redis_prefix),
            self.hashing,
            observe=self.metrics.login,
        )
        # the real password in Basic, for apps with basic_password (after the others)
        self.basic_passwords = BasicPasswords(self.login, generation=lambda: self.sync.revision)
        self.gate = Gate(
            self.sessions,
            first.signing.session,
            settings.outpost_prefix,
            first.tokens,
            verifiers=[self.credentials, self.issuers, self.basic_passwords],
        )
        self.keys = ServerKeys(settings, self.gate, first)
        self.pages = Pages(settings)
        self.audit = AuditQueue()
        self.sync = StoreSync(
            settings,
            self.store,
            self.gate,
            self.sessions,
            self.audit,
            self.login,
            self.keys,
            self.feed,
            self.health,
            self.metrics,
            self.credentials,
        )
        self.refresh = self.sync.refresh
        self.reload = self.sync.reload
        # ready: the store answers and the keys are loaded; another check is one line here
        self.readiness = Readiness(
            [("store", store_check(self.store.revision, self.health)), ("keys", self.keys_check)]
        )

    async def keys_check(self) -> str | None:
        """The keys that sign cookies and tokens are loaded (from the store or the overrides)."""
        return None if self.keys.loaded else "keys: the signing keys are not loaded yet"

    @property
    def signing(self) -> Signing:
        return self.keys.current.signing

    @property
    def tokens(self) -> TokenIssuer:
        return self.keys.current.tokens

    @property
    def devices(self) -> DeviceTokens:
        return self.keys.current.devices

    @property
    def keys_loaded(self) -> bool:
        """The signing keys came from the store (or the overrides): for the readiness probe."""
        return self.keys.loaded

    @property
    def index(self) -> AppIndex:
        return self.gate.index

    async def close(self) -> None:
        """Close the store, and the login counters when they live elsewhere (Redis)."""
        self.metrics.worker_stopped()
        self.hashing.close()
        if self.login.counters is not self.store:
            await self.login.counters.close()
        if self.shared_sessions is not None:
            await self.shared_sessions.close()
        if not self._own_store:
            await self.feed.close()
        await self.store.close()


def shared_sessions(
    settings: Settings, store: Store, generation: Callable[[], int]
) -> RedisSessions | None:
    """With Redis configured, the session cache all replicas share, in front of the store."""
    if not settings.redis_url:
        return None
    from authgate.storage.redis.sessions import RedisSessions

    return RedisSessions(
        settings.redis_url,
        settings.redis_prefix,
        store.load_session,
        generation,
        settings.idle_timeout,
    )


def issued_loader(store: Store) -> Callable[[str], Awaitable[IssuedRecord | None]]:
    """The verifier's view of a stored API token or app password, with its identity."""

    async def load(lookup: str) -> IssuedRecord | None:
        owner = await store.load_api_credential(lookup)
        if owner is None:
            return None
        user = (owner.user_id, owner.uid, owner.username, owner.email, owner.name)
        identity = identity_of(lookup, owner.kind, user, owner.groups, owner.expires_at)
        return IssuedRecord(
            kind=owner.kind,
            secret_hash=owner.secret_hash,
            apps=frozenset(owner.apps),
            expires_at=owner.expires_at,
            revoked=owner.revoked,
            disabled=owner.disabled,
            identity=identity,
        )

    return load
