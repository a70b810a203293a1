"""The verifier of authgate's own API tokens and app passwords (``api_secrets`` says how
they look). A ``CredentialVerifier`` (``credentials``): a value without authgate's prefix is
not its own (None); one with it is verified or refused.

What the store says of a lookup id is remembered (also that it is unknown), bounded, and
forgotten whole when the store's revision moves (``clear``): a revoked token, a disabled or
deleted user, a changed group are obeyed by the next check on every worker. Expiry is judged
against the clock on every check. The secret's hash is compared every time, in constant
time; a wrong secret, an unknown lookup id or a user name that is not the owner's all read
"unknown", so that knowing a lookup id (it is shown in lists) tells an attacker nothing.

The time and address of each use are kept here (``take_used``) and written to the store in
the background with the sessions' ``last_seen``: a check never writes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from authgate.forward.api_secrets import (
    APP_PASSWORD,
    TOKEN,
    NotASecret,
    Secret,
    read_secret,
    same_hash,
)
from authgate.forward.credentials import Basic, Credential, Refused, Verified
from authgate.forward.model import AppView, Identity

#: The ``amr`` of an identity proved by each kind (no second factor: see ``credential_check``)
AMR = {TOKEN: "token", APP_PASSWORD: "app_password"}
NAMES = {TOKEN: "token", APP_PASSWORD: "app password"}


@dataclass(frozen=True, slots=True)
class IssuedRecord:
    """A credential as the check judges it, with the identity it proves."""

    kind: str
    secret_hash: str
    apps: frozenset[str]  # empty: every app the user may reach
    expires_at: float | None
    revoked: bool
    disabled: bool
    identity: Identity


RecordLoader = Callable[[str], Awaitable[IssuedRecord | None]]


def identity_of(
    lookup: str,
    kind: str,
    user: tuple[int, str, str, str, str],
    groups: tuple[str, ...],
    expires_at: float | None,
) -> Identity:
    """The identity a credential proves: its user, a session id of its own (so caches per
    session never mix it with a browser's) and how it was proved."""
    user_id, uid, username, email, name = user
    return Identity(
        session_id=f"{kind}:{lookup}",
        parent_id="",
        user_id=user_id,
        uid=uid,
        username=username,
        email=email,
        name=name,
        groups=groups,
        expires_at=expires_at or 0.0,
        amr=(AMR[kind],),
    )


class IssuedCredentials:
    def __init__(
        self,
        loader: RecordLoader,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._loader = loader
        self._capacity = capacity
        self._clock = clock
        self._records: dict[str, IssuedRecord | None] = {}
        self._used: dict[str, tuple[float, str]] = {}

    async def verify(
        self, credential: Credential, app: AppView, client_ip: str
    ) -> Verified | Refused | None:
        basic = isinstance(credential, Basic)
        value = credential.password if isinstance(credential, Basic) else credential.token
        try:
            secret = read_secret(value)
        except NotASecret as exc:
            return Refused(exc.reason)
        if secret is None:
            return None
        if not basic and secret.kind != TOKEN:
            return Refused("an app password is sent with Basic, not Bearer", "invalid_request")
        record = await self._record(secret.lookup)
        name = NAMES[secret.kind]
        if not self._matches(record, secret, credential):
            return Refused(f"unknown {name}")
        assert record is not None
        if record.revoked:
            return Refused(f"{name} revoked")
        if record.disabled:
            return Refused(f"the {name}'s user is disabled")
        now = self._clock()
        if record.expires_at is not None and now >= record.expires_at:
            return Refused(f"{name} expired")
        if record.apps and app.slug not in record.apps:
            return Refused(f"{name} not valid for app {app.slug}")
        self._used[secret.lookup] = (now, client_ip)
        return Verified(record.identity)

    @staticmethod
    def _matches(record: IssuedRecord | None, secret: Secret, credential: Credential) -> bool:
        if record is None or record.kind != secret.kind:
            return False
        hash_ok = same_hash(record.secret_hash, secret.hash)
        if isinstance(credential, Basic) and secret.kind == APP_PASSWORD:
            return hash_ok and credential.username == record.identity.username
        return hash_ok

    async def _record(self, lookup: str) -> IssuedRecord | None:
        try:
            return self._records[lookup]
        except KeyError:
            pass
        record = await self._loader(lookup)
        if len(self._records) >= self._capacity:
            self._records.clear()
        self._records[lookup] = record
        return record

    def clear(self) -> None:
        """Forget every record (the store's revision moved)."""
        self._records.clear()

    def take_used(self) -> dict[str, tuple[float, str]]:
        """(time, client address) of the last use of each credential since the last call."""
        used, self._used = self._used, {}
        return used
