"""The account page's section for API tokens and app passwords: a person makes their own
(the secret is shown once, on a page of its own, never again), sees when and from where
each was last used, and revokes them. The use cases are ``accounts.api_credentials``; a
form names a credential by its public lookup id, and only the person's own is found.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from authgate.accounts.api_credentials import issue, revoke
from authgate.errors import AuthgateError, NotFoundError
from authgate.forward.api_secrets import APP_PASSWORD, KINDS, TOKEN
from authgate.portal.account_section import Account, Refusal
from authgate.portal.forms import page, redirect
from authgate.storage.store import now
from authgate.web.runtime import Runtime

SECTION = "credentials"
NOTICES = {"credential_revoked": "Revoked: it no longer lets anything in."}
LIFETIMES = {"30d": 30 * 86400, "90d": 90 * 86400, "365d": 365 * 86400, "never": None}
KIND_NAMES = {TOKEN: "API token", APP_PASSWORD: "app password"}
NOT_FOUND = "There is no such token or app password of yours."


def _when(moment: datetime | None, empty: str = "never") -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else empty


async def gather(rt: Runtime, request: Request, account: Account) -> dict[str, object]:
    at = now()
    found = await rt.store.list_api_credentials(account.user.username)
    rows = [
        {
            "id": c.lookup,
            "kind": KIND_NAMES.get(c.kind, c.kind),
            "description": c.description,
            "apps": ", ".join(c.apps) or "all your apps",
            "state": c.state(at),
            "created": _when(c.created_at),
            "expires": _when(c.expires_at),
            "last_used": _when(c.last_used_at),
            "last_ip": c.last_used_ip,
        }
        for c in reversed(found)
        if c.revoked_at is None
    ]
    public = rt.settings.public_url
    return {
        "rows": rows,
        "lifetimes": list(LIFETIMES),
        "create_action": f"{public}/account/credentials/create",
        "revoke_action": f"{public}/account/credentials/revoke",
    }


async def create_credential(
    rt: Runtime, request: Request, account: Account, form: dict[str, str]
) -> Response | Refusal:
    kind = form.get("kind", "")
    if kind not in KINDS:
        return Refusal("Choose an API token or an app password.")
    if form.get("expires", "") not in LIFETIMES:
        return Refusal("Choose how long it lasts.")
    apps = [slug.strip() for slug in form.get("apps", "").split(",") if slug.strip()]
    try:
        issued = await issue(
            rt.store,
            account.user.username,
            kind,
            apps=apps[:20],
            lifetime=LIFETIMES[form["expires"]],
            description=form.get("description", "")[:200],
        )
    except NotFoundError as exc:
        return Refusal(f"There is no app {exc.name!r}.")
    except AuthgateError as exc:
        return Refusal(str(exc))
    response = page(
        rt,
        request,
        "credential_created.html",
        kind=KIND_NAMES[kind],
        basic=kind == APP_PASSWORD,
        secret=issued.secret,
        info=issued.info,
        username=account.user.username,
        continue_url=f"{rt.settings.public_url}/account#credentials",
    )
    response.headers["cache-control"] = "no-store"
    return response


async def revoke_credential(
    rt: Runtime, request: Request, account: Account, form: dict[str, str]
) -> Response | Refusal:
    lookup = form.get("credential", "")
    if not lookup or len(lookup) > 32:
        return Refusal(NOT_FOUND, 404)
    try:
        await revoke(rt.store, lookup, owner=account.user.username)
    except NotFoundError:
        return Refusal(NOT_FOUND, 404)
    return redirect(f"{rt.settings.public_url}/account?notice=credential_revoked#credentials")


# (path, section, act): the forms of this section
FORMS = (
    ("/account/credentials/create", SECTION, create_credential),
    ("/account/credentials/revoke", SECTION, revoke_credential),
)
