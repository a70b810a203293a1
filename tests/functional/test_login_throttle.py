"""Login throttling at the portal, as a person and as an attacker meet it: one lock per account
whatever spelling of the name, separate counters per account and per client address, device
cookies that keep the owner's own browser working, a growing wait for an address that fails
across accounts, and one answer for every kind of failure."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from authgate.storage.redis.counters import RedisCounters
from tests.functional.conftest import PASSWORD, PUBLIC, Browsers, Harness, login_fields

OWNER_IP = "203.0.113.7"
ATTACKER_IP = "198.51.100.66"
LOCK_AFTER = 10  # the account limit the portal ships with


async def sign_in(
    browser: httpx.AsyncClient, username: str, password: str, ip: str = OWNER_IP
) -> httpx.Response:
    """Open the login form and submit it, from ``ip`` (as the trusted proxy reports it)."""
    page = await browser.get(f"{PUBLIC}/login")
    form = login_fields(page.text) | {"username": username, "password": password}
    return await browser.post(f"{PUBLIC}/login", data=form, headers={"x-forwarded-for": ip})


async def fail(browser: httpx.AsyncClient, username: str, times: int, ip: str) -> None:
    for _ in range(times):
        answer = await sign_in(browser, username, "not the password", ip)
        assert answer.status_code == 401, answer.text


def error_of(answer: httpx.Response) -> str:
    found = re.search(r'id="login-error">([^<]*)<', answer.text)
    return found.group(1).strip() if found else ""


def signed_in(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and "authgate_portal=" in answer.headers.get("set-cookie", "")


class Clock:
    """The guard's clock, moved by hand: a lock runs out without the test waiting."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_every_spelling_of_a_locked_name_stays_locked(
    harness: Harness, browsers: Browsers
) -> None:
    attacker = browsers()
    await fail(attacker, "alice", LOCK_AFTER, ATTACKER_IP)
    for spelling in ["alice", " alice", "alice\t", "alice\n", "\talice \r\n", "ａｌｉｃｅ"]:
        answer = await sign_in(attacker, spelling, PASSWORD, ATTACKER_IP)
        assert answer.status_code == 401, (spelling, answer.status_code)
    # nor from a fresh browser at another address: the lock is the account's
    assert (await sign_in(browsers(), "alice ", PASSWORD, "192.0.2.10")).status_code == 401


async def test_spellings_count_towards_one_lock(harness: Harness, browsers: Browsers) -> None:
    attacker = browsers()
    for n in range(LOCK_AFTER):
        spelling = ["alice", " alice", "alice\t", "alice\n", "\nalice"][n % 5]
        assert (await sign_in(attacker, spelling, "wrong", ATTACKER_IP)).status_code == 401
    assert (await sign_in(browsers(), "alice", PASSWORD, "192.0.2.10")).status_code == 401


async def test_a_name_with_inner_space_aliases_nobody(harness: Harness, browsers: Browsers) -> None:
    for typed in ["al ice", "alice\x00", "ali\u200bce", "alice\nbob"]:
        assert (await sign_in(browsers(), typed, PASSWORD)).status_code == 401, repr(typed)
    assert signed_in(await sign_in(browsers(), "alice", PASSWORD))


async def test_a_user_name_that_is_an_address_locks_no_address(
    harness: Harness, browsers: Browsers
) -> None:
    await fail(browsers(), OWNER_IP, LOCK_AFTER + 2, ATTACKER_IP)
    assert signed_in(await sign_in(browsers(), "alice", PASSWORD, OWNER_IP))


async def test_a_stranger_cannot_lock_the_owner_out_of_her_own_browser(
    harness: Harness, browsers: Browsers
) -> None:
    own = browsers()
    first = await sign_in(own, "alice", PASSWORD)
    assert signed_in(first)
    device = [c for c in first.headers.get_list("set-cookie") if c.startswith("authgate_device=")]
    assert device, first.headers.get_list("set-cookie")
    assert "HttpOnly" in device[0] and "SameSite=Lax" in device[0] and "Secure" not in device[0]
    assert "Max-Age=31536000" in device[0] and "Domain" not in device[0]

    await fail(browsers(), "alice", LOCK_AFTER, ATTACKER_IP)
    assert (await sign_in(browsers(), "alice", PASSWORD, ATTACKER_IP)).status_code == 401
    assert (await sign_in(browsers(), "alice", PASSWORD, OWNER_IP)).status_code == 401
    assert signed_in(await sign_in(own, "alice", PASSWORD))  # her browser: still in
    assert signed_in(await sign_in(own, " alice", PASSWORD))


