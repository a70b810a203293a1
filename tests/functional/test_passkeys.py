"""Passkeys through the whole ASGI app, with real WebAuthn objects from a software
authenticator (tests/authenticator.py): registering on the account page, passwordless
sign-in, the second factor and step-up, enrol-first, and every way an answer can be wrong
(replayed, foreign, cloned, phished, garbled, without CSRF): each a clear 4xx, never a 500."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from webauthn.helpers.base64url_to_bytes import base64url_to_bytes

from authgate.accounts.throttle import ACCOUNT, ADDRESS
from authgate.forward.model import PASSKEY, PASSWORD
from authgate.portal.cookies import portal_cookie_name
from authgate.portal.signin import pending_cookie_name
from authgate.storage.store import UserInfo, now
from tests.authenticator import SoftAuthenticator
from tests.forms import find_form_with, read_forms
from tests.functional.conftest import PASSWORD as SECRET
from tests.functional.conftest import PUBLIC, Harness, login_fields

JSON_HEADERS = {"accept": "application/json", "sec-fetch-mode": "cors"}


def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator("auth.test", PUBLIC)


async def csrf(harness: Harness, path: str = "/login") -> str:
    page = await harness.client.get(f"{PUBLIC}{path}")
    assert page.status_code == 200, page.text
    form = find_form_with(page.text, "csrf_token")
    assert form is not None, page.text
    return form.fields["csrf_token"]


async def password_sign_in(harness: Harness, username: str = "alice") -> httpx.Response:
    page = await harness.client.get(f"{PUBLIC}/login")
    form = login_fields(page.text) | {"username": username, "password": SECRET}
    posted = await harness.client.post(f"{PUBLIC}/login", data=form)
    assert posted.status_code == 303, posted.text
    return posted


async def call(
    harness: Harness, path: str, body: object, token: str | None, **headers: str
) -> httpx.Response:
    sent = {**JSON_HEADERS, "content-type": "application/json", **headers}
    if token is not None:
        sent["x-csrf-token"] = token
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await harness.client.post(f"{PUBLIC}{path}", content=content, headers=sent)


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def register(harness: Harness, key: SoftAuthenticator, name: str = "Laptop") -> None:
    """Register ``key`` for the signed-in user from the account page."""
    token = await csrf(harness, "/account")
    options = await ok(await call(harness, "/account/passkeys/options", {}, token))
    answer = key.register(options)
    body = {"credential": answer, "name": name}
    done = await ok(await call(harness, "/account/passkeys/verify", body, token))
    assert done["redirect"] == f"{PUBLIC}/account?notice=passkey_added#passkeys"


async def allow_passwordless(harness: Harness) -> httpx.Response:
    token = await csrf(harness, "/account")
    data = {"csrf_token": token, "allow": "1"}
    return await harness.client.post(f"{PUBLIC}/account/passkeys/passwordless", data=data)


async def passkey_user(harness: Harness, *, passwordless: bool = True) -> SoftAuthenticator:
    """alice with one registered passkey (and passwordless allowed), then signed out."""
    await password_sign_in(harness)
    key = authenticator()
    await register(harness, key)
    if passwordless:
        assert (await allow_passwordless(harness)).status_code == 303
    harness.client.cookies.clear()
    return key


async def passwordless(
    harness: Harness, key: SoftAuthenticator, state: str = "", **knobs: Any
) -> httpx.Response:
    token = await csrf(harness)
    options = await ok(await call(harness, "/login/passkey/options", {"state": state}, token))
    body = {"credential": key.assertion(options, **knobs), "state": state}
    return await call(harness, "/login/passkey/verify", body, token)


async def session_amr(harness: Harness) -> tuple[str, ...]:
    value = harness.client.cookies.get(portal_cookie_name(harness.runtime.settings))
    assert value, "no portal session"
    session_id = harness.runtime.signing.session.unsign(value)
    assert session_id
    record = await harness.runtime.store.load_session(session_id)
    assert record is not None
    return record.identity.amr


async def alice(harness: Harness) -> UserInfo:
    return await harness.runtime.store.get_user("alice")


async def audit_events(harness: Harness) -> list[str]:
    return [e.event for e in await harness.runtime.store.list_audit(limit=200)]


# --------------------------------------------------------------------------------------------
# registering, and the account page
# --------------------------------------------------------------------------------------------


async def test_registration_options_want_a_discoverable_passkey_and_exclude_known_ones(
    harness: Harness,
) -> None:
    await password_sign_in(harness)
    key = authenticator()
    await register(harness, key)
    token = await csrf(harness, "/account")
    options = await ok(await call(harness, "/account/passkeys/options", {}, token))
    assert options["rp"] == {"id": "auth.test", "name": "authgate"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert [c["id"] for c in options["excludeCredentials"]] == [key.id]
    user = await alice(harness)
    assert options["user"]["name"] == "alice"
    assert base64url_to_bytes(options["user"]["id"]) == user.uid.encode()  # not the name


async def test_the_account_page_lists_renames_and_removes_passkeys(harness: Harness) -> None:
    await password_sign_in(harness)
    await register(harness, authenticator(), "Work laptop")
    page = await harness.client.get(f"{PUBLIC}/account")
    assert "Work laptop" in page.text and "never used" in page.text
    assert 'data-passkey="create"' in page.text
    passkey = (await harness.runtime.store.passkeys_of((await alice(harness)).id))[0]
    token = await csrf(harness, "/account")
    base = f"{PUBLIC}/account/passkeys/{passkey.id}"
    renamed = await harness.client.post(
        f"{base}/rename", data={"csrf_token": token, "name": "Phone"}
    )
    assert renamed.headers["location"].endswith("notice=passkey_renamed#passkeys")
    assert "Phone" in (await harness.client.get(f"{PUBLIC}/account")).text
    removed = await harness.client.post(f"{base}/remove", data={"csrf_token": token})
    assert removed.headers["location"].endswith("notice=passkey_removed#passkeys")
    assert await harness.runtime.store.passkeys_of(passkey.user_id) == []
    events = await audit_events(harness)
    assert {"passkey_registered", "passkey_renamed", "passkey_removed"} <= set(events)


async def test_passwordless_needs_a_passkey_and_ends_with_the_last_one(harness: Harness) -> None:
    await password_sign_in(harness)
    refused = await allow_passwordless(harness)
    assert refused.headers["location"].endswith("notice=passwordless_needs_passkey#passkeys")
    assert not (await alice(harness)).passwordless
    await register(harness, authenticator())
    await allow_passwordless(harness)
    assert (await alice(harness)).passwordless
    passkey = (await harness.runtime.store.passkeys_of((await alice(harness)).id))[0]
    token = await csrf(harness, "/account")
    await harness.client.post(
        f"{PUBLIC}/account/passkeys/{passkey.id}/remove", data={"csrf_token": token}
    )
    assert not (await alice(harness)).passwordless


async def test_account_forms_refuse_without_csrf_and_touch_only_ones_own_passkeys(
    harness: Harness,
) -> None:
    await password_sign_in(harness, "bob")
    await register(harness, authenticator())
    bobs = (
        await harness.runtime.store.passkeys_of((await harness.runtime.store.get_user("bob")).id)
    )[0]
    harness.client.cookies.clear()
    await password_sign_in(harness)
    token = await csrf(harness, "/account")
    base = f"{PUBLIC}/account/passkeys/{bobs.id}"
    assert (await harness.client.post(f"{base}/remove", data={})).status_code == 400
    assert (
        await harness.client.post(f"{base}/remove", data={"csrf_token": token})
    ).status_code == 404
    rename = {"csrf_token": token, "name": "mine now"}
    assert (await harness.client.post(f"{base}/rename", data=rename)).status_code == 404
    assert (await harness.runtime.store.passkeys_of(bobs.user_id))[0].name == bobs.name
    flip = await harness.client.post(f"{PUBLIC}/account/passkeys/passwordless", data={"allow": "1"})
    assert flip.status_code == 400


async def test_registration_needs_the_portal_session(harness: Harness) -> None:
    token = await csrf(harness)
    answer = await call(harness, "/account/passkeys/options", {}, token)
    assert answer.status_code == 401
    assert "error" in answer.json()


async def test_a_passkey_registered_by_someone_else_cannot_be_registered_again(
    harness: Harness,
) -> None:
    key = authenticator()
    await password_sign_in(harness, "bob")
    await register(harness, key)
    harness.client.cookies.clear()
    await password_sign_in(harness)
    token = await csrf(harness, "/account")
    options = await ok(await call(harness, "/account/passkeys/options", {}, token))
    body = {"credential": key.register(options), "name": "stolen id"}
    answer = await call(harness, "/account/passkeys/verify", body, token)
    assert answer.status_code == 400
    assert answer.json()["error"] == "This passkey is registered already."


# --------------------------------------------------------------------------------------------
# passwordless sign-in
# --------------------------------------------------------------------------------------------


async def test_passwordless_sign_in_starts_a_passkey_session_and_goes_on_to_the_app(
    harness: Harness,
) -> None:
    key = await passkey_user(harness)
    first = await harness.check("app1.test", "/x")
    login_url = await harness.follow(first.headers["location"], stop_at=f"{PUBLIC}/login")
    state = parse_qs(urlsplit(login_url).query)["state"][0]
    page = await harness.client.get(login_url)
    assert "Sign in with a passkey" in page.text and 'data-passkey="get"' in page.text

    answer = await ok(await passwordless(harness, key, state))

    assert answer["redirect"].startswith(f"{PUBLIC}/flow/authorize?state=")
    assert await session_amr(harness) == (PASSKEY,)
    assert await harness.follow(answer["redirect"]) == "http://app1.test/x"
    allowed = await harness.check("app1.test", "/x")
    assert allowed.status_code == 200
    assert allowed.headers["x-authentik-username"] == "alice"
    assert "passkey_used" in await audit_events(harness)


async def test_passwordless_refuses_a_user_who_did_not_allow_it_like_an_unknown_passkey(
    harness: Harness,
) -> None:
    key = await passkey_user(harness, passwordless=False)
    not_allowed = await passwordless(harness, key)
    unknown = await passwordless(harness, authenticator())
    assert not_allowed.status_code == unknown.status_code == 401
    assert not_allowed.json() == unknown.json()
    assert harness.client.cookies.get("authgate_portal") is None


@pytest.mark.parametrize(
    ("knobs", "why"),
    [
        ({"uv": False}, "no user verification"),
        ({"origin": "http://evil.test"}, "a phishing page's origin"),
        ({"user_handle": b"someone-else"}, "another user's handle"),
    ],
)
async def test_passwordless_refuses_answers_that_are_not_two_factors_from_this_site(
    harness: Harness, knobs: dict[str, Any], why: str
) -> None:
    key = await passkey_user(harness)
    answer = await passwordless(harness, key, **knobs)
    assert answer.status_code == 401, why
    assert answer.json()["error"] == "That passkey was not accepted."
    account = await harness.runtime.login.counters.read_counter(
        ACCOUNT, (await alice(harness)).uid, at=now()
    )
    assert account.failures == 1, "a wrong answer for a known user counts like a password"


async def test_a_replayed_assertion_is_refused(harness: Harness) -> None:
    key = await passkey_user(harness)
    token = await csrf(harness)
    options = await ok(await call(harness, "/login/passkey/options", {}, token))
    body = {"credential": key.assertion(options)}
    assert (await call(harness, "/login/passkey/verify", body, token)).status_code == 200
    harness.client.cookies.delete("authgate_portal")
    replay = await call(harness, "/login/passkey/verify", body, await csrf(harness))
    assert replay.status_code == 400
    assert "expired or was used" in replay.json()["error"]


async def test_a_challenge_never_handed_out_or_for_another_purpose_is_refused(
    harness: Harness,
) -> None:
    key = await passkey_user(harness)
    token = await csrf(harness)
    made_up = {"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
    forged = await call(
        harness, "/login/passkey/verify", {"credential": key.assertion(made_up)}, token
    )
    assert forged.status_code == 400
    await password_sign_in(harness, "bob")  # a registration challenge, bob's
    account_token = await csrf(harness, "/account")
    options = await ok(await call(harness, "/account/passkeys/options", {}, account_token))
    harness.client.cookies.delete("authgate_portal")
    other = await call(
        harness, "/login/passkey/verify", {"credential": key.assertion(options)}, token
    )
    assert other.status_code == 400


async def test_a_counter_that_goes_back_is_refused_and_audited_as_a_clone(
    harness: Harness,
) -> None:
    key = await passkey_user(harness)
    assert (await passwordless(harness, key, count_step=5)).status_code == 200
    harness.client.cookies.delete("authgate_portal")
    clone = await passwordless(harness, key, count_step=-2)
    assert clone.status_code == 401
    assert "passkey_clone_suspected" in await audit_events(harness)
    stored = (await harness.runtime.store.passkeys_of((await alice(harness)).id))[0]
    assert stored.sign_count == 5 and stored.last_used_at is not None


async def test_an_account_locked_by_wrong_passwords_still_opens_with_its_passkey(
    harness: Harness,
) -> None:
    key = await passkey_user(harness)
    counters, uid = harness.runtime.login.counters, (await alice(harness)).uid
    await counters.add_failure(ACCOUNT, uid, window=900, at=now())
    await counters.lock_counter(ACCOUNT, uid, until=now() + timedelta(hours=1))
    assert (await passwordless(harness, key)).status_code == 200
    assert await session_amr(harness) == (PASSKEY,)


async def test_failures_from_one_address_end_in_429(harness: Harness) -> None:
    key = await passkey_user(harness, passwordless=False)
    limit = harness.runtime.login.policy.address.threshold
    for _ in range(limit):
        assert (await passwordless(harness, key)).status_code == 401
    throttled = await passwordless(harness, key)
    assert throttled.status_code == 429
    count = await harness.runtime.login.counters.read_counter(ADDRESS, "127.0.0.1", at=now())
    assert count.failures == limit


# --------------------------------------------------------------------------------------------
# the calls refuse what is not a call: never a 500
# --------------------------------------------------------------------------------------------

PATHS = [
    "/login/passkey/options",
    "/login/passkey/verify",
    "/login/second-factor/passkey/options",
    "/login/second-factor/passkey/verify",
    "/account/passkeys/options",
    "/account/passkeys/verify",
    "/account/enrol/passkey/options",
    "/account/enrol/passkey/verify",
]


@pytest.mark.parametrize("path", PATHS)
async def test_a_call_without_its_csrf_token_is_refused(harness: Harness, path: str) -> None:
    await password_sign_in(harness)
    await csrf(harness)
    assert (await call(harness, path, {}, None)).status_code == 403
    assert (await call(harness, path, {}, "forged")).status_code == 403


BAD_BODIES: list[tuple[bytes, dict[str, str], int]] = [
    (b"{not json", {}, 400),
    (b"[1, 2]", {}, 400),
    (b'"text"', {}, 400),
    (b"[" * 50_000, {}, 413),
    (b"{}", {"content-type": "text/plain"}, 415),
    (b'{"credential": "x"}', {}, 400),
    (b'{"credential": {"response": {"clientDataJSON": "%%%"}}}', {}, 400),
    (b'{"credential": {"response": {"clientDataJSON": "e30"}}}', {}, 400),
    (b'{"credential": {"id": 1, "response": {"clientDataJSON": 7}}}', {}, 400),
]


@pytest.mark.parametrize("path", [p for p in PATHS if p.endswith("verify")])
@pytest.mark.parametrize(("body", "headers", "status"), BAD_BODIES)
async def test_a_garbled_answer_is_a_clear_4xx(
    harness: Harness, path: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    await password_sign_in(harness)
    token = await csrf(harness)
    answer = await call(harness, path, body, token, **headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]


async def test_a_well_formed_answer_with_garbage_inside_is_refused(harness: Harness) -> None:
    key = await passkey_user(harness)
    token = await csrf(harness)
    options = await ok(await call(harness, "/login/passkey/options", {}, token))
    answer = key.assertion(options)
    answer["response"]["signature"] = "not-a-signature"
    answer["response"]["authenticatorData"] = "AAAA"
    refused = await call(harness, "/login/passkey/verify", {"credential": answer}, token)
    assert refused.status_code == 401


# --------------------------------------------------------------------------------------------
# the second factor, step-up, and enrol-first
# --------------------------------------------------------------------------------------------


async def test_passkey_as_second_factor_after_the_password(harness: Harness) -> None:
    key = await passkey_user(harness, passwordless=False)
    posted = await password_sign_in(harness)
    assert posted.headers["location"] == f"{PUBLIC}/login/second-factor"
    assert harness.client.cookies.get(pending_cookie_name(harness.runtime))
    token = await csrf(harness)
    path = "/login/second-factor/passkey"
    options = await ok(await call(harness, f"{path}/options", {}, token))
    assert [c["id"] for c in options["allowCredentials"]] == [key.id]
    done = await ok(
        await call(harness, f"{path}/verify", {"credential": key.assertion(options)}, token)
    )
    assert done["redirect"] == f"{PUBLIC}/"
    assert await session_amr(harness) == (PASSWORD, PASSKEY)


async def test_another_users_passkey_is_no_second_factor(harness: Harness) -> None:
    await passkey_user(harness, passwordless=False)  # alice has one
    await password_sign_in(harness, "bob")
    bobs_key = authenticator()
    await register(harness, bobs_key)
    harness.client.cookies.clear()
    await password_sign_in(harness)  # alice, pending
    token = await csrf(harness)
    path = "/login/second-factor/passkey"
    options = await ok(await call(harness, f"{path}/options", {}, token))
    answer = await call(
        harness, f"{path}/verify", {"credential": bobs_key.assertion(options)}, token
    )
    assert answer.status_code == 401
    assert harness.client.cookies.get("authgate_portal") is None


async def test_second_factor_calls_need_a_sign_in_in_progress(harness: Harness) -> None:
    token = await csrf(harness)
    answer = await call(harness, "/login/second-factor/passkey/options", {}, token)
    assert answer.status_code == 401


async def test_step_up_adds_the_passkey_to_the_portal_session(harness: Harness) -> None:
    await password_sign_in(harness)  # no factor yet: a session with the password only
    key = authenticator()
    await register(harness, key)
    assert await session_amr(harness) == (PASSWORD,)
    token = await csrf(harness, "/account")
    path = "/login/second-factor/passkey"
    options = await ok(await call(harness, f"{path}/options", {"state": ""}, token))
    await ok(await call(harness, f"{path}/verify", {"credential": key.assertion(options)}, token))
    assert await session_amr(harness) == (PASSWORD, PASSKEY)


async def test_enrol_first_registers_the_passkey_as_the_factor_once(harness: Harness) -> None:
    await password_sign_in(harness)
    token = await csrf(harness, "/account")
    path = "/account/enrol/passkey"
    key = authenticator()
    options = await ok(await call(harness, f"{path}/options", {}, token))
    body = {"credential": key.register(options), "name": "First key"}
    done = await ok(await call(harness, f"{path}/verify", body, token))
    assert done["redirect"] == f"{PUBLIC}/"
    assert await session_amr(harness) == (PASSWORD, PASSKEY)
    again = await call(harness, f"{path}/options", {}, token)
    assert again.status_code == 403, "with a factor enrolled, a new passkey proves nothing"


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------


async def test_pages_allow_only_own_scripts(harness: Harness) -> None:
    page = await harness.client.get(f"{PUBLIC}/login")
    policy = page.headers["content-security-policy"]
    assert f"script-src 'self' {PUBLIC};" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in page.text
    assert f'<script src="{PUBLIC}/static/passkeys.js" defer></script>' in page.text
    script = await harness.client.get(f"{PUBLIC}/static/passkeys.js")
    assert script.status_code == 200 and "navigator.credentials" in script.text
    assert all(f.action for f in read_forms(page.text))
