"""Decision -> answer: nginx's 200/401/403 only, the others' 302/401 JSON/403/404/503/400;
pages a person reads are asked for by name and filled in outside forward/; the one log line."""

from __future__ import annotations

import json

import pytest

from authgate.forward.answers import Answer, fill_page, to_client
from authgate.forward.decision import (
    Allow,
    Challenge,
    Decision,
    Deny,
    Invalid,
    Redirect,
    Unavailable,
    UnknownHost,
    decision_line,
)
from authgate.forward.dialects import caddy, envoy, nginx, traefik
from tests.unit.forward.helpers import app, user

WIKI = app()
ALLOW = Allow(WIKI, user(), "no rule matched: allowed", "jwt-value", None, "")
CHALLENGE = Challenge(WIKI, "http://wiki.test/o/start?rd=x", "no session", "", "c1")
CLEARING = Challenge(WIKI, "http://wiki.test/o/start?rd=x", "bad", "authgate_wiki=; Max-Age=0")
DENY = Deny(WIKI, user(), "rule 1 denies", "group ops", "d1")
DENY_EARLY = Deny(WIKI, None, "a deny rule matched before login", "", "d2")
UNKNOWN = UnknownHost("nowhere.test", "u1")
UNAVAILABLE = Unavailable("store down", "n1")
INVALID = Invalid("unusable host ''", "i1")
REDIRECT = Redirect("http://wiki.test/o/sign_out", "sign_out", "r1")


class Pages:
    def deny(self, decision: Deny) -> bytes:
        return f"<deny {decision.decision_id}>".encode()

    def unknown_host(self, decision: UnknownHost) -> bytes:
        return f"<unknown {decision.host}>".encode()


def header(answer: Answer, name: bytes) -> bytes | None:
    return dict(answer.headers).get(name)


def test_an_allow_carries_every_identity_header_and_the_token() -> None:
    answer = nginx.render(ALLOW, True)
    assert answer.status == 200
    assert header(answer, b"x-authentik-username") == b"alice"
    assert header(answer, b"x-authentik-jwt") == b"jwt-value"
    assert header(answer, b"cache-control") == b"no-store"
    assert header(answer, b"cookie") is None
    stripped = to_client(Allow(WIKI, None, "bypass", cookie="a=1"), False)
    assert header(stripped, b"cookie") == b"a=1"
    assert header(stripped, b"x-authentik-username") == b""


def test_an_allow_is_sent_as_prepared_and_a_cookie_never_sticks_to_it() -> None:
    """The allow of a session is made once and sent as it is; an app that gets a Cookie
    header back has it added to its own answer, never to the one other checks reuse."""
    answer = nginx.render(ALLOW, False)
    assert nginx.render(ALLOW, False).start is answer.start is not None
    assert answer.start["status"] == 200
    assert answer.start["headers"] == [*answer.headers, (b"content-length", b"0")]
    with_cookie = Allow(WIKI, ALLOW.identity, ALLOW.reason, ALLOW.token, "theme=dark")
    assert header(to_client(with_cookie, True), b"cookie") == b"theme=dark"
    assert header(nginx.render(ALLOW, False), b"cookie") is None
    assert b"cookie" not in dict(answer.start["headers"])  # type: ignore[arg-type]


def test_a_new_identity_or_token_gets_a_new_answer() -> None:
    again = nginx.render(Allow(WIKI, user("alice", "ops"), "x", "jwt-value"), False)
    assert header(again, b"x-authentik-groups") == b"ops"
    renewed = nginx.render(Allow(WIKI, ALLOW.identity, ALLOW.reason, "jwt-2"), False)
    assert header(renewed, b"x-authentik-jwt") == b"jwt-2"
    assert header(nginx.render(ALLOW, False), b"x-authentik-jwt") == b"jwt-value"