async def test_a_device_has_a_small_budget_of_its_own(harness: Harness, browsers: Browsers) -> None:
    own, other_own = browsers(), browsers()
    assert signed_in(await sign_in(own, "alice", PASSWORD))
    assert signed_in(await sign_in(other_own, "alice", PASSWORD))
    await fail(browsers(), "alice", LOCK_AFTER, ATTACKER_IP)
    await fail(own, "alice", 5, OWNER_IP)  # a thief with her laptop: five guesses, then no more
    assert (await sign_in(own, "alice", PASSWORD)).status_code == 401
    assert signed_in(await sign_in(other_own, "alice", PASSWORD))  # only that device is locked


async def test_a_device_cookie_of_another_user_or_a_forged_one_gives_nothing(
    harness: Harness, browsers: Browsers
) -> None:
    shared = browsers()
    assert signed_in(await sign_in(shared, "bob", PASSWORD))
    await fail(browsers(), "alice", LOCK_AFTER, ATTACKER_IP)
    assert (await sign_in(shared, "alice", PASSWORD)).status_code == 401
    stolen = shared.cookies.get("authgate_device")
    assert stolen
    for forged in [stolen[:-3] + "abc", "garbage", stolen + stolen, "x" * 5000]:
        forger = browsers()
        forger.cookies.set("authgate_device", forged, domain="auth.test")
        assert (await sign_in(forger, "alice", PASSWORD)).status_code == 401


async def test_one_answer_for_unknown_wrong_disabled_and_locked(
    harness: Harness, browsers: Browsers
) -> None:
    from authgate.accounts.passwords import hash_password_async

    hashed = await hash_password_async(PASSWORD)
    await harness.runtime.store.add_user("carol", password_hash=hashed)
    await harness.runtime.store.update_user("carol", disabled=True)
    await fail(browsers(), "bob", LOCK_AFTER, ATTACKER_IP)
    answers = {
        "unknown": await sign_in(browsers(), "nobody", PASSWORD),
        "wrong": await sign_in(browsers(), "alice", "wrong password"),
        "disabled": await sign_in(browsers(), "carol", PASSWORD),
        "locked": await sign_in(browsers(), "bob", PASSWORD),
    }
    shapes = {
        kind: (a.status_code, error_of(a), re.sub(r'(value|data-csrf)="[^"]*"', "", a.text))
        for kind, a in answers.items()
    }
    assert {(status, error) for status, error, _ in shapes.values()} == {
        (401, "Wrong user name or password.")
    }
    bodies = {body for _, _, body in shapes.values()}  # every value="" blanked: same page
    assert len(bodies) == 1


async def test_an_address_failing_across_accounts_waits_longer_and_longer(
    harness: Harness, browsers: Browsers
) -> None:
    spray = browsers()
    for n in range(20):  # twenty names, known or not, from one address
        answer = await sign_in(spray, f"user{n}" if n % 2 else "alice", "guess", ATTACKER_IP)
        assert answer.status_code == 401, (n, answer.status_code)
    clock = Clock()
    harness.runtime.login.clock = clock
    waits = []
    for _ in range(4):
        refused = await sign_in(spray, "bob", PASSWORD, ATTACKER_IP)
        assert refused.status_code == 429
        waits.append(int(refused.headers["retry-after"]))
        assert f"Try again in {waits[-1]} seconds" in refused.text
        clock.advance(waits[-1])
        assert (await sign_in(spray, "somebody", "guess", ATTACKER_IP)).status_code == 401
    assert waits == [1, 2, 4, 8]
    # the wait says nothing of the account: a name that exists and one that does not alike
    assert (await sign_in(spray, "alice", PASSWORD, ATTACKER_IP)).status_code == 429
    assert (await sign_in(spray, "nobody", PASSWORD, ATTACKER_IP)).status_code == 429
    # other addresses are not slowed
    assert signed_in(await sign_in(browsers(), "bob", PASSWORD, OWNER_IP))


