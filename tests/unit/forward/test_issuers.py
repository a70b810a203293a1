"""Machine identities: Bearer JWTs of a configured external issuer, checked against its JWKS
and mapped by claim rules to a service-account user. Keys are made here; the JWKS is
served from memory (and, in tests/unit/test_jwks.py, by a real local HTTP server)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authgate.accounts.jwks import IssuerKeys
from authgate.config.issuers import IssuerConfig, parse_issuers
from authgate.forward.credentials import Basic, Bearer, Refused, Verified
from authgate.forward.issuers import ExternalIssuers, peek_issuer
from tests.unit.forward.helpers import app

ISS = "https://ci.example.com"
AUD = "https://auth.example.com"


@dataclass(frozen=True)
class Account:
    id: int
    uid: str
    username: str
    email: str
    name: str
    disabled: bool
    groups: tuple[str, ...]


class Directory:
    def __init__(self, *accounts: Account) -> None:
        self.accounts = {a.username: a for a in accounts}
        self.asked = 0

    async def find(self, username: str) -> Account | None:
        self.asked += 1
        return self.accounts.get(username)


class Jwks:
    """An issuer's JWKS held in memory; ``fetch`` is what IssuerKeys calls."""

    def __init__(self, *keys: tuple[str, ec.EllipticCurvePrivateKey]) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.down = False

    async def fetch(self, config: IssuerConfig) -> dict[str, Any]:
        self.fetches += 1
        if self.down:
            from authgate.accounts.jwks import JwksUnavailable

            raise JwksUnavailable("connection refused")
        return document(*self.keys)


def document(*keys: tuple[str, ec.EllipticCurvePrivateKey]) -> dict[str, Any]:
    return {"keys": [jwk(kid, key) for kid, key in keys]}


def jwk(kid: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": kid, "use": "sig", "alg": "ES256"}


KEY_A = ec.generate_private_key(ec.SECP256R1())
KEY_B = ec.generate_private_key(ec.SECP256R1())
DEPLOY = Account(3, "uid-deploy", "ci-deploy", "", "CI deploy", False, ("robots",))
READER = Account(4, "uid-reader", "ci-read", "", "CI read", False, ())


def config(**overrides: Any) -> IssuerConfig:
    data: dict[str, Any] = {
        "issuer": ISS,
        "jwks_url": f"{ISS}/jwks",
        "audience": AUD,
        "algorithms": ["ES256"],
        "rules": [
            {"user": "ci-deploy", "claims": {"repository": "org/app", "ref": "refs/heads/main"}},
            {"user": "ci-read", "claims": {"repository": "org/*"}},
        ],
    }
    data.update(overrides)
    return parse_issuers([data])[0]


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISS,
        "aud": AUD,
        "sub": "repo:org/app:ref:refs/heads/main",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "repository": "org/app",
        "ref": "refs/heads/main",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Any = KEY_A, kid: str | None = "a", alg: str = "ES256", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def verifier(
    jwks: Jwks | None = None, directory: Directory | None = None, **overrides: Any
) -> tuple[ExternalIssuers, Jwks, Directory]:
    jwks = jwks or Jwks(("a", KEY_A))
    directory = directory or Directory(DEPLOY, READER)
    each = config(**overrides)
    keys = {each.issuer: IssuerKeys(each, jwks.fetch)}
    return ExternalIssuers([each], keys, directory.find), jwks, directory


async def check(verifier: ExternalIssuers, token: str) -> Verified | Refused | None:
    return await verifier.verify(Bearer(token), app(), "192.0.2.1")


async def test_a_valid_token_is_the_service_account_of_the_first_matching_rule() -> None:
    gate, _, _ = verifier()
    answer = await check(gate, sign())
    assert isinstance(answer, Verified)
    who = answer.identity
    assert (who.username, who.user_id, who.groups, who.amr) == (
        "ci-deploy",
        3,
        ("robots",),
        ("jwt",),
    )
    assert who.session_id.startswith("jwt:") and who.expires_at > time.time()
    other = await check(gate, sign(ref="refs/heads/feature"))  # only the glob rule matches
    assert isinstance(other, Verified) and other.identity.username == "ci-read"
    assert other.identity.session_id != who.session_id  # one credential, one session id


async def test_no_matching_rule_is_refused() -> None:
    gate, _, _ = verifier()
    assert await check(gate, sign(repository="elsewhere/app")) == Refused(
        "no claim rule matches this token"
    )
    assert isinstance(await check(gate, sign(repository=["org/app"])), Refused)  # not a string


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": -120}, "expired"),  # seconds from now, when the test runs
        ({"nbf": 600}, "not valid yet"),
        ({"iat": 600}, "not valid yet"),
        ({"aud": "https://other.example.com"}, "wrong audience"),
        ({"aud": None}, "a required claim is missing"),
        ({"exp": None}, "a required claim is missing"),
        ({"iat": None}, "a required claim is missing"),
    ],
)
async def test_time_and_audience_are_checked(overrides: dict[str, Any], reason: str) -> None:
    gate, _, _ = verifier()
    now = int(time.time())
    claims = {
        name: now + value if name in ("exp", "nbf", "iat") and value is not None else value
        for name, value in overrides.items()
    }
    assert await check(gate, sign(**claims)) == Refused(reason)


