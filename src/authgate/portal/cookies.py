"""The portal's own cookies: its session, its CSRF seed and the device cookie, host-only on
the portal host."""

from __future__ import annotations

from authgate.config import Settings
from authgate.forward.cookies import PORTAL_COOKIE, set_cookie

CSRF_COOKIE = "authgate_csrf"
DEVICE_COOKIE = "authgate_device"


def portal_cookie_name(settings: Settings) -> str:
    return ("__Host-" if settings.public_secure else "") + PORTAL_COOKIE


def csrf_cookie_name(settings: Settings) -> str:
    return ("__Host-" if settings.public_secure else "") + CSRF_COOKIE


def portal_cookie(settings: Settings, value: str, max_age: int | None) -> str:
    return set_cookie(
        portal_cookie_name(settings), value, secure=settings.public_secure, max_age=max_age
    )


def csrf_cookie(settings: Settings, value: str) -> str:
    return set_cookie(
        csrf_cookie_name(settings), value, secure=settings.public_secure, max_age=None
    )


def device_cookie_name(settings: Settings) -> str:
    return ("__Host-" if settings.public_secure else "") + DEVICE_COOKIE


def device_cookie(settings: Settings, value: str, max_age: int) -> str:
    """Long-lived: it names this browser a device of the users who signed in with it."""
    return set_cookie(
        device_cookie_name(settings), value, secure=settings.public_secure, max_age=max_age
    )
