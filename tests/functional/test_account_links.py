"""The link page ``/account/link/<token>`` in the whole app: a password is set once, every
link that does not work gets one and the same page, bad passwords and forged posts are
refused without spending the link, a reset ends sessions and lifts a lock, and the person
goes on to the login page, the home or the enrol page as their factors require."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from authgate.accounts.links import invite, issue_link
from authgate.storage import models as m
from authgate.storage.store import code_hash, now
from tests.forms import find_form_with
from tests.functional.conftest import PASSWORD, PUBLIC, Harness
from tests.functional.test_login_throttle import ATTACKER_IP, LOCK_AFTER, fail, sign_in, signed_in

NEW_PASSWORD = "a brand new passphrase"
GONE = "This link is no longer valid"
Browsers = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def browsers(harness: Harness) -> AsyncIterator[Browsers]:
    made: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        transport, headers = harness.client._transport, harness.client.headers
        made.append(httpx.AsyncClient(transport=transport, headers=headers))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


async def new_link(harness: Harness, username: str, purpose: str = "reset") -> str:
    issued = await issue_link(harness.runtime.store, harness.runtime.settings, username, purpose)
    return issued.url


async def open_link(browser: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Open the link page; the fields its form would send as it stands."""
    page = await browser.get(url)
    assert page.status_code == 200, page.text
    form = find_form_with(page.text, "csrf_token")
    assert form is not None and {"password", "confirm"} <= form.names, page.text
    return form.fields


async def choose(
    browser: httpx.AsyncClient, url: str, password: str = NEW_PASSWORD, again: str | None = None
) -> httpx.Response:
    fields = await open_link(browser, url)
    data = fields | {"password": password, "confirm": password if again is None else again}
    return await browser.post(url, data=data)


async def test_an_invitation_sets_the_password_once_and_signs_in(
    harness: Harness, browsers: Browsers
) -> None:
    rt = harness.runtime
    issued = await invite(rt.store, rt.settings, "dana", email="d@x.test", groups=["staff"])
    browser = browsers()
    page = await browser.get(issued.url)
    assert page.status_code == 200 and "Choose your password" in page.text and "dana" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "unsafe-inline" not in page.headers["content-security-policy"]

    answer = await choose(browser, issued.url)
    assert answer.status_code == 303 and answer.headers["location"] == f"{PUBLIC}/"
    assert signed_in(answer)
    home = await browser.get(f"{PUBLIC}/")
    assert home.status_code == 200 and "signed in as dana" in home.text

    again = await browser.get(issued.url)
    assert again.status_code == 410 and GONE in again.text
    assert signed_in(await sign_in(browsers(), "dana", NEW_PASSWORD))
    events = [e.event for e in await rt.store.list_audit(limit=20)]
    assert {"invite_created", "password_set_by_link", "login_ok"} <= set(events)


async def test_every_link_that_does_not_work_gets_the_same_page(
    harness: Harness, browsers: Browsers
) -> None:
    store = harness.runtime.store
    used = await new_link(harness, "alice")
    assert (await choose(browsers(), used)).status_code == 303
    expired = await new_link(harness, "bob")
    async with store._tx() as db:
        token = expired.rsplit("/", 1)[1]
        await db.execute(
            update(m.AccountLink)
            .where(m.AccountLink.token_hash == code_hash(token))
            .values(expires_at=now() - timedelta(seconds=1))
        )
        await db.commit()
    replaced = await new_link(harness, "alice")
    await new_link(harness, "alice")
    await store.add_user("carl")
    disabled = await new_link(harness, "carl")
    await store.set_disabled("carl", True)
    unknown = f"{PUBLIC}/account/link/{'A' * 43}"
    malformed = f"{PUBLIC}/account/link/%3Cscript%3E"

    bodies = set()
    for url in (used, expired, replaced, disabled, unknown, malformed):
        for method in ("GET", "POST"):
            answer = await browsers().request(method, url, data={"password": "x"})
            assert answer.status_code == 410, (url, method, answer.status_code)
            bodies.add(answer.text)
    assert len(bodies) == 1 and GONE in bodies.pop()