async def test_the_owner_device_is_not_slowed_by_an_attacker_on_her_network(
    harness: Harness, browsers: Browsers
) -> None:
    harness.runtime.login.clock = Clock()  # the address's wait must not run out meanwhile
    own = browsers()
    assert signed_in(await sign_in(own, "alice", PASSWORD, OWNER_IP))
    await fail(browsers(), "nobody", 20, OWNER_IP)  # one NAT address, an attacker behind it
    assert (await sign_in(browsers(), "alice", PASSWORD, OWNER_IP)).status_code == 429
    assert signed_in(await sign_in(own, "alice", PASSWORD, OWNER_IP))


async def test_a_lock_runs_out_and_a_success_starts_afresh(
    harness: Harness, browsers: Browsers
) -> None:
    clock = Clock()
    harness.runtime.login.clock = clock
    await fail(browsers(), "alice", LOCK_AFTER, ATTACKER_IP)
    assert (await sign_in(browsers(), "alice", PASSWORD)).status_code == 401
    clock.advance(15 * 60 + 1)
    assert signed_in(await sign_in(browsers(), "alice", PASSWORD))
    await fail(browsers(), "alice", LOCK_AFTER - 1, "192.0.2.1")
    assert signed_in(await sign_in(browsers(), "alice", PASSWORD))  # nine were forgiven
    await fail(browsers(), "alice", LOCK_AFTER - 1, "192.0.2.2")
    assert signed_in(await sign_in(browsers(), "alice", PASSWORD))


async def test_flooding_names_keeps_the_lock_and_stores_nothing_per_name(
    harness: Harness, browsers: Browsers
) -> None:
    store = harness.runtime.store
    await fail(browsers(), "alice", LOCK_AFTER, ATTACKER_IP)
    flood = browsers()
    for n in range(40):
        name = f"flood-{secrets.token_hex(4)}"
        answer = await sign_in(flood, name, "x", f"192.0.2.{n}")
        assert answer.status_code == 401
    assert (await sign_in(browsers(), "alice", PASSWORD)).status_code == 401
    assert await store.count_counters("account") == 2  # alice, and the one row of unknown names
    assert await store.count_counters("address") == 42  # the flood's 40, attacker, owner


async def test_the_lock_is_audited(harness: Harness, browsers: Browsers) -> None:
    await fail(browsers(), "alice", LOCK_AFTER + 2, ATTACKER_IP)
    locked = await harness.runtime.store.list_audit(event="login_locked")
    assert [(e.actor, e.ip) for e in locked] == [("alice", ATTACKER_IP)]


@pytest.mark.parametrize("backend", ["store", "redis"])
async def test_two_servers_share_the_count(
    harness: Harness, browsers: Browsers, backend: str
) -> None:
    """Two servers (two workers, or two replicas) on one store, or on one Redis."""
    from dataclasses import replace

    from authgate.server import create_app
    from authgate.web.runtime import Runtime

    settings = harness.runtime.settings
    if backend == "redis":
        prefix = f"authgate_test_{secrets.token_hex(6)}:"
        settings = replace(settings, redis_url="redis://127.0.0.1:6379/0")
        harness.runtime.login.counters = RedisCounters(settings.redis_url, prefix=prefix)
    second = Runtime(settings)
    if isinstance(second.login.counters, RedisCounters):
        second.login.counters.prefix = prefix
    await second.reload()
    transport = httpx.ASGITransport(app=create_app(settings, second), client=("127.0.0.1", 1))
    try:
        async with httpx.AsyncClient(transport=transport, headers=harness.client.headers) as other:
            for n in range(LOCK_AFTER):
                browser = other if n % 2 else browsers()
                assert (await sign_in(browser, "alice", "wrong", ATTACKER_IP)).status_code == 401
            assert (await sign_in(other, "alice", PASSWORD)).status_code == 401
        assert (await sign_in(browsers(), "alice", PASSWORD)).status_code == 401
        assert await harness.runtime.login.counters.count_counters("account") == 1
    finally:
        counters = harness.runtime.login.counters
        if isinstance(counters, RedisCounters):
            keys = [k async for k in counters.client.scan_iter(match=f"{counters.prefix}*")]
            await counters.client.delete(*keys)
            await counters.close()
        await second.close()


async def test_redis_gone_is_a_503_page_not_a_traceback(harness: Harness) -> None:
    from tests.e2e.servers import free_port

    nowhere = RedisCounters(f"redis://127.0.0.1:{free_port()}/0")
    harness.runtime.login.counters = nowhere
    try:
        answer = await sign_in(harness.client, "alice", PASSWORD)
        assert answer.status_code == 503 and "Traceback" not in answer.text
    finally:
        await nowhere.close()
