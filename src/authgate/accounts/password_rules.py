"""What a new password must be when a person chooses it (the account page, an invitation or
a reset link; an administrator's ``authgate user passwd`` is not held to it): long enough,
not the user's name, and not one of the passwords people choose most often.

The list of common passwords is the one the ``zxcvbn`` package ships (30,000 passwords
ranked by how often they appeared in public breaches); it is read once, on first use.
"""

from __future__ import annotations

from functools import cache

MIN_LENGTH = 10
MAX_LENGTH = 1024  # the login form reads no more than this


@cache
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, username: str) -> str:
    """Why ``password`` may not be chosen by ``username``, as a sentence for the form; ""
    when it may."""
    if len(password) < MIN_LENGTH:
        return f"Choose a password of at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Choose a password of at most {MAX_LENGTH} characters."
    folded = password.casefold()
    name = username.casefold()
    if name and (folded == name or (len(name) >= 3 and name in folded)):
        return "Choose a password that does not contain your user name."
    if len(set(folded)) < 3:
        return "Choose a password with more than one or two different characters."
    if folded in common_passwords() or _stripped(folded) in common_passwords():
        return "That password is one of the most common ones. Choose another."
    return ""


def _stripped(folded: str) -> str:
    """The password without the digits and marks people add to a common word at its end
    (``password123!``)."""
    return folded.rstrip("0123456789!?.@#$%&*_-+= ")
