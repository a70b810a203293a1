"""TOTP and recovery codes through the whole app: enrol on the account page, the second-factor
step after the password, single use, lockout of guessed codes, CSRF on every form."""

from __future__ import annotations

import re

import httpx

from authgate.accounts.login import FAILED
from authgate.portal.second_factor import WRONG_CODE
from tests.factors import code, recovery_codes_on, secret_on, wrong_code
from tests.functional.conftest import PUBLIC, Harness
from tests.functional.factors import (
    enrol_in_store,
    enrol_on_account_page,
    password_step,
    portal_amr,
    post_form,
    post_to,
    sign_in,
    sign_out,
    user,
)

SECOND_FACTOR = f"{PUBLIC}/login/second-factor"


async def test_enrol_then_sign_in_with_password_and_code(harness: Harness) -> None:
    await sign_in(harness)
    secret, _ = await enrol_on_account_page(harness)
    assert await portal_amr(harness) == {"pwd", "otp"}  # the confirming code proved it
    account = await harness.client.get(f"{PUBLIC}/account")
    assert "10 of 10 recovery codes left" in account.text
    assert 'id="totp-remove-form"' in account.text
    await sign_out(harness)

    posted = await password_step(harness)
    assert posted.headers["location"] == SECOND_FACTOR
    assert "authgate_portal" not in posted.headers.get("set-cookie", "")
    step = await harness.client.get(SECOND_FACTOR)
    assert 'id="totp-form"' in step.text
    done = await post_form(harness, step.text, "code", code=code(secret))
    assert done.status_code == 303 and done.headers["location"] == f"{PUBLIC}/", done.text
    assert await portal_amr(harness) == {"pwd", "otp"}

    await sign_out(harness)
    await password_step(harness)
    step = await harness.client.get(SECOND_FACTOR)
    replay = await post_form(harness, step.text, "code", code=code(secret))
    assert replay.status_code == 401 and WRONG_CODE in replay.text
    newer = await post_form(harness, replay.text, "code", code=code(secret, 1))
    assert newer.status_code == 303


async def test_the_enrolment_page_and_the_secret(harness: Harness) -> None:
    await sign_in(harness)
    page = await harness.client.get(f"{PUBLIC}/account/totp")
    assert page.headers["cache-control"] == "no-store"
    assert '<img src="data:image/svg+xml' in page.text
    assert re.search(
        r"otpauth://totp/auth\.test:alice\?secret=[A-Z2-7]+&amp;issuer=auth\.test", page.text
    )
    assert "<script" not in page.text
    wrong = await post_form(harness, page.text, "code", code="123456x")
    assert wrong.status_code == 400 and "not right" in wrong.text
    assert not (await harness.runtime.store.enrolled_factors((await user(harness)).id)).totp


async def test_a_recovery_code_works_once(harness: Harness) -> None:
    await sign_in(harness)
    _, codes = await enrol_on_account_page(harness)
    await sign_out(harness)
    for expected in (303, 401):
        await password_step(harness)
        step = await harness.client.get(f"{SECOND_FACTOR}?use=recovery")
        assert 'id="recovery-form"' in step.text
        used = await post_form(harness, step.text, "code", code=codes[0].lower())
        assert used.status_code == expected, used.text
        if expected == 303:
            assert await portal_amr(harness) == {"pwd", "rec"}
            account = await harness.client.get(f"{PUBLIC}/account")
            assert "9 of 10 recovery codes left" in account.text
            await sign_out(harness)


async def test_new_recovery_codes_revoke_the_old_ones(harness: Harness) -> None:
    await sign_in(harness)
    _, old = await enrol_on_account_page(harness)
    account = await harness.client.get(f"{PUBLIC}/account")
    made = await post_to(harness, account.text, "/account/recovery-codes")
    new = recovery_codes_on(made.text)
    assert len(new) == 10 and not set(new) & set(old)
    await sign_out(harness)
    await password_step(harness)
    step = await harness.client.get(f"{SECOND_FACTOR}?use=recovery")
    refused = await post_form(harness, step.text, "code", code=old[1])
    assert refused.status_code == 401
    accepted = await post_form(harness, refused.text, "code", code=new[1])
    assert accepted.status_code == 303


async def test_every_form_refuses_a_post_without_its_csrf_token(harness: Harness) -> None:
    store = harness.runtime.store
    await sign_in(harness)
    alice = await user(harness)
    page = await harness.client.get(f"{PUBLIC}/account/totp")  # an unconfirmed secret
    secret = secret_on(page.text)
    for bad in ({}, {"csrf_token": "forged"}):
        confirm = await harness.client.post(
            f"{PUBLIC}/account/totp", data={"code": code(secret), **bad}
        )
        assert confirm.status_code == 400
        assert not (await store.enrolled_factors(alice.id)).totp
    secret, codes = await enrol_on_account_page(harness)
    for path in ("/account/totp/remove", "/account/recovery-codes"):
        posted = await harness.client.post(PUBLIC + path, data={"code": code(secret, 1)})
        assert posted.headers["location"].endswith("?notice=form_expired"), path
    assert (await store.enrolled_factors(alice.id)).totp
    assert (await store.enrolled_factors(alice.id)).recovery_codes == 10
    await sign_out(harness)
    await password_step(harness)
    for use, typed in (("totp", code(secret, 1)), ("recovery", codes[0])):
        posted = await harness.client.post(SECOND_FACTOR, data={"use": use, "code": typed})
        assert posted.status_code == 400 and "expired" in posted.text
    assert (await store.enrolled_factors(alice.id)).recovery_codes == 10
    assert not [s for s in await store.list_sessions("alice") if s.kind == "portal"]


