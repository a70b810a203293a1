"""``X-authentik-jwt``: a short-lived ES256 JWT per app session, cached until near expiry.

Apps verify it with the public keys at ``<public URL>/.well-known/jwks.json``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.config.keyfile import read_or_create
from authgate.forward.model import AppView, Identity

LIFETIME = 300


def new_key_pem() -> bytes:
    """A fresh P-256 private key, PKCS#8 PEM."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The signing key in PEM; made once (mode 0600) by whichever process starts first.

    Raises OSError when the file cannot be read or made, ValueError when it holds no EC key.
    """
    pem = read_or_create(path, new_key_pem)
    try:
        loaded = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} does not hold a PEM private key without a password") from exc
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ValueError(f"{path} does not hold a P-256 (ES256) private key")
    return loaded


def thumbprint(jwk: dict[str, Any]) -> str:
    """The key's ``kid``: its RFC 7638 thumbprint. For an EC key the JSON of exactly ``crv``,
    ``kty``, ``x``, ``y`` in that order without whitespace, SHA-256, base64url unpadded."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode()
    return jwt.utils.base64url_encode(hashlib.sha256(canonical).digest()).decode()


class TokenIssuer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str) -> None:
        self._key = key
        self.issuer = issuer
        public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.kid = thumbprint(public)
        self.jwks: dict[str, Any] = {
            "keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]
        }

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
            claims["amr"] = [*identity.amr, "mfa"] if identity.second_factor else [*identity.amr]
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})
        return token, expires
