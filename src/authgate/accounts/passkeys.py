"""Passkeys: the WebAuthn ceremonies of authgate, with no HTTP in them (py_webauthn does the
cryptography).

- ``RelyingParty``: who the passkeys are for: the portal's host (``AUTHGATE_PUBLIC_URL``) and
  its origin; an answer made for any other site is refused.
- ``Passkeys.begin_*`` hand out options with a fresh challenge, which the store keeps
  (hashed, five minutes) for one purpose: ``register``, ``authenticate`` (a second factor)
  or ``passwordless``.
- ``Passkeys.finish_*`` take the browser's answer: the challenge it signed must be one handed
  out for that purpose (and that user) and not yet answered, by any worker; the signature
  must verify; the credential's counter must move forward (else a clone is suspected,
  refused and audited). Every refusal is a ``PasskeyRefused`` that says what a person may be
  told; the reason for the log stays in ``detail``.
- Failures where the user is known count like wrong passwords (``count_failure``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url, parse_client_data_json
from webauthn.helpers.base64url_to_bytes import base64url_to_bytes
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.parse_registration_credential_json import (
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authgate.accounts.throttle import ACCOUNT, ADDRESS, ThrottlePolicy, address_key
from authgate.config import Settings
from authgate.errors import ConflictError
from authgate.storage.store import LoginCounters, NewPasskey, Passkey, Store, UserInfo, now

REGISTER = "register"
AUTHENTICATE = "authenticate"
PASSWORDLESS = "passwordless"
MAX_PASSKEYS = 20  # per user
TIMEOUT_MS = 120_000
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


class PasskeyRefused(Exception):
    """An answer that signs nobody in and registers nothing. ``message`` may be shown to the
    person; ``detail`` is for the audit log; ``user`` is whose passkey it was, when known."""

    def __init__(self, message: str, detail: str = "", user: UserInfo | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message
        self.user = user

    @property
    def is_failure(self) -> bool:
        """A wrong answer (counted like a wrong password), not an expired or garbled one."""
        return self.message == NOT_ACCEPTED


EXPIRED = "This passkey request expired or was used already. Please try again."
NOT_ACCEPTED = "That passkey was not accepted."


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the portal's host name, no port
    origin: str  # scheme://host[:port] of the portal
    name: str = "authgate"

    @classmethod
    def of(cls, settings: Settings) -> RelyingParty:
        return cls(urlsplit(settings.public_url).hostname or "localhost", settings.public_origin)


@dataclass(frozen=True)
class Answer:
    """A browser's answer to a challenge, parsed: the challenge it signed and the rest."""

    challenge: bytes
    credential: Mapping[str, Any]


@dataclass(frozen=True)
class SignedIn:
    """A verified assertion: which passkey, whose."""

    passkey: Passkey
    user: UserInfo


def read_answer(credential: object) -> Answer:
    """The challenge a browser's answer (``PublicKeyCredential.toJSON()``) claims to sign;
    ``PasskeyRefused`` when it is no such answer."""
    if not isinstance(credential, dict):
        raise PasskeyRefused("The browser sent no passkey answer.", "credential is not an object")
    response = credential.get("response")
    client_data = response.get("clientDataJSON") if isinstance(response, dict) else None
    if not isinstance(client_data, str) or len(client_data) > 4096:
        raise PasskeyRefused("The browser sent no passkey answer.", "no clientDataJSON")
    try:
        challenge = parse_client_data_json(base64url_to_bytes(client_data)).challenge
    except (WebAuthnException, ValueError, TypeError) as exc:
        raise PasskeyRefused(
            "The browser sent no passkey answer.", f"clientDataJSON: {exc}"
        ) from exc
    return Answer(challenge, credential)


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in passkey.transports if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id), transports=transports or None
    )


