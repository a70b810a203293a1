"""Decision -> HTTP answer, for the proxies that hand our answer to the client as it is
(Traefik, Caddy, Envoy). nginx has its own rules in ``dialects/nginx.py``.

An answer a person reads (the deny and unknown-host pages) names the page it wants in
``page``; the endpoint has it rendered outside the hot path's modules (``fill_page``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Protocol

from authgate.forward.decision import (
    Allow,
    Challenge,
    CredentialRefused,
    Decision,
    Deny,
    Redirect,
    Unavailable,
    UnknownHost,
)
from authgate.forward.headers import identity_headers

HTML = (b"content-type", b"text/html; charset=utf-8")
JSON = (b"content-type", b"application/json")
NO_STORE = (b"cache-control", b"no-store")
NO_BODY = (b"content-length", b"0")


@dataclass(slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    page: Deny | UnknownHost | None = None  # the HTML page this answer's body should be
    # the complete ``http.response.start`` message, made once for an answer that is sent
    # again and again (``prepared``); the endpoint sends it as it is
    start: dict[str, object] | None = field(default=None, repr=False, compare=False)


def start_message(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> dict[str, object]:
    """The ``http.response.start`` message of an answer: its headers and Content-Length."""
    length = (b"content-length", str(len(body)).encode()) if body else NO_BODY
    return {"type": "http.response.start", "status": status, "headers": [*headers, length]}


def prepared(status: int, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> Answer:
    """An answer to send as it is, many times: its start message made now. Nobody may change
    it (a page is never filled into it), nor the message: the endpoint hands it to the ASGI
    server itself, with no middleware in between."""
    return Answer(status, headers, body, start=start_message(status, headers, body))


class Pages(Protocol):
    """HTML for the rare answers a person reads; rendered outside the hot path's modules."""

    def deny(self, decision: Deny) -> bytes: ...

    def unknown_host(self, decision: UnknownHost) -> bytes: ...


def fill_page(answer: Answer, pages: Pages) -> Answer:
    """The answer with the HTML body of the page it wants, rendered by ``pages``."""
    page = answer.page
    if page is not None:
        answer.body = pages.deny(page) if isinstance(page, Deny) else pages.unknown_host(page)
    return answer


def json_body(**fields: str) -> bytes:
    return json.dumps(fields).encode()


# The allow of a (session identity, app, token), ready to send (identity headers made and
# made safe once, the start message built), kept while those very objects last: a reload of
# the store makes new ones, so a changed group never reuses an old answer.
_ALLOW_MEMO_LIMIT = 10_000
_allows: dict[tuple[int, int, str], tuple[object, object, Answer]] = {}


def allow(decision: Allow) -> Answer:
    kept = _allows.get((id(decision.identity), id(decision.app), decision.token))
    if kept is not None and kept[0] is decision.identity and kept[1] is decision.app:
        ready = kept[2]
    else:
        ready = _prepare_allow(decision)
    authorization = decision.authorization
    if decision.app.jwt_bearer:
        # authgate's JWT is the app's Authorization (prepared with it); without one (a
        # bypass) the app gets none: never the client's own in its place
        authorization = None if decision.token else ""
    if decision.cookie is None and authorization is None:
        return ready
    headers = list(ready.headers)
    if decision.cookie is not None:
        headers.append((b"cookie", decision.cookie.encode("latin-1", "replace")))
    if authorization is not None:
        headers += upstream_authorization(authorization)
    return Answer(200, headers)


ENVOY_REMOVE = b"x-envoy-auth-headers-to-remove"


def upstream_authorization(value: str) -> list[tuple[bytes, bytes]]:
    """What the upstream's Authorization becomes: the client's own value handed back (the
    proxies that list Authorization drop it otherwise), or, when authgate used the
    credential up, no value (nginx, Traefik and Caddy then send none) and Envoy told to
    remove it."""
    if value:
        return [(b"authorization", value.encode("latin-1", "replace"))]
    return [(ENVOY_REMOVE, b"authorization")]


def _prepare_allow(decision: Allow) -> Answer:
    headers = [*identity_headers(decision.identity, decision.app, decision.token), NO_STORE]
    ready = prepared(200, headers)
    if len(_allows) >= _ALLOW_MEMO_LIMIT:
        _allows.clear()
    _allows[(id(decision.identity), id(decision.app), decision.token)] = (
        decision.identity,
        decision.app,
        ready,
    )
    return ready


def to_client(decision: Decision, browser: bool) -> Answer:
    """Traefik, Caddy and Envoy: 200, 302 for a browser, 401 JSON for a script, 403, 404, 400."""
    if isinstance(decision, Allow):
        return allow(decision)
    if isinstance(decision, CredentialRefused):
        from authgate.forward.credentials import refusal_answer

        return refusal_answer(decision)
    if isinstance(decision, Challenge):
        extra = [(b"set-cookie", decision.clear_cookie.encode())] if decision.clear_cookie else []
        if browser:
            location = decision.start_url.encode()
            return Answer(302, [(b"location", location), NO_STORE, *extra])
        body = json_body(error="login required", login_url=decision.start_url)
        return Answer(401, [JSON, NO_STORE, *extra], body)
    if isinstance(decision, Redirect):
        return Answer(302, [(b"location", decision.location.encode()), NO_STORE])
    if isinstance(decision, Deny):
        if browser:
            return Answer(403, [HTML, NO_STORE], page=decision)
        body = json_body(
            error="access denied", reason=decision.reason, decision=decision.decision_id
        )
        return Answer(403, [JSON, NO_STORE], body)
    if isinstance(decision, UnknownHost):
        if browser:
            return Answer(404, [HTML, NO_STORE], page=decision)
        return Answer(404, [JSON, NO_STORE], json_body(error=decision.reason))
    if isinstance(decision, Unavailable):
        body = json_body(
            error="sign-in is unavailable, try again shortly", decision=decision.decision_id
        )
        return Answer(503, [JSON, NO_STORE, (b"retry-after", b"5")], body)
    body = json_body(error="bad request", reason=decision.reason, decision=decision.decision_id)
    return Answer(400, [JSON, NO_STORE], body)
