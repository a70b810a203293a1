"""Secrets as a type: masked in repr and logs, read from files, generated on first start."""

from __future__ import annotations

import os
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


def read_or_create_key_file(path: Path) -> list[Secret]:
    """Keys from ``path``, one per line, newest first; a new random key if the file is missing.

    The file is created with mode 0600 so that only authgate's user can read it. Keeping older
    keys on later lines lets cookies signed with them verify while new ones use the first key.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [Secret(line) for line in lines if line and not line.startswith("#")]
