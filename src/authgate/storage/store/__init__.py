"""The Store: every read and write authgate makes, as async use cases over SQLAlchemy.

One object, assembled from one part per concept over a shared base:

- ``base``: the engine, ``_tx``, the revision bump that running servers watch, ``check``
- ``names``: what a user, group or app may be called, and the row each name refers to
- ``users``: users, groups and memberships
- ``apps``: apps, their bindings and rules, and the ``AppView`` the hot path judges with
- ``sessions``: portal and app sessions, and the one-time codes between them
- ``audit``: the audit log
- ``counters``: failed sign-ins per account, device and client address, and their locks
- ``factors``: which second factors a user has enrolled; removing them all
- ``totp``: TOTP secrets and the last time step used (single-use codes)
- ``recovery``: recovery codes (hashes), replaced as a set, used once
- ``passkeys``: WebAuthn credentials and the single-use challenges handed out for them
- ``links``: one-time invitation and password-reset links
- ``keys``: the cookie and JWT signing keys every instance shares, rotation and pruning
- ``api_credentials``: API tokens and app passwords (hashes), revocation and last use
"""

from __future__ import annotations

from authgate.storage.store.api_credentials import (
    ApiCredentialInfo,
    ApiCredentialStore,
    CredentialOwner,
)
from authgate.storage.store.apps import AppStore, BindingChange, RuleSpec, app_view
from authgate.storage.store.audit import AuditStore
from authgate.storage.store.base import now
from authgate.storage.store.counters import Count, CounterStore, LoginCounters
from authgate.storage.store.factors import Enrolled, FactorStore, Removed
from authgate.storage.store.keys import KeyStore, StoredKey
from authgate.storage.store.links import AccountLink, LinkStore
from authgate.storage.store.names import NAME, SLUG
from authgate.storage.store.passkeys import NewPasskey, Passkey, PasskeyStore, TakenChallenge
from authgate.storage.store.recovery import RecoveryCodeStore
from authgate.storage.store.sessions import BrowserSession, SessionInfo, SessionStore, code_hash
from authgate.storage.store.totp import TotpSecret, TotpStore
from authgate.storage.store.users import UserInfo, UserStore

__all__ = [
    "NAME",
    "SLUG",
    "AccountLink",
    "ApiCredentialInfo",
    "BindingChange",
    "BrowserSession",
    "Count",
    "CredentialOwner",
    "Enrolled",
    "LoginCounters",
    "NewPasskey",
    "Passkey",
    "Removed",
    "RuleSpec",
    "SessionInfo",
    "Store",
    "StoredKey",
    "TakenChallenge",
    "TotpSecret",
    "UserInfo",
    "app_view",
    "code_hash",
    "now",
]


class Store(
    UserStore,
    AppStore,
    SessionStore,
    AuditStore,
    CounterStore,
    FactorStore,
    TotpStore,
    RecoveryCodeStore,
    PasskeyStore,
    LinkStore,
    KeyStore,
    ApiCredentialStore,
):
    """Users, groups, apps and rules, sessions and codes, the audit log, the login
    counters, second factors, passkeys, account links and signing keys, over one engine.

    Changes that running servers must see at once bump the revision in the same transaction
    (see ``base``)."""
