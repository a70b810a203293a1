"""The rows of the scale run's store, generated without any I/O: users, groups, memberships,
apps bound to groups, and sessions (portal sessions with app sessions under them).

Proportions for ``sessions`` S and ``apps`` A: S/100 users (at least 10), A/50 groups (at
least 2), every user in two groups, every app bound to one group; one session in ten is a
portal session, the others are app sessions of a portal session of the same user, for an
app that user may open. Not every row is live: one portal session in 20 is revoked (and so
are its app sessions, as a sign-out leaves them), one app session in 10 has expired — the
store holds what a long-running one would. ``load_indices`` picks live app sessions spread over
the apps: what wrk sends.

Everything is deterministic for a given ``seed`` (session ids included), so a test can
check the shape and the bench can say exactly what it seeded.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from authgate.storage.store.claims import Claim

PORTAL_EVERY = 10  # one session in PORTAL_EVERY is a portal session
REVOKED_EVERY = 20  # one portal session in REVOKED_EVERY is revoked
EXPIRED_EVERY = 10  # one app session in EXPIRED_EVERY has expired
LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class Sizes:
    """How big the seeded store is; the rest follows in proportion."""

    sessions: int = 1_000_000
    apps: int = 10_000

    @property
    def users(self) -> int:
        return max(self.sessions // 100, 10)

    @property
    def groups(self) -> int:
        return max(self.apps // 50, 2)

    @property
    def portal_sessions(self) -> int:
        return max(self.sessions // PORTAL_EVERY, 1)

    @property
    def app_sessions(self) -> int:
        return self.sessions - self.portal_sessions

    def check(self) -> None:
        if self.apps < self.groups or self.sessions < 2 * PORTAL_EVERY:
            raise ValueError(f"too small to seed: {self}")


@dataclass(frozen=True)
class Names:
    """How seeded things are called: app ``slug_of(a)`` answers at ``host_of(a)``."""

    domain: str  # e.g. "sqlite.scale.test": app hosts are app-00001.sqlite.scale.test
    port: int  # the port the browser (wrk) reaches the proxy on

    def slug_of(self, app: int) -> str:
        return f"app-{app:05d}"

    def host_of(self, app: int) -> str:
        return f"{self.slug_of(app)}.{self.domain}:{self.port}"

    def url_of(self, app: int) -> str:
        return f"http://{self.host_of(app)}"


def user_groups(user: int, sizes: Sizes) -> tuple[int, int]:
    """The two groups user ``user`` is in (the same one twice counts once)."""
    return user % sizes.groups, (user * 7 + 3) % sizes.groups


def group_of_app(app: int, sizes: Sizes) -> int:
    return app % sizes.groups


def session_id(rng: random.Random) -> str:
    """Like ``secrets.token_urlsafe(32)``, from ``rng``."""
    return base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()


def users(sizes: Sizes, created: datetime) -> Iterator[dict[str, object]]:
    for u in range(sizes.users):
        yield {
            "id": u + 1,
            "uid": f"scale-uid-{u:08d}",
            "username": f"scale-user-{u:07d}",
            "email": f"scale-user-{u:07d}@example.test",
            "name": f"Scale User {u}",
            "password_hash": None,
            "disabled": False,
            "created_at": created,
            "passwordless": False,
        }


def groups(sizes: Sizes) -> Iterator[dict[str, object]]:
    for g in range(sizes.groups):
        yield {"id": g + 1, "name": f"scale-group-{g:04d}"}


def memberships(sizes: Sizes) -> Iterator[dict[str, object]]:
    for u in range(sizes.users):
        for g in sorted(set(user_groups(u, sizes))):
            yield {"user_id": u + 1, "group_id": g + 1}


def applications(sizes: Sizes, names: Names, created: datetime) -> Iterator[dict[str, object]]:
    for a in range(sizes.apps):
        url = names.url_of(a)
        yield {
            "id": a + 1,
            "slug": names.slug_of(a),
            "name": f"Scale app {a}",
            "external_url": url,
            "mode": "single",
            "cookie_domain": "",
            "strip_cookie": False,
            "allow_preflight": False,
            "case_insensitive_paths": False,
            "created_at": created,
            "require_mfa": None,
            "icon": "",
            "description": "",
            **Claim.of(url, "single", "").keys(),
        }


def bindings(sizes: Sizes) -> Iterator[dict[str, object]]:
    for a in range(sizes.apps):
        yield {
            "id": a + 1,
            "app_id": a + 1,
            "user_id": None,
            "group_id": group_of_app(a, sizes) + 1,
        }


@dataclass(frozen=True, slots=True)
class SessionRow:
    """The columns of one ``sessions`` row, in the table's order (COPY wants tuples)."""

    id: str
    user_id: int
    kind: str
    parent_id: str | None
    app_id: int | None
    created_at: datetime
    expires_at: datetime
    last_seen: datetime
    revoked_at: datetime | None
    remember: bool
    ip: str
    user_agent: str
    amr: str


