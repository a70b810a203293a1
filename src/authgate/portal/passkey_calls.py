"""The JSON calls that ``static/passkeys.js`` makes (options, then the answer), shared by the
account page, the second-factor step and passwordless sign-in.

A call is a POST of a small JSON object with the page's CSRF token in the ``X-CSRF-Token``
header; anything else is refused with a JSON ``{"error": ...}`` and a 4xx status. A call
that ends a sign-in answers ``{"redirect": URL}`` (the URL is authgate's own, never one
from the request) with the cookies the sign-in sets; the script then navigates there.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authgate.accounts.passkeys import Answer, PasskeyRefused, Passkeys, RelyingParty, read_answer
from authgate.portal.forms import csrf_seed
from authgate.web.requests import runtime_of
from authgate.web.runtime import Runtime

CSRF_HEADER = "x-csrf-token"
BODY_LIMIT = 32 * 1024  # an attestation with a certificate chain fits many times over
HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}

Call = Callable[[Runtime, Request, dict[str, Any]], Awaitable[Response | dict[str, Any]]]


class CallRefused(Exception):
    """The call is refused with ``status`` and a message a person may read."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def passkeys(rt: Runtime) -> Passkeys:
    """The passkey ceremonies for this server's portal, with the login counters."""
    return Passkeys(rt.store, RelyingParty.of(rt.settings), rt.login.counters, rt.login.policy)


def refusal(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)


def redirect_answer(response: Response) -> JSONResponse:
    """A redirect (with its cookies) as the JSON a script follows."""
    answer = JSONResponse({"redirect": response.headers["location"]}, headers=HEADERS)
    for name, value in response.raw_headers:
        if name == b"set-cookie":
            answer.raw_headers.append((name, value))
    return answer


def text_field(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


def answer_of(body: dict[str, Any]) -> Answer:
    """The browser's answer to a challenge, sent as ``credential``."""
    try:
        return read_answer(body.get("credential"))
    except PasskeyRefused as refused:
        raise CallRefused(400, refused.message) from refused


async def read_call(rt: Runtime, request: Request) -> dict[str, Any]:
    """The call's JSON object, once its CSRF header, type and size are right."""
    if not rt.signing.csrf.verify(csrf_seed(rt, request), request.headers.get(CSRF_HEADER)):
        raise CallRefused(403, "This page expired. Reload it and try again.")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise CallRefused(415, "Send JSON.")
    if int(request.headers.get("content-length") or 0) > BODY_LIMIT:
        raise CallRefused(413, "The request is too large.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise CallRefused(413, "The request is too large.")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError) as exc:
        raise CallRefused(400, "The request is not JSON.") from exc
    if not isinstance(data, dict):
        raise CallRefused(400, "The request is not a JSON object.")
    return data


def json_call(call: Call) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for ``call``: the body read and checked first, a returned dict
    sent as JSON, a ``CallRefused`` sent as a JSON error."""

    async def endpoint(request: Request) -> Response:
        rt = runtime_of(request)
        try:
            result = await call(rt, request, await read_call(rt, request))
        except CallRefused as refused:
            return refusal(refused.status, refused.message)
        return result if isinstance(result, Response) else JSONResponse(result, headers=HEADERS)

    return endpoint
