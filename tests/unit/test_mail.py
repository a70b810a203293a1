"""The link mail: SMTP URLs, the From address, and what the plain-text message says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from authgate.accounts.mail import SmtpServer, link_message, sender
from authgate.config import load_settings
from authgate.storage.store import AccountLink, UserInfo
from authgate.storage.store.links import INVITE, RESET

CREATED = datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
USER = UserInfo(7, "u7", "dana", "dana@example.test", "Dana Scully", False, ("staff",), None)
URL = "https://auth.example.test/account/link/TOKEN"


def link(purpose: str) -> AccountLink:
    return AccountLink(7, "dana", purpose, CREATED, CREATED + timedelta(hours=24))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.lan", ("mail.lan", 25, False, "", "")),
        ("smtp://me%40x.lan:p%3Ass@mail.lan:587", ("mail.lan", 587, False, "me@x.lan", "p:ss")),
        ("smtps://mail.lan", ("mail.lan", 465, True, "", "")),
        ("smtps://u:pw@mail.lan:2465", ("mail.lan", 2465, True, "u", "pw")),
    ],
)
def test_smtp_urls(url: str, expected: tuple[str, int, bool, str, str]) -> None:
    server = SmtpServer.from_url(url)
    seen = (server.host, server.port, server.implicit_tls, server.username)
    assert (*seen, server.password.reveal()) == expected
    if expected[4]:
        assert expected[4] not in repr(server)


def test_the_sender_defaults_to_authgate_at_the_portal_host(tmp_path: Path) -> None:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_PUBLIC_URL": "https://auth.example.test"}
    assert sender(load_settings(env)) == "authgate@auth.example.test"
    chosen = {**env, "AUTHGATE_SMTP_FROM": "sso@example.test"}
    assert sender(load_settings(chosen)) == "sso@example.test"


def test_an_invitation_names_the_user_the_link_and_its_expiry() -> None:
    message = link_message(
        sender="authgate@auth.example.test",
        recipient=USER.email,
        user=USER,
        url=URL,
        link=link(INVITE),
        portal="auth.example.test",
    )
    assert message["To"] == "Dana Scully <dana@example.test>"
    assert message["From"] == "authgate <authgate@auth.example.test>"
    assert message["Subject"] == "Your authgate account"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert f"\n{URL}\n" in body
    assert "Your user name is dana." in body
    assert "until 2030-05-02 09:30 UTC" in body
    assert message["Message-ID"].endswith("@auth.example.test>")


def test_a_reset_mail_says_it_signs_out_everywhere() -> None:
    message = link_message(
        sender="authgate@auth.example.test",
        recipient=USER.email,
        user=USER,
        url=URL,
        link=link(RESET),
        portal="auth.example.test",
    )
    assert message["Subject"] == "Choose a new authgate password"
    assert "signs you out everywhere" in message.get_content()
    assert URL in message.get_content()


@pytest.mark.parametrize(
    "recipient", ["dana@example.test\r\nBcc: eve@evil.test", "a@b.test, eve@evil.test", "nobody"]
)
def test_a_bad_address_never_becomes_a_header(recipient: str) -> None:
    with pytest.raises(ValueError, match="is not an email address"):
        link_message(
            sender="authgate@auth.example.test",
            recipient=recipient,
            user=USER,
            url=URL,
            link=link(INVITE),
            portal="auth.example.test",
        )
