"""``X-authentik-jwt``: a short-lived ES256 JWT per app session, cached until near expiry.

Apps verify it with the public keys at ``<public URL>/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.forward.model import AppView, Identity

LIFETIME = 300


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The signing key in PEM, created with mode 0600 on first start."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return loaded


class TokenIssuer:
    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str) -> None:
        self._key = key
        self.issuer = issuer
        public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.kid = jwt.utils.base64url_encode(
            json.dumps(public, sort_keys=True).encode()[:32]
        ).decode()[:16]
        self.jwks: dict[str, Any] = {
            "keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]
        }
        self._cache: dict[tuple[str, int], tuple[str, float]] = {}

    def token_for(self, identity: Identity, app: AppView, now: float | None = None) -> str:
        now = time.time() if now is None else now
        key = (identity.session_id, app.id)
        cached = self._cache.get(key)
        if cached is not None and cached[1] - 60 > now:
            return cached[0]
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
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = (token, expires)
        return token
