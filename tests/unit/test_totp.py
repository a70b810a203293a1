"""TOTP codes: six digits per 30-second step, accepted for their step and one either side;
recovery codes: their shape and how typing them may vary."""

from __future__ import annotations

import pyotp
import pytest

from authgate.accounts.recovery_codes import code_hash, new_code, normalized
from authgate.accounts.totp import clean_code, matching_step, new_secret

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T = 1_900_000_015.0  # 15 s into step 63_333_333
STEP = 63_333_333


def phone(at: float) -> str:
    return pyotp.TOTP(SECRET).at(at)


@pytest.mark.parametrize(("offset", "step"), [(-30, STEP - 1), (0, STEP), (30, STEP + 1)])
def test_the_current_step_and_one_either_side_are_accepted(offset: int, step: int) -> None:
    assert matching_step(SECRET, phone(T + offset), at=T) == step


@pytest.mark.parametrize("offset", [-60, 60, -3600])
def test_codes_further_away_are_refused(offset: int) -> None:
    assert matching_step(SECRET, phone(T + offset), at=T) is None


def test_the_window_moves_with_the_clock() -> None:
    code = phone(T)
    assert matching_step(SECRET, code, at=T + 30) == STEP  # now one step old
    assert matching_step(SECRET, code, at=T + 60) is None  # two steps: too old


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5x"])
def test_what_is_no_six_digit_code_is_refused(typed: str) -> None:
    assert matching_step(SECRET, typed, at=T) is None


def test_spaces_and_dashes_inside_a_code_do_not_matter() -> None:
    code = phone(T)
    assert matching_step(SECRET, f"{code[:3]} {code[3:]}", at=T) == STEP
    assert clean_code(f" {code[:3]}-{code[3:]} ") == code


def test_secrets_are_fresh_160_bit_base32() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(s) == 32 and set(s) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for s in secrets)


def test_recovery_codes_are_three_groups_of_four_base32() -> None:
    codes = {new_code() for _ in range(50)}
    assert len(codes) == 50
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4]
        assert set("".join(groups)) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_recovery_code_hashes_ignore_typing_and_differ_per_user() -> None:
    assert normalized(" abcd-efgh ijkl ") == "ABCDEFGHIJKL"
    assert code_hash("u1", "ABCD-EFGH-IJKL") == code_hash("u1", "abcd efgh ijkl")
    assert code_hash("u1", "ABCD-EFGH-IJKL") != code_hash("u2", "ABCD-EFGH-IJKL")
