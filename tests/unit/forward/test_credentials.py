"""Reading Authorization (``credentials.parse_authorization``) and authgate's own secrets
(``api_secrets``): exact where they must be, and no input ever raises anything else."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authgate.forward.api_secrets import (
    APP_PASSWORD,
    TOKEN,
    NotASecret,
    is_own,
    new_secret,
    read_secret,
)
from authgate.forward.credentials import (
    Basic,
    Bearer,
    MalformedCredential,
    challenge,
    parse_authorization,
)
from authgate.forward.decision import CredentialRefused


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("Digest username=x", None),
        ("Negotiate abc", None),
        ("Bearer abc.def-_~+/=", Bearer("abc.def-_~+/=")),
        ("bearer   tok", Bearer("tok")),
        ("BASIC " + b64("ann:p:w"), Basic("ann", "p:w")),
        ("Basic " + b64("ann:"), Basic("ann", "")),
    ],
)
def test_what_is_read(value: str, expected: object) -> None:
    assert parse_authorization(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer a\x00",
        "Bearer " + "a" * 9000,
        "Basic !!!",
        "Basic " + b64("no-colon"),
        "Basic " + b64(":nouser"),
        "Basic " + b64("ann\r\n:x"),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_what_is_malformed(value: str) -> None:
    with pytest.raises(MalformedCredential):
        parse_authorization(value)


@given(st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=300))
def test_any_value_is_read_or_refused_never_crashes(value: str) -> None:
    for candidate in (value, "Bearer " + value, "Basic " + value, "Basic " + b64(value)):
        try:
            parse_authorization(candidate)
        except MalformedCredential as exc:
            assert exc.reason


@given(st.text(max_size=80))
def test_any_value_is_a_secret_or_not_never_crashes(value: str) -> None:
    for candidate in (value, "agt_" + value, "agp-" + value):
        try:
            read_secret(candidate)
        except NotASecret as exc:
            assert exc.reason


@pytest.mark.parametrize("kind", [TOKEN, APP_PASSWORD])
def test_a_new_secret_reads_back_as_itself(kind: str) -> None:
    text, made = new_secret(kind)
    assert read_secret(text) == made
    assert is_own(text)
    assert len({new_secret(kind)[0] for _ in range(50)}) == 50
    assert made.hash != read_secret(new_secret(kind)[0]).hash  # type: ignore[union-attr]


def test_the_shapes_people_see() -> None:
    token, _ = new_secret(TOKEN)
    password, _ = new_secret(APP_PASSWORD)
    assert token.startswith("agt_") and len(token) == 4 + 12 + 1 + 32
    groups = password.split("-")
    assert groups[0] == "agp" and [len(g) for g in groups[1:]] == [4] * 7
    assert read_secret("ghp_abc") is None and read_secret("hunter2") is None
    with pytest.raises(NotASecret):
        read_secret("agt_short_x")


def test_the_challenge_cannot_be_broken_out_of() -> None:
    refused = CredentialRefused(None, None, 'bad "quote" \\ and\r\nnewline')
    value = challenge(refused).decode()
    assert value == (
        'Bearer realm="authgate", error="invalid_token", error_description="bad quote  andnewline"'
    )
    assert challenge(CredentialRefused(None, None, "x", scheme="Basic")).startswith(b"Basic ")
