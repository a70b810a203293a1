"""The user's real password in ``Authorization: Basic``, for the apps that allow it.

A ``CredentialVerifier`` (``forward.credentials``), asked after authgate's own tokens and
app passwords (a value that looks like one of those is never ours). It knows a Basic
credential only for an app with ``basic_password`` on whose MFA is not required; for any
other app it says None and the check goes on as ``forward.credential_check`` documents.

The password is judged by ``LoginGuard`` as a sign-in form is: counted before it is
checked (lockout, address throttling), argon2 in the low-priority ``HashingPool``, a dummy
hash for an unknown user, one refusal for every failure. A user with any second factor is
refused the same way even with the right password (Basic must not step around their MFA).
A full hashing queue is ``CredentialUnavailable``: the check answers 503, never allow.

A right answer is remembered for ``ttl`` seconds under a keyed hash of user name and
password (the key lives in this process only), bounded, and forgotten whole when the
store's revision moves (a new password, a disabled user). A wrong one is never remembered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from authgate.accounts.hashing import HashingBusy
from authgate.accounts.login import Attempt, LoginGuard
from authgate.forward.api_secrets import is_own
from authgate.forward.credentials import (
    Basic,
    Credential,
    CredentialUnavailable,
    Refused,
    Verified,
)
from authgate.forward.model import PASSWORD, AppView, Identity
from authgate.storage.store import UserInfo

TTL = 60.0  # seconds a right password is taken without argon2
CAPACITY = 10_000  # remembered credentials; one more forgets them all
WRONG = "wrong user name or password"
THROTTLED = "too many failed sign-ins from this address; try again later"


@dataclass(frozen=True, slots=True)
class _Known:
    identity: Identity
    until: float  # monotonic


class BasicPasswords:
    """Verifies ``Basic user:<password>`` for apps with ``basic_password``."""

    def __init__(
        self,
        login: LoginGuard,
        generation: Callable[[], int],
        ttl: float = TTL,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._login = login
        self._generation = generation  # the store revision this worker follows
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._known: dict[bytes, _Known] = {}
        self._known_at: int | None = None  # the revision of what is remembered

    async def verify(
        self, credential: Credential, app: AppView, client_ip: str
    ) -> Verified | Refused | None:
        if not isinstance(credential, Basic) or not app.basic_password or app.needs_mfa:
            return None
        if is_own(credential.password):  # authgate's app password: never a real password
            return None
        key = self._keyed(credential)
        generation = self._generation()
        known = self._remembered(key, generation)
        if known is not None:
            return Verified(known)
        attempt = Attempt(credential.username, credential.password, client_ip)
        try:
            outcome = await self._login.sign_in(attempt)
        except HashingBusy as exc:
            raise CredentialUnavailable(str(exc)) from None
        if outcome.retry_after:
            return Refused(THROTTLED)
        user = outcome.user
        if user is None or (await self._login.store.enrolled_factors(user.id)).any:
            return Refused(WRONG)
        identity = _identity(user, key)
        if self._generation() == generation:  # nothing changed while the hash ran
            self._remember(key, identity, generation)
        return Verified(identity)

    def clear(self) -> None:
        """Forget every remembered password."""
        self._known.clear()

    def _keyed(self, credential: Basic) -> bytes:
        # the user name never holds ":", so "name:password" is read one way only
        text = f"{credential.username}:{credential.password}".encode()
        return hmac.new(self._key, text, hashlib.sha256).digest()

    def _remembered(self, key: bytes, generation: int) -> Identity | None:
        if generation != self._known_at:
            self._known.clear()
            self._known_at = generation
        known = self._known.get(key)
        if known is None:
            return None
        if self._clock() >= known.until:
            del self._known[key]
            return None
        return known.identity

    def _remember(self, key: bytes, identity: Identity, generation: int) -> None:
        if generation != self._known_at:
            return
        if len(self._known) >= self._capacity:
            self._known.clear()
        self._known[key] = _Known(identity, self._clock() + self._ttl)


def _identity(user: UserInfo, key: bytes) -> Identity:
    """The identity a password proves: a session id of its own per credential (so caches
    per session never mix it with a browser's), amr ``pwd``."""
    return Identity.of_account(user, f"basic:{key[:12].hex()}", amr=(PASSWORD,))
