"""``user show``'s sessions: each portal session with the apps its app sessions reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from authgate.accounts.overview import portal_sessions
from authgate.storage.store import SessionInfo

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def session(sid: str, kind: str, app: str = "", parent: str = "", seen: int = 0) -> SessionInfo:
    at = T0 + timedelta(minutes=seen)
    amr = ("pwd", "otp") if kind == "portal" else ()
    return SessionInfo(sid, "dana", kind, app, parent, T0, T0 + timedelta(hours=1), at, "", amr)


def test_app_sessions_fold_into_their_portal_session() -> None:
    listed = [
        session("p1", "portal", seen=1),
        session("a1", "app", "wiki", "p1", seen=5),
        session("a2", "app", "chat", "p1", seen=3),
        session("a3", "app", "wiki", "p1", seen=2),
        session("p2", "portal", seen=4),
        session("a4", "app", "mail", "gone", seen=9),  # its portal session has ended
    ]
    first, second = portal_sessions(listed)
    assert (first.id, first.apps, first.amr) == ("p1", ("chat", "wiki"), ("pwd", "otp"))
    assert first.last_seen == T0 + timedelta(minutes=5)
    assert (second.id, second.apps, second.last_seen) == ("p2", (), T0 + timedelta(minutes=4))
