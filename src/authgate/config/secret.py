"""Secrets as a type: masked in repr and logs, read from files, generated on first start."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from authgate.config.keyfile import read_or_create


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


def read_or_create_key_file(path: Path) -> list[Secret]:
    """Keys from ``path``, one per line, newest first; a new random key if the file is missing.

    The file is created once, atomically, with mode 0600 so that only authgate's user can read
    it. Keeping older keys on later lines lets cookies signed with them verify while new ones
    use the first key. Raises OSError when it cannot be read or made, ValueError when it is not
    text.
    """
    data = read_or_create(path, lambda: (secrets.token_urlsafe(48) + "\n").encode())
    lines = [line.strip() for line in data.decode().splitlines()]
    return [Secret(line) for line in lines if line and not line.startswith("#")]
