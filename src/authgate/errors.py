"""The one exception tree of authgate.

    AuthgateError
    ├── ConfigError        settings that cannot be used; carries every problem at once
    ├── StoreError         the database cannot be reached or is not migrated
    └── NotFoundError      a named user, group, app or session does not exist
        └── (ConflictError) a name is already taken

HTTP status codes are chosen at the edge (web/, forward/endpoint.py), never here.
"""

from __future__ import annotations


class AuthgateError(Exception):
    """Root of every error authgate raises on purpose."""


class ConfigError(AuthgateError):
    """One or more settings are unusable. ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class StoreError(AuthgateError):
    """The store is unreachable, not migrated, or refused a write."""


class NotFoundError(AuthgateError):
    """A named object does not exist."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"no {kind} named {name!r}")


class ConflictError(AuthgateError):
    """A name is already taken, or a change would break an invariant."""
