"""Login throttling through real servers: two authgate processes on one store share the count
(and the CLI lifts the lock), a client that is not a trusted proxy cannot hide behind a forged
X-Forwarded-For, and Chromium keeps its device cookie and so its way in."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import login_form, make_client
from .servers import Authgate

pytestmark = pytest.mark.e2e

USER, PASSWORD = "dora", "a long enough password"
LOCK_AFTER = 10


def sign_in(
    client: httpx.Client,
    server: Authgate,
    password: str,
    forwarded_for: str = "",
    username: str = USER,
) -> httpx.Response:
    """Fill the portal's login form on ``server`` as a browser would and submit it."""
    page = client.get(f"{server.public_url}/login")
    form = login_form(page)
    assert form is not None, page.text
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        page.request.url.join(form.action),
        data={**form.fields, "username": username, "password": password},
        headers=headers,
    )


def test_two_servers_on_one_store_share_the_lock_and_the_cli_lifts_it(tmp_path: Path) -> None:
    with Authgate(tmp_path / "one") as one:
        one.cli("user", "add", USER, "--password-stdin", input=PASSWORD)
        shared = {"AUTHGATE_DATA_DIR": str(one.data_dir)}
        with Authgate(tmp_path / "two", extra_env=shared) as two, make_client() as attacker:
            for n in range(LOCK_AFTER):
                server = two if n % 2 else one
                answer = sign_in(attacker, server, "guess", "198.51.100.66")
                assert answer.status_code == 401, (n, answer.status_code)
            with make_client() as owner:
                assert sign_in(owner, one, PASSWORD, "203.0.113.7").status_code == 401
                assert sign_in(owner, two, PASSWORD, "203.0.113.7").status_code == 401

            shown = json.loads(two.cli("user", "show", USER, "--json").stdout)
            assert shown["login"]["locked"] is True
            assert shown["login"]["failures"] == LOCK_AFTER + 2  # every try counts
            one.cli("user", "unlock", USER)
            with make_client() as owner:
                answer = sign_in(owner, two, PASSWORD, "203.0.113.7")
                assert answer.status_code == 303, answer.text
            events = json.loads(one.cli("audit", "--json").stdout)
            assert {"login_locked", "login_unlocked"} <= {e["event"] for e in events}


def test_a_forged_forwarded_for_does_not_escape_the_address_count(tmp_path: Path) -> None:
    trusted_only_loopback_one = {"AUTHGATE_TRUSTED_PROXIES": "127.0.0.1/32"}
    with Authgate(tmp_path / "ag", extra_env=trusted_only_loopback_one) as server:
        server.cli("user", "add", USER, "--password-stdin", input=PASSWORD)
        with make_client("127.0.0.2") as sprayer:
            for n in range(20):  # a fresh "address" each time, believed by nobody
                forged = f"192.0.2.{secrets.randbelow(250)}"
                answer = sign_in(sprayer, server, "guess", forged, username=f"user{n}")
                assert answer.status_code == 401
            refused = sign_in(sprayer, server, PASSWORD, "192.0.2.251")
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
        with make_client() as owner:  # another address (the trusted proxy's): not slowed
            assert sign_in(owner, server, PASSWORD).status_code == 303


@pytest.mark.browser
def test_chromium_keeps_its_way_in_while_strangers_are_locked_out(
    tmp_path: Path, browser_page: Any
) -> None:
    with Authgate(tmp_path / "ag") as server:
        server.cli("user", "add", USER, "--password-stdin", input=PASSWORD)

        def chromium_sign_in(page: Any) -> str:
            page.goto(f"{server.public_url}/login")
            page.fill("#username", USER)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            return str(page.content())

        assert "Wrong user name or password" not in chromium_sign_in(browser_page)
        cookies = {c["name"]: c for c in browser_page.context.cookies()}
        assert cookies["authgate_device"]["httpOnly"] and cookies["authgate_device"]["expires"] > 0

        with make_client() as attacker:
            for _ in range(LOCK_AFTER):
                assert sign_in(attacker, server, "guess", "198.51.100.66").status_code == 401

        stranger = browser_page.context.browser.new_context()
        try:
            assert "Wrong user name or password" in chromium_sign_in(stranger.new_page())
        finally:
            stranger.close()
        browser_page.context.clear_cookies(name="authgate_portal")
        content = chromium_sign_in(browser_page)
        assert "Wrong user name or password" not in content, content
        portal = [c for c in browser_page.context.cookies() if c["name"] == "authgate_portal"]
        assert portal, "the owner's browser was not signed in"
