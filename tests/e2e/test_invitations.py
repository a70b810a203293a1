"""Invitations and reset links end to end, behind nginx (ingress-nginx shape) and Traefik:
the CLI mails the link to a real SMTP server (aiosmtpd), Chromium opens it from the mail,
the person chooses a password and reaches the app through the proxy with it; the link
works once; a reset link ends the sessions the person had."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.mailserver import MailServer

from .conftest import Proxy, browse, login, login_form, make_client, page_json, proxy_factory
from .servers import Authgate, Echo, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

APP = "wiki.test"
USER, EMAIL, PASSWORD = "nora", "nora@example.test", "a quiet violet morning"
NEW_PASSWORD = "another quiet evening"
LINK = re.compile(r"http://auth\.test:\d+/account/link/[A-Za-z0-9_-]{43}")


@dataclass
class Stack:
    authgate: Authgate
    proxy: Proxy
    mail: MailServer

    def app_url(self, path: str = "/") -> str:
        return self.proxy.url(APP, path)

    def allowed(self) -> set[str]:
        return {self.proxy.origin(APP), f"auth.test:{self.authgate.port}"}

    def link_of(self, message: EmailMessage) -> str:
        found = LINK.search(message.get_content())
        assert found, message.get_content()
        return found.group(0)


@pytest.fixture(params=["nginx", "traefik"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, echo: Echo) -> Iterator[Stack]:
    with (
        MailServer() as mail,
        Authgate(
            tmp_path / "authgate", {"AUTHGATE_SMTP_URL": f"smtp://127.0.0.1:{mail.port}"}
        ) as authgate,
        proxy_factory(request.param, tmp_path, echo, authgate) as start,
    ):
        port = free_port()
        authgate.cli("group", "add", "team")
        authgate.cli("app", "add", "wiki", "--url", f"http://{APP}:{port}", "--group", "team")
        proxy = start([APP], port=port)
        authgate.wait_for_app(proxy.origin(APP))
        yield Stack(authgate, proxy, mail)


def choose_password(page: Any, link: str, password: str) -> None:
    page.goto(link)
    page.fill("#password", password)
    page.fill("#confirm", password)
    page.click("button[type=submit]")


def sessions_of(stack: Stack) -> list[dict[str, Any]]:
    """The user's live portal sessions as ``authgate user show`` lists them."""
    shown = json.loads(stack.authgate.cli("user", "show", USER, "--json").stdout)
    sessions: list[dict[str, Any]] = shown["sessions"]
    return sessions


def reaches_app(client: httpx.Client, stack: Stack) -> httpx.Response:
    return browse(client, stack.app_url("/again"), allowed=stack.allowed()).final


def test_an_invitation_mailed_opened_used_once(
    stack: Stack, browser_page: Any, screenshot: Callable[[Any, str], Path]
) -> None:
    page, public = browser_page, stack.authgate.public_url
    printed = stack.authgate.cli(
        "user", "invite", USER, "--email", EMAIL, "--name", "Nora N", "--group", "team"
    ).stdout
    (message,) = stack.mail.wait_for(1)
    assert stack.mail.inbox.recipients == [[EMAIL]]
    link = stack.link_of(message)
    assert link in printed and f"mailed to {EMAIL}" in printed

    page.goto(link)
    page.wait_for_selector("input[name=confirm]")
    screenshot(page, "1-set-password")
    choose_password(page, link, PASSWORD)
    page.wait_for_url(f"{public}/")
    assert f"signed in as {USER}" in page.content()
    page.goto(stack.app_url("/notes?x=1"))  # signed in by the link: straight through
    page.wait_for_url(stack.app_url("/notes?x=1"))
    assert page_json(page)["headers"]["x-authentik-username"] == USER

    with make_client() as client:  # another browser, through the proxy, with the password
        first = browse(client, stack.app_url("/x"), allowed=stack.allowed())
        after = login(client, first.final, USER, PASSWORD, allowed=stack.allowed())
        assert after.final.status_code == 200, after.describe()
        assert after.final.json()["headers"]["x-authentik-email"] == EMAIL

    answer = page.goto(link)
    assert answer is not None and answer.status == 410
    assert "This link is no longer valid" in page.content()
    assert page.locator("input[name=password]").count() == 0
    screenshot(page, "2-link-used")


def test_a_reset_link_ends_the_sessions_it_replaces(stack: Stack, browser_page: Any) -> None:
    stack.authgate.cli("user", "add", USER, "--group", "team", "--password-stdin", input=PASSWORD)
    with make_client() as client:
        first = browse(client, stack.app_url("/x"), allowed=stack.allowed())
        after = login(client, first.final, USER, PASSWORD, allowed=stack.allowed())
        assert after.final.status_code == 200, after.describe()
        (session,) = sessions_of(stack)
        assert (session["amr"], session["apps"]) == (["pwd"], ["wiki"])

        stack.authgate.cli("user", "reset-link", USER)  # nora has no address: printed only
        assert stack.mail.messages == []
        printed = stack.authgate.cli("user", "reset-link", USER).stdout
        link = LINK.search(printed)
        assert link

        choose_password(browser_page, link.group(0), NEW_PASSWORD)
        browser_page.wait_for_url(f"{stack.authgate.public_url}/")
        assert login_form(reaches_app(client, stack)) is not None  # the old session is over
        (session,) = sessions_of(stack)  # Chromium's, signed in by the link
        assert (session["amr"], session["apps"]) == (["pwd"], [])
