"""The JWT that apps get in ``X-authentik-jwt`` and the JWKS they verify it with."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authgate.forward.model import AppView, Identity
from authgate.forward.tokens import TokenIssuer, load_key, new_key_pem, thumbprint

# The P-256 base point G (FIPS 186-4, D.1.2.3) is the public key of the private key d = 1.
G_X = "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
G_Y = "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5"
# RFC 7638 §3 by hand: the required members of an EC key (crv, kty, x, y) in lexicographic
# order, no whitespace; x and y are base64url of the 32-byte coordinates.
G_MEMBERS = (
    '{"crv":"P-256","kty":"EC",'
    '"x":"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",'
    '"y":"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}'
)
G_KID = "xx0BcA-wMohw8atYDJOe6peGModklG2wRHBlXHMvl0M"


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_hand_made_vector_follows_the_rfc() -> None:
    """The vector itself, from the coordinates and SHA-256 alone."""
    assert b64url(bytes.fromhex(G_X)) in G_MEMBERS and b64url(bytes.fromhex(G_Y)) in G_MEMBERS
    assert b64url(hashlib.sha256(G_MEMBERS.encode()).digest()) == G_KID


def test_kid_is_the_rfc7638_thumbprint() -> None:
    issuer = TokenIssuer(ec.derive_private_key(1, ec.SECP256R1()), "https://auth.example.com")
    (published,) = issuer.jwks["keys"]
    assert issuer.kid == published["kid"] == G_KID
    assert (published["x"], published["y"]) == (
        b64url(bytes.fromhex(G_X)),
        b64url(bytes.fromhex(G_Y)),
    )


def test_thumbprint_ignores_member_order_and_extra_members() -> None:
    jwk = {"y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU", "kty": "EC", "crv": "P-256"}
    jwk |= {"x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY", "use": "sig", "alg": "ES256"}
    assert thumbprint(jwk) == G_KID


def test_two_keys_have_two_kids() -> None:
    kids = {TokenIssuer(ec.generate_private_key(ec.SECP256R1()), "x").kid for _ in range(5)}
    assert len(kids) == 5


IDENTITY = Identity(
    session_id="s1",
    parent_id="p1",
    user_id=1,
    uid="u1",
    username="alice",
    email="a@x.test",
    name="Alice",
    groups=("staff",),
)
APP = AppView(
    id=1,
    slug="wiki",
    name="Wiki",
    external_url="https://wiki.test",
    scheme="https",
    host="wiki.test",
)


def test_a_token_verifies_against_another_instance_loading_the_same_key() -> None:
    pem = new_key_pem()  # as two replicas read it from the store
    signer = TokenIssuer(load_key(pem, "the store"), "https://auth.example.com")
    second = TokenIssuer(load_key(pem, "the store"), "https://auth.example.com")
    token = signer.token_for(IDENTITY, APP)
    key = jwt.PyJWKSet.from_dict(second.jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key, algorithms=["ES256"], audience="wiki")
    assert claims["preferred_username"] == "alice" and claims["iss"] == "https://auth.example.com"


def test_a_token_of_another_key_finds_no_key_in_the_jwks() -> None:
    """A verifier picks the key by kid: another key's token is not matched by mistake."""
    other = TokenIssuer(load_key(new_key_pem(), "a"), "https://auth.example.com")
    ours = TokenIssuer(load_key(new_key_pem(), "b"), "https://auth.example.com")
    token = other.token_for(IDENTITY, APP)
    with pytest.raises(KeyError):
        jwt.PyJWKSet.from_dict(ours.jwks)[jwt.get_unverified_header(token)["kid"]]


def test_after_a_rotation_the_new_key_signs_and_the_old_still_verifies() -> None:
    old, new = load_key(new_key_pem(), "old"), load_key(new_key_pem(), "new")
    before = TokenIssuer(old, "https://auth.example.com")
    after = TokenIssuer(new, "https://auth.example.com", [old, new])  # a key listed twice
    assert [k["kid"] for k in after.jwks["keys"]] == [after.kid, before.kid]  # newest first
    assert jwt.get_unverified_header(after.token_for(IDENTITY, APP))["kid"] == after.kid
    published = jwt.PyJWKSet.from_dict(after.jwks)
    for token in (before.token_for(IDENTITY, APP), after.token_for(IDENTITY, APP)):
        key = published[jwt.get_unverified_header(token)["kid"]]
        assert jwt.decode(token, key, algorithms=["ES256"], audience="wiki")["sub"] == "u1"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "PEM private key"),
        (b"not a key\n", "PEM private key"),
        (
            ec.generate_private_key(ec.SECP384R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "P-256",
        ),
    ],
)
def test_an_unusable_key_is_named(content: bytes, needle: str) -> None:
    with pytest.raises(ValueError, match=f"^the file does not hold .*{needle}"):
        load_key(content, "the file")
