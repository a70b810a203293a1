"""Tables. Alembic migrations in ``migrations/versions`` create them; keep both in step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(320), default="")
    name: Mapped[str] = mapped_column(String(300), default="")
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the user may sign in with a passkey alone (no password)
    passwordless: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Group(Base):
    __tablename__ = "groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)


class Membership(Base):
    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )


class Application(Base):
    """An app. ``host_key`` (the canonical host of ``external_url``) and ``domain_key`` (the
    cookie domain of a domain-mode app, else NULL) are unique: one app per host, one
    domain-mode app per cookie domain, even when two writers race. A store migrated with
    duplicates already in it keeps NULL there for the later ones (see migration 0003)."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    external_url: Mapped[str] = mapped_column(String(500))
    mode: Mapped[str] = mapped_column(String(10), default="single")
    cookie_domain: Mapped[str] = mapped_column(String(253), default="")
    strip_cookie: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the answer also carries Authorization: Bearer <X-authentik-jwt> for the app to verify
    jwt_bearer: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Basic with the user's real password is accepted (only where MFA is not required)
    basic_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    allow_preflight: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    case_insensitive_paths: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    host_key: Mapped[str | None] = mapped_column(String(300), unique=True, nullable=True)
    domain_key: Mapped[str | None] = mapped_column(String(253), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # True/False: the app does or does not need a second factor; NULL: the global default
    require_mfa: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)
    icon: Mapped[str] = mapped_column(String(500), default="", server_default="")
    description: Mapped[str] = mapped_column(String(300), default="", server_default="")


class AppBinding(Base):
    __tablename__ = "app_bindings"
    __table_args__ = (UniqueConstraint("app_id", "user_id", "group_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), nullable=True
    )


class AppRule(Base):
    """An ordered access rule; ``--skip-path`` is a ``bypass`` rule with a path regex."""

    __tablename__ = "app_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    path_prefix: Mapped[str] = mapped_column(String(500), default="")
    path_regex: Mapped[str] = mapped_column(String(500), default="")
    methods: Mapped[str] = mapped_column(String(200), default="")
    networks: Mapped[str] = mapped_column(Text, default="")
    users: Mapped[str] = mapped_column(Text, default="")
    groups: Mapped[str] = mapped_column(Text, default="")


class Session(Base):
    """A portal session (kind ``portal``) or an app session derived from one (kind ``app``)."""

    __tablename__ = "sessions"
    # the active-sessions gauge counts live sessions from this index alone: read through
    # ``ix_sessions_expires_at``, every entry also meant a read of its row for ``revoked_at``
    # (0.25 s of CPU per count over 1,000,000 sessions on SQLite, 0.03 s this way).
    # ``revoked_at`` is always NULL in it, but SQLite reads rows unless the column is there.
    __table_args__ = (
        Index(
            "ix_sessions_unrevoked_expires_at",
            "expires_at",
            "revoked_at",
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    app_id: Mapped[int | None] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # indexed for the hourly sweep of sessions that ended (``prune_sessions``)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # the factors the portal session signed in with (RFC 8176 values, comma-separated);
    # an app session reads its portal session's
    amr: Mapped[str] = mapped_column(String(100), default="", server_default="")


class LoginCode(Base):
    """A one-time code handed from the portal to an app's callback (hash stored, 60 s life)."""

    __tablename__ = "login_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    event: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(150), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    app: Mapped[str] = mapped_column(String(100), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    decision_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class Revision(Base):
    """One row whose value is bumped by every change that must reach running servers."""

    __tablename__ = "revision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class LoginCounter(Base):
    """Failed sign-ins in one window, for one account, device or client address (``scope``
    keeps the three apart). A row lives until its window and its lock have both passed."""

    __tablename__ = "login_counters"
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_ends: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class TotpCredential(Base):
    """A user's TOTP secret (base32). Unconfirmed until the first code is entered;
    ``last_step`` is the last time step used, so a code is accepted once across workers."""

    __tablename__ = "totp_credentials"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WebauthnCredential(Base):
    """A registered passkey or security key (ids and keys base64url; ``sign_count`` is the
    authenticator's unsigned 32-bit counter, hence a big integer)."""

    __tablename__ = "webauthn_credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[str] = mapped_column(Text)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    transports: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebauthnChallenge(Base):
    """A WebAuthn challenge handed out and not yet answered (hash stored, single use)."""

    __tablename__ = "webauthn_challenges"
    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purpose: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecoveryCode(Base):
    """One of a user's single-use recovery codes (hash stored)."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AccountLink(Base):
    """A one-time invitation or password-reset link (``purpose`` invite | reset; the token's
    hash is stored, the link lives 24 h and works once)."""

    __tablename__ = "account_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SigningKey(Base):
    """A key that signs or verifies: ``hmac`` (cookies, state, CSRF; the secret as text) or
    ``jwt`` (``X-authentik-jwt``; a P-256 private key, PKCS#8 PEM). Per kind the highest
    ``generation`` without ``verify_until`` signs; a rotated-out key verifies until then.
    The unique (kind, generation) makes two instances creating or rotating at the same
    moment end with one set."""

    __tablename__ = "signing_keys"
    __table_args__ = (UniqueConstraint("kind", "generation"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    generation: Mapped[int] = mapped_column(Integer)
    material: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    verify_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiCredential(Base):
    """An API token (``kind`` token) or app password (``kind`` app_password) of a user.

    ``lookup`` is the public part of the secret (its id in lists and the CLI); only a hash of
    the whole secret is kept. ``apps`` lists the app slugs it may open, one per line; empty:
    every app the user may reach. Revoking, expiring, disabling or deleting the user ends it.
    """

    __tablename__ = "api_credentials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    apps: Mapped[str] = mapped_column(Text, default="", server_default="")
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_ip: Mapped[str] = mapped_column(String(64), default="", server_default="")
