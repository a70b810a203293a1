"""The account page's password section: a person changes their own password.

The current password is checked the way a sign-in checks it (``LoginGuard.sign_in``: argon2
in the server's low-priority hashing pool, and the same counters per account, device and
client address), so a stolen session cannot use this form to guess it; the new one is
hashed in that pool too, and a full pool answers "busy, try again" (503). The new one is
held to the rules of ``accounts.password_rules``; once stored, every other session of the
user ends, the browser that changed it stays signed in.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from authgate.accounts.hashing import HashingBusy
from authgate.accounts.login import Attempt
from authgate.accounts.password_rules import MAX_LENGTH, MIN_LENGTH, password_problem
from authgate.accounts.passwords import hash_password
from authgate.portal.account_section import Account, Refusal
from authgate.portal.cookies import device_cookie_name
from authgate.portal.forms import redirect
from authgate.web.requests import PageRequest
from authgate.web.runtime import Runtime

SECTION = "password"
NOTICES = {"password_changed": "Your password was changed. Your other sessions were ended."}
WRONG_CURRENT = "That is not your current password."
BUSY = "Too many people are signing in right now. Please try again in {seconds} seconds."
MISMATCH = "The new password and its repetition differ. Type the same password twice."


async def gather(rt: Runtime, request: Request, account: Account) -> dict[str, object]:
    return {
        "action": f"{rt.settings.public_url}/account/password",
        "has_password": account.user.password_hash is not None,
        "min_length": MIN_LENGTH,
    }


async def change_password(
    rt: Runtime, request: Request, account: Account, form: dict[str, str]
) -> Response | Refusal:
    user = account.user
    new = form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        return Refusal(MISMATCH)
    problem = password_problem(new, user.username)
    if problem:
        return Refusal(problem)
    page = PageRequest.read(request, rt.settings)
    devices = rt.devices.read(page.cookie(device_cookie_name(rt.settings)))
    current = form.get("current_password", "")[:MAX_LENGTH]
    try:
        outcome = await rt.login.sign_in(Attempt(user.username, current, page.ip, devices))
    except HashingBusy as busy:
        return _busy(busy)
    if outcome.retry_after:
        wait = f"Too many failed tries from your network. Try again in {outcome.retry_after} s."
        return Refusal(wait, 429, outcome.retry_after)
    if outcome.user is None or outcome.user.id != user.id:
        await rt.store.audit("password_change_failed", actor=user.username, ip=page.ip)
        return Refusal(WRONG_CURRENT)
    try:
        new_hash = await rt.hashing.run(hash_password, new)
    except HashingBusy as busy:
        return _busy(busy)
    keep = account.session.identity.session_id
    ended = await rt.store.change_password(user.id, new_hash, keep)
    rt.sessions.drop(ended)
    detail = json.dumps({"sessions_ended": len(ended)})
    await rt.store.audit(
        "password_changed", actor=user.username, subject=user.username, ip=page.ip, detail=detail
    )
    return redirect(f"{rt.settings.public_url}/account?notice=password_changed")


def _busy(busy: HashingBusy) -> Refusal:
    return Refusal(BUSY.format(seconds=busy.retry_after), 503, busy.retry_after)


# (path, section, act): the forms of this section
FORMS = (("/account/password", SECTION, change_password),)
