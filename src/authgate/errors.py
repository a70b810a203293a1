"""The one exception tree of authgate.

    AuthgateError          the root: the CLI prints any of these as one line, never a traceback
    ├── ConfigError        settings or a state file that cannot be used; carries every problem
    ├── StoreError         the database cannot be reached or is not migrated
    ├── NotFoundError      a named user, group, app, rule or session does not exist
    ├── ConflictError      a name is already taken, or a change would break an invariant
    ├── HashingBusy        (accounts/hashing.py) too many passwords are being checked: try
    │                      again later; nothing was counted
    └── SpecError          (deploy/spec.py) a command-line value of ``authgate manifests``
                           that no generator can use; the message names the flag

A class defined in another module is listed with its module. Two exceptions stay outside
the tree on purpose, because they are answers rather than failures and never reach the
CLI's error line: ``forward.request.BadRequest`` (a proxy request that cannot be judged,
turned into a 400, or a 401 on ``auth/nginx``) and ``doctor.nginx.SyntaxProblem`` (a config
file ``authgate doctor`` reads does not parse, turned into a finding).

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
