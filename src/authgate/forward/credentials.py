"""Credentials in ``Authorization``: Bearer and Basic, read, verified and refused.

The shared contract of issue 14 (a verifier per kind of credential: authgate's own API
tokens and app passwords in ``issued``, JWTs of external issuers elsewhere). The Gate asks
its verifiers in order; the first answer that is not None wins; when none knows the
credential the request is judged as if it had none (``credential_check`` says when that
is a 401 and when a cookie or a login page decides).

``refusal_answer`` renders a refused credential for every dialect: 401 with
``WWW-Authenticate`` (RFC 6750 for Bearer, RFC 7617 for Basic) and a short JSON body, or
403 when the credential is good but the app's policy refuses its user. Never a redirect.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from authgate.forward.answers import JSON, NO_STORE, Answer, json_body
from authgate.forward.decision import CredentialRefused
from authgate.forward.model import AppView, Identity

REALM = "authgate"
MAX_LENGTH = 8192  # longer Authorization values are not read
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_SAFE = re.compile(r"[^ !#-\[\]-~]")  # what may stand in a quoted-string, less \ and "


@dataclass(frozen=True, slots=True)
class Bearer:
    token: str


@dataclass(frozen=True, slots=True)
class Basic:
    username: str
    password: str


Credential = Bearer | Basic


class MalformedCredential(Exception):
    """A Bearer or Basic value that cannot be read; ``reason`` for the 401 and the log."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def parse_authorization(value: str) -> Credential | None:
    """None when there is no Authorization header value (""), or a scheme authgate does
    not handle; raises MalformedCredential for a Bearer/Basic value that cannot be read."""
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "basic"):
        return None
    if len(value) > MAX_LENGTH:
        raise MalformedCredential(f"{scheme} credential longer than {MAX_LENGTH} bytes")
    rest = rest.strip(" ")
    if not _TOKEN68.fullmatch(rest):
        raise MalformedCredential(f"malformed {scheme} credential")
    if scheme == "bearer":
        return Bearer(rest)
    try:
        decoded = base64.b64decode(rest, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise MalformedCredential("basic credential is not base64 of UTF-8 text") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username or not (username + password).isprintable():
        raise MalformedCredential("basic credential is not user:password")
    return Basic(username, password)


@dataclass(frozen=True, slots=True)
class Verified:
    identity: Identity  # amr says how: "token", "app_password", "password", "jwt"


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str  # short, safe to show: "unknown token", "expired", ...
    error: str = "invalid_token"  # RFC 6750 error code for WWW-Authenticate


class CredentialUnavailable(Exception):
    """A verifier cannot judge the credential now (e.g. every password-hashing place is
    taken): the check answers 503, never an allow."""


class CredentialVerifier(Protocol):
    async def verify(
        self, credential: Credential, app: AppView, client_ip: str
    ) -> Verified | Refused | None:
        """None: not mine (another verifier may know it). May raise
        ``CredentialUnavailable``."""


async def verify(
    verifiers: Sequence[CredentialVerifier], credential: Credential, app: AppView, client_ip: str
) -> Verified | Refused | None:
    """The first verifier's answer that is not None; None when no verifier knows it."""
    for verifier in verifiers:
        verdict = await verifier.verify(credential, app, client_ip)
        if verdict is not None:
            return verdict
    return None


def scheme_of(credential: Credential | None) -> str:
    return "Basic" if isinstance(credential, Basic) else "Bearer"


def challenge(refused: CredentialRefused) -> bytes:
    """The WWW-Authenticate value: the scheme, our realm, and for Bearer the RFC 6750
    error and its description (characters a quoted string cannot hold are dropped)."""
    if refused.scheme == "Basic":
        return f'Basic realm="{REALM}", charset="UTF-8"'.encode()
    described = _SAFE.sub("", refused.reason)[:200]
    return (
        f'Bearer realm="{REALM}", error="{refused.error}", error_description="{described}"'
    ).encode()


def refusal_answer(refused: CredentialRefused) -> Answer:
    """401 (or 403 for a good credential that policy refuses) with WWW-Authenticate and a
    short JSON body; the same on every dialect. ``x-authgate-error`` carries the error
    code for nginx, which replaces the body with its own."""
    headers = [
        (b"www-authenticate", challenge(refused)),
        (b"x-authgate-error", refused.error.encode()),
        JSON,
        NO_STORE,
    ]
    body = json_body(
        error=refused.error, error_description=refused.reason, decision=refused.decision_id
    )
    return Answer(refused.status, headers, body)
