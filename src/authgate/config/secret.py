"""Secrets as a type: masked in repr and logs, read from files (a mounted Secret)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path


class Secret:
    """A secret string that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(url: str) -> str:
    """A URL as it may be shown (logs, errors, ``serve``'s banner): its password masked."""
    return re.sub(r"://([^:/@]*):[^@]+@", r"://\1:***@", url)


def new_secret_key() -> str:
    """A fresh random HMAC key (64 characters, 288 bits)."""
    return secrets.token_urlsafe(48)


def read_key_file(path: Path) -> list[Secret]:
    """Keys from ``path``, one per line, newest first (blank lines and ``#`` comments
    skipped): the first signs, the others still verify. Raises OSError when it cannot be read,
    ValueError when it is not text."""
    lines = [line.strip() for line in path.read_bytes().decode().splitlines()]
    return [Secret(line) for line in lines if line and not line.startswith("#")]
