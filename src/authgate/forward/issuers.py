"""Machine identities: a Bearer JWT from a configured external issuer (a CI system's OIDC
token, say) stands for the service-account user its claim rules name.

The token's ``iss`` is read unverified only to pick the issuer; a token of an issuer that is
not configured is not ours (None: another verifier may know it). For a configured issuer
everything is checked or the token is refused: the algorithm (the issuer's list; never
``none``, never HS*), the signature with a key of the issuer's JWKS (by ``kid``; an unknown
``kid`` asks for one rate-limited refresh), ``exp``/``nbf``/``iat`` with the issuer's
leeway, ``aud``, then the first claim rule that matches and the user it names (a missing or
disabled user is refused). A verified token is remembered until it expires, so a CI job's
repeated requests cost one dictionary lookup. All of that is forgotten when the store's
revision moves (a user disabled, a group changed) or an issuer's keys change.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import jwt
from jwt import PyJWK

from authgate.config.issuers import IssuerConfig
from authgate.forward import model
from authgate.forward.credentials import Bearer, Credential, Refused, Verified
from authgate.forward.model import AppView, Identity

log = logging.getLogger("authgate.issuers")

EXTERNAL_JWT = "jwt"  # the ``amr`` of an identity proved by an external issuer's token
MEMO_LIMIT = 10_000
_ERRORS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not valid yet"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.MissingRequiredClaimError, "a required claim is missing"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidSignatureError, "bad signature"),
)


class IssuerKeySource(Protocol):
    """One issuer's public keys (``accounts.jwks.IssuerKeys``)."""

    def find(self, kid: str | None) -> PyJWK | None: ...

    async def refresh(self, *, force: bool = False) -> bool: ...


class Account(model.Account, Protocol):
    """What the verifier needs of a user (``storage.store.users.UserInfo``)."""

    @property
    def disabled(self) -> bool: ...


FindUser = Callable[[str], Awaitable[Account | None]]


def peek_issuer(token: str) -> str | None:
    """The ``iss`` of a JWT-shaped token, read WITHOUT verifying anything: only to choose
    which issuer's rules judge it. None when the token is not a JWS with a string ``iss``."""
    if token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else None


class ExternalIssuers:
    """The credential verifier for the configured external issuers (``issuers``)."""

    def __init__(
        self,
        issuers: Sequence[IssuerConfig],
        keys: Mapping[str, IssuerKeySource],
        find_user: FindUser,
        generation: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {config.issuer: config for config in issuers}
        self._keys = keys
        self._find_user = find_user
        self._generation = generation  # the store's revision: users and groups as of then
        self._seen: int | None = None
        self._clock = clock
        self._verified: dict[str, tuple[Verified, float]] = {}  # token -> (answer, exp)

    @property
    def issuers(self) -> list[IssuerConfig]:
        return list(self._issuers.values())

    def forget(self) -> None:
        """Verify every token afresh (users, groups or keys changed)."""
        self._verified = {}

    async def verify(
        self, credential: Credential, app: AppView, client_ip: str
    ) -> Verified | Refused | None:
        if not isinstance(credential, Bearer):
            return None
        token = credential.token
        generation = self._generation()
        if generation != self._seen:  # a user or a group changed, or this is the first
            self._seen = generation
            self.forget()
        kept = self._verified.get(token)
        if kept is not None and self._clock() < kept[1]:
            return kept[0]
        issuer = peek_issuer(token)
        config = self._issuers.get(issuer) if issuer is not None else None
        if config is None:
            return None
        try:
            claims = await self._claims(token, config)
        except Exception:  # fail closed: never an allow, never a 500
            log.exception("issuer %s: a token could not be checked", config.issuer)
            return Refused("invalid token")
        if isinstance(claims, Refused):
            return claims
        # the service account from the store: its errors go up, and the check says "not
        # now" (503, as for a session it cannot load), not that a good token is bad
        return await self._identify(token, config, claims)

    async def _claims(self, token: str, config: IssuerConfig) -> dict[str, Any] | Refused:
        """The token's claims once everything about the token itself is checked."""
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in config.algorithms:
            return Refused("algorithm not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            return Refused("invalid token")
        keys = self._keys[config.issuer]
        key = keys.find(kid)
        if key is None:
            if await keys.refresh():
                self.forget()
            key = keys.find(kid)
        if key is None:
            return Refused("unknown signing key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway,
                options={
                    "require": ["exp", "iat", "iss", "aud"],
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as exc:
            return Refused(_reason(exc))
        return claims

    async def _identify(
        self, token: str, config: IssuerConfig, claims: dict[str, Any]
    ) -> Verified | Refused:
        subject = str(claims.get("sub", ""))
        username = config.user_for(claims)
        if username is None:
            log.info("issuer %s: no claim rule matches sub=%r", config.issuer, subject)
            return Refused("no claim rule matches this token")
        account = await self._find_user(username)
        if account is None or account.disabled:
            log.warning(
                "issuer %s: service account %r missing or disabled", config.issuer, username
            )
            return Refused("service account unavailable")
        expires = float(claims["exp"])
        digest = hashlib.sha256(f"{config.issuer}\0{subject}\0{username}".encode()).hexdigest()
        identity = Identity.of_account(
            account, f"jwt:{digest[:32]}", amr=(EXTERNAL_JWT,), expires_at=expires
        )
        answer = Verified(identity)
        if len(self._verified) >= MEMO_LIMIT:
            self._verified = {}
        self._verified[token] = (answer, expires)
        return answer


def _reason(exc: jwt.PyJWTError) -> str:
    return next((reason for kind, reason in _ERRORS if isinstance(exc, kind)), "invalid token")