SESSION_COLUMNS = tuple(SessionRow.__dataclass_fields__)


def as_tuple(row: SessionRow) -> tuple[object, ...]:
    return tuple(getattr(row, name) for name in SESSION_COLUMNS)


def _portal_user(p: int, sizes: Sizes) -> int:
    return p % sizes.users


def _app_for(j: int, user: int, sizes: Sizes) -> int:
    """An app user ``user`` may open (bound to one of its groups), spread over the apps by a
    multiplicative hash of ``j``."""
    spread = (j * 2654435761) % 2**32
    group = user_groups(user, sizes)[(spread >> 16) % 2]
    per_group = (sizes.apps - group + sizes.groups - 1) // sizes.groups
    return group + sizes.groups * ((spread >> 17) % per_group)


def portal_live(p: int) -> bool:
    return p % REVOKED_EVERY != REVOKED_EVERY - 1


def app_live(j: int, sizes: Sizes) -> bool:
    return j % EXPIRED_EVERY != EXPIRED_EVERY - 1 and portal_live(j % sizes.portal_sessions)


def sessions(sizes: Sizes, now: datetime, seed: int = 13) -> Iterator[SessionRow]:
    """Portal sessions first (ids needed as parents), then the app sessions."""
    rng = random.Random(seed)  # noqa: S311 -- reproducible bench data, never a real secret
    portal_ids = [session_id(rng) for _ in range(sizes.portal_sessions)]
    created = now - timedelta(hours=1)
    for p, sid in enumerate(portal_ids):
        revoked = None if portal_live(p) else created
        user = _portal_user(p, sizes) + 1
        yield SessionRow(
            sid, user, "portal", None, None, created, created + LIFETIME, created, revoked,
            False, "10.0.0.1", "scale-seed", "pwd",
        )  # fmt: skip
    for j in range(sizes.app_sessions):
        p = j % sizes.portal_sessions
        user = _portal_user(p, sizes)
        expires = created + LIFETIME
        if j % EXPIRED_EVERY == EXPIRED_EVERY - 1:
            expires = now - timedelta(minutes=5)
        revoked = None if portal_live(p) else created
        yield SessionRow(
            session_id(rng), user + 1, "app", portal_ids[p], _app_for(j, user, sizes) + 1,
            created, expires, created, revoked, False, "10.0.0.1", "scale-seed", "",
        )  # fmt: skip


@dataclass(frozen=True)
class LoadPair:
    """One request wrk sends: an app session's id, its app and the user it belongs to."""

    session_id: str
    app: int  # 0-based app number (``Names.host_of``)
    username: str


def load_indices(sizes: Sizes, count: int) -> list[int]:
    """Positions (among the app sessions) of ``count`` live app sessions, spread evenly over
    them (so over the apps and users too); fewer when the store holds fewer."""
    step = max(sizes.app_sessions // max(2 * count, 1), 1)
    chosen = [j for j in range(0, sizes.app_sessions, step) if app_live(j, sizes)]
    return chosen[:count]


def load_pair(row: SessionRow) -> LoadPair:
    """What wrk needs of a seeded app session."""
    if row.app_id is None:
        raise ValueError(f"session {row.id} is no app session")
    return LoadPair(row.id, row.app_id - 1, f"scale-user-{row.user_id - 1:07d}")
