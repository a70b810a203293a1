"""signing.py: one key ring, the newest key signs, every key verifies, a salt per purpose."""

from __future__ import annotations

from authgate.config.secret import Secret
from authgate.signing import CookieSigner, CsrfSerializer, KeyRing, Signing, StateSerializer

OLD, NEW = Secret("o" * 40), Secret("n" * 40)


def test_a_rotated_ring_verifies_what_the_old_key_signed() -> None:
    before, after = Signing([OLD]), Signing([NEW, OLD])
    assert after.session.unsign(before.session.sign("sid")) == "sid"
    assert after.state.load(before.state.dump({"n": "x"})) == {"n": "x"}
    seed = "seed"
    assert after.csrf.verify(seed, before.csrf.token(seed))


def test_the_newest_key_signs() -> None:
    signed = Signing([NEW, OLD]).session.sign("sid")
    assert Signing([NEW]).session.unsign(signed) == "sid"
    assert Signing([OLD]).session.unsign(signed) is None


def test_a_value_signed_for_one_purpose_verifies_for_no_other() -> None:
    ring = KeyRing([NEW])
    session = CookieSigner(ring, "session").sign("x")
    assert CookieSigner(ring, "explain").unsign(session) is None
    state = StateSerializer(ring).dump({"n": "x"})
    assert CsrfSerializer(ring).verify("x", state) is False
    assert StateSerializer(ring).load(CsrfSerializer(ring).token("x")) is None


def test_forged_expired_and_odd_values_are_refused() -> None:
    signing = Signing([NEW])
    assert signing.session.unsign("sid.forged") is None
    assert signing.state.load("garbage") is None
    assert StateSerializer(KeyRing([NEW]), max_age=-1).load(signing.state.dump({})) is None
    assert signing.state.load(signing.csrf.token("a string, not a mapping")) is None
    assert signing.csrf.verify(None, signing.csrf.token("s")) is False
    assert signing.csrf.verify("s", None) is False
    assert signing.csrf.verify("other", signing.csrf.token("s")) is False


def test_cookie_signer_accepts_the_configured_keys_as_before() -> None:
    assert CookieSigner([NEW], "session").unsign(Signing([NEW]).session.sign("a")) == "a"
