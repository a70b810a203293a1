"""Decisions in the audit log: one ``decision_event`` for the check and the portal alike, and
the queue the check writes to without waiting for the store (the sync loop flushes it)."""

from __future__ import annotations

import json
import logging

from authgate.forward.decision import Decision
from authgate.forward.request import ForwardRequest
from authgate.storage.store import Store

log = logging.getLogger("authgate")
AUDIT_QUEUE_LIMIT = 10_000


def decision_event(
    decision: Decision, *, dialect: str, subject: str, ip: str, trace: list[str]
) -> dict[str, str]:
    """The audit row of a decision: what was asked (``subject``), by whom, and why."""
    identity = decision.identity
    return {
        "event": decision.event,
        "actor": identity.username if identity is not None else "",
        "app": decision.app.slug if decision.app is not None else "",
        "subject": subject[:300],
        "ip": ip,
        "decision_id": decision.decision_id,
        "detail": json.dumps({"dialect": dialect, "reason": decision.reason, "trace": trace}),
    }


class AuditQueue:
    """Decisions of the check waiting to be written, bounded: past the limit they are counted
    and the loss is logged, never held in memory without end."""

    def __init__(self, limit: int = AUDIT_QUEUE_LIMIT) -> None:
        self.events: list[dict[str, str]] = []
        self.dropped = 0
        self.limit = limit

    def record(
        self, decision: Decision, request: ForwardRequest | None, dialect: str, trace: list[str]
    ) -> None:
        """Queue a decision of the check (the endpoint calls this)."""
        subject = f"{request.method} {request.host}{request.path}" if request else ""
        ip = request.client_ip if request else ""
        self.add(decision_event(decision, dialect=dialect, subject=subject, ip=ip, trace=trace))

    def add(self, event: dict[str, str]) -> None:
        if len(self.events) < self.limit:
            self.events.append(event)
        else:
            self.dropped += 1

    async def flush(self, store: Store) -> None:
        events, self.events = self.events, []
        if events:
            await store.audit_many(events)
        if self.dropped:
            log.warning("audit queue overflowed: %d decisions not recorded", self.dropped)
            self.dropped = 0
