"""Credentials a headless client sends in ``Authorization`` (Bearer, Basic) and the verifiers
the gate asks about them, in order: the first answer that is not None wins.

(The shared contract of issue 14; the branch "headless" owns this module.)
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Protocol

from authgate.forward.model import AppView, Identity


@dataclass(frozen=True, slots=True)
class Bearer:
    token: str


@dataclass(frozen=True, slots=True)
class Basic:
    username: str
    password: str


Credential = Bearer | Basic


class MalformedCredential(Exception):
    """A Bearer or Basic value that cannot be read; ``reason`` is safe to show and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_authorization(value: str) -> Credential | None:
    """None when there is no Authorization header value (""), or a scheme authgate does
    not handle; raises MalformedCredential for a Bearer/Basic value that cannot be read."""
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() == "bearer":
        if not rest or not rest.isascii() or not rest.isprintable() or " " in rest:
            raise MalformedCredential("malformed bearer token")
        return Bearer(rest)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode()
        except (binascii.Error, ValueError) as exc:
            raise MalformedCredential("malformed basic credentials") from exc
        username, colon, password = decoded.partition(":")
        if not colon or not username or not decoded.isprintable():
            raise MalformedCredential("malformed basic credentials")
        return Basic(username, password)
    return None


@dataclass(frozen=True, slots=True)
class Verified:
    identity: Identity  # amr says how: "token", "app_password", "password", "jwt"


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str  # short, safe to show: "unknown token", "expired", ...
    error: str = "invalid_token"  # RFC 6750 error code for WWW-Authenticate


class CredentialVerifier(Protocol):
    async def verify(
        self, credential: Credential, app: AppView, client_ip: str
    ) -> Verified | Refused | None:
        """None: not mine (another verifier may know it)."""
