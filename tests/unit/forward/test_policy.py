"""The order of judgement, step by step, at ``policy.decide`` (DESIGN.md):

1. no app / conflict; authentik's query markers; CORS preflights the app lets through;
2. rules without identity: the first matching bypass or deny decides, an allow rule or one
   naming users or groups ends the step;
3. no session: login (Challenge), the reason and the clear-cookie from the cookie state;
4. bindings; 5. rules with identity, first match decides, no match allows.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from authgate.forward.apps import AppIndex, Conflict
from authgate.forward.cookies import expire_app_cookie
from authgate.forward.decision import (
    Allow,
    Challenge,
    Decision,
    Deny,
    Redirect,
    Unavailable,
    UnknownHost,
)
from authgate.forward.model import AppView, Identity, Rule
from authgate.forward.policy import CookieState, decide, needs_session
from authgate.forward.request import ForwardRequest
from tests.unit.forward.helpers import PREFIX, app, request, user

ABSENT, BAD, VALID = CookieState.ABSENT, CookieState.BAD, CookieState.VALID
SCRIPT = {"accept": "application/json", "sec_fetch_mode": "cors"}


def judge(
    found: AppView | Conflict | None,
    req: ForwardRequest,
    who: Identity | None = None,
    state: CookieState | None = None,
    trace: list[str] | None = None,
) -> Decision:
    state = state or (VALID if who is not None else ABSENT)
    return decide(found, req, who, state, trace, prefix=PREFIX)


def rd_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["rd"][0]


# -- step 1: the app, the markers, preflights ------------------------------------------


def test_no_app_is_an_unknown_host() -> None:
    decision = judge(None, request(host="nowhere.test"))
    assert isinstance(decision, UnknownHost)
    assert decision.host == "nowhere.test"
    assert decision.reason == "no app registered for host nowhere.test"


def test_a_host_apps_conflict_over_is_refused_never_judged() -> None:
    conflict = Conflict("host", "wiki.test", ("wiki", "wiki2"))
    decision = judge(conflict, request(), user())
    assert isinstance(decision, Unavailable)
    assert decision.reason.startswith("host wiki.test is claimed by apps wiki and wiki2")
    assert "fix: authgate app set wiki2 --url NEW-URL" in decision.reason


def test_the_callback_marker_goes_to_the_apps_callback_with_its_query() -> None:
    req = request("/x?X-authentik-auth-callback=true&code=c1&state=s1")
    decision = judge(app(rules=(Rule("deny"),)), req, user())
    assert isinstance(decision, Redirect)
    assert decision.reason == "callback"
    assert decision.location == (
        f"http://wiki.test{PREFIX}/callback?X-authentik-auth-callback=true&code=c1&state=s1"
    )


def test_the_logout_marker_goes_to_sign_out_without_the_query() -> None:
    decision = judge(app(), request("/?X-authentik-logout=true&x=1"))
    assert isinstance(decision, Redirect)
    assert (decision.reason, decision.location) == (
        "sign_out",
        f"http://wiki.test{PREFIX}/sign_out",
    )


def test_a_marker_in_the_path_is_no_marker() -> None:
    assert isinstance(judge(app(), request("/X-authentik-logout=true")), Challenge)


def test_markers_are_not_followed_where_the_proxy_cannot_redirect() -> None:
    """nginx relays no redirect: a 401 would send the browser to start and back (a loop)."""
    req = request("/?X-authentik-auth-callback=true", can_redirect=False)
    assert isinstance(judge(app(), req), Challenge)
    assert isinstance(judge(app(), req, user()), Allow)


PREFLIGHT = {"origin": "http://other.test", "access_control_request_method": "POST"}


def test_a_preflight_passes_without_a_session_where_the_app_allows_it() -> None:
    wiki = app(allow_preflight=True, strip_cookie=True)
    decision = judge(wiki, request("/api", method="OPTIONS", cookie="a=1", **PREFLIGHT))
    assert isinstance(decision, Allow)
    assert (decision.identity, decision.reason) == (None, "CORS preflight allowed for this app")
    assert decision.cookie is None  # a preflight's answer carries no Cookie, even stripped


def test_a_preflight_needs_a_session_where_the_app_does_not_allow_it() -> None:
    req = request("/api", method="OPTIONS", **PREFLIGHT)
    assert isinstance(judge(app(), req), Challenge)


def test_options_without_origin_is_no_preflight() -> None:
    req = request("/api", method="OPTIONS", access_control_request_method="POST")
    assert isinstance(judge(app(allow_preflight=True), req), Challenge)


# -- step 2: rules without identity ---------------------------------------------------


def test_a_bypass_rule_lets_through_before_login() -> None:
    wiki = app(rules=(Rule("bypass", path_prefix="/public"),))
    decision = judge(wiki, request("/public/logo.png"))
    assert isinstance(decision, Allow)
    assert decision.identity is None
    assert decision.reason == "bypass rule: no login needed"
    assert decision.cookie is None


def test_a_bypass_hands_a_stripped_cookie_to_apps_that_ask() -> None:
    wiki = app(rules=(Rule("bypass", path_prefix="/public"),), strip_cookie=True)
    req = request("/public/x", cookie="authgate_wiki=s.sig; theme=dark", **NAV)
    decision = judge(wiki, req)
    assert isinstance(decision, Allow)
    assert decision.cookie == "theme=dark"


NAV = {"sec_fetch_mode": "navigate"}


def test_a_deny_rule_refuses_before_login_even_a_signed_in_user() -> None:
    wiki = app(rules=(Rule("deny", path_prefix="/admin"), Rule("allow")))
    for who in (None, user()):
        decision = judge(wiki, request("/admin/x"), who)
        assert isinstance(decision, Deny)
        assert (decision.identity, decision.reason) == (None, "a deny rule matched before login")
        assert decision.needs == ""


def test_an_allow_rule_ends_step_two_so_a_later_deny_waits_for_login() -> None:
    wiki = app(rules=(Rule("allow", path_prefix="/x"), Rule("deny", path_prefix="/x")))
    decision = judge(wiki, request("/x"))
    assert isinstance(decision, Challenge)
    assert isinstance(judge(wiki, request("/x"), user()), Allow)


def test_a_rule_naming_users_ends_step_two_so_a_later_bypass_waits_for_login() -> None:
    wiki = app(rules=(Rule("deny", path_prefix="/x", users=frozenset({"bob"})), Rule("bypass")))
    assert isinstance(judge(wiki, request("/x")), Challenge)
    bob = judge(wiki, request("/x"), user("bob"))
    assert isinstance(bob, Deny)
    assert bob.reason == "rule 1 denies"
    assert isinstance(judge(wiki, request("/x"), user("carol")), Allow)


def test_a_rule_naming_groups_ends_step_two_too() -> None:
    wiki = app(rules=(Rule("bypass", groups=frozenset({"ops"})),))
    assert isinstance(judge(wiki, request("/")), Challenge)


def test_rules_that_do_not_match_are_passed_over_in_order() -> None:
    wiki = app(
        rules=(
            Rule("deny", path_prefix="/admin"),
            Rule("deny", methods=frozenset({"POST"})),
            Rule("bypass", path_regex=re.compile(r"^/static/")),
        )
    )
    assert isinstance(judge(wiki, request("/static/a.css")), Allow)
    assert isinstance(judge(wiki, request("/static/a.css", method="POST")), Deny)
    assert isinstance(judge(wiki, request("/other")), Challenge)


def test_rules_judge_the_canonical_path() -> None:
    wiki = app(rules=(Rule("deny", path_prefix="/admin"),))
    for uri in ("/%61dmin", "//admin/x", "/public/../admin", "/admin;x"):
        assert isinstance(judge(wiki, request(uri)), Deny), uri


def test_a_prefix_matches_whole_segments() -> None:
    wiki = app(rules=(Rule("deny", path_prefix="/admin"), Rule("bypass", path_prefix="/pub/")))
    assert isinstance(judge(wiki, request("/admin")), Deny)
    assert isinstance(judge(wiki, request("/administrator")), Challenge)
    assert isinstance(judge(wiki, request("/pub")), Allow)
    assert isinstance(judge(wiki, request("/public")), Challenge)


NET = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))


@pytest.mark.parametrize(
    ("ip", "inside"),
    [
        ("10.1.2.3", True),
        ("2001:db8::5", True),
        ("192.0.2.1", False),
        ("unknown", False),  # no IP address matches no network
        ("", False),
    ],
)
def test_network_conditions_compare_the_client_address(ip: str, inside: bool) -> None:
    wiki = app(rules=(Rule("bypass", networks=NET),))
    decision = judge(wiki, request("/", ip=ip))
    assert isinstance(decision, Allow if inside else Challenge)


def test_an_app_with_case_insensitive_paths_matches_rules_in_any_case() -> None:
    rules = (Rule("deny", path_prefix="/admin", ignore_case=True),)
    wiki = app(rules=rules, case_insensitive_paths=True)
    for uri in ("/ADMIN", "/Admin/x", "/%41dmin"):
        assert isinstance(judge(wiki, request(uri)), Deny), uri
    assert isinstance(judge(wiki, request("/ADMINS")), Challenge)
    strict = app(rules=(Rule("deny", path_prefix="/admin"),))
    assert isinstance(judge(strict, request("/ADMIN")), Challenge)


# -- step 3: no session -----------------------------------------------------------------


def test_no_session_is_a_challenge_back_to_the_same_url() -> None:
    decision = judge(app(), request("/page?q=1"))
    assert isinstance(decision, Challenge)
    assert (decision.reason, decision.clear_cookie) == ("no session", "")
    assert decision.start_url.startswith(f"http://wiki.test{PREFIX}/start?rd=")
    assert rd_of(decision.start_url) == "http://wiki.test/page?q=1"


def test_a_bad_cookie_is_a_challenge_that_clears_it() -> None:
    wiki = app()
    decision = judge(wiki, request("/"), None, BAD)
    assert isinstance(decision, Challenge)
    assert decision.reason == "cookie did not verify"
    assert decision.clear_cookie == expire_app_cookie(wiki)
    assert "Max-Age=0" in decision.clear_cookie


def test_a_script_comes_back_to_the_page_that_loaded_it() -> None:
    req = request("/api/data", referer="http://wiki.test/dashboard", **SCRIPT)
    decision = judge(app(), req)
    assert isinstance(decision, Challenge)
    assert rd_of(decision.start_url) == "http://wiki.test/dashboard"


def test_a_script_with_a_foreign_referer_comes_back_to_the_hosts_root() -> None:
    req = request("/api/data", referer="http://evil.test/", **SCRIPT)
    decision = judge(app(), req)
    assert isinstance(decision, Challenge)
    assert rd_of(decision.start_url) == "http://wiki.test/"


def test_the_login_starts_on_the_host_asked_in_domain_mode() -> None:
    home = app("home", "home.example.test", mode="domain", cookie_domain="example.test")
    decision = judge(home, request("/x", host="grafana.example.test"))
    assert isinstance(decision, Challenge)
    assert decision.start_url.startswith(f"http://grafana.example.test{PREFIX}/start?rd=")
    assert rd_of(decision.start_url) == "http://grafana.example.test/x"


def test_the_login_url_keeps_the_apps_scheme_never_the_requests() -> None:
    decision = judge(app(scheme="https"), request("/x"))
    assert isinstance(decision, Challenge)
    assert decision.start_url.startswith("https://wiki.test")
    assert rd_of(decision.start_url) == "https://wiki.test/x"


# -- step 4: bindings -------------------------------------------------------------------


def test_an_unbound_user_is_denied_with_what_the_app_needs() -> None:
    wiki = app(bound_groups=frozenset({"staff", "ops"}), bound_users=frozenset({"bob"}))
    decision = judge(wiki, request("/"), user("carol", "guests"))
    assert isinstance(decision, Deny)
    assert decision.reason == "user carol is not bound to app wiki"
    assert decision.needs == "one of the groups ops, staff or user bob"
    assert decision.identity == user("carol", "guests")


def test_bindings_come_before_the_rules_with_identity() -> None:
    wiki = app(bound_users=frozenset({"bob"}), rules=(Rule("allow", users=frozenset({"carol"})),))
    decision = judge(wiki, request("/"), user("carol"))
    assert isinstance(decision, Deny)
    assert decision.needs == "user bob"


@pytest.mark.parametrize("who", [user("bob"), user("carol", "staff")])
def test_bound_directly_or_through_a_group(who: Identity) -> None:
    wiki = app(bound_groups=frozenset({"staff"}), bound_users=frozenset({"bob"}))
    decision = judge(wiki, request("/"), who)
    assert isinstance(decision, Allow)
    assert decision.identity == who
    assert decision.token == ""  # the gate attaches the token, not the policy


# -- step 5: rules with identity --------------------------------------------------------


def test_the_first_matching_rule_with_identity_decides() -> None:
    rules = (
        Rule("deny", path_prefix="/admin", groups=frozenset({"guests"})),
        Rule("allow", path_prefix="/admin", groups=frozenset({"staff"})),
        Rule("deny", path_prefix="/admin"),
    )
    wiki = app(rules=rules)
    guest = judge(wiki, request("/admin"), user("gus", "guests", "staff"))
    assert isinstance(guest, Deny)
    assert (guest.reason, guest.needs) == ("rule 1 denies", "a rule that allows you")
    staff = judge(wiki, request("/admin"), user("sam", "staff"))
    assert isinstance(staff, Allow)
    assert staff.reason == "rule 2 allows"
    other = judge(wiki, request("/admin"), user("olga"))
    assert isinstance(other, Deny)
    assert other.reason == "rule 3 denies"


def test_a_bypass_rule_for_a_user_allows_with_identity() -> None:
    wiki = app(rules=(Rule("bypass", users=frozenset({"alice"})),))
    decision = judge(wiki, request("/"), user())
    assert isinstance(decision, Allow)
    assert (decision.identity, decision.reason) == (user(), "rule 1 allows")


def test_no_matching_rule_allows_a_signed_in_user() -> None:
    wiki = app(rules=(Rule("deny", path_prefix="/admin", users=frozenset({"bob"})),))
    decision = judge(wiki, request("/admin"), user())
    assert isinstance(decision, Allow)
    assert decision.reason == "no rule matched: allowed"


def test_an_allow_hands_a_stripped_cookie_to_apps_that_ask() -> None:
    wiki = app(strip_cookie=True)
    req = request("/", cookie="authgate_wiki=s.sig; a=1; authgate_portal=p", **NAV)
    decision = judge(wiki, req, user())
    assert isinstance(decision, Allow)
    assert decision.cookie == "a=1"
    assert judge(app(), req, user()).cookie is None  # type: ignore[union-attr]


# -- the trace and needs_session --------------------------------------------------------


def test_the_trace_says_every_step_tried() -> None:
    wiki = app(rules=(Rule("deny", path_prefix="/admin"), Rule("allow", path_prefix="/x")))
    index = AppIndex([wiki])
    trace: list[str] = []
    req = request("/x/y", ip="10.0.0.1")
    judge(index.find(req, trace), req, user("alice", "a", "b"), trace=trace)
    assert trace == [
        "request: GET wiki.test/x/y from 10.0.0.1",
        "app: wiki (host wiki.test)",
        "rule 1 (deny path /admin*) does not match",
        "rule 2 (allow path /x*) matches, needs a user",
        "session: user alice, groups a, b",
        "bindings: none (any signed-in user)",
        "rule 1 (deny path /admin*) does not match",
        "rule 2 (allow path /x*) matches: allow",
    ]


def test_the_trace_of_a_login_and_of_a_domain_mode_app() -> None:
    home = app("home", "home.example.test", mode="domain", cookie_domain="example.test")
    index = AppIndex([home])
    trace: list[str] = []
    req = request("/", host="a.example.test", ip="10.0.0.1")
    judge(index.find(req, trace), req, None, BAD, trace)
    assert trace == [
        "request: GET a.example.test/ from 10.0.0.1",
        "app: home (domain mode, a.example.test is under example.test)",
        "session: none (cookie did not verify): login",
    ]


CASES = [
    (app(), request("/?X-authentik-logout=true")),
    (app(), request("/?X-authentik-logout=true", can_redirect=False)),
    (app(allow_preflight=True), request("/", method="OPTIONS", **PREFLIGHT)),
    (app(), request("/", method="OPTIONS", **PREFLIGHT)),
    (app(rules=(Rule("bypass"),)), request("/")),
    (app(rules=(Rule("deny"),)), request("/")),
    (app(rules=(Rule("allow"), Rule("deny"))), request("/")),
    (app(rules=(Rule("bypass", users=frozenset({"a"})),)), request("/")),
    (app(), request("/")),
    (None, request("/")),
    (Conflict("host", "wiki.test", ("a", "b")), request("/")),
]


@pytest.mark.parametrize(("found", "req"), CASES)
def test_the_session_is_needed_exactly_when_the_judgement_reaches_login(
    found: AppView | Conflict | None, req: ForwardRequest
) -> None:
    assert needs_session(found, req) == isinstance(judge(found, req), Challenge)
