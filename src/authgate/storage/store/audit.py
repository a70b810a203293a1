"""The audit log: events written one at a time or in batches, read back, and pruned."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, insert, select

from authgate.storage import models as m
from authgate.storage.store.base import StoreBase, now


class AuditStore(StoreBase):
    async def audit(
        self,
        event: str,
        *,
        actor: str = "",
        subject: str = "",
        app: str = "",
        ip: str = "",
        decision_id: str = "",
        detail: str = "",
    ) -> None:
        async with self._tx() as db:
            db.add(
                m.AuditEvent(
                    at=now(),
                    event=event,
                    actor=actor[:150],
                    subject=subject[:300],
                    app=app[:100],
                    ip=ip[:64],
                    decision_id=decision_id,
                    detail=detail,
                )
            )
            await db.commit()

    async def audit_many(self, events: list[dict[str, str]]) -> None:
        """One multi-row insert: the hot path's queue is flushed without ORM objects."""
        at = now()
        async with self._tx() as db:
            await db.execute(insert(m.AuditEvent), [{"at": at, **event} for event in events])
            await db.commit()

    async def prune_audit(self, older_than: int) -> int:
        """Delete audit events older than ``older_than`` seconds; returns how many."""
        cutoff = now() - timedelta(seconds=older_than)
        async with self._tx() as db:
            result = await db.execute(delete(m.AuditEvent).where(m.AuditEvent.at < cutoff))
            await db.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    async def find_decision(self, decision_id: str) -> m.AuditEvent | None:
        async with self._tx() as db:
            found = await db.scalars(
                select(m.AuditEvent).where(m.AuditEvent.decision_id == decision_id).limit(1)
            )
            return found.first()

    async def list_audit(
        self, limit: int = 100, event: str = "", actor: str = ""
    ) -> list[m.AuditEvent]:
        query = select(m.AuditEvent).order_by(m.AuditEvent.id.desc()).limit(limit)
        if event:
            query = query.where(m.AuditEvent.event == event)
        if actor:
            query = query.where(m.AuditEvent.actor == actor)
        async with self._tx() as db:
            return list(await db.scalars(query))
