"""``/account/passkeys/…``: register, rename and remove one's passkeys, and allow (or stop)
sign-in with a passkey alone.

Registering is two JSON calls from ``static/passkeys.js`` (options, then the browser's
answer); everything else is a plain form that works without JavaScript. All of it needs
the portal session, and every call and form its CSRF token.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authgate.accounts.passkeys import PasskeyRefused
from authgate.portal.account import Account, signed_in_account
from authgate.portal.forms import csrf_ok, read_form, redirect
from authgate.portal.passkey_calls import (
    CallRefused,
    answer_of,
    json_call,
    passkeys,
    text_field,
)
from authgate.storage.store.names import one_line
from authgate.web.requests import PageRequest, runtime_of
from authgate.web.runtime import Runtime

NAME_LIMIT = 100


def account_url(rt: Runtime, notice: str) -> str:
    return f"{rt.settings.public_url}/account?notice={notice}#passkeys"


async def account_for_call(rt: Runtime, request: Request) -> Account:
    account = await signed_in_account(rt, request)
    if account is None:
        raise CallRefused(401, "You are signed out. Sign in again to add a passkey.")
    return account


async def audit(rt: Runtime, request: Request, event: str, account: Account, **detail: Any) -> None:
    ip = PageRequest.read(request, rt.settings).ip
    actor = account.user.username
    await rt.store.audit(event, actor=actor, ip=ip, detail=json.dumps(detail))


# -- registration (JSON calls) --------------------------------------------------------------
async def registration_options(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    account = await account_for_call(rt, request)
    try:
        return await passkeys(rt).begin_registration(account.user)
    except PasskeyRefused as refused:
        raise CallRefused(400, refused.message) from refused


async def registration_verify(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    account = await account_for_call(rt, request)
    service = passkeys(rt)
    answer = answer_of(body)
    try:
        count = len(await rt.store.passkeys_of(account.user.id))
        name = one_line(text_field(body, "name", 2 * NAME_LIMIT), NAME_LIMIT)
        passkey = await service.finish_registration(
            account.user, answer, name or f"Passkey {count + 1}"
        )
    except PasskeyRefused as refused:
        raise CallRefused(400, refused.message) from refused
    await audit(rt, request, "passkey_registered", account, passkey=passkey.name)
    return {"redirect": account_url(rt, "passkey_added")}


# -- forms ----------------------------------------------------------------------------------
async def account_form(request: Request) -> tuple[Runtime, Account, dict[str, str]] | Response:
    """The signed-in account and the posted form, or the page to answer instead."""
    rt = runtime_of(request)
    form = await read_form(request)
    if not csrf_ok(rt, request, form):
        message = "Go back to your account page and try again."
        return rt.pages.error(400, "This form expired", message)
    account = await signed_in_account(rt, request)
    if account is None:
        return redirect(f"{rt.settings.public_url}/login")
    return rt, account, form


async def rename(request: Request) -> Response:
    got = await account_form(request)
    if isinstance(got, Response):
        return got
    rt, account, form = got
    name = one_line(form.get("name", "")[: 2 * NAME_LIMIT], NAME_LIMIT)
    if not name:
        return redirect(account_url(rt, "passkey_name_missing"))
    passkey_id = request.path_params["passkey_id"]
    if not await rt.store.rename_passkey(account.user.id, passkey_id, name):
        return rt.pages.error(404, "No such passkey", "It may have been removed already.")
    await audit(rt, request, "passkey_renamed", account, passkey=name)
    return redirect(account_url(rt, "passkey_renamed"))


async def remove(request: Request) -> Response:
    got = await account_form(request)
    if isinstance(got, Response):
        return got
    rt, account, _ = got
    removed = await rt.store.remove_passkey(account.user.id, request.path_params["passkey_id"])
    if removed is None:
        return rt.pages.error(404, "No such passkey", "It may have been removed already.")
    await audit(rt, request, "passkey_removed", account, passkey=removed.name)
    return redirect(account_url(rt, "passkey_removed"))


async def passwordless(request: Request) -> Response:
    got = await account_form(request)
    if isinstance(got, Response):
        return got
    rt, account, form = got
    wanted = form.get("allow") == "1"
    allowed = await rt.store.set_passwordless(account.user.id, wanted)
    if wanted and not allowed:
        return redirect(account_url(rt, "passwordless_needs_passkey"))
    event = "passwordless_allowed" if allowed else "passwordless_stopped"
    await audit(rt, request, event, account)
    return redirect(account_url(rt, "passwordless_on" if allowed else "passwordless_off"))


ROUTES = [
    Route("/account/passkeys/options", json_call(registration_options), methods=["POST"]),
    Route("/account/passkeys/verify", json_call(registration_verify), methods=["POST"]),
    Route("/account/passkeys/passwordless", passwordless, methods=["POST"]),
    Route("/account/passkeys/{passkey_id:int}/rename", rename, methods=["POST"]),
    Route("/account/passkeys/{passkey_id:int}/remove", remove, methods=["POST"]),
]
