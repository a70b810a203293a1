"""Every signature authgate makes, from one key ring.

The ring is the HMAC keys of the store (or of the ``AUTHGATE_SECRET_KEY(_FILE)`` override),
newest first: the newest signs, every key verifies, so a key can be rotated in while what
the old one signed keeps working until it expires (``web/keys.py`` loads them).
Each use gets a salt of its own (``authgate.<purpose>``), so a value signed for one purpose
never verifies for another. itsdangerous does the cryptography and the constant-time
comparison.

- ``CookieSigner``: session ids in the portal and app cookies (``purpose="session"``)
- ``StateSerializer``: the sign-in state carried from ``start`` to the callback
- ``CsrfSerializer``: form tokens bound to a per-browser seed
- ``Signing``: the three of them, as a running server holds them
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from itsdangerous import BadData, BadSignature, Signer, URLSafeTimedSerializer

from authgate.config.secret import Secret

STATE_MAX_AGE = 600  # seconds a sign-in may take from start to callback
PENDING_MAX_AGE = 300  # seconds between a right password and the second factor
CSRF_MAX_AGE = 86400


class KeyRing:
    """The keys, newest first as configured. itsdangerous signs with the LAST key of its
    list and verifies with all of them, hence the reversal."""

    __slots__ = ("_keys",)

    def __init__(self, keys: Sequence[Secret]) -> None:
        self._keys = [k.reveal() for k in reversed(keys)]

    def signer(self, purpose: str) -> Signer:
        return Signer(self._keys, salt=f"authgate.{purpose}")

    def serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._keys, salt=f"authgate.{purpose}")


class CookieSigner:
    """HMAC-signed cookie values for one purpose (the check's gate remembers the session id
    of a Cookie header it verified, so the hot path pays one HMAC per new cookie)."""

    def __init__(self, keys: Sequence[Secret] | KeyRing, purpose: str) -> None:
        ring = keys if isinstance(keys, KeyRing) else KeyRing(keys)
        self._signer = ring.signer(purpose)

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode("ascii")

    def unsign(self, signed: str) -> str | None:
        try:
            return self._signer.unsign(signed).decode("ascii")
        except (BadSignature, UnicodeError, ValueError):
            return None


class StateSerializer:
    """A small string mapping, signed and timestamped: valid for ``max_age`` seconds."""

    def __init__(self, ring: KeyRing, max_age: int = STATE_MAX_AGE, purpose: str = "state") -> None:
        self._serializer = ring.serializer(purpose)
        self.max_age = max_age

    def dump(self, payload: dict[str, str]) -> str:
        return self._serializer.dumps(payload)

    def load(self, token: str) -> dict[str, str] | None:
        """The payload; None when the token is forged, expired or not a string mapping."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except (BadData, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return None
        return data


class CsrfSerializer:
    """Form tokens: a signed copy of a seed the browser holds in a cookie."""

    def __init__(self, ring: KeyRing, max_age: int = CSRF_MAX_AGE) -> None:
        self._serializer = ring.serializer("csrf")
        self.max_age = max_age

    def token(self, seed: str) -> str:
        return self._serializer.dumps(seed)

    def verify(self, seed: str | None, token: str | None) -> bool:
        if not seed or not token:
            return False
        try:
            value = self._serializer.loads(token, max_age=self.max_age)
        except (BadData, ValueError, TypeError):
            return False
        return isinstance(value, str) and hmac.compare_digest(value, seed)


class Signing:
    """The signers of a running server, all from one ring."""

    __slots__ = ("csrf", "pending", "ring", "session", "state")

    def __init__(self, keys: Sequence[Secret]) -> None:
        self.ring = KeyRing(keys)
        self.session = CookieSigner(self.ring, "session")
        self.state = StateSerializer(self.ring)
        self.pending = StateSerializer(self.ring, PENDING_MAX_AGE, "pending")
        self.csrf = CsrfSerializer(self.ring)
