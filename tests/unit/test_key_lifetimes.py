"""How long a rotated-out key keeps verifying: as long as anything it signed can live."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from authgate.config import load_settings
from authgate.forward.tokens import LIFETIME
from authgate.web.keys import SLACK, hmac_verifies_for, jwt_verifies_for


def test_the_hmac_key_outlives_the_longest_cookie(tmp_path: Path) -> None:
    default = load_settings({"AUTHGATE_DATA_DIR": str(tmp_path)})
    assert hmac_verifies_for(default) == timedelta(days=30, seconds=SLACK)  # remember me
    long_sessions = load_settings(
        {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_SESSION_LIFETIME": "90d"}
    )
    assert hmac_verifies_for(long_sessions) == timedelta(days=90, seconds=SLACK)
    short = load_settings(
        {
            "AUTHGATE_DATA_DIR": str(tmp_path),
            "AUTHGATE_SESSION_LIFETIME": "1h",
            "AUTHGATE_REMEMBER_ME_LIFETIME": "2h",
        }
    )
    assert hmac_verifies_for(short) == timedelta(days=1, seconds=SLACK)  # a form's CSRF token


def test_the_jwt_key_outlives_the_last_token_it_signed() -> None:
    assert jwt_verifies_for() == timedelta(seconds=LIFETIME + SLACK)
    assert SLACK >= 1  # a replica that reloads a moment late still signs with the old key