@pytest.mark.parametrize(
    ("decision", "status", "body"),
    [
        (CHALLENGE, 401, b"login required\n"),
        (DENY, 401, b"login required\n"),  # nginx's browser goes to start, which explains
        (DENY_EARLY, 403, b"access denied\n"),
        (UNKNOWN, 401, b"login required\n"),
        (UNAVAILABLE, 401, b"login required\n"),
        (INVALID, 401, b"login required\n"),
        (REDIRECT, 401, b"login required\n"),
    ],
)
@pytest.mark.parametrize("browser", [True, False])
def test_nginx_says_only_401_or_403(
    decision: Decision, status: int, body: bytes, browser: bool
) -> None:
    answer = nginx.render(decision, browser)
    assert (answer.status, answer.body, answer.page) == (status, body, None)


def test_nginx_clears_a_cookie_that_did_not_verify() -> None:
    assert header(nginx.render(CLEARING, True), b"set-cookie") == b"authgate_wiki=; Max-Age=0"


@pytest.mark.parametrize("dialect", [traefik, caddy, envoy])
def test_the_others_render_alike(dialect: object) -> None:
    assert dialect.render is to_client  # type: ignore[attr-defined]


def test_a_browser_is_sent_to_the_login_and_a_script_told_where_it_is() -> None:
    browser = to_client(CLEARING, True)
    assert browser.status == 302
    assert header(browser, b"location") == CLEARING.start_url.encode()
    assert header(browser, b"set-cookie") == b"authgate_wiki=; Max-Age=0"
    script = to_client(CHALLENGE, False)
    assert script.status == 401
    assert json.loads(script.body) == {"error": "login required", "login_url": CHALLENGE.start_url}
    assert header(script, b"set-cookie") is None


def test_a_marker_is_a_redirect() -> None:
    answer = to_client(REDIRECT, False)
    assert (answer.status, header(answer, b"location")) == (302, REDIRECT.location.encode())


def test_a_deny_is_a_page_for_a_person_and_json_for_a_script() -> None:
    page = to_client(DENY, True)
    assert (page.status, page.body, page.page) == (403, b"", DENY)
    assert header(page, b"content-type") == b"text/html; charset=utf-8"
    assert fill_page(page, Pages()).body == b"<deny d1>"
    script = to_client(DENY, False)
    assert script.page is None
    assert json.loads(script.body) == {
        "error": "access denied",
        "reason": "rule 1 denies",
        "decision": "d1",
    }


def test_an_unknown_host_is_a_page_for_a_person_and_json_for_a_script() -> None:
    page = to_client(UNKNOWN, True)
    assert (page.status, page.page) == (404, UNKNOWN)
    assert fill_page(page, Pages()).body == b"<unknown nowhere.test>"
    script = to_client(UNKNOWN, False)
    assert json.loads(script.body) == {"error": "no app registered for host nowhere.test"}


def test_unavailable_and_bad_requests() -> None:
    down = to_client(UNAVAILABLE, True)
    assert (down.status, header(down, b"retry-after")) == (503, b"5")
    assert json.loads(down.body)["decision"] == "n1"
    bad = to_client(INVALID, True)
    assert bad.status == 400
    assert json.loads(bad.body) == {
        "error": "bad request",
        "reason": "unusable host ''",
        "decision": "i1",
    }


def test_an_answer_that_wants_no_page_is_left_alone() -> None:
    answer = to_client(CHALLENGE, False)
    assert fill_page(answer, Pages()).body == answer.body


def test_the_decision_log_line() -> None:
    assert decision_line("nginx", DENY, "GET wiki.test/admin", 401, 120) == (
        "decision dialect=nginx app=wiki user=alice outcome=deny status=401 "
        "reason='rule 1 denies' id=d1 request='GET wiki.test/admin' us=120"
    )
    assert decision_line("traefik", UNKNOWN, "-", 404, 7) == (
        "decision dialect=traefik app=- user=- outcome=unknown_host status=404 "
        "reason='no app registered for host nowhere.test' id=u1 request='-' us=7"
    )
    assert decision_line("portal", DENY_EARLY, "https://wiki.test/x", 403) == (
        "decision dialect=portal app=wiki user=- outcome=deny status=403 "
        "reason='a deny rule matched before login' id=d2 request='https://wiki.test/x'"
    )
    assert " id=- " in decision_line("nginx", ALLOW, "GET wiki.test/", 200, 1)
