"""The secrets of API tokens and app passwords: how they look, how they are made, hashed and
read back. Pure; used by ``accounts.api_credentials`` (making them) and
``forward.issued`` (checking them).

* API token: ``agt_<lookup>_<secret>`` — 12 lookup characters (the public id the CLI and the
  account page show) and 32 secret characters (160 bits), sent as ``Authorization: Bearer``.
* App password: ``agp-llll-llll-ssss-ssss-ssss-ssss-ssss`` — readable groups of four, the
  first two the lookup id, the other five the secret (100 bits), sent as the password of
  ``Authorization: Basic``. Case, spaces and dashes after the prefix do not matter, so a
  person may type it as it reads.

Both use lower-case Crockford base32 (no i, l, o, u). Only SHA-256 of (kind, lookup, secret)
is stored: the secrets are random and long, so a slow hash would add nothing but time, and a
key kept in the same database as the hashes would add nothing either. Hashes are compared
with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TOKEN = "token"  # noqa: S105 - a kind, not a secret
APP_PASSWORD = "app_password"  # noqa: S105 - a kind, not a secret
KINDS = (TOKEN, APP_PASSWORD)
TOKEN_PREFIX = "agt_"  # noqa: S105 - a prefix, not a secret
APP_PASSWORD_PREFIX = "agp-"  # noqa: S105 - a prefix, not a secret
_SHAPES = {TOKEN: (12, 32), APP_PASSWORD: (8, 20)}  # (lookup, secret) lengths
_LETTERS = frozenset(ALPHABET)


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret read back: its kind, the public lookup id and the secret part."""

    kind: str
    lookup: str
    secret: str

    @property
    def hash(self) -> str:
        return secret_hash(self.kind, self.lookup, self.secret)


class NotASecret(ValueError):
    """A value with an authgate prefix that is not one of its secrets; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_secret(kind: str) -> tuple[str, Secret]:
    """A fresh secret of ``kind``: the text to show once, and its parts."""
    lookup_len, secret_len = _SHAPES[kind]
    made = Secret(kind, _random(lookup_len), _random(secret_len))
    return spell(made), made


def spell(secret: Secret) -> str:
    """The text a client sends."""
    if secret.kind == TOKEN:
        return f"{TOKEN_PREFIX}{secret.lookup}_{secret.secret}"
    body = secret.lookup + secret.secret
    return APP_PASSWORD_PREFIX + "-".join(body[i : i + 4] for i in range(0, len(body), 4))


def secret_hash(kind: str, lookup: str, secret: str) -> str:
    return hashlib.sha256(f"authgate {kind}\n{lookup}\n{secret}".encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def is_own(value: str) -> bool:
    """True when ``value`` carries one of authgate's prefixes (any case)."""
    head = value[:4].lower()
    return head in (TOKEN_PREFIX, APP_PASSWORD_PREFIX)


def read_secret(value: str) -> Secret | None:
    """The secret in ``value``; None when it has no authgate prefix (someone else's);
    NotASecret when it has one but is not well formed."""
    head = value[:4].lower()
    if head == TOKEN_PREFIX:
        lookup, sep, rest = value[4:].partition("_")
        return _checked(TOKEN, lookup, rest if sep else "")
    if head == APP_PASSWORD_PREFIX:
        body = "".join(value[4:].split()).replace("-", "").lower()
        lookup_len = _SHAPES[APP_PASSWORD][0]
        return _checked(APP_PASSWORD, body[:lookup_len], body[lookup_len:])
    return None


def _checked(kind: str, lookup: str, secret: str) -> Secret:
    lookup_len, secret_len = _SHAPES[kind]
    if len(lookup) != lookup_len or len(secret) != secret_len:
        raise NotASecret(f"malformed {kind.replace('_', ' ')}")
    if not _LETTERS.issuperset(lookup) or not _LETTERS.issuperset(secret):
        raise NotASecret(f"malformed {kind.replace('_', ' ')}")
    return Secret(kind, lookup, secret)
