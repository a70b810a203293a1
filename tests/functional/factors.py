"""What the second-factor tests do as a person would: sign in on the portal, enrol an
authenticator app from the account page (the secret read off the page, codes made with
pyotp as the phone would), answer the second-factor step."""

from __future__ import annotations

import time

import httpx

from authgate.accounts.totp import new_secret
from authgate.storage.store import UserInfo
from tests.factors import code, recovery_codes_on, secret_on
from tests.forms import find_form_with, read_forms
from tests.functional.conftest import PASSWORD, PUBLIC, Harness, login_fields


async def post_form(harness: Harness, html: str, field: str, **values: str) -> httpx.Response:
    """Submit the page's form that has ``field``, as the browser would, with ``values``."""
    form = find_form_with(html, field)
    assert form is not None, f"no form with {field} on the page:\n{html[:3000]}"
    return await harness.client.post(form.action, data={**form.fields, **values})


async def post_to(harness: Harness, html: str, path: str, **values: str) -> httpx.Response:
    """Submit the page's form whose action is ``PUBLIC + path``, with ``values``."""
    form = next((f for f in read_forms(html) if f.action == PUBLIC + path), None)
    assert form is not None, f"no form posting to {path} on the page:\n{html[:3000]}"
    return await harness.client.post(form.action, data={**form.fields, **values})


async def password_step(
    harness: Harness, username: str = "alice", password: str = PASSWORD
) -> httpx.Response:
    """The login form on the portal, filled and sent: the response to the POST."""
    page = await harness.client.get(f"{PUBLIC}/login")
    fields = login_fields(page.text) | {"username": username, "password": password}
    return await harness.client.post(f"{PUBLIC}/login", data=fields)


async def sign_in(harness: Harness, username: str = "alice") -> None:
    """A portal session with the password alone (the user has no factor)."""
    posted = await password_step(harness, username)
    assert posted.headers["location"] == f"{PUBLIC}/", posted.text


async def enrol_on_account_page(harness: Harness) -> tuple[str, list[str]]:
    """Set up TOTP on the account page of the signed-in user: (secret, recovery codes)."""
    page = await harness.client.get(f"{PUBLIC}/account/totp")
    assert page.status_code == 200, page.text
    secret = secret_on(page.text)
    done = await post_form(harness, page.text, "code", code=code(secret, -1))
    assert done.status_code == 200, done.text
    codes = recovery_codes_on(done.text)
    assert len(codes) == 10, done.text
    return secret, codes


async def enrol_in_store(harness: Harness, username: str = "alice") -> str:
    """TOTP on for ``username`` without any page (as if done in another browser)."""
    store = harness.runtime.store
    user = await store.get_user(username)
    secret = (await store.begin_totp(user.id, new_secret())).secret
    step = int(time.time() // 30) - 1
    assert await store.use_totp_step(user.id, step, confirming=True)
    return secret


async def sign_out(harness: Harness) -> None:
    page = await harness.client.get(f"{PUBLIC}/logout")
    await post_form(harness, page.text, "csrf_token")


async def user(harness: Harness, username: str = "alice") -> UserInfo:
    return await harness.runtime.store.get_user(username)


async def portal_amr(harness: Harness, username: str = "alice") -> set[str]:
    """The factors of the user's newest live portal session."""
    store = harness.runtime.store
    portal = [s for s in await store.list_sessions(username) if s.kind == "portal"]
    assert portal, f"{username} has no portal session"
    record = await store.load_session(portal[-1].id)
    assert record is not None
    return set(record.identity.amr)
