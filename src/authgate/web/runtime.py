"""Everything a running server holds: settings, store, the gate and its caches, signers,
templates. Built once per process by ``create_app`` and passed explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import time
from pathlib import Path

from itsdangerous import BadData, URLSafeTimedSerializer
from jinja2 import Environment, PackageLoader, select_autoescape

from authgate.accounts.devices import DeviceTokens
from authgate.accounts.login import LoginGuard
from authgate.config import Settings
from authgate.forward.apps import AppIndex
from authgate.forward.cookies import CookieSigner
from authgate.forward.decision import Decision, Deny, UnknownHost
from authgate.forward.gate import Gate
from authgate.forward.request import ForwardRequest
from authgate.forward.sessions import SessionCache
from authgate.forward.tokens import TokenIssuer, load_or_create_key
from authgate.storage.store import Store
from authgate.storage.store.counters import login_counters
from authgate.web.pages import security_headers

log = logging.getLogger("authgate")
STATE_MAX_AGE = 600
AUDIT_QUEUE_LIMIT = 10_000


def write_revision_file(path: Path, value: int) -> None:
    """Tell servers on this machine that the store changed (they stat this file per check)."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{value}\n")
        os.replace(tmp, path)


def _stamp(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return (st.st_ino, st.st_mtime_ns)


class Runtime:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.store = store or Store(
            settings.database_url,
            on_change=lambda value: write_revision_file(settings.revision_file, value),
        )
        self.session_signer = CookieSigner(settings.secret_keys, "session")
        self.sessions = SessionCache(self.store.load_session, settings.idle_timeout)
        self.tokens = TokenIssuer(load_or_create_key(settings.jwt_key_file), settings.public_url)
        self.gate = Gate(self.sessions, self.session_signer, settings.outpost_prefix, self.tokens)
        keys = [k.reveal() for k in reversed(settings.secret_keys)]
        self.state_serializer = URLSafeTimedSerializer(keys, salt="authgate.state")
        self.csrf_serializer = URLSafeTimedSerializer(keys, salt="authgate.csrf")
        self.templates = Environment(
            loader=PackageLoader("authgate.portal", "templates"),
            autoescape=select_autoescape(default=True),
        )
        self.devices = DeviceTokens(settings.secret_keys)
        self.login = LoginGuard(self.store, login_counters(self.store, settings.redis_url))
        self.page_headers = security_headers(settings.public_origin)
        self.audit_queue: list[dict[str, str]] = []
        self.audit_dropped = 0
        self.revision = -1
        self._revision_file = str(settings.revision_file)
        self._stamp: tuple[int, int] = (-1, -1)
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        """Close the store, and the login counters when they live elsewhere (Redis)."""
        if self.login.counters is not self.store:
            await self.login.counters.close()
        await self.store.close()

    @property
    def index(self) -> AppIndex:
        return self.gate.index

    async def refresh(self) -> None:
        """Per check: one stat of the revision file; reload only when it moved."""
        stamp = _stamp(self._revision_file)
        if stamp != self._stamp:
            await self.reload(stamp)

    async def reload(self, stamp: tuple[int, int] | None = None) -> None:
        async with self._lock:
            stamp = stamp or _stamp(self._revision_file)
            revision = await self.store.revision()
            apps = await self.store.load_apps()
            for conflict in self.gate.load_apps(apps).conflicts:
                log.error("%s; requests for it are refused. Fix: %s", conflict.reason, conflict.fix)
            self.sessions.clear()
            self.revision = revision
            self._stamp = stamp

    async def sync_forever(self) -> None:
        """Other hosts (a shared PostgreSQL) change the store without touching our file:
        poll the revision row, flush ``last_seen`` of sessions seen since last time and the
        queued audit events, and once an hour drop audit events past their retention and login
        counters whose window and lock have passed."""
        next_prune = 0.0
        while True:
            await asyncio.sleep(self.settings.sync_interval)
            try:
                if await self.store.revision() != self.revision:
                    await self.reload()
                await self.store.touch_sessions(self.sessions.take_touched())
                await self.flush_audit()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + 3600
                    await self.store.prune_audit(self.settings.audit_retention)
                    await self.login.counters.prune_counters()
            except Exception as exc:  # the loop must survive a store that comes and goes
                log.warning("store sync failed: %s", exc)

    # -- signed tokens ----------------------------------------------------------------------
    def dump_state(self, payload: dict[str, str]) -> str:
        return self.state_serializer.dumps(payload)

    def load_state(self, token: str) -> dict[str, str] | None:
        try:
            data = self.state_serializer.loads(token, max_age=STATE_MAX_AGE)
        except (BadData, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return None
        return data

    def csrf_token(self, seed: str) -> str:
        return self.csrf_serializer.dumps(seed)

    def csrf_ok(self, seed: str | None, token: str | None) -> bool:
        if not seed or not token:
            return False
        try:
            value = self.csrf_serializer.loads(token, max_age=86400)
        except (BadData, ValueError, TypeError):
            return False
        return isinstance(value, str) and hmac.compare_digest(value, seed)

    # -- rare pages, for the dialects that show our body ---------------------------------
    def render(self, template: str, **context: object) -> str:
        context.setdefault("static_url", self.settings.public_origin + "/static/authgate.css")
        context.setdefault("brand", "authgate")
        return self.templates.get_template(template).render(**context)

    def deny(self, decision: Deny) -> bytes:
        if decision.identity is None:  # a deny rule judged before any login
            return self.render(
                "error.html",
                status=403,
                title="Access denied",
                message=f"This address of {decision.app.name} is closed by a rule, whoever asks.",
                decision_id=decision.decision_id,
            ).encode()
        username = decision.identity.username
        return self.render(
            "denied.html",
            username=username,
            app_name=decision.app.name,
            needs=decision.needs or "a rule that allows you",
            reason=decision.reason,
            decision_id=decision.decision_id,
            csrf_token="",
            switch_action=self.settings.public_url + "/switch",
            home_url=self.settings.public_url + "/",
        ).encode()

    def unknown_host(self, decision: UnknownHost) -> bytes:
        return self.render(
            "not_found.html",
            host=decision.host,
            command=f"authgate app add <slug> --url http://{decision.host}",
        ).encode()

    def audit_decision(
        self, decision: Decision, request: ForwardRequest | None, dialect: str, trace: list[str]
    ) -> None:
        """Queue a decision for the audit log; the sync loop writes the queue in batches."""
        identity = getattr(decision, "identity", None)
        app = getattr(decision, "app", None)
        event = {
            "event": _EVENTS.get(type(decision).__name__, "decision"),
            "actor": identity.username if identity is not None else "",
            "app": app.slug if app is not None else "",
            "subject": f"{request.method} {request.host}{request.path}"[:300] if request else "",
            "ip": request.client_ip if request else "",
            "decision_id": getattr(decision, "decision_id", ""),
            "detail": json.dumps(
                {"dialect": dialect, "reason": getattr(decision, "reason", ""), "trace": trace}
            ),
        }
        if len(self.audit_queue) < AUDIT_QUEUE_LIMIT:
            self.audit_queue.append(event)
        else:
            self.audit_dropped += 1

    async def flush_audit(self) -> None:
        queue, self.audit_queue = self.audit_queue, []
        if queue:
            await self.store.audit_many(queue)
        if self.audit_dropped:
            log.warning("audit queue overflowed: %d decisions not recorded", self.audit_dropped)
            self.audit_dropped = 0


_EVENTS = {
    "Deny": "access_denied",
    "Challenge": "login_required",
    "UnknownHost": "unknown_host",
    "Invalid": "bad_request",
    "Unavailable": "check_failed",
    "Redirect": "flow_marker",
}
