"""Password login, and the second factor after it: one answer for every failure, so no user
name is ever confirmed.

Unknown user, wrong password, disabled user and locked account all end the same way, after the
same argon2 work (a dummy hash stands in when no real one may be checked). The argon2 work
runs in the server's ``HashingPool``; when its queue is full the sign-in is refused with
``HashingBusy`` before anything is counted or checked. Every try is counted
*before* the password is checked, in counters every worker shares, so a burst of parallel
guesses cannot slip past the limit. A second factor's code is counted on the same counters
(``LoginGuard.second_factor``), and a right password does not clear them while a second
factor is still to come.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from authgate.accounts.hashing import HashingBusy, HashingPool
from authgate.accounts.passwords import verify_password
from authgate.accounts.throttle import (
    ACCOUNT,
    ADDRESS,
    DEVICE,
    UNKNOWN,
    Limit,
    ThrottlePolicy,
    address_key,
)
from authgate.storage.store import Count, LoginCounters, Store, UserInfo, now
from authgate.storage.store.names import canonical_username

FAILED = "Wrong user name or password."

# checks one credential of the user it is given; given None (a user who may not be checked
# now) it does the same work where that matters, and says False
Proof = Callable[[UserInfo | None], Awaitable[bool]]


@dataclass(frozen=True)
class Attempt:
    username: str  # as typed
    password: str
    ip: str  # the client address as authgate computes it (trusted-proxy rules)
    devices: Mapping[str, str] = field(default_factory=dict)  # uid -> nonce, from the cookie


@dataclass(frozen=True)
class Outcome:
    user: UserInfo | None = None  # signed in
    retry_after: int = 0  # the client address must wait this many seconds: nothing checked


@dataclass(frozen=True)
class _Guard:
    """The counter that judges this attempt: the device's, else the account's."""

    scope: str
    key: str
    limit: Limit

    def admits(self, count: Count, at: datetime) -> bool:
        return not count.locked_at(at) and count.failures <= self.limit.threshold


class LoginGuard:
    """Signs users in with passwords and judges their second factors, counting failures per
    account, device and address."""

    def __init__(
        self,
        store: Store,
        counters: LoginCounters,
        hashing: HashingPool,
        policy: ThrottlePolicy | None = None,
        clock: Callable[[], datetime] = now,
        observe: Callable[[str, str], None] = lambda step, result: None,
    ) -> None:
        self.store = store
        self.counters = counters
        self.hashing = hashing
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self.observe = observe  # (step, result): password|second_factor, ok|failed|throttled|busy

    async def sign_in(self, attempt: Attempt) -> Outcome:
        """Judge a password; ``HashingBusy`` (nothing counted) when too many wait already."""
        try:
            place = self.hashing.reserve()
        except HashingBusy:
            self.observe("password", "busy")
            raise
        with place:
            name = canonical_username(attempt.username)
            user = await self.store.find_user(name) if name else None

            async def password_right(admitted: UserInfo | None) -> bool:
                # a user who may not be checked gets the dummy hash: the same argon2 work
                checked = admitted.password_hash if admitted is not None else None
                return await place.run(verify_password, checked, attempt.password)

            return await self._judge(user, attempt.ip, attempt.devices, password_right, final=False)

    async def second_factor(
        self, user: UserInfo, ip: str, devices: Mapping[str, str], proof: Proof
    ) -> Outcome:
        """Judge a second factor (a TOTP or recovery code) of ``user`` as a password is
        judged: counted before it is checked, on the same counters, so that a six-digit code
        cannot be guessed; a locked account is not checked at all and fails the same way.
        ``proof(user)`` checks the code (it is never called while the user is locked)."""
        return await self._judge(user, ip, devices, proof, final=True)

    async def _judge(
        self,
        user: UserInfo | None,
        ip: str,
        devices: Mapping[str, str],
        proof: Proof,
        *,
        final: bool,
    ) -> Outcome:
        """One proof judged (``_judge_once``), its result told to ``observe``."""
        step = "second_factor" if final else "password"
        outcome = await self._judge_once(user, ip, devices, proof, final=final)
        result = "ok" if outcome.user else "throttled" if outcome.retry_after else "failed"
        self.observe(step, result)
        return outcome

    async def _judge_once(
        self,
        user: UserInfo | None,
        ip: str,
        devices: Mapping[str, str],
        proof: Proof,
        *,
        final: bool,
    ) -> Outcome:
        """The counting around one proof. The failure counted before the proof is forgotten
        when it succeeds and is ``final``; a right password that a second factor must follow
        is not final (else a right password would reset the count of wrong codes)."""
        at = self.clock()
        nonce = devices.get(user.uid) if user else None
        guard = _Guard(DEVICE, nonce, self.policy.device) if nonce else None
        count = await self._count(guard, at) if guard else None
        if guard is None or count is None or not guard.admits(count, at):
            # not a device of this user (or a locked one): the address, then the account
            wait = await self.counters.read_counter(ADDRESS, address_key(ip), at=at)
            if wait.wait_at(at):
                return Outcome(retry_after=wait.wait_at(at))
            guard = _Guard(ACCOUNT, user.uid if user else UNKNOWN, self.policy.account)
            count = await self._count(guard, at)
        admitted = user is not None and guard.admits(count, at)
        if await proof(user if admitted else None) and user and not user.disabled:
            if final or not (await self.store.enrolled_factors(user.id)).any:
                await self.counters.clear_counter(guard.scope, guard.key)
            return Outcome(user=user)
        if admitted and user is not None:
            await self._failed(guard, count, user, ip, at)
        if guard.scope == ACCOUNT:
            await self._count_address(ip, at)
        return Outcome()

    async def _count(self, guard: _Guard, at: datetime) -> Count:
        """Count this try before the password is checked (a success clears it again)."""
        return await self.counters.add_failure(
            guard.scope, guard.key, window=guard.limit.window, at=at
        )

    async def _failed(
        self, guard: _Guard, count: Count, user: UserInfo, ip: str, at: datetime
    ) -> None:
        """A checked password was wrong: the try that reaches the threshold locks."""
        seconds = guard.limit.lock_for(count.failures)
        if not seconds:
            return
        await self.counters.lock_counter(
            guard.scope, guard.key, until=at + timedelta(seconds=seconds)
        )
        if count.failures == guard.limit.threshold:
            await self.store.audit(
                "login_locked",
                actor=user.username,
                subject=user.username,
                ip=ip,
                detail=json.dumps({"scope": guard.scope, "seconds": seconds}),
            )

    async def _count_address(self, ip: str, at: datetime) -> None:
        """Failures from one client address, across every name; past the threshold the
        address waits longer after each one."""
        limit = self.policy.address
        key = address_key(ip)
        count = await self.counters.add_failure(ADDRESS, key, window=limit.window, at=at)
        seconds = limit.lock_for(count.failures)
        if seconds:
            await self.counters.lock_counter(ADDRESS, key, until=at + timedelta(seconds=seconds))
            if count.failures == limit.threshold:
                await self.store.audit("login_throttled", subject=key, ip=ip)


async def account_lock(
    store: Store, counters: LoginCounters, username: str, at: datetime | None = None
) -> tuple[UserInfo, Count]:
    """A user and the failures and lock of their account (NotFoundError when no such user)."""
    user = await store.get_user(canonical_username(username) or username)
    return user, await counters.read_counter(ACCOUNT, user.uid, at=at or now())


async def unlock_account(store: Store, counters: LoginCounters, username: str) -> bool:
    """Forget the failures and lock of a user's account; True when there was any."""
    user = await store.get_user(canonical_username(username) or username)
    cleared = await counters.clear_counter(ACCOUNT, user.uid)
    await store.audit("login_unlocked", subject=user.username, detail=json.dumps({"had": cleared}))
    return cleared
