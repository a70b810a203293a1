"""The account page's "Two-step sign-in" section: the authenticator app on or off, how many
recovery codes are left, and the forms that change them (``portal/totp``,
``portal/recovery_codes``). A session that proved no second factor is asked for a current
code in those forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from authgate.web.runtime import Runtime

if TYPE_CHECKING:  # account.py lists this section: no import of it at run time
    from authgate.portal.account import Account


async def two_factor_section(rt: Runtime, request: Request, account: Account) -> dict[str, object]:
    enrolled = await rt.store.enrolled_factors(account.user.id)
    public = rt.settings.public_url
    return {
        "totp": enrolled.totp,
        "any": enrolled.any,
        "recovery_codes": enrolled.recovery_codes,
        "needs_code": not account.session.identity.second_factor and enrolled.totp,
        "enrol_url": f"{public}/account/totp",
        "remove_action": f"{public}/account/totp/remove",
        "codes_action": f"{public}/account/recovery-codes",
    }
