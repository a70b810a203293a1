"""The account page's tokens and app passwords: a person makes one (shown once), it lets a
script in, the list shows its last use, and revoking it (only one's own, CSRF checked)
ends it at the next check."""

from __future__ import annotations

import re

from tests.functional.conftest import PUBLIC, Browsers, Harness
from tests.functional.test_account_page import account, forms_to, post, signed_in_browser

CREATE, REVOKE = "/account/credentials/create", "/account/credentials/revoke"


async def test_make_use_list_and_revoke_a_token(harness: Harness, browsers: Browsers) -> None:
    browser = await signed_in_browser(browsers)
    [form] = forms_to(await account(browser), CREATE)
    made = await post(browser, CREATE, form, kind="token", description="ci", expires="30d")
    assert made.status_code == 200, made.text[:1500]
    assert made.headers["cache-control"] == "no-store"
    token = re.search(r'id="credential-secret">(agt_[0-9a-z_]+)<', made.text)
    assert token is not None, made.text[:1500]
    secret = token.group(1)

    used = await harness.check("app1.test", "/", authorization=f"Bearer {secret}")
    assert used.status_code == 200 and used.headers["x-authentik-username"] == "alice"
    await harness.runtime.sync.flush()

    page = await account(browser)
    assert secret not in page.text  # never shown again
    lookup = secret.split("_")[1]
    assert f"API token {lookup}" in page.text and "from 127.0.0.1" in page.text
    [revoke_form] = [f for f in forms_to(page, REVOKE) if f.fields["credential"] == lookup]
    gone = await post(browser, REVOKE, revoke_form)
    assert gone.status_code == 303, gone.text[:1500]
    refused = await harness.check("app1.test", "/", authorization=f"Bearer {secret}")
    assert refused.status_code == 401 and "token revoked" in refused.headers["www-authenticate"]


async def test_only_ones_own_and_only_with_the_csrf_token(
    harness: Harness, browsers: Browsers
) -> None:
    from authgate.accounts.api_credentials import issue

    bobs = await issue(harness.runtime.store, "bob", "token")
    browser = await signed_in_browser(browsers)
    [revoke_any] = forms_to(await account(browser), CREATE)
    stolen = await post(browser, REVOKE, revoke_any, credential=bobs.info.lookup)
    assert stolen.status_code == 404
    [listed] = await harness.runtime.store.list_api_credentials("bob")
    assert listed.revoked_at is None
    forged = await browser.post(
        f"{PUBLIC}{CREATE}", data={"csrf_token": "x", "kind": "token", "expires": "30d"}
    )
    assert forged.status_code == 400
    assert await harness.runtime.store.list_api_credentials("alice") == []
    [form] = forms_to(await account(browser), CREATE)
    bad = await post(browser, CREATE, form, kind="token", expires="30d", apps="no-such-app")
    assert bad.status_code == 400 and "no-such-app" in bad.text
