"""Scenario (f)'s background: clients logging in through the real portal flow over and over
while wrk measures the check. Bounded: the threads stop when the block ends.

Each client is a returning person on their own browser: every login starts a fresh httpx
client (no session cookie, so the password is checked with argon2id each time) that keeps
only the device cookie of its earlier logins. That cookie is what makes one person's
failed tries count against their browser rather than the account (``accounts.throttle``);
without it twenty parallel logins of the one bench account would count as twenty failures
of that account and lock it, and the loop would measure the lockout. Until a client has
its device cookie it logs in while fewer than ``FIRST_AT_ONCE`` others do so (a try is
counted against the account until it succeeds).

Every attempt ends as one of: ``logins`` (at the app as the user), ``busy`` (authgate said
"too many people are signing in", 503 with Retry-After: counted, not an error) or
``failed`` (anything else, the first one kept). ``restart()`` starts the counts afresh, so
that the report covers the measured run, not the warm-up."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from authgate.portal.cookies import DEVICE_COOKIE
from bench.login import LoginBusy, log_in, test_names_on_loopback
from bench.scenarios import BROWSER_ACCEPT

FIRST_AT_ONCE = 5  # first logins at once: well below the account's lock threshold (10)


@dataclass
class LoginCount:
    done: int = 0
    busy: int = 0
    failed: int = 0
    first_error: str | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    cpu_started: float = field(default_factory=time.process_time)
    cpu_s: float = 0.0  # the bench process's CPU meanwhile: mostly these clients
    lock: threading.Lock = field(default_factory=threading.Lock)

    def restart(self) -> None:
        """Count from now on (what the warm-up saw is forgotten)."""
        with self.lock:
            self.done = self.busy = self.failed = 0
            self.first_error = None
            self.started = time.monotonic()
            self.cpu_started = time.process_time()

    def stop(self) -> None:
        self.seconds = time.monotonic() - self.started
        self.cpu_s = time.process_time() - self.cpu_started

    def as_report(self, clients: int) -> dict[str, object]:
        def per_s(count: int) -> float | None:
            return round(count / self.seconds, 1) if self.seconds else None

        return {
            "clients": clients,
            "seconds": round(self.seconds, 1),
            "logins": self.done,
            "logins_per_s": per_s(self.done),
            "busy": self.busy,
            "busy_per_s": per_s(self.busy),
            "failed": self.failed,
            "first_error": self.first_error,
            "clients_cpu_s": round(self.cpu_s, 2),  # they share the machine with the check
        }


@contextlib.contextmanager
def logging_in(url: str, clients: int) -> Iterator[LoginCount]:
    """``clients`` threads each logging in at ``url`` until the block ends."""
    count = LoginCount()
    stop = threading.Event()
    first_logins = threading.BoundedSemaphore(FIRST_AT_ONCE)

    def loop() -> None:
        device: httpx.Cookies = httpx.Cookies()
        while not stop.is_set():
            try:
                if device:
                    device = _log_in_once(url, device)
                else:
                    with first_logins:
                        device = _log_in_once(url, device)
            except LoginBusy:
                with count.lock:
                    count.busy += 1
                stop.wait(1.0)  # as a person would, a moment before trying again
            except Exception as exc:
                with count.lock:
                    count.failed += 1
                    count.first_error = count.first_error or f"{type(exc).__name__}: {exc}"[:300]
            else:
                with count.lock:
                    count.done += 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    with test_names_on_loopback():
        for thread in threads:
            thread.start()
        try:
            yield count
        finally:
            stop.set()
            count.stop()
            for thread in threads:
                thread.join(timeout=20)


def _log_in_once(url: str, device: httpx.Cookies) -> httpx.Cookies:
    """One login in a fresh browser that has only ``device``; the device cookie after it."""
    with httpx.Client(
        trust_env=False, timeout=15.0, headers={"Accept": BROWSER_ACCEPT}, cookies=device
    ) as client:
        log_in(client, url)
        kept = httpx.Cookies()
        for cookie in client.cookies.jar:
            if cookie.name.endswith(DEVICE_COOKIE):
                kept.jar.set_cookie(cookie)
        return kept
