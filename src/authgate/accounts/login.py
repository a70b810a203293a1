"""Password login: one answer for every failure, so no user name is ever confirmed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from authgate.accounts.passwords import verify_password_async
from authgate.storage.store import Store, UserInfo

FAILED = "Wrong user name or password."


@dataclass
class Throttle:
    """Slows guessing: after ``limit`` failures for one user name or address within
    ``window`` seconds, further tries are refused until the window passes."""

    limit: int = 10
    window: float = 300.0
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        for key in keys:
            recent = [t for t in self._failures.get(key, []) if now - t < self.window]
            self._failures[key] = recent
            if len(recent) >= self.limit:
                return True
        return False

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures.setdefault(key, []).append(now)
        if len(self._failures) > 50_000:
            self._failures.clear()


async def authenticate(store: Store, username: str, password: str) -> UserInfo | None:
    user = await store.find_user(username.strip()) if username.strip() else None
    ok = await verify_password_async(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        return None
    return user
