"""Time-based one-time passwords (RFC 6238) as authenticator apps make them: six digits, a
new code every 30 seconds, from a base32 secret the app got from a QR code.

A code is accepted for its own time step and one step either side (a phone's clock drifts,
and a person types slowly). ``matching_step`` says WHICH step a code belongs to; the store
then records that step as used in one atomic statement, so a code works once, across every
worker, and an older code is refused after a newer one was used (``storage/store/totp``).

pyotp makes the codes; this module only adds the window, the constant-time comparison, the
use cases over the store (``use_totp_code``, ``confirm_totp``) and what the enrolment page
shows (the ``otpauth://`` URI and its QR code as SVG).
"""

from __future__ import annotations

import hmac
import time

import pyotp
import segno

from authgate.storage.store import Store, UserInfo

DIGITS = 6
PERIOD = 30
DRIFT = 1  # steps accepted either side of the current one


def new_secret() -> str:
    """A fresh secret: 32 base32 characters (160 bits, RFC 4226's recommendation)."""
    return pyotp.random_base32()


def current_step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // PERIOD)


def code_at_step(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).generate_otp(step)


def clean_code(typed: str) -> str:
    """What a person typed, without the spaces and dashes apps show inside a code."""
    return "".join(ch for ch in typed[:32] if ch not in " -\t")


def matching_step(secret: str, typed: str, at: float | None = None) -> int | None:
    """The time step ``typed`` is the code of (now, or one step either side), else None.

    Every candidate is compared, in constant time, whatever matched first."""
    code = clean_code(typed)
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    now = current_step(at)
    found = None
    for step in range(now - DRIFT, now + DRIFT + 1):
        if hmac.compare_digest(code_at_step(secret, step), code):
            found = step
    return found


async def use_totp_code(store: Store, user: UserInfo, typed: str) -> bool:
    """True when ``typed`` is a current code of the user's confirmed TOTP secret that was not
    used before (this step or a later one); the step is recorded as used."""
    found = await store.totp_secret(user.id)
    if found is None or not found.confirmed:
        return False
    step = matching_step(found.secret, typed)
    return step is not None and await store.use_totp_step(user.id, step)


async def confirm_totp(store: Store, user: UserInfo, typed: str) -> bool:
    """True when ``typed`` is a current code of the user's unconfirmed secret: TOTP is on
    from now on (and this code is used up)."""
    found = await store.totp_secret(user.id)
    if found is None or found.confirmed:
        return False
    step = matching_step(found.secret, typed)
    return step is not None and await store.use_totp_step(user.id, step, confirming=True)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    return totp.provisioning_uri(name=account, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI, for an ``<img>`` (the portal's CSP
    allows ``img-src data:``; no script, no inline style)."""
    return str(
        segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")
    )


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
