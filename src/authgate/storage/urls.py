"""Database URLs as they may be shown: the password masked."""

from __future__ import annotations

import re


def redact_url(url: str) -> str:
    return re.sub(r"://([^:/@]*):[^@]+@", r"://\1:***@", url)
