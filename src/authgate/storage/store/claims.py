"""One app per host, one domain-mode app per cookie domain: what an app claims, and the
check that refuses a claim another app holds.

The check names the owner; the unique keys on ``applications`` (``host_key``,
``domain_key``) make sure that two writers racing past the check cannot both win.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authgate.errors import ConflictError
from authgate.forward.hosts import url_host, within_domain
from authgate.storage import models as m


@dataclass(frozen=True)
class Claim:
    """What an app with this URL, mode and cookie domain claims."""

    host: str
    domain: str  # the cookie domain of a domain-mode app, else ""

    @classmethod
    def of(cls, url: str, mode: str, cookie_domain: str) -> Claim:
        domain = cookie_domain.strip(".").lower() if mode == "domain" else ""
        return cls(url_host(url), domain)

    def keys(self) -> dict[str, str | None]:
        """The unique columns that hold this claim."""
        return {"host_key": self.host, "domain_key": self.domain or None}


async def check_claim(db: AsyncSession, claim: Claim, slug: str) -> None:
    """Refuse ``claim`` when another app already holds its host or cookie domain."""
    if claim.domain and not within_domain(claim.host, claim.domain):
        raise ConflictError(
            f"the host {claim.host} of app {slug} must lie within its cookie domain {claim.domain}"
        )
    rows = await db.execute(
        select(
            m.Application.slug,
            m.Application.external_url,
            m.Application.mode,
            m.Application.cookie_domain,
        ).where(m.Application.slug != slug)
    )
    for other_slug, url, mode, cookie_domain in rows.all():
        other = Claim.of(url, mode, cookie_domain)
        if other.host == claim.host:
            raise ConflictError(
                f"host {claim.host} is already the host of app {other_slug}: one app per host "
                f"(move it with authgate app set {other_slug} --url …, or delete it, first)"
            )
        if claim.domain and other.domain == claim.domain:
            raise ConflictError(
                f"cookie domain {claim.domain} is already shared by domain-mode app "
                f"{other_slug}: one domain-mode app per cookie domain (a single-mode app "
                "inside it needs no cookie domain: its own host decides)"
            )


@contextlib.contextmanager
def claim_race(claim: Claim) -> Iterator[None]:
    """Another writer took the host or cookie domain between our check and our write."""
    try:
        yield
    except IntegrityError as exc:
        text = str(exc.orig)
        if "host_key" in text:
            raise ConflictError(f"host {claim.host} was just taken by another app") from exc
        if "domain_key" in text:
            raise ConflictError(
                f"cookie domain {claim.domain} was just taken by another app"
            ) from exc
        raise
