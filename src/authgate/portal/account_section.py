"""What a section of the account page is made of, below the page itself (``account.py``
imports the sections; a section never imports the page):

- ``Account``: whose page it is, the signed-in user and the portal session showing it;
- ``Gather``: what a section's template shows, read for that account;
- ``Act``: what a section's form does once the page has checked the sign-in and the CSRF
  token: a response (a redirect, usually), or a ``Refusal`` that the page shows in that
  section, with the rest of the page as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from authgate.forward.sessions import SessionRecord
from authgate.portal.signin import portal_session
from authgate.storage.store import UserInfo
from authgate.web.runtime import Runtime


@dataclass(frozen=True)
class Account:
    """Whose account page this is: the signed-in user and the portal session showing it."""

    user: UserInfo
    session: SessionRecord


@dataclass(frozen=True)
class Refusal:
    """Why a section's form did not act, shown in that section with ``status``."""

    message: str
    status: int = 400
    retry_after: int = 0  # seconds, for a 429 or 503


Gather = Callable[[Runtime, Request, Account], Awaitable[dict[str, object]]]
Act = Callable[[Runtime, Request, Account, dict[str, str]], Awaitable[Response | Refusal]]


async def signed_in_account(rt: Runtime, request: Request) -> Account | None:
    session = await portal_session(rt, request)
    if session is None:
        return None
    user = await rt.store.find_user_by_uid(session.identity.uid)
    return None if user is None or user.disabled else Account(user, session)
