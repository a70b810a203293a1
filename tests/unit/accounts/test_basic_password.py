"""The verifier of the real password in Basic (``accounts.basic_password``), on a real
SQLite store and ``LoginGuard``: who gets in, where, and what a second request costs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from authgate.accounts.basic_password import THROTTLED, WRONG, BasicPasswords
from authgate.accounts.hashing import HashingPool, Reservation
from authgate.accounts.login import LoginGuard
from authgate.accounts.passwords import hash_password, verify_password
from authgate.accounts.throttle import Limit, ThrottlePolicy
from authgate.forward.credentials import Basic, CredentialUnavailable, Refused, Verified
from authgate.forward.model import AppView
from authgate.storage.migrate import upgrade
from authgate.storage.store import Store
from tests.pool_work import Gate, wait_while

T = TypeVar("T")

PASSWORD = "correct horse battery"
IP = "192.0.2.7"
DAV = AppView(1, "dav", "DAV", "http://dav.lan", "http", "dav.lan", basic_password=True)
PLAIN = AppView(2, "wiki", "Wiki", "http://wiki.lan", "http", "wiki.lan")
MFA = AppView(
    3, "vault", "Vault", "http://vault.lan", "http", "vault.lan", basic_password=True,
    require_mfa=True,
)  # fmt: skip


@dataclass
class World:
    store: Store
    verifier: BasicPasswords
    guard: LoginGuard
    revision: list[int] = field(default_factory=lambda: [1])
    clock: list[float] = field(default_factory=lambda: [1000.0])
    hashes: list[str] = field(default_factory=list)  # the passwords argon2 checked

    async def verify(self, user: str, password: str, app: AppView = DAV) -> object:
        return await self.verifier.verify(Basic(user, password), app, IP)


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await upgrade(store.engine)
    await store.add_user("alice", password_hash=hash_password(PASSWORD), groups=["staff"])
    policy = ThrottlePolicy(account=Limit(threshold=3, window=600, lock=600))
    pool = HashingPool(workers=1, waiting=2)
    guard = LoginGuard(store, store, pool, policy)
    revision, clock, hashes = [1], [1000.0], []
    real = Reservation.run

    async def counted(place: Reservation, work: Callable[..., T], *args: object) -> T:
        if work is verify_password:  # a password the pool's process is asked to check
            hashes.append(str(args[1]))
        return await real(place, work, *args)

    monkeypatch.setattr(Reservation, "run", counted)
    verifier = BasicPasswords(guard, lambda: revision[0], ttl=60, clock=lambda: clock[0])
    yield World(store, verifier, guard, revision, clock, hashes)
    pool.close()
    await store.close()


def verified_user(verdict: object) -> str:
    assert isinstance(verdict, Verified), verdict
    return verdict.identity.username


async def test_the_right_password_on_an_app_that_allows_it(world: World) -> None:
    verdict = await world.verify("alice", PASSWORD)
    assert verified_user(verdict) == "alice"
    assert isinstance(verdict, Verified)
    assert verdict.identity.amr == ("pwd",)
    assert verdict.identity.groups == ("staff",)
    assert not verdict.identity.second_factor


async def test_apps_without_the_option_or_needing_mfa_are_not_its_business(world: World) -> None:
    assert await world.verify("alice", PASSWORD, PLAIN) is None
    assert await world.verify("alice", PASSWORD, MFA) is None
    mfa_by_default = AppView(
        4, "x", "X", "http://x.lan", "http", "x.lan", basic_password=True, mfa_default=True
    )
    assert await world.verify("alice", PASSWORD, mfa_by_default) is None
    assert world.hashes == []  # not even looked at


async def test_an_app_password_is_left_to_its_own_verifier(world: World) -> None:
    assert await world.verify("alice", "agp-abcd-efgh-ijkl-mnop-qrst-uvwx-yz23") is None
    assert await world.verify("alice", "AGP-abcd") is None  # any spelling of the prefix
    assert world.hashes == []


async def test_wrong_password_unknown_user_and_disabled_user_read_the_same(world: World) -> None:
    await world.store.add_user("bob", password_hash=hash_password(PASSWORD))
    await world.store.set_disabled("bob", True)
    answers = [
        await world.verify("alice", "wrong"),
        await world.verify("nobody", PASSWORD),
        await world.verify("bob", PASSWORD),
    ]
    assert answers == [Refused(WRONG)] * 3
    assert len(world.hashes) == 3  # the same argon2 work for each, the unknown user too


async def test_a_user_with_a_second_factor_is_refused_even_with_the_right_password(
    world: World,
) -> None:
    alice = await world.store.get_user("alice")
    await world.store.begin_totp(alice.id, "JBSWY3DPEHPK3PXP")
    assert verified_user(await world.verify("alice", PASSWORD)) == "alice"  # unconfirmed
    world.revision[0] += 1  # (enrolling is a change a running server would follow)
    assert await world.store.use_totp_step(alice.id, 1, confirming=True)
    assert await world.verify("alice", PASSWORD) == Refused(WRONG)


async def test_guessing_locks_the_account_and_the_right_password_then_fails_too(
    world: World,
) -> None:
    for _ in range(3):
        assert await world.verify("alice", "guess") == Refused(WRONG)
    assert await world.verify("alice", PASSWORD) == Refused(WRONG)  # locked: not checked


async def test_a_throttled_address_is_told_so_and_nothing_is_checked(world: World) -> None:
    policy = ThrottlePolicy(address=Limit(threshold=2, window=600, lock=600))
    world.guard.policy = policy
    for name in ("x1", "x2"):
        await world.verify(name, "guess")
    hashed = len(world.hashes)
    assert await world.verify("alice", PASSWORD) == Refused(THROTTLED)
    assert len(world.hashes) == hashed


async def test_a_right_password_is_remembered_briefly_and_a_wrong_one_never(world: World) -> None:
    assert verified_user(await world.verify("alice", PASSWORD)) == "alice"
    assert verified_user(await world.verify("alice", PASSWORD)) == "alice"
    assert world.hashes == [PASSWORD]  # the second request cost no argon2
    await world.verify("alice", "wrong")
    await world.verify("alice", "wrong")
    assert world.hashes == [PASSWORD, "wrong", "wrong"]
    world.clock[0] += 61  # remembered for 60 s
    assert verified_user(await world.verify("alice", PASSWORD)) == "alice"
    assert world.hashes[-1] == PASSWORD and len(world.hashes) == 4


async def test_a_new_store_revision_forgets_it(world: World) -> None:
    assert verified_user(await world.verify("alice", PASSWORD)) == "alice"
    await world.store.set_password("alice", hash_password("a new one entirely"))
    world.revision[0] += 1  # the running server follows the change
    assert await world.verify("alice", PASSWORD) == Refused(WRONG)
    assert world.hashes == [PASSWORD, PASSWORD]


async def test_the_remembered_answer_is_per_user_and_password(world: World) -> None:
    await world.verify("alice", PASSWORD)
    assert await world.verify("alice", PASSWORD + "x") == Refused(WRONG)
    assert await world.verify("Alice", PASSWORD) is not None
    assert len(world.hashes) == 3  # neither spelling rode on the remembered answer


async def test_a_full_hashing_queue_is_unavailable_never_an_allow(world: World) -> None:
    pool = HashingPool(workers=1, waiting=0)
    world.guard.hashing = pool
    with Gate() as gate:
        held = asyncio.ensure_future(pool.run(wait_while, gate.path, 30))
        await asyncio.sleep(0.05)
        with pytest.raises(CredentialUnavailable):
            await world.verify("alice", PASSWORD)
        gate.open()
        assert await held is True
    assert verified_user(await world.verify("alice", PASSWORD)) == "alice"  # room again
    pool.close()
