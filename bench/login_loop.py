"""Scenario (f)'s background: clients logging in through the real portal flow over and over
(a fresh httpx client each time, so every login verifies the password with argon2id) while
wrk measures the check. Bounded: the threads stop when the block ends."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from bench.login import log_in, test_names_on_loopback
from bench.scenarios import BROWSER_ACCEPT


@dataclass
class LoginCount:
    done: int = 0
    failed: int = 0
    first_error: str | None = None
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def as_report(self, clients: int) -> dict[str, object]:
        return {
            "clients": clients,
            "logins": self.done,
            "failed": self.failed,
            "logins_per_s": round(self.done / self.seconds, 1) if self.seconds else None,
            "first_error": self.first_error,
        }


@contextlib.contextmanager
def logging_in(url: str, clients: int) -> Iterator[LoginCount]:
    """``clients`` threads each logging in at ``url`` until the block ends."""
    count = LoginCount()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                with httpx.Client(
                    trust_env=False, timeout=15.0, headers={"Accept": BROWSER_ACCEPT}
                ) as client:
                    log_in(client, url)
            except Exception as exc:
                with count.lock:
                    count.failed += 1
                    count.first_error = count.first_error or f"{type(exc).__name__}: {exc}"[:300]
            else:
                with count.lock:
                    count.done += 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    started = time.monotonic()
    with test_names_on_loopback():
        for thread in threads:
            thread.start()
        try:
            yield count
        finally:
            stop.set()
            count.seconds = time.monotonic() - started
            for thread in threads:
                thread.join(timeout=20)