def _options(options: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(options_to_json(options))
    return data


class Passkeys:
    """The ceremonies over one store, for one relying party."""

    def __init__(
        self, store: Store, rp: RelyingParty, counters: LoginCounters, policy: ThrottlePolicy
    ) -> None:
        self.store = store
        self.rp = rp
        self.counters = counters
        self.policy = policy

    # -- registration ---------------------------------------------------------------------
    async def begin_registration(self, user: UserInfo) -> dict[str, Any]:
        existing = await self.store.passkeys_of(user.id)
        if len(existing) >= MAX_PASSKEYS:
            raise PasskeyRefused(f"You have {MAX_PASSKEYS} passkeys; remove one first.")
        options = generate_registration_options(
            rp_id=self.rp.id,
            rp_name=self.rp.name,
            user_id=user.uid.encode(),  # the user handle: a random id, nothing personal
            user_name=user.username,
            user_display_name=user.name or user.username,
            timeout=TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                require_resident_key=True,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[_descriptor(p) for p in existing],
        )
        await self.store.add_challenge(options.challenge, REGISTER, user.id)
        return _options(options)

    async def finish_registration(self, user: UserInfo, answer: Answer, name: str) -> Passkey:
        await self._take(answer, REGISTER, user)
        try:
            credential = parse_registration_credential_json(dict(answer.credential))
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=answer.challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise PasskeyRefused(NOT_ACCEPTED, f"registration: {exc}") from exc
        transports = tuple(
            t.value for t in credential.response.transports or () if t.value in _TRANSPORTS
        )
        new = NewPasskey(
            bytes_to_base64url(verified.credential_id),
            bytes_to_base64url(verified.credential_public_key),
            verified.sign_count,
            transports,
        )
        if len(await self.store.passkeys_of(user.id)) >= MAX_PASSKEYS:
            raise PasskeyRefused(f"You have {MAX_PASSKEYS} passkeys; remove one first.")
        try:
            return await self.store.add_passkey(user.id, new, name)
        except ConflictError as exc:
            raise PasskeyRefused("This passkey is registered already.", str(exc)) from exc

    # -- authentication -------------------------------------------------------------------
    async def begin_second_factor(self, user: UserInfo) -> dict[str, Any]:
        """Options naming the user's own passkeys."""
        passkeys = await self.store.passkeys_of(user.id)
        if not passkeys:
            raise PasskeyRefused("You have no passkey registered.")
        options = generate_authentication_options(
            rp_id=self.rp.id,
            timeout=TIMEOUT_MS,
            allow_credentials=[_descriptor(p) for p in passkeys],
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        await self.store.add_challenge(options.challenge, AUTHENTICATE, user.id)
        return _options(options)

    async def begin_passwordless(self) -> dict[str, Any]:
        """Options for a discoverable passkey (the browser offers the ones it holds for this
        site), with user verification: the passkey alone must be two factors."""
        options = generate_authentication_options(
            rp_id=self.rp.id,
            timeout=TIMEOUT_MS,
            allow_credentials=[],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        await self.store.add_challenge(options.challenge, PASSWORDLESS, None)
        return _options(options)

    async def finish_second_factor(self, user: UserInfo, answer: Answer) -> SignedIn:
        await self._take(answer, AUTHENTICATE, user)
        credential, found = await self._credential(answer)
        if found is None or found[1].id != user.id:
            raise PasskeyRefused(NOT_ACCEPTED, "credential is not one of the user's passkeys", user)
        return await self._verify(credential, answer, found[0], user, require_uv=False)

    async def finish_passwordless(self, answer: Answer) -> SignedIn:
        """The passkey's user, when they allow sign-in with a passkey alone; any other case
        is the same ``NOT_ACCEPTED``."""
        await self._take(answer, PASSWORDLESS, None)
        credential, found = await self._credential(answer)
        if found is None:
            raise PasskeyRefused(NOT_ACCEPTED, "unknown credential")
        passkey, user = found
        handle = credential.response.user_handle
        if handle is not None and handle != user.uid.encode():
            raise PasskeyRefused(NOT_ACCEPTED, "user handle is not the credential's user", user)
        signed_in = await self._verify(credential, answer, passkey, user, require_uv=True)
        if user.disabled or not user.passwordless:
            raise PasskeyRefused(NOT_ACCEPTED, "user does not allow passwordless sign-in", user)
        return signed_in

    async def _take(self, answer: Answer, purpose: str, user: UserInfo | None) -> None:
        taken = await self.store.take_challenge(answer.challenge, purpose)
        if taken is None:
            raise PasskeyRefused(EXPIRED, f"{purpose} challenge unknown, used or expired")
        if taken.user_id != (user.id if user else None):
            raise PasskeyRefused(EXPIRED, f"{purpose} challenge was handed to someone else")

    async def _credential(
        self, answer: Answer
    ) -> tuple[AuthenticationCredential, tuple[Passkey, UserInfo] | None]:
        try:
            credential = parse_authentication_credential_json(dict(answer.credential))
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise PasskeyRefused(NOT_ACCEPTED, f"assertion: {exc}") from exc
        found = await self.store.passkey_owner(bytes_to_base64url(credential.raw_id))
        return credential, found

    async def _verify(
        self,
        credential: AuthenticationCredential,
        answer: Answer,
        passkey: Passkey,
        user: UserInfo,
        *,
        require_uv: bool,
    ) -> SignedIn:
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=answer.challenge,
                expected_rp_id=self.rp.id,
                expected_origin=self.rp.origin,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=0,  # judged below, after the signature
                require_user_verification=require_uv,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            raise PasskeyRefused(NOT_ACCEPTED, f"assertion: {exc}", user) from exc
        if not await self.store.record_passkey_use(passkey.id, verified.new_sign_count):
            detail = json.dumps(
                {
                    "passkey": passkey.name,
                    "stored": passkey.sign_count,
                    "sent": verified.new_sign_count,
                }
            )
            await self.store.audit("passkey_clone_suspected", actor=user.username, detail=detail)
            raise PasskeyRefused(NOT_ACCEPTED, "signature counter did not move forward", user)
        return SignedIn(passkey, user)

    # -- failures -------------------------------------------------------------------------
    async def address_wait(self, ip: str) -> int:
        """Seconds this client address must still wait after too many failed sign-ins."""
        at = now()
        count = await self.counters.read_counter(ADDRESS, address_key(ip), at=at)
        return count.wait_at(at)

    async def count_failure(self, user: UserInfo | None, ip: str) -> None:
        """A refused answer counts as a failed sign-in: against the user's account when the
        user is known, and against the client address always (the same counters, limits and
        locks as wrong passwords)."""
        at = now()
        limits = [(ADDRESS, address_key(ip), self.policy.address)]
        if user is not None:
            limits.insert(0, (ACCOUNT, user.uid, self.policy.account))
        for scope, key, limit in limits:
            count = await self.counters.add_failure(scope, key, window=limit.window, at=at)
            seconds = limit.lock_for(count.failures)
            if seconds:
                until = at + timedelta(seconds=seconds)
                await self.counters.lock_counter(scope, key, until=until)
