"""``X-authentik-jwt``: a short-lived ES256 JWT per app session, cached until near expiry.

Apps verify it with the public keys at ``<public URL>/.well-known/jwks.json``: the key that
signs now first, then every key rotated out whose tokens may still be alive.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.forward.model import AppView, Identity

LIFETIME = 300

#: How a session or credential proved itself (``Identity.amr``) -> the token's ``amr``
#: (RFC 8176 where it names the method). Sessions already carry RFC 8176 values (``pwd``,
#: ``otp``, ``hwk``; ``rec`` is a recovery code); a password sent as HTTP Basic is ``pwd``
#: too; an API token, an app password and an external issuer's JWT have no RFC 8176 value
#: and keep their own names (``token``, ``app_password``, ``jwt``). ``mfa`` is added
#: whenever a second factor was proved.
AMR_CLAIM = {"password": "pwd"}


def amr_claim(identity: Identity) -> list[str]:
    """The ``amr`` claim for ``identity``: each method once, then ``mfa`` when it proved a
    second factor."""
    methods = [AMR_CLAIM.get(method, method) for method in identity.amr]
    if identity.second_factor:
        methods.append("mfa")
    return list(dict.fromkeys(methods))


def new_key_pem() -> bytes:
    """A fresh P-256 private key, PKCS#8 PEM."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_key(pem: bytes, source: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in ``pem``. Raises ValueError naming ``source`` when it is not
    one (not PEM, has a password, another curve)."""
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source} does not hold a PEM private key without a password") from exc
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ValueError(f"{source} does not hold a P-256 (ES256) private key")
    return loaded


def thumbprint(jwk: dict[str, Any]) -> str:
    """The key's ``kid``: its RFC 7638 thumbprint. For an EC key the JSON of exactly ``crv``,
    ``kty``, ``x``, ``y`` in that order without whitespace, SHA-256, base64url unpadded."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    return jwt.utils.base64url_encode(hashlib.sha256(canonical).digest()).decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """The public half of ``key`` as a JWK with its ``kid``, for the JWKS."""
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": thumbprint(public), "use": "sig", "alg": "ES256"}


class TokenIssuer:
    """Signs with ``key``; ``older`` keys (rotated out, newest first) only appear in the JWKS
    so that tokens they signed keep verifying until they expire."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        issuer: str,
        older: Sequence[ec.EllipticCurvePrivateKey] = (),
    ) -> None:
        self._key = key
        self.issuer = issuer
        published: dict[str, dict[str, Any]] = {}  # kid -> JWK, in order, each key once
        for each in (key, *older):
            jwk = public_jwk(each)
            published.setdefault(jwk["kid"], jwk)
        self.kid: str = next(iter(published))
        self.jwks: dict[str, Any] = {"keys": list(published.values())}

    def token_for(self, identity: Identity, app: AppView, now: float | None = None) -> str:
        return self.issue(identity, app, now)[0]

    def issue(
        self, identity: Identity, app: AppView, now: float | None = None
    ) -> tuple[str, float]:
        """A fresh token for this session and app, and when it expires. The gate keeps it
        while the session's identity is the same object (a reload makes a new one)."""
        now = time.time() if now is None else now
        expires = min(now + LIFETIME, identity.expires_at or now + LIFETIME)
        claims = {
            "iss": self.issuer,
            "sub": identity.uid,
            "aud": app.slug,
            "iat": int(now),
            "exp": int(expires),
            "preferred_username": identity.username,
            "email": identity.email,
            "name": identity.name,
            "groups": list(identity.groups),
            "sid": identity.parent_id or identity.session_id,
        }
        if identity.amr:
            claims["amr"] = amr_claim(identity)
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})
        return token, expires
