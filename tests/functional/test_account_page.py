"""The account page in-process: changing one's password (the current one required and
counted like a sign-in, the new one held to the rules, the other sessions ended) and one's
sessions (only one's own, named by handles that cannot be forged, ended at once)."""

from __future__ import annotations

import httpx
import pytest

from authgate.storage.store import UserInfo
from tests.forms import Form, read_forms
from tests.functional.conftest import PASSWORD, PUBLIC, Browsers, Harness
from tests.functional.test_login_throttle import sign_in, signed_in

NEW_PASSWORD = "a brand new passphrase"


async def account(browser: httpx.AsyncClient) -> httpx.Response:
    page = await browser.get(f"{PUBLIC}/account")
    assert page.status_code == 200, page.text[:1500]
    return page


def forms_to(page: httpx.Response, path: str) -> list[Form]:
    return [f for f in read_forms(page.text) if f.action == f"{PUBLIC}{path}"]


async def post(browser: httpx.AsyncClient, path: str, form: Form, **fields: str) -> httpx.Response:
    return await browser.post(f"{PUBLIC}{path}", data={**form.fields, **fields})


async def change_password(
    browser: httpx.AsyncClient, current: str, new: str, again: str | None = None
) -> httpx.Response:
    [form] = forms_to(await account(browser), "/account/password")
    fields = {"current_password": current, "new_password": new}
    return await post(browser, "/account/password", form, **fields, confirm_password=again or new)


async def signed_in_browser(browsers: Browsers, username: str = "alice") -> httpx.AsyncClient:
    browser = browsers()
    assert signed_in(await sign_in(browser, username, PASSWORD))
    return browser


async def still_signed_in(browser: httpx.AsyncClient) -> bool:
    answer = await browser.get(f"{PUBLIC}/account")
    if answer.status_code == 303:
        assert answer.headers["location"] == f"{PUBLIC}/login"
        return False
    assert answer.status_code == 200, answer.text[:1500]
    return True


async def alice(harness: Harness) -> UserInfo:
    return await harness.runtime.store.get_user("alice")


# --------------------------------------------------------------------------------------------
# password
# --------------------------------------------------------------------------------------------


async def test_changing_the_password_keeps_this_browser_and_ends_the_others(
    harness: Harness, browsers: Browsers
) -> None:
    other = await signed_in_browser(browsers)
    start = await harness.check("app1.test", "/")
    await harness.login(start.headers["location"])  # harness.client: a portal + app session
    this = await signed_in_browser(browsers)

    changed = await change_password(this, PASSWORD, NEW_PASSWORD)

    assert changed.status_code == 303, changed.text[:1500]
    assert changed.headers["location"] == f"{PUBLIC}/account?notice=password_changed"
    assert "Your password was changed" in (await this.get(changed.headers["location"])).text
    assert not await still_signed_in(other)
    assert not await still_signed_in(harness.client)
    assert (await harness.check("app1.test", "/")).status_code == 302  # its app session too
    assert not signed_in(await sign_in(browsers(), "alice", PASSWORD))
    assert signed_in(await sign_in(browsers(), "alice", NEW_PASSWORD))
    events = [e.event for e in await harness.runtime.store.list_audit(limit=50)]
    assert "password_changed" in events


async def test_a_wrong_current_password_changes_nothing_and_says_so_on_the_page(
    harness: Harness, browsers: Browsers
) -> None:
    this = await signed_in_browser(browsers)
    other = await signed_in_browser(browsers)
    before = (await alice(harness)).password_hash

    refused = await change_password(this, "not my password", NEW_PASSWORD)

    assert refused.status_code == 400
    assert "That is not your current password." in refused.text
    assert "Your sessions" in refused.text  # the rest of the page is there
    assert (await alice(harness)).password_hash == before
    assert await still_signed_in(other)
    assert signed_in(await sign_in(browsers(), "alice", PASSWORD))


async def test_the_form_cannot_be_used_to_guess_the_current_password(
    harness: Harness, browsers: Browsers
) -> None:
    """Wrong current passwords count as failed sign-ins: once the budgets are spent (the
    device's, then the account's), even the right one is refused, as at the login form."""
    this = await signed_in_browser(browsers)
    before = (await alice(harness)).password_hash
    policy = harness.runtime.login.policy
    for _ in range(policy.device.threshold + policy.account.threshold):
        assert (await change_password(this, "a guess", NEW_PASSWORD)).status_code == 400

    right = await change_password(this, PASSWORD, NEW_PASSWORD)

    assert right.status_code == 400, right.text[:1500]
    assert (await alice(harness)).password_hash == before
    # the guesses locked the account itself: the login form refuses it too
    assert not signed_in(await sign_in(browsers(), "alice", PASSWORD))


@pytest.mark.parametrize(
    ("new", "again", "says"),
    [
        ("short", None, "at least 10 characters"),
        ("password123", None, "most common"),
        ("alice-in-wonderland", None, "user name"),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "differ"),
    ],
)
async def test_a_new_password_that_breaks_the_rules_is_refused(
    harness: Harness, browsers: Browsers, new: str, again: str | None, says: str
) -> None:
    this = await signed_in_browser(browsers)
    before = (await alice(harness)).password_hash

    refused = await change_password(this, PASSWORD, new, again)

    assert refused.status_code == 400
    assert says in refused.text
    assert 'id="password-error"' in refused.text
    assert (await alice(harness)).password_hash == before


