"""Signing in with a passkey: alone (passwordless), as the second factor, or by registering
the first one on the enrol-first page.

- ``/login/passkey/options|verify``: a discoverable passkey with user verification, which
  is already two factors, so a portal session starts at once with amr ``(PASSKEY,)``; only
  users who allow it are signed in, every other case gets the same refusal. The sign-in's
  ``state`` is honoured, so it goes on to the app it was for.
- ``/login/second-factor/passkey/options|verify``: one of the user's own passkeys for the
  pending sign-in or a step-up (``subject_of``), finished by ``second_factor_ok``.
- ``/account/enrol/passkey/options|verify``: a user with no second factor yet registers a
  passkey where a second factor is required; that passkey is then the factor.

A wrong answer counts like a wrong password (account when known, and client address); a
client address that must wait gets 429 before anything is checked.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from authgate.accounts.passkeys import PasskeyRefused, Passkeys
from authgate.forward.model import PASSKEY
from authgate.portal.passkey_calls import (
    CallRefused,
    answer_of,
    json_call,
    passkeys,
    redirect_answer,
    text_field,
)
from authgate.portal.signin import Subject, second_factor_ok, start_session, subject_of
from authgate.storage.store.names import one_line
from authgate.web.requests import PageRequest
from authgate.web.runtime import Runtime

STATE_LIMIT = 4096
EXPIRED_SIGN_IN = "Your sign-in expired. Please sign in again."


async def refusal_of(
    rt: Runtime, service: Passkeys, refused: PasskeyRefused, ip: str, use: str
) -> CallRefused:
    """A refused answer counted and audited, as the call's refusal."""
    if refused.is_failure:
        await service.count_failure(refused.user, ip)
        actor = refused.user.username if refused.user else ""
        detail = json.dumps({"for": use, "reason": refused.detail[:300]})
        await rt.store.audit("passkey_failed", actor=actor, ip=ip, detail=detail)
    return CallRefused(401 if refused.is_failure else 400, refused.message)


async def throttled(service: Passkeys, ip: str) -> None:
    wait = await service.address_wait(ip)
    if wait:
        message = f"Too many failed sign-ins from your network. Try again in {wait} seconds."
        raise CallRefused(429, message)


def client_ip(rt: Runtime, request: Request) -> str:
    return PageRequest.read(request, rt.settings).ip


async def audit_use(rt: Runtime, username: str, name: str, use: str, ip: str) -> None:
    detail = json.dumps({"passkey": name, "for": use})
    await rt.store.audit("passkey_used", actor=username, ip=ip, detail=detail)


# -- passwordless ---------------------------------------------------------------------------
async def passwordless_options(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    return await passkeys(rt).begin_passwordless()


async def passwordless_verify(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    ip, service = client_ip(rt, request), passkeys(rt)
    await throttled(service, ip)
    answer = answer_of(body)
    try:
        signed_in = await service.finish_passwordless(answer)
    except PasskeyRefused as refused:
        raise await refusal_of(rt, service, refused, ip, "passwordless") from refused
    user = signed_in.user
    await audit_use(rt, user.username, signed_in.passkey.name, "passwordless", ip)
    state = text_field(body, "state", STATE_LIMIT)
    remember = body.get("remember") is True
    response = await start_session(rt, request, user, (PASSKEY,), remember=remember, state=state)
    return redirect_answer(response)


# -- the second factor ----------------------------------------------------------------------
async def subject_for(rt: Runtime, request: Request, body: dict[str, Any]) -> Subject:
    subject = await subject_of(rt, request, text_field(body, "state", STATE_LIMIT))
    if subject is None:
        raise CallRefused(401, EXPIRED_SIGN_IN)
    return subject


async def second_factor_options(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    subject = await subject_for(rt, request, body)
    try:
        return await passkeys(rt).begin_second_factor(subject.user)
    except PasskeyRefused as refused:
        raise CallRefused(400, refused.message) from refused


async def second_factor_verify(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    ip, service = client_ip(rt, request), passkeys(rt)
    await throttled(service, ip)
    subject = await subject_for(rt, request, body)
    answer = answer_of(body)
    try:
        signed_in = await service.finish_second_factor(subject.user, answer)
    except PasskeyRefused as refused:
        raise await refusal_of(rt, service, refused, ip, "second factor") from refused
    await audit_use(rt, subject.user.username, signed_in.passkey.name, "second factor", ip)
    return redirect_answer(await second_factor_ok(rt, request, subject, PASSKEY))


# -- enrol first ----------------------------------------------------------------------------
async def unenrolled_subject(rt: Runtime, request: Request, body: dict[str, Any]) -> Subject:
    """Whom the enrol page is for; only someone with no second factor yet may make a new
    passkey their factor here (anyone else proves the factor they have)."""
    subject = await subject_for(rt, request, body)
    if (await rt.store.enrolled_factors(subject.user.id)).any:
        raise CallRefused(403, "You have a second factor already: sign in with it.")
    return subject


async def enrol_options(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    subject = await unenrolled_subject(rt, request, body)
    try:
        return await passkeys(rt).begin_registration(subject.user)
    except PasskeyRefused as refused:
        raise CallRefused(400, refused.message) from refused


async def enrol_verify(rt: Runtime, request: Request, body: dict[str, Any]) -> Any:
    subject = await unenrolled_subject(rt, request, body)
    answer = answer_of(body)
    name = one_line(text_field(body, "name", 200), 100) or "Passkey"
    ip = client_ip(rt, request)
    try:
        passkey = await passkeys(rt).finish_registration(subject.user, answer, name)
    except PasskeyRefused as refused:
        raise CallRefused(400, refused.message) from refused
    detail = json.dumps({"passkey": passkey.name, "for": "enrol"})
    await rt.store.audit("passkey_registered", actor=subject.user.username, ip=ip, detail=detail)
    return redirect_answer(await second_factor_ok(rt, request, subject, PASSKEY))


ROUTES = [
    Route("/login/passkey/options", json_call(passwordless_options), methods=["POST"]),
    Route("/login/passkey/verify", json_call(passwordless_verify), methods=["POST"]),
    Route(
        "/login/second-factor/passkey/options",
        json_call(second_factor_options),
        methods=["POST"],
    ),
    Route("/login/second-factor/passkey/verify", json_call(second_factor_verify), methods=["POST"]),
    Route("/account/enrol/passkey/options", json_call(enrol_options), methods=["POST"]),
    Route("/account/enrol/passkey/verify", json_call(enrol_verify), methods=["POST"]),
]
