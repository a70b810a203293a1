"""Mailing an invitation or reset link (AUTHGATE_SMTP_URL, AUTHGATE_SMTP_FROM).

- ``smtp://[user:password@]host[:port]`` (port 25 by default) upgrades to TLS with STARTTLS
  whenever the server offers it; ``smtps://host[:port]`` (465) speaks TLS from the start.
  Certificates are verified. A user name and password are sent only over TLS: a server
  that offers no STARTTLS (or a man in the middle who strips it) gets no credentials.
- The mail is plain text: who it is for, the link, and until when it works.
- Sending runs in a worker thread (``smtplib`` blocks) and never raises: the outcome, with
  the reason of a failure, is a ``Delivery``, because the link itself exists either way and
  whoever issued it must still get it.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import unquote, urlsplit

import anyio.to_thread

from authgate.config import Settings
from authgate.config.secret import Secret
from authgate.storage.store import AccountLink, UserInfo
from authgate.storage.store.links import INVITE

BRAND = "authgate"
SEND_TIMEOUT = 20.0  # seconds for each step of the SMTP conversation


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool  # smtps://
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""), repr=False)

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("use smtp://user:password@host:587 or smtps://host:465")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username or ""),
            password=Secret(unquote(parts.password or "")),
        )


@dataclass(frozen=True)
class Delivery:
    """What became of mailing a link: sent to ``to``, or not, and why."""

    to: str
    sent: bool
    error: str = ""


def sender(settings: Settings) -> str:
    """AUTHGATE_SMTP_FROM, else ``authgate@<the portal's host name>``."""
    return settings.smtp_from or f"{BRAND}@{urlsplit(settings.public_url).hostname}"


def format_expiry(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def address(name: str, addr_spec: str) -> Address:
    """``name <addr_spec>``; ValueError when ``addr_spec`` is not one address."""
    try:
        return Address(name, addr_spec=addr_spec)
    except (ValueError, IndexError, MessageError) as exc:
        raise ValueError(f"{addr_spec!r} is not an email address") from exc


def link_message(
    *, sender: str, recipient: str, user: UserInfo, url: str, link: AccountLink, portal: str
) -> EmailMessage:
    """The plain-text mail that hands ``user`` the link. ValueError on an address that is
    not one (a header can never be smuggled in through a name or an address)."""
    message = EmailMessage()
    message["From"] = address(BRAND, sender)
    message["To"] = address(user.name, recipient)
    message["Date"] = format_datetime(link.created_at)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    greeting = f"Hello {user.name or user.username},"
    expiry = f"The link works once, until {format_expiry(link.expires_at)}."
    if link.purpose == INVITE:
        message["Subject"] = f"Your {BRAND} account"
        body = [
            greeting,
            "",
            f"An administrator has made you an account on {BRAND}, the sign-in of {portal}.",
            f"Your user name is {user.username}. Choose your password here:",
            "",
            url,
            "",
            expiry,
            "If you did not expect this mail, ignore it: without the link nothing happens.",
        ]
    else:
        message["Subject"] = f"Choose a new {BRAND} password"
        body = [
            greeting,
            "",
            f"An administrator has made you a link to choose a new password for "
            f"{user.username} on {BRAND} ({portal}):",
            "",
            url,
            "",
            expiry,
            "Choosing a new password signs you out everywhere.",
            "If you did not ask for this, tell your administrator.",
        ]
    message.set_content("\n".join(body) + "\n")
    return message


def send_message(
    server: SmtpServer, message: EmailMessage, tls: ssl.SSLContext | None = None
) -> None:
    """Deliver ``message`` (blocking); raises ``smtplib.SMTPException`` or ``OSError``."""
    context = tls or ssl.create_default_context()
    smtp: smtplib.SMTP
    if server.implicit_tls:
        smtp = smtplib.SMTP_SSL(server.host, server.port, timeout=SEND_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(server.host, server.port, timeout=SEND_TIMEOUT)
    with smtp:
        smtp.ehlo()
        encrypted = server.implicit_tls
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = True
        if server.username:
            if not encrypted:
                raise smtplib.SMTPException(
                    "the server offers no STARTTLS: the SMTP password is not sent in clear"
                )
            smtp.login(server.username, server.password.reveal())
        smtp.send_message(message)


async def mail_link(
    settings: Settings,
    user: UserInfo,
    recipient: str,
    url: str,
    link: AccountLink,
    tls: ssl.SSLContext | None = None,
) -> Delivery:
    """Mail ``url`` to ``recipient`` through AUTHGATE_SMTP_URL; the outcome, never an error."""
    if not recipient:
        return Delivery("", False, f"user {user.username} has no email address")
    portal = urlsplit(settings.public_url).netloc
    try:
        server = SmtpServer.from_url(settings.smtp_url)
        message = link_message(
            sender=sender(settings),
            recipient=recipient,
            user=user,
            url=url,
            link=link,
            portal=portal,
        )
        await anyio.to_thread.run_sync(send_message, server, message, tls)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        return Delivery(recipient, False, _reason(exc))
    return Delivery(recipient, True)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
