"""Device cookies: a browser that has signed in as a user before is known to be that user's.

OWASP's defence against online guessing ("Slow Down Online Guessing Attacks with Device
Cookies"): after too many failures an account is locked for every client *except* browsers
holding a device cookie for it, which keep a small failure budget of their own. Guessing stops,
yet a stranger cannot lock the owner out of her own browser.

The cookie's value is signed with the server's key ring under a salt of its own and carries,
for up to ``MAX_USERS`` users of this browser, the user's stable ``uid`` and a random device
nonce (newest first). The nonce names the device's failure counter.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from itsdangerous import BadData

from authgate.config.secret import Secret
from authgate.signing import KeyRing

DEVICE_LIFETIME = 365 * 86400
MAX_USERS = 5
_TOKEN_LIMIT = 2048


class DeviceTokens:
    """Reads and issues the signed value of the device cookie."""

    def __init__(self, keys: Sequence[Secret], lifetime: int = DEVICE_LIFETIME) -> None:
        self._serializer = KeyRing(keys).serializer("device")
        self.lifetime = lifetime

    def read(self, token: str | None) -> dict[str, str]:
        """``uid -> device nonce`` from a valid token; empty for a missing, forged, expired or
        malformed one (a bad cookie is no device, never an error)."""
        if not token or len(token) > _TOKEN_LIMIT:
            return {}
        try:
            data = self._serializer.loads(token, max_age=self.lifetime)
        except (BadData, ValueError, TypeError):
            return {}
        if not isinstance(data, list):
            return {}
        known: dict[str, str] = {}
        for entry in data[:MAX_USERS]:
            if _is_pair(entry):
                known.setdefault(entry[0], entry[1])
        return known

    def issue(self, known: Mapping[str, str], uid: str) -> str:
        """A token naming this browser a device of ``uid`` (with a fresh nonce), keeping the
        other users it already names, newest first."""
        entries = [[uid, secrets.token_urlsafe(16)]]
        entries += [[u, n] for u, n in known.items() if u != uid]
        return self._serializer.dumps(entries[:MAX_USERS])


def _is_pair(entry: object) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and all(isinstance(part, str) and 0 < len(part) <= 64 for part in entry)
    )