async def test_the_leeway_allows_a_little_clock_skew() -> None:
    gate, _, _ = verifier(leeway="60s")
    assert isinstance(await check(gate, sign(exp=int(time.time()) - 20)), Verified)


async def test_a_token_of_another_issuer_is_not_ours() -> None:
    gate, _, _ = verifier()
    assert await check(gate, sign(iss="https://evil.example.com")) is None
    assert await check(gate, "not-a-jwt") is None
    assert await check(gate, "a.b.c") is None
    assert await gate.verify(Basic("ci-deploy", sign()), app(), "192.0.2.1") is None


async def test_a_signature_of_another_key_is_refused() -> None:
    gate, _, _ = verifier()
    assert await check(gate, sign(KEY_B, kid="a")) == Refused("bad signature")
    forged = sign()[:-4] + ("AAAA" if not sign().endswith("AAAA") else "BBBB")
    assert isinstance(await check(gate, forged), Refused)


async def test_alg_none_is_refused() -> None:
    gate, _, _ = verifier()
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": "a"})
    assert await check(gate, token) == Refused("algorithm not allowed")


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """Key confusion: the attacker signs HS256 with the issuer's public key as the secret."""
    gate, _, _ = verifier()
    public_pem = KEY_A.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac
    import json
    from base64 import urlsafe_b64encode

    def part(data: dict[str, Any]) -> str:
        return urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'kid': 'a'})}.{part(claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert await check(gate, token) == Refused("algorithm not allowed")
    # and an issuer may not even list HS256 (or none)
    for alg in ("HS256", "none"):
        with pytest.raises(ValueError, match="never none, never HS"):
            config(algorithms=[alg])


async def test_an_allowed_algorithm_must_match_the_key() -> None:
    """RS256 is allowed, but the key under that kid is an EC key: refused, not confused."""
    gate, _, _ = verifier(algorithms=["ES256", "RS256"])
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert isinstance(await check(gate, sign(rsa_key, alg="RS256")), Refused)


async def test_unknown_kid_refreshes_the_jwks_once_then_the_rotated_key_verifies() -> None:
    jwks = Jwks(("a", KEY_A))
    gate, _, _ = verifier(jwks)
    assert isinstance(await check(gate, sign()), Verified)
    assert jwks.fetches == 1
    jwks.keys = [("b", KEY_B)]  # the issuer rotated; our copy still says "a"
    refused = await check(gate, sign(KEY_B, kid="b"))
    assert refused == Refused("unknown signing key")  # refreshed < min_interval ago: no fetch
    assert jwks.fetches == 1


async def test_unknown_kid_after_the_interval_fetches_the_new_set() -> None:
    jwks = Jwks(("a", KEY_A))
    each = config()
    now = [1000.0]
    keys = IssuerKeys(each, jwks.fetch, min_interval=30, clock=lambda: now[0])
    gate = ExternalIssuers([each], {ISS: keys}, Directory(DEPLOY, READER).find)
    assert isinstance(await check(gate, sign()), Verified)
    jwks.keys = [("a", KEY_A), ("b", KEY_B)]
    now[0] += 31
    assert isinstance(await check(gate, sign(KEY_B, kid="b")), Verified)
    for _ in range(5):  # made-up kids: at most one fetch per interval
        assert await check(gate, sign(KEY_B, kid="zzz")) == Refused("unknown signing key")
    assert jwks.fetches == 2


async def test_a_dead_jwks_never_allows_and_known_keys_outlive_an_outage() -> None:
    jwks = Jwks(("a", KEY_A))
    jwks.down = True
    gate, _, _ = verifier(jwks)
    assert await check(gate, sign()) == Refused("unknown signing key")
    each = config()
    now = [0.0]
    keys = IssuerKeys(each, jwks.fetch, min_interval=1, stale_limit=3600, clock=lambda: now[0])
    jwks.down = False
    await keys.refresh()
    jwks.down = True
    now[0] += 600
    await keys.refresh()  # fails: the keys held stay
    assert keys.error == "connection refused" and keys.find("a") is not None
    now[0] += 3600
    assert keys.find("a") is None  # too stale: refused from now on


async def test_a_missing_or_disabled_service_account_is_refused() -> None:
    gate, _, _ = verifier(directory=Directory(READER))
    assert await check(gate, sign()) == Refused("service account unavailable")
    off = Account(3, "uid-deploy", "ci-deploy", "", "", True, ())
    gate, _, _ = verifier(directory=Directory(off))
    assert await check(gate, sign()) == Refused("service account unavailable")


async def test_a_store_that_is_down_is_not_a_bad_token() -> None:
    """The check answers 503 (the endpoint's answer to an error), never 'invalid token'."""

    async def down(username: str) -> Account | None:
        raise ConnectionError("store down")

    each = config()
    gate = ExternalIssuers([each], {ISS: IssuerKeys(each, Jwks(("a", KEY_A)).fetch)}, down)
    with pytest.raises(ConnectionError):
        await check(gate, sign())


async def test_a_verified_token_is_forgotten_when_the_store_moves() -> None:
    revision = [1]
    jwks, directory = Jwks(("a", KEY_A)), Directory(DEPLOY, READER)
    each = config()
    keys = {ISS: IssuerKeys(each, jwks.fetch)}
    gate = ExternalIssuers([each], keys, directory.find, generation=lambda: revision[0])
    token = sign()
    await check(gate, token)
    await check(gate, token)
    assert directory.asked == 1
    revision[0] += 1  # a user disabled, a group changed: on every worker within a second
    directory.accounts.pop("ci-deploy")
    assert await check(gate, token) == Refused("service account unavailable")


async def test_a_verified_token_is_remembered_until_forget() -> None:
    gate, jwks, directory = verifier()
    token = sign()
    first, second = await check(gate, token), await check(gate, token)
    assert first == second and directory.asked == 1 and jwks.fetches == 1
    gate.forget()
    await check(gate, token)
    assert directory.asked == 2


async def test_a_token_without_kid_needs_a_single_key_set() -> None:
    gate, _, _ = verifier()
    assert isinstance(await check(gate, sign(kid=None)), Verified)
    gate, _, _ = verifier(Jwks(("a", KEY_A), ("b", KEY_B)))
    assert await check(gate, sign(kid=None)) == Refused("unknown signing key")


def test_peek_reads_iss_without_trusting_it() -> None:
    assert peek_issuer(sign()) == ISS
    assert peek_issuer("x.y") is None and peek_issuer("a.b.c") is None
    assert peek_issuer(sign(iss=None)) is None


def _b64(data: bytes) -> str:
    from base64 import urlsafe_b64encode

    return urlsafe_b64encode(data).rstrip(b"=").decode()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.fixed_dictionaries(
        {"alg": st.sampled_from(["ES256", "none", "HS256", "RS256"]) | _json_values},
        optional={
            "kid": st.just("a") | _json_values,
            "crit": _json_values,
            "jku": st.just("https://evil.example.com/jwks"),
        },
    ),
    extra=st.dictionaries(st.sampled_from(["aud", "exp", "iat", "nbf", "sub"]), _json_values),
    signature=st.binary(max_size=80),
)
async def test_hostile_tokens_of_a_configured_issuer_are_refused_never_raised(
    header: dict[str, Any], extra: dict[str, Any], signature: bytes
) -> None:
    """Whatever header, claims and signature: refused (or not ours), never an exception."""
    import json

    gate, _, _ = verifier()
    payload = {**claims(), **extra, "iss": ISS}
    parts = [json.dumps(header).encode(), json.dumps(payload).encode(), signature]
    answer = await check(gate, ".".join(_b64(part) for part in parts))
    assert answer is None or isinstance(answer, Refused)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
async def test_any_bearer_text_is_refused_or_not_ours(token: str) -> None:
    gate, _, _ = verifier()
    answer = await check(gate, token)
    assert answer is None or isinstance(answer, Refused)


@settings(max_examples=150, deadline=None)
@given(
    extra=st.dictionaries(
        st.sampled_from(["aud", "exp", "iat", "nbf", "sub", "repository", "ref"]), _json_values
    )
)
async def test_hostile_claims_under_a_good_signature_are_judged_never_raised(
    extra: dict[str, Any],
) -> None:
    """Signed by the issuer's own key, but with claims of any shape: a clean answer."""
    gate, _, _ = verifier()
    token = jwt.encode({**claims(), **extra}, KEY_A, algorithm="ES256", headers={"kid": "a"})
    answer = await check(gate, token)
    assert isinstance(answer, Verified | Refused)
    if isinstance(answer, Verified):  # then the claims were really fine
        assert answer.identity.expires_at > time.time()
