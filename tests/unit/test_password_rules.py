"""The rules a person's new password must meet."""

from __future__ import annotations

import pytest

from authgate.accounts.password_rules import MIN_LENGTH, password_problem


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("x" * (MIN_LENGTH - 1), "at least"),
        ("Alice-at-home", "user name"),
        ("alice", "at least"),
        ("password123!", "most common"),
        ("qwertyuiop", "most common"),
        ("ILOVEYOU12", "most common"),
        ("abababababab", "different characters"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, why: str) -> None:
    assert why in password_problem(password, "alice")


@pytest.mark.parametrize("password", ["correct horse battery", "Tr0ub4dor&3x-x", "a" + "b1" * 6])
def test_good_passwords_pass(password: str) -> None:
    assert password_problem(password, "alice") == ""


def test_a_one_letter_user_name_does_not_forbid_its_letter() -> None:
    assert password_problem("maple syrup forest", "a") == ""
