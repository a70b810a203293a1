"""A software WebAuthn authenticator for the tests: an EC P-256 key, "none" attestation, real
CBOR and real signatures, so the server's checks run on what a browser would send
(``PublicKeyCredential.toJSON()`` shape). Every knob a misbehaving authenticator or a
phishing page could turn is a keyword: origin, user verification, counter, user handle.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.base64url_to_bytes import base64url_to_bytes
from webauthn.helpers.encode_cbor import encode_cbor

UP, UV, AT = 0x01, 0x04, 0x40


def _b64(data: bytes) -> str:
    return bytes_to_base64url(data)


@dataclass
class SoftAuthenticator:
    rp_id: str
    origin: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0
    user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return _b64(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
        return encode_cbor({1: 2, 3: -7, -1: 1, -2: x, -3: y})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps({**data, "crossOrigin": False}).encode()

    def _auth_data(self, flags: int, count: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", count) + attested

    def register(
        self, options: dict[str, Any], *, uv: bool = True, origin: str | None = None
    ) -> dict[str, Any]:
        """The answer to ``navigator.credentials.create`` for ``options`` (the server's JSON)."""
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        attested = (
            bytes(16)  # aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        auth_data = self._auth_data(UP | AT | (UV if uv else 0), self.sign_count, attested)
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": _b64(client_data),
                "attestationObject": _b64(attestation),
                "transports": ["internal"],
            },
        }

    def assertion(
        self,
        options: dict[str, Any],
        *,
        uv: bool = True,
        origin: str | None = None,
        count_step: int = 1,
        user_handle: bytes | str | None = "own",
    ) -> dict[str, Any]:
        """The answer to ``navigator.credentials.get`` for ``options``; the counter moves
        by ``count_step`` (0 or negative: a clone's replayed counter)."""
        self.sign_count = max(0, self.sign_count + count_step)
        auth_data = self._auth_data(UP | (UV if uv else 0), self.sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        handle = self.user_handle if user_handle == "own" else user_handle
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": _b64(client_data),
                "authenticatorData": _b64(auth_data),
                "signature": _b64(signature),
                "userHandle": _b64(handle) if isinstance(handle, bytes) else None,
            },
        }
