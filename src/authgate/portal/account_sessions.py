"""The account page's sessions section: the browsers signed in as this user, and ending them.

Each live portal session is one browser: its browser and system (from the User-Agent), the
address it signed in from, when, when it was last seen (what the store has: servers write
``last_seen`` in the background) and the apps it opened. Ending one revokes its whole family
(the portal session and its app sessions); the revision bump makes every worker and replica
refuse its cookies from the next request on. Ending this browser's own session signs it out.

Session ids are bearer secrets, so the page never shows one: a form names a session by its
*handle*, an HMAC of the id under a key of its own purpose. The handle maps back only by
comparing it with the handles of the user's OWN live sessions, so another user's session,
a forged handle and one that ended all get the same "not found".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import Signer
from starlette.requests import Request
from starlette.responses import Response

from authgate.accounts.user_agents import describe_all
from authgate.forward.model import PASSKEY, PASSWORD, RECOVERY_CODE, TOTP
from authgate.portal.account_section import Account, Refusal
from authgate.portal.cookies import portal_cookie
from authgate.portal.forms import redirect
from authgate.storage.store import BrowserSession
from authgate.web.requests import PageRequest
from authgate.web.runtime import Runtime

SECTION = "sessions"
HANDLE_PURPOSE = "account.session-handle"
MAX_HANDLE = 100
NOTICES = {
    "session_ended": "That session was ended. Its browser has to sign in again.",
    "other_sessions_ended": "Your other sessions were ended.",
}
NOT_FOUND = "There is no such session of yours: it may have ended already."
FACTOR_NAMES = {
    PASSWORD: "password",
    TOTP: "authenticator code",
    PASSKEY: "passkey",
    RECOVERY_CODE: "recovery code",
}


@dataclass(frozen=True)
class SessionRow:
    """One browser as the section shows it."""

    handle: str
    browser: str  # "Firefox 121 on Windows 10"
    user_agent: str
    ip: str
    signed_in: str
    last_seen: str
    factors: str  # "password + passkey"
    apps: tuple[str, ...]
    current: bool  # the browser showing the page


def handle_signer(rt: Runtime) -> Signer:
    return rt.signing.ring.signer(HANDLE_PURPOSE)


def handle_of(signer: Signer, session_id: str) -> str:
    return signer.get_signature(session_id).decode("ascii")


def own_session(
    signer: Signer, sessions: list[BrowserSession], handle: str
) -> BrowserSession | None:
    """The user's own session that ``handle`` names, if any (every key of the ring is
    tried, in constant time, so a rotation does not break a page already open)."""
    if not handle or len(handle) > MAX_HANDLE:
        return None
    return next((s for s in sessions if signer.verify_signature(s.id, handle)), None)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def gather(rt: Runtime, request: Request, account: Account) -> dict[str, object]:
    sessions = await rt.store.browser_sessions(account.user.id)
    browsers = await describe_all([s.user_agent for s in sessions])
    signer = handle_signer(rt)
    current = account.session.identity.session_id
    rows = [
        SessionRow(
            handle=handle_of(signer, s.id),
            browser=browser,
            user_agent=s.user_agent,
            ip=s.ip or "unknown",
            signed_in=_when(s.created_at),
            last_seen=_when(s.last_seen),
            factors=" + ".join(FACTOR_NAMES.get(method, method) for method in s.amr),
            apps=s.apps,
            current=s.id == current,
        )
        for s, browser in zip(sessions, browsers, strict=True)
    ]
    public = rt.settings.public_url
    return {
        "rows": rows,
        "others": any(not row.current for row in rows),
        "end_action": f"{public}/account/sessions/end",
        "end_others_action": f"{public}/account/sessions/end-others",
    }


async def end_session(
    rt: Runtime, request: Request, account: Account, form: dict[str, str]
) -> Response | Refusal:
    """End the session the form names; this browser's own one signs it out."""
    sessions = await rt.store.browser_sessions(account.user.id)
    target = own_session(handle_signer(rt), sessions, form.get("session", ""))
    if target is None:
        return Refusal(NOT_FOUND, 404)
    ended = await rt.store.revoke_family(target.id)
    rt.sessions.drop(ended)
    current = target.id == account.session.identity.session_id
    await _audit(rt, request, account, "session_ended", current=current, sessions=len(ended))
    public = rt.settings.public_url
    if not current:
        return redirect(f"{public}/account?notice=session_ended")
    response = redirect(f"{public}/signed-out")
    response.headers.append("set-cookie", portal_cookie(rt.settings, "", 0))
    return response


async def end_other_sessions(
    rt: Runtime, request: Request, account: Account, form: dict[str, str]
) -> Response | Refusal:
    """End every session of the user but this browser's."""
    keep = account.session.identity.session_id
    ended = await rt.store.revoke_other_sessions(account.user.id, keep)
    rt.sessions.drop(ended)
    await _audit(rt, request, account, "other_sessions_ended", sessions=len(ended))
    return redirect(f"{rt.settings.public_url}/account?notice=other_sessions_ended")


async def _audit(
    rt: Runtime, request: Request, account: Account, event: str, **detail: object
) -> None:
    name = account.user.username
    ip = PageRequest.read(request, rt.settings).ip
    await rt.store.audit(event, actor=name, subject=name, ip=ip, detail=json.dumps(detail))


# (path, section, act): the forms of this section
FORMS = (
    ("/account/sessions/end", SECTION, end_session),
    ("/account/sessions/end-others", SECTION, end_other_sessions),
)