async def test_bad_passwords_and_forged_posts_keep_the_link(
    harness: Harness, browsers: Browsers
) -> None:
    url = await new_link(harness, "alice")
    browser = browsers()
    fields = await open_link(browser, url)
    forged = await browsers().post(url, data=fields | {"password": NEW_PASSWORD * 2} | {})
    assert forged.status_code == 400 and "form expired" in forged.text
    refusals = {
        "differ": await choose(browser, url, NEW_PASSWORD, NEW_PASSWORD + "!"),
        "at least 10": await choose(browser, url, "short"),
        "most common": await choose(browser, url, "password123!"),
        "user name": await choose(browser, url, "alice in wonderland"),
    }
    for words, answer in refusals.items():
        assert answer.status_code == 400 and words in answer.text, (words, answer.text)
    assert (await choose(browser, url)).status_code == 303


async def test_a_reset_ends_every_session_and_lifts_the_lock(
    harness: Harness, browsers: Browsers
) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    assert (await harness.check("app1.test", "/x")).status_code == 200
    await fail(browsers(), "alice", LOCK_AFTER, ATTACKER_IP)
    assert (await sign_in(browsers(), "alice", PASSWORD)).status_code == 401  # locked

    url = await new_link(harness, "alice")
    assert signed_in(await choose(browsers(), url))
    assert (await harness.check("app1.test", "/x")).status_code != 200
    assert (await sign_in(browsers(), "alice", PASSWORD)).status_code == 401  # old password
    assert signed_in(await sign_in(browsers(), "alice", NEW_PASSWORD))
    audit = await harness.runtime.store.list_audit(limit=50)
    set_by_link = [e for e in audit if e.event == "password_set_by_link"]
    assert [json.loads(e.detail)["purpose"] for e in set_by_link] == ["reset"]
    assert any(e.event == "login_unlocked" and e.subject == "alice" for e in audit)


async def test_a_user_with_a_second_factor_still_signs_in_with_it(
    harness: Harness, browsers: Browsers
) -> None:
    store = harness.runtime.store
    bob = await store.get_user("bob")
    async with store._tx() as db:
        db.add(
            m.TotpCredential(user_id=bob.id, secret="A" * 32, confirmed_at=now(), created_at=now())
        )
        await db.commit()
    answer = await choose(browsers(), await new_link(harness, "bob"))
    assert answer.status_code == 303 and answer.headers["location"] == f"{PUBLIC}/login"
    assert await store.list_sessions("bob") == []  # no session: the factor is still asked


async def test_a_required_second_factor_leads_to_enrolment(
    harness: Harness, browsers: Browsers
) -> None:
    rt = harness.runtime
    await rt.store.set_app_options("app1", require_mfa=True)  # bound to staff: alice, not bob
    await rt.reload()
    alice = await choose(browsers(), await new_link(harness, "alice"))
    assert signed_in(alice) and alice.headers["location"] == f"{PUBLIC}/account/enrol"
    bob = await choose(browsers(), await new_link(harness, "bob"))
    assert signed_in(bob) and bob.headers["location"] == f"{PUBLIC}/"

    rt.settings = replace(rt.settings, require_mfa=True)  # AUTHGATE_REQUIRE_MFA
    bob = await choose(browsers(), await new_link(harness, "bob"))
    assert signed_in(bob) and bob.headers["location"] == f"{PUBLIC}/account/enrol"


async def test_two_posts_of_one_link_at_once_one_wins(harness: Harness, browsers: Browsers) -> None:
    url = await new_link(harness, "alice")
    browser = browsers()
    fields = await open_link(browser, url)
    posts = [
        browser.post(url, data=fields | {"password": p, "confirm": p})
        for p in (NEW_PASSWORD, "another long passphrase")
    ]
    answers = await asyncio.gather(*posts)
    assert sorted(a.status_code for a in answers) == [303, 410]
    winner = NEW_PASSWORD if answers[0].status_code == 303 else "another long passphrase"
    assert signed_in(await sign_in(browsers(), "alice", winner))
