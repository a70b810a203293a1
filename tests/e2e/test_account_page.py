"""The account page and the launcher in Chromium, through real proxies, against an authgate
with two workers: ending a session on the account page shuts that browser out on its next
request through the proxy (nginx and Traefik), and the launcher lists exactly the apps the
policy admits, each of which opens through the proxy."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Proxy, origin, page_json, proxy_factory
from .servers import Authgate, Echo, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ALICE = ("alice", "correct horse battery staple")
BOB = ("bob", "tr0ub4dor&3 but longer")
WIKI, OPS, HANDBOOK, VAULT = "wiki.test", "ops.test", "handbook.test", "vault.test"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    b'<rect width="40" height="40" fill="#2d5bd0"/></svg>'
)
ICON = "data:image/svg+xml;base64," + base64.b64encode(SVG).decode()
Shoot = Callable[[Any, str], Path]
TRIES = 5  # requests spread over authgate's two workers: all of them must agree


@dataclass
class Site:
    proxy: Proxy
    authgate: Authgate

    def url(self, host: str, path: str = "/") -> str:
        return self.proxy.url(host, path)

    @property
    def portal(self) -> str:
        return self.authgate.public_url


@contextlib.contextmanager
def site(kind: str, workdir: Path, echo: Echo) -> Iterator[Site]:
    """alice (staff) and bob (ops); apps: wiki (staff, with icon and description), ops
    (ops), handbook (anyone), vault (anyone, but a deny rule for staff)."""
    with (
        Authgate(workdir / "authgate", extra_env={"AUTHGATE_WORKERS": "2"}) as authgate,
        proxy_factory(kind, workdir, echo, authgate) as start,
    ):
        port = free_port()
        for group in ("staff", "ops"):
            authgate.cli("group", "add", group)
        for (name, password), group in ((ALICE, "staff"), (BOB, "ops")):
            authgate.cli("user", "add", name, "--group", group, "--password-stdin", input=password)
        wiki = ["--group", "staff", "--icon", ICON, "--description", "The team's notes"]
        authgate.cli(
            "app", "add", "wiki", "--url", f"http://{WIKI}:{port}", "--name", "Wiki", *wiki
        )
        authgate.cli(
            "app", "add", "ops", "--url", f"http://{OPS}:{port}", "--name", "Ops", "--group", "ops"
        )
        authgate.cli(
            "app", "add", "handbook", "--url", f"http://{HANDBOOK}:{port}", "--name", "Handbook"
        )
        authgate.cli("app", "add", "vault", "--url", f"http://{VAULT}:{port}", "--name", "Vault")
        authgate.cli("app", "rule", "add", "vault", "--action", "deny", "--group", "staff")
        proxy = start([WIKI, OPS, HANDBOOK, VAULT], port=port)
        for host in (WIKI, OPS, HANDBOOK, VAULT):
            authgate.wait_for_app(proxy.origin(host))
        yield Site(proxy, authgate)


def fill_login(page: Any, user: tuple[str, str]) -> None:
    page.wait_for_selector("input[name=password]")
    page.fill("input[name=username]", user[0])
    page.fill("input[name=password]", user[1])
    page.press("input[name=password]", "Enter")


def sign_in_at_app(page: Any, url: str, user: tuple[str, str] = ALICE) -> None:
    """Open ``url`` through the proxy, sign in on the portal, land back on the app."""
    page.goto(url)
    fill_login(page, user)
    page.wait_for_url(url)
    assert page_json(page)["headers"]["x-authentik-username"] == user[0]


def on_login_form(page: Any, site: Site) -> bool:
    page.wait_for_load_state()
    at_portal = origin(httpx.URL(page.url)) == origin(httpx.URL(site.portal))
    return at_portal and page.locator("input[name=password]").count() == 1


@pytest.mark.parametrize("kind", ["nginx", "traefik"])
def test_ending_a_session_on_the_account_page_shuts_that_browser_out(
    kind: str, tmp_path: Path, echo: Echo, browser_page: Any, screenshot: Shoot
) -> None:
    with site(kind, tmp_path, echo) as s:
        mine = browser_page
        other_context = mine.context.browser.new_context()
        try:
            theirs = other_context.new_page()
            sign_in_at_app(theirs, s.url(WIKI, "/from-b"))
            for n in range(TRIES):  # its session is now in the cache of every worker
                theirs.goto(s.url(WIKI, f"/b-{n}"))
                assert page_json(theirs)["headers"]["x-authentik-username"] == ALICE[0]
            sign_in_at_app(mine, s.url(WIKI, "/from-a"))

            mine.goto(f"{s.portal}/account")
            rows = mine.locator("li.session")
            assert rows.count() == 2, mine.content()
            other_row = mine.locator("li.session:not(.session-current)")
            assert "Wiki" in other_row.inner_text()
            screenshot(mine, "account")
            other_row.locator("button[type=submit]").click()
            mine.wait_for_selector("#account-notice")
            assert mine.locator("li.session").count() == 1
            screenshot(mine, "account-after-ending")

            for n in range(TRIES):  # whichever worker answers, and every time
                theirs.goto(s.url(WIKI, f"/b-again-{n}"))
                assert on_login_form(theirs, s), f"try {n}: {theirs.url}"
            theirs.goto(f"{s.portal}/account")
            assert on_login_form(theirs, s), theirs.url
            mine.goto(s.url(WIKI, "/from-a-again"))  # this browser is still in
            assert page_json(mine)["headers"]["x-authentik-username"] == ALICE[0]
        finally:
            other_context.close()


def test_the_launcher_lists_exactly_the_apps_the_policy_admits(
    tmp_path: Path, echo: Echo, browser_page: Any, screenshot: Shoot
) -> None:
    page = browser_page
    with site("nginx", tmp_path, echo) as s:
        page.goto(f"{s.portal}/login")
        fill_login(page, ALICE)
        page.wait_for_url(f"{s.portal}/")
        assert page.locator(".tile-name").all_inner_texts() == ["Handbook", "Wiki"]
        icon = page.locator("img.tile-icon")
        assert icon.get_attribute("alt") == "Wiki icon"
        assert icon.evaluate("img => img.complete && img.naturalWidth") == 40  # CSP let it load
        assert "The team's notes" in page.locator("a.tile", has_text="Wiki").inner_text()
        screenshot(page, "launcher")

        page.locator("a.tile", has_text="Wiki").click()
        page.wait_for_url(s.url(WIKI, "/"))
        assert page_json(page)["headers"]["x-authentik-username"] == ALICE[0]

        bobs_context = page.context.browser.new_context()
        try:
            bobs = bobs_context.new_page()
            bobs.goto(f"{s.portal}/login")
            fill_login(bobs, BOB)
            bobs.wait_for_url(f"{s.portal}/")
            assert bobs.locator(".tile-name").all_inner_texts() == ["Handbook", "Ops", "Vault"]
            bobs.locator("a.tile", has_text="Vault").click()
            bobs.wait_for_url(s.url(VAULT, "/"))
            assert page_json(bobs)["headers"]["x-authentik-username"] == BOB[0]
        finally:
            bobs_context.close()
