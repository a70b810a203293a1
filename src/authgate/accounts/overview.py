"""Everything an administrator asks about one account (``authgate user show``): the user,
the lock failed sign-ins put on it, the second factors enrolled, the live portal sessions
with the apps each reached, and a pending invitation or reset link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from authgate.accounts.login import account_lock
from authgate.storage.store import (
    AccountLink,
    Count,
    Enrolled,
    LoginCounters,
    SessionInfo,
    Store,
    UserInfo,
    now,
)


@dataclass(frozen=True)
class PortalSession:
    """A live portal session and what it reached."""

    id: str
    ip: str
    user_agent: str
    signed_in: datetime
    last_seen: datetime  # the latest of the session and its app sessions
    expires_at: datetime
    amr: tuple[str, ...]
    apps: tuple[str, ...]  # slugs of its live app sessions


@dataclass(frozen=True)
class AccountOverview:
    user: UserInfo
    lock: Count
    factors: Enrolled
    sessions: tuple[PortalSession, ...]
    pending_link: AccountLink | None


def portal_sessions(sessions: list[SessionInfo]) -> tuple[PortalSession, ...]:
    """The portal sessions among ``sessions``, each with its app sessions folded in."""
    children: dict[str, list[SessionInfo]] = {}
    for session in sessions:
        if session.kind != "portal":
            children.setdefault(session.parent_id, []).append(session)
    return tuple(
        PortalSession(
            id=portal.id,
            ip=portal.ip,
            user_agent=portal.user_agent,
            signed_in=portal.created_at,
            last_seen=max(s.last_seen for s in [portal, *children.get(portal.id, [])]),
            expires_at=portal.expires_at,
            amr=portal.amr,
            apps=tuple(sorted({s.app for s in children.get(portal.id, []) if s.app})),
        )
        for portal in sessions
        if portal.kind == "portal"
    )


async def account_overview(
    store: Store, counters: LoginCounters, username: str, at: datetime | None = None
) -> AccountOverview:
    """The overview of ``username`` (NotFoundError when there is no such user)."""
    user, lock = await account_lock(store, counters, username, at or now())
    return AccountOverview(
        user=user,
        lock=lock,
        factors=await store.enrolled_factors(user.id),
        sessions=portal_sessions(await store.list_sessions(user.username)),
        pending_link=await store.pending_link(user.id),
    )