async def test_the_enrol_first_form_checks_csrf(harness: Harness) -> None:
    await sign_in(harness)
    page = await harness.client.get(f"{PUBLIC}/account/enrol")
    secret = secret_on(page.text)
    posted = await harness.client.post(f"{PUBLIC}/account/enrol", data={"code": code(secret)})
    assert posted.status_code == 400
    assert not (await harness.runtime.store.enrolled_factors((await user(harness)).id)).any


async def test_guessed_codes_lock_the_account_like_wrong_passwords(harness: Harness) -> None:
    secret = await enrol_in_store(harness)
    right = code(secret, 1)
    wrong = wrong_code(secret)
    # no device budget (a right password alone makes no device), the account's ten tries;
    # a right password in between must not reset the count of wrong codes
    for _ in range(2):
        assert (await password_step(harness)).headers["location"] == SECOND_FACTOR
        step = await harness.client.get(SECOND_FACTOR)
        for _ in range(5):
            step = await post_form(harness, step.text, "code", code=wrong)
            assert step.status_code == 401 and WRONG_CODE in step.text
    locked = await post_form(harness, step.text, "code", code=right)
    assert locked.status_code == 401 and WRONG_CODE in locked.text  # not even checked
    assert (await password_step(harness)).status_code == 401  # the login is locked too
    login = await password_step(harness)
    assert FAILED in login.text  # the same answer as any wrong password
    events = [e.event for e in await harness.runtime.store.list_audit(limit=100)]
    assert "login_locked" in events and "second_factor_failed" in events


async def test_the_login_page_says_nothing_of_a_second_factor(harness: Harness) -> None:
    await enrol_in_store(harness, "alice")
    answers = []
    for name in ("alice", "bob"):
        page = await password_step(harness, name, "not the password")
        assert page.status_code == 401
        answers.append(re.sub(r'(value|data-csrf)="[^"]*"', "", page.text).replace(name, "NAME"))
    assert answers[0] == answers[1]
    plain = (await harness.client.get(f"{PUBLIC}/login")).text
    assert "second-factor" not in plain and "recovery" not in plain.lower()


async def test_no_one_to_ask_goes_to_login(harness: Harness) -> None:
    for path in ("/login/second-factor", "/account/enrol", "/account/totp"):
        answer = await harness.client.get(PUBLIC + path)
        assert answer.headers["location"] == f"{PUBLIC}/login", path
    posted = await harness.client.post(SECOND_FACTOR, data={"code": "123456"})
    assert posted.headers["location"] == f"{PUBLIC}/login"


async def test_removing_the_app_needs_a_second_factor_or_a_code(harness: Harness) -> None:
    await sign_in(harness)  # a session with the password alone
    secret = await enrol_in_store(harness)  # enrolled elsewhere, after this session began
    account = await harness.client.get(f"{PUBLIC}/account")
    assert 'id="totp-remove-code"' in account.text
    refused = await post_to(harness, account.text, "/account/totp/remove")
    assert refused.headers["location"].endswith("?notice=code_wrong")
    refused = await post_to(harness, account.text, "/account/recovery-codes")
    assert refused.headers["location"].endswith("?notice=code_wrong")
    enrol = await harness.client.get(f"{PUBLIC}/account/totp")
    assert enrol.headers["location"].endswith("?notice=totp_already_on")
    removed = await post_to(harness, account.text, "/account/totp/remove", code=code(secret, 1))
    assert removed.headers["location"].endswith("?notice=totp_off")
    alice = await user(harness)
    assert not (await harness.runtime.store.enrolled_factors(alice.id)).any
    events = [e.event for e in await harness.runtime.store.list_audit(limit=20)]
    assert "totp_removed" in events


async def test_a_stranger_guessing_codes_does_not_lock_out_the_owners_browser(
    harness: Harness,
) -> None:
    secret = await enrol_in_store(harness)
    await password_step(harness)
    step = await harness.client.get(SECOND_FACTOR)
    assert (await post_form(harness, step.text, "code", code=code(secret))).status_code == 303
    await sign_out(harness)  # the owner's browser keeps its device cookie
    owner = harness.client
    async with httpx.AsyncClient(transport=owner._transport, headers=owner.headers) as stranger:
        harness.client = stranger
        wrong = wrong_code(secret)
        for _ in range(2):
            step = await harness.client.get((await password_step(harness)).headers["location"])
            for _ in range(5):
                step = await post_form(harness, step.text, "code", code=wrong)
        assert (await password_step(harness)).status_code == 401  # locked for strangers
    harness.client = owner
    assert (await password_step(harness)).headers["location"] == SECOND_FACTOR
    step = await harness.client.get(SECOND_FACTOR)
    assert (await post_form(harness, step.text, "code", code=code(secret, 1))).status_code == 303
