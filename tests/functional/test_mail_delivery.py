"""Mailing a link to a real SMTP server (aiosmtpd): plain, STARTTLS with AUTH, and every
failure coming back as a ``Delivery`` with its reason instead of an exception."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from authgate.accounts.mail import Delivery, mail_link
from authgate.config import Settings, load_settings
from authgate.storage.store import AccountLink, UserInfo
from authgate.storage.store.links import INVITE
from tests.mailserver import MailServer, free_port, self_signed

USER = UserInfo(1, "u1", "dana", "dana@example.test", "Dana", False, (), None)
NOW = datetime.now(UTC)
LINK = AccountLink(1, "dana", INVITE, NOW, NOW + timedelta(hours=24))
URL = "http://auth.test/account/link/TOKEN"
LOGIN = ("mailer", "s3cret pass")


def settings(tmp_path: Path, smtp_url: str) -> Settings:
    env = {
        "AUTHGATE_DATA_DIR": str(tmp_path),
        "AUTHGATE_PUBLIC_URL": "http://auth.test",
        "AUTHGATE_SMTP_URL": smtp_url,
    }
    return load_settings(env)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path)


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


async def send(tmp_path: Path, url: str, tls: ssl.SSLContext | None = None) -> Delivery:
    return await mail_link(settings(tmp_path, url), USER, USER.email, URL, LINK, tls)


async def test_plain_smtp_delivers_the_link(tmp_path: Path) -> None:
    with MailServer() as mail:
        delivery = await send(tmp_path, f"smtp://127.0.0.1:{mail.port}")
        assert delivery == Delivery("dana@example.test", True)
        (message,) = mail.wait_for(1)
    assert mail.inbox.recipients == [["dana@example.test"]]
    assert message["From"] == "authgate <authgate@auth.test>"
    assert URL in message.get_content()


async def test_starttls_then_login(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    with MailServer(tls_files, login=LOGIN) as mail:
        url = f"smtp://{LOGIN[0]}:s3cret%20pass@127.0.0.1:{mail.port}"
        assert (await send(tmp_path, url, trusting(tls_files[0]))).sent
        wrong = await send(tmp_path, url.replace("s3cret", "wrong"), trusting(tls_files[0]))
        assert not wrong.sent and "SMTPAuthenticationError" in wrong.error
        assert len(mail.wait_for(1)) == 1


async def test_the_servers_certificate_is_verified(
    tmp_path: Path, tls_files: tuple[Path, Path]
) -> None:
    with MailServer(tls_files) as mail:
        delivery = await send(tmp_path, f"smtp://127.0.0.1:{mail.port}")  # system CAs only
        assert not delivery.sent and "certificate" in delivery.error.lower()
    assert mail.messages == []


async def test_no_password_in_clear_when_the_server_offers_no_starttls(tmp_path: Path) -> None:
    with MailServer() as mail:
        delivery = await send(tmp_path, f"smtp://{LOGIN[0]}:pw@127.0.0.1:{mail.port}")
    assert not delivery.sent and "STARTTLS" in delivery.error
    assert mail.messages == []


async def test_an_unreachable_server_is_a_reason_not_an_exception(tmp_path: Path) -> None:
    delivery = await send(tmp_path, f"smtps://127.0.0.1:{free_port()}")
    assert not delivery.sent and "ConnectionRefused" in delivery.error


async def test_a_user_without_an_address_gets_no_mail(tmp_path: Path) -> None:
    user = UserInfo(2, "u2", "erin", "", "", False, (), None)
    delivery = await mail_link(settings(tmp_path, "smtp://127.0.0.1:1"), user, "", URL, LINK)
    assert delivery == Delivery("", False, "user erin has no email address")
