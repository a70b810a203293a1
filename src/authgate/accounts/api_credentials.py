"""API tokens and app passwords: the use cases behind ``authgate token …``,
``authgate app-password …`` and the account page. No HTTP here.

A new credential's secret is returned once (``Issued.secret``) and never again: the store
keeps only its hash (``forward.api_secrets``). The public ``lookup`` id names it in lists,
in ``revoke`` and in the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from authgate.errors import ConflictError
from authgate.forward.api_secrets import KINDS, new_secret
from authgate.storage.store import ApiCredentialInfo, Store, now

MAX_LIFETIME = 10 * 366 * 86400  # ten years: longer is a typo, or "never" (no --expires)


@dataclass(frozen=True)
class Issued:
    """A credential just made: ``secret`` is what the client sends; shown once."""

    secret: str
    info: ApiCredentialInfo


async def issue(
    store: Store,
    username: str,
    kind: str,
    *,
    apps: Sequence[str] = (),
    lifetime: int | None = None,
    description: str = "",
    actor: str = "",
) -> Issued:
    """A new token or app password for ``username``, limited to ``apps`` (empty: every app
    the user may reach), expiring after ``lifetime`` seconds (None: never)."""
    if kind not in KINDS:
        raise ValueError(f"a credential is one of {KINDS}, not {kind!r}")
    if lifetime is not None and not 0 < lifetime <= MAX_LIFETIME:
        raise ConflictError("the lifetime must be between 1 second and 10 years")
    expires: datetime | None = None if lifetime is None else now() + timedelta(seconds=lifetime)
    for attempt in range(3):  # a lookup id clash is astronomically rare; try again
        text, secret = new_secret(kind)
        try:
            info = await store.add_api_credential(
                username,
                kind,
                secret.lookup,
                secret.hash,
                apps=apps,
                description=description.strip(),
                expires_at=expires,
            )
        except ConflictError:
            if attempt == 2:
                raise
            continue
        await store.audit(
            f"{kind}_created", actor=actor or username, subject=f"{username} {secret.lookup}"
        )
        return Issued(text, info)
    raise AssertionError("unreachable")


async def revoke(
    store: Store, lookup: str, *, owner: str | None = None, actor: str = ""
) -> ApiCredentialInfo:
    """Revoke ``lookup`` (only among ``owner``'s credentials when given); the next check
    on every worker and replica refuses it."""
    info = await store.revoke_api_credential(lookup.strip().lower(), owner)
    await store.audit(
        f"{info.kind}_revoked",
        actor=actor or owner or "",
        subject=f"{info.username} {info.lookup}",
    )
    return info
