"""The keys a running server signs and verifies with: from the store, shared by every worker
and replica, swapped whole when they change.

- First start: whichever instance comes first puts one set in the store (``KeyStore``).
  A data dir from before shared keys (``secret.key``, ``jwt.key``) is imported as that set,
  so cookies and sessions made before the upgrade keep working; a fresh start writes no file.
- Overrides: ``AUTHGATE_SECRET_KEY`` / ``AUTHGATE_SECRET_KEY_FILE`` replace the store's HMAC
  keys, ``AUTHGATE_JWT_KEY_FILE`` the store's JWT keys (a mounted Kubernetes Secret). The
  store's set is made all the same, and used again once the override goes.
- Rotation: ``authgate keys rotate`` makes new signers; the old keys verify for as long as
  anything they signed can live (``hmac_verifies_for``, ``jwt_verifies_for``). A server loads
  the keys on every revision change and again when the first verifying key runs out.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from authgate.accounts.devices import DeviceTokens
from authgate.config import Settings
from authgate.config.secret import Secret, new_secret_key, read_key_file
from authgate.errors import ConfigError, StoreError
from authgate.forward.gate import Gate
from authgate.forward.tokens import LIFETIME, TokenIssuer, load_key, new_key_pem
from authgate.signing import CSRF_MAX_AGE, Signing
from authgate.storage.store import Store, StoredKey, now

log = logging.getLogger("authgate")
SLACK = 60  # seconds: a replica that has not reloaded yet may still sign with the old key


def hmac_verifies_for(settings: Settings) -> timedelta:
    """How long a rotated-out HMAC key must verify: the longest a cookie or form it signed
    lives (state and pending sign-ins live less)."""
    longest = max(settings.session_lifetime, settings.remember_me_lifetime, CSRF_MAX_AGE)
    return timedelta(seconds=longest + SLACK)


def jwt_verifies_for() -> timedelta:
    """How long a rotated-out JWT key must stay in the JWKS: a token's lifetime."""
    return timedelta(seconds=LIFETIME + SLACK)


@dataclass(frozen=True)
class Keys:
    """The signers of one moment, built together from one read of the keys."""

    signing: Signing
    tokens: TokenIssuer
    devices: DeviceTokens
    reload_at: float | None  # epoch seconds when a verifying key runs out
    rows: tuple[StoredKey, ...] = ()  # what they were built from

    @classmethod
    def build(
        cls,
        settings: Settings,
        hmac: Sequence[Secret],
        jwt: Sequence[ec.EllipticCurvePrivateKey],
        reload_at: float | None = None,
        rows: Sequence[StoredKey] = (),
    ) -> Keys:
        tokens = TokenIssuer(jwt[0], settings.public_url, jwt[1:])
        return cls(Signing(hmac), tokens, DeviceTokens(hmac), reload_at, tuple(rows))


def unloaded(settings: Settings) -> Keys:
    """What a server holds before its keys are loaded: random keys that verify nothing
    anyone holds (``ServerKeys.loaded`` stays False, so nothing is published)."""
    ephemeral = load_key(new_key_pem(), "a new key")
    return Keys.build(settings, [Secret(secrets.token_urlsafe(48))], [ephemeral])


def _file_problem(label: str, path: Path, exc: Exception) -> ConfigError:
    if isinstance(exc, OSError):
        return ConfigError([f"{label} {path}: {exc.strerror or exc}"])
    if isinstance(exc, UnicodeError):
        return ConfigError([f"{label} {path}: not a text file"])
    return ConfigError([f"{label} {path}: {exc}"])


def read_jwt_key_file(path: Path) -> ec.EllipticCurvePrivateKey:
    """The key in a PEM file; any problem is one ConfigError line naming the file."""
    try:
        return load_key(path.read_bytes(), "it")
    except (OSError, ValueError) as exc:
        raise _file_problem("JWT key file", path, exc) from exc


def _read_secret_file(path: Path) -> list[Secret]:
    try:
        keys = read_key_file(path)
    except (OSError, ValueError) as exc:
        raise _file_problem("secret key file", path, exc) from exc
    if not keys:
        raise ConfigError([f"secret key file {path}: holds no key"])
    return keys


