"""What a person's phone and eyes do in the second-factor tests (functional and e2e): the
authenticator app's code for a secret, and the secret and recovery codes read off a page."""

from __future__ import annotations

import re
import time

import pyotp


def code(secret: str, steps: int = 0) -> str:
    """The code the phone shows ``steps`` time steps from now (within ±1 it is accepted)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def wrong_code(secret: str) -> str:
    """Six digits that are no code of ``secret`` now or one step either side."""
    near = {code(secret, steps) for steps in (-1, 0, 1)}
    return next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in near)


def secret_on(html: str) -> str:
    """The TOTP secret an enrolment page shows as text (grouped in fours)."""
    found = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html)
    assert found, f"no secret on the page:\n{html[:3000]}"
    return found.group(1).replace(" ", "")


def recovery_codes_on(html: str) -> list[str]:
    return re.findall(r"<code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code>", html)