@pytest.mark.parametrize("token", ["", "forged", None])
async def test_a_post_without_a_valid_csrf_token_changes_nothing(
    harness: Harness, browsers: Browsers, token: str | None
) -> None:
    this = await signed_in_browser(browsers)
    other = await signed_in_browser(browsers)
    [form] = forms_to(await account(this), "/account/password")
    fields = {k: v for k, v in form.fields.items() if k != "csrf_token"}
    if token is not None:
        fields["csrf_token"] = token
    fields |= dict(
        current_password=PASSWORD, new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD
    )

    refused = await this.post(f"{PUBLIC}/account/password", data=fields)

    assert refused.status_code == 400
    assert "The form expired" in refused.text
    assert signed_in(await sign_in(browsers(), "alice", PASSWORD))
    assert await still_signed_in(other)


async def test_the_forms_need_a_signed_in_browser(harness: Harness) -> None:
    for path in ("/account/password", "/account/sessions/end", "/account/sessions/end-others"):
        answer = await harness.client.post(f"{PUBLIC}{path}", data={"session": "x"})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{PUBLIC}/login"


# --------------------------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------------------------


def end_forms(page: httpx.Response) -> list[Form]:
    return forms_to(page, "/account/sessions/end")


async def test_the_page_lists_only_the_users_own_sessions_and_no_session_id(
    harness: Harness, browsers: Browsers
) -> None:
    start = await harness.check("app1.test", "/")
    await harness.login(start.headers["location"])  # alice, with an app session of App 1
    await signed_in_browser(browsers, "bob")
    this = await signed_in_browser(browsers)

    page = await account(this)

    assert len(end_forms(page)) == 2
    assert page.text.count("This browser") == 1
    assert "App 1" in page.text
    for listed in await harness.runtime.store.list_sessions():
        assert listed.id not in page.text
    for form in end_forms(page):
        assert form.fields["session"] and len(form.fields["session"]) < 64


async def test_ending_another_session_shuts_that_browser_out_at_once(
    harness: Harness, browsers: Browsers
) -> None:
    start = await harness.check("app1.test", "/")
    await harness.login(start.headers["location"])
    assert (await harness.check("app1.test", "/")).status_code == 200
    this = await signed_in_browser(browsers)
    _, theirs = end_forms(await account(this))  # newest first: this browser, then that one

    ended = await post(this, "/account/sessions/end", theirs)

    assert ended.status_code == 303
    assert ended.headers["location"] == f"{PUBLIC}/account?notice=session_ended"
    assert (await harness.check("app1.test", "/")).status_code == 302
    assert not await still_signed_in(harness.client)
    assert await still_signed_in(this)
    assert len(end_forms(await account(this))) == 1


async def test_ending_this_session_signs_this_browser_out(
    harness: Harness, browsers: Browsers
) -> None:
    other = await signed_in_browser(browsers)
    this = await signed_in_browser(browsers)
    mine, _ = end_forms(await account(this))

    ended = await post(this, "/account/sessions/end", mine)

    assert ended.status_code == 303
    assert ended.headers["location"] == f"{PUBLIC}/signed-out"
    assert not await still_signed_in(this)
    assert await still_signed_in(other)


async def test_end_all_others_keeps_only_this_browser(harness: Harness, browsers: Browsers) -> None:
    others = [await signed_in_browser(browsers) for _ in range(2)]
    bob = await signed_in_browser(browsers, "bob")
    this = await signed_in_browser(browsers)
    [form] = forms_to(await account(this), "/account/sessions/end-others")

    ended = await post(this, "/account/sessions/end-others", form)

    assert ended.status_code == 303
    assert ended.headers["location"] == f"{PUBLIC}/account?notice=other_sessions_ended"
    assert [await still_signed_in(b) for b in others] == [False, False]
    assert await still_signed_in(this)
    assert await still_signed_in(bob)
    assert "End all others" not in (await account(this)).text


async def test_no_handle_but_ones_own_ends_a_session(harness: Harness, browsers: Browsers) -> None:
    """Another user's handle, a raw session id and made-up handles all get the same "not
    found", and end nothing."""
    bob = await signed_in_browser(browsers, "bob")
    [bobs] = end_forms(await account(bob))
    this = await signed_in_browser(browsers)
    [mine] = end_forms(await account(this))
    [raw] = [s.id for s in await harness.runtime.store.browser_sessions((await alice(harness)).id)]
    handle = mine.fields["session"]
    middle = len(handle) // 2  # not the last character: its low bits may be padding
    forged = handle[:middle] + ("B" if handle[middle] == "A" else "A") + handle[middle + 1 :]
    tries = [bobs.fields["session"], raw, "", "x" * 500, forged]

    answers = [await post(this, "/account/sessions/end", mine, session=t) for t in tries]

    assert [a.status_code for a in answers] == [404] * len(tries)
    assert all("There is no such session of yours" in a.text for a in answers)
    assert await still_signed_in(bob)
    assert await still_signed_in(this)


async def test_ending_a_session_needs_a_valid_csrf_token(
    harness: Harness, browsers: Browsers
) -> None:
    other = await signed_in_browser(browsers)
    this = await signed_in_browser(browsers)
    _, theirs = end_forms(await account(this))

    refused = await post(this, "/account/sessions/end", theirs, csrf_token="forged")

    assert refused.status_code == 400
    assert await still_signed_in(other)