def first_set(settings: Settings) -> tuple[list[str], list[str], list[Path]]:
    """The HMAC and JWT material of a first set, newest first, and the files of an older data
    dir it was imported from (none on a fresh start: then the keys are new and random). A kind
    an override replaces is not imported: its file may well be the override itself."""
    hmac, jwt, imported = [new_secret_key()], [new_key_pem().decode()], []
    if not settings.secret_keys and settings.legacy_secret_key_file.exists():
        hmac = [k.reveal() for k in _read_secret_file(settings.legacy_secret_key_file)]
        imported.append(settings.legacy_secret_key_file)
    if settings.jwt_key_file is None and settings.legacy_jwt_key_file.exists():
        path = settings.legacy_jwt_key_file
        read_jwt_key_file(path)  # a broken file stops the start, it is not silently replaced
        jwt = [path.read_text()]
        imported.append(path)
    return hmac, jwt, imported


async def ensure_keys(
    settings: Settings, store: Store, say: Callable[[str], None] = log.warning
) -> None:
    """Put the first set in the store unless one is there; safe when instances race."""
    if not await store.signing_keys():
        await _create_first(settings, store, say)


async def _create_first(settings: Settings, store: Store, say: Callable[[str], None]) -> None:
    hmac, jwt, imported = first_set(settings)
    older_until = now() + hmac_verifies_for(settings)
    made = await store.create_first_keys(hmac, jwt, older_verify_until=older_until)
    if made and imported:
        names = " and ".join(str(path) for path in imported)
        say(
            f"imported {names} into the store as the signing keys: cookies and sessions made "
            "before keep working; the files are not read any more and may be removed"
        )


async def load_keys(settings: Settings, store: Store) -> Keys:
    """The keys to use now: the store's (made first when there are none), with the
    overrides in place of their kind."""
    rows = await store.signing_keys()
    if not rows:
        await _create_first(settings, store, log.warning)
        rows = await store.signing_keys()
    return build_keys(settings, rows)


def build_keys(settings: Settings, rows: Sequence[StoredKey]) -> Keys:
    """The keys of these rows (live ones, newest first per kind) and the overrides."""
    hmac = list(settings.secret_keys) or [k.material for k in rows if k.kind == "hmac"]
    if settings.jwt_key_file is not None:
        jwt = [read_jwt_key_file(settings.jwt_key_file)]
    else:
        jwt = [_stored_jwt(k) for k in rows if k.kind == "jwt"]
    if not hmac or not jwt:
        raise StoreError("the store holds no signing keys (run `authgate migrate` and start)")
    ends = [k.verify_until.timestamp() for k in rows if k.verify_until is not None]
    return Keys.build(settings, hmac, jwt, min(ends) if ends else None, rows)


def _stored_jwt(key: StoredKey) -> ec.EllipticCurvePrivateKey:
    return load_key(key.material.reveal().encode(), f"signing key {key.id} in the store")


class ServerKeys:
    """The keys a server holds now; ``load`` swaps them everywhere they are used at once."""

    def __init__(self, settings: Settings, gate: Gate, first: Keys) -> None:
        self.settings = settings
        self.gate = gate
        self.current = first  # ``unloaded``: the gate was built with these
        self.loaded = False

    async def load(self, store: Store) -> None:
        """Read the keys (the first set made if needed) and hand them to the gate."""
        keys = await load_keys(self.settings, store)
        self.gate.use_keys(keys.signing.session, keys.tokens)
        self.current = keys
        self.loaded = True

    def due(self) -> bool:
        """A verifying key has run out since the last load: load again to drop it."""
        reload_at = self.current.reload_at
        return reload_at is not None and time.time() >= reload_at

    def expire(self) -> None:
        """Drop the keys past their time from what is held, without asking the store (which
        may be down): a rotated-out key never verifies longer than promised."""
        moment = datetime.now(UTC)
        rows = [k for k in self.current.rows if k.verify_until is None or k.verify_until > moment]
        if len(rows) == len(self.current.rows):
            return
        try:
            keys = build_keys(self.settings, rows)
        except (ConfigError, StoreError, ValueError) as exc:
            log.warning("signing keys past their time not dropped: %s", exc)
            return
        self.gate.use_keys(keys.signing.session, keys.tokens)
        self.current = keys
