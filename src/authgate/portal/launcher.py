"""The portal's home: the apps this user may open, judged with the check's own policy.

Each app is judged as the check would judge a GET of the URL the launcher links to (its
external URL), from this browser's address, with this session's identity: the same index
(``AppIndex.find``) and the same ``decide``. An app the check would refuse is not listed;
one that would first ask for a second factor (a step-up) is, marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from authgate.forward.apps import AppIndex
from authgate.forward.decision import Deny, Invalid, Unavailable, UnknownHost
from authgate.forward.model import AppView, Identity
from authgate.forward.policy import CookieState, decide
from authgate.forward.request import BadRequest, ForwardRequest
from authgate.portal.forms import page, redirect
from authgate.portal.signin import portal_session
from authgate.web.requests import PageRequest, runtime_of

REFUSED = (Deny, Invalid, Unavailable, UnknownHost)


@dataclass(frozen=True)
class Tile:
    """One app as the launcher shows it."""

    name: str
    url: str
    icon: str
    description: str
    step_up: bool  # opening it asks for a second factor first


def may_open(index: AppIndex, app: AppView, identity: Identity, ip: str, prefix: str) -> bool:
    """Would the check let ``identity`` at ``ip`` GET the app's external URL (or ask for a
    second factor first)? Exactly its judgement: the app the index finds for that URL's
    host, then ``decide``."""
    try:
        request = ForwardRequest.from_url(app.external_url, "GET", ip, can_redirect=False)
    except BadRequest:
        return False
    found = index.find(request)
    if found is not app:
        return False  # another app, or a conflict, answers for that host: not this one
    decision = decide(found, request, identity, CookieState.VALID, prefix=prefix)
    return not isinstance(decision, REFUSED)


def tiles(index: AppIndex, identity: Identity, ip: str, prefix: str) -> list[Tile]:
    """The apps ``identity`` may open from ``ip``, by name."""
    apps = sorted(index.apps.values(), key=lambda app: (app.name.casefold(), app.slug))
    return [
        Tile(
            app.name,
            app.external_url,
            app.icon,
            app.description,
            app.needs_mfa and not identity.second_factor,
        )
        for app in apps
        if may_open(index, app, identity, ip, prefix)
    ]


async def home(request: Request) -> Response:
    rt = runtime_of(request)
    public = rt.settings.public_url
    session = await portal_session(rt, request)
    if session is None:
        return redirect(f"{public}/login")
    user = await rt.store.find_user_by_uid(session.identity.uid)
    if user is None:
        return redirect(f"{public}/login")
    ip = PageRequest.read(request, rt.settings).ip
    expires = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return page(
        rt,
        request,
        "signed_in.html",
        user=user,
        apps=tiles(rt.index, session.identity, ip, rt.settings.outpost_prefix),
        session_expires=expires,
        account_url=f"{public}/account",
        logout_action=f"{public}/logout",
    )
