"""The account page's passkey section: what ``account_passkeys.html`` shows (the user's
passkeys, whether they may sign in with one alone) and where its forms and calls go."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

from authgate.web.runtime import Runtime

if TYPE_CHECKING:
    from authgate.portal.account import Account


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


async def passkeys_section(rt: Runtime, request: Request, account: Account) -> dict[str, object]:
    base = f"{rt.settings.public_url}/account/passkeys"
    passkeys = await rt.store.passkeys_of(account.user.id)
    return {
        "passkeys": [
            {
                "id": passkey.id,
                "name": passkey.name or "Passkey",
                "created": when(passkey.created_at),
                "last_used": when(passkey.last_used_at),
            }
            for passkey in passkeys
        ],
        "passwordless": account.user.passwordless and bool(passkeys),
        "base": base,
        "options_url": f"{base}/options",
        "verify_url": f"{base}/verify",
    }
