"""Step 6 of the order of judgement: an app that needs MFA admits only a session that proved a
second factor; any other allowed request goes back to login (the portal then asks only for
the second factor). Everything before it still decides first."""

from __future__ import annotations

from dataclasses import replace

import pytest

from authgate.forward.decision import Allow, Challenge, Deny
from authgate.forward.model import PASSKEY, PASSWORD, RECOVERY_CODE, TOTP, Identity, Rule
from authgate.forward.policy import CookieState, decide
from tests.unit.forward.helpers import PREFIX, app, request, user

MFA = app(require_mfa=True)


def signed_in_with(*amr: str) -> Identity:
    return replace(user("alice"), amr=amr)


def test_a_password_alone_is_sent_back_to_login_with_the_reason() -> None:
    trace: list[str] = []
    decision = decide(
        MFA, request("/x?a=1"), signed_in_with(PASSWORD), CookieState.VALID, trace, prefix=PREFIX
    )
    assert isinstance(decision, Challenge)
    assert decision.reason == "second factor required"
    assert (
        decision.start_url
        == f"http://wiki.test{PREFIX}/start?rd=http%3A%2F%2Fwiki.test%2Fx%3Fa%3D1"
    )
    assert decision.clear_cookie == ""  # the app cookie is fine: only a factor is missing
    assert trace[-1] == "mfa: required, session has pwd: second factor step"
    assert "session: user alice, groups -, signed in with pwd" in trace


@pytest.mark.parametrize("second", [TOTP, PASSKEY, RECOVERY_CODE])
def test_any_second_factor_satisfies_the_app(second: str) -> None:
    trace: list[str] = []
    who = signed_in_with(PASSWORD, second)
    decision = decide(MFA, request("/x"), who, CookieState.VALID, trace, prefix=PREFIX)
    assert isinstance(decision, Allow)
    assert trace[-1] == f"mfa: required, session has pwd,{second}: satisfied"


def test_an_app_without_mfa_says_nothing_of_it() -> None:
    trace: list[str] = []
    decision = decide(
        app(), request("/x"), signed_in_with(PASSWORD), CookieState.VALID, trace, prefix=PREFIX
    )
    assert isinstance(decision, Allow)
    assert not any(line.startswith("mfa:") for line in trace)


def test_the_global_default_counts_only_for_apps_that_do_not_say() -> None:
    who = signed_in_with(PASSWORD)
    follows = app(mfa_default=True)
    opted_out = app(require_mfa=False, mfa_default=True)
    assert isinstance(decide(follows, request(), who, CookieState.VALID, prefix=PREFIX), Challenge)
    assert isinstance(decide(opted_out, request(), who, CookieState.VALID, prefix=PREFIX), Allow)


def test_a_denial_and_a_bypass_come_before_the_second_factor() -> None:
    rules = (
        Rule("bypass", path_prefix="/public"),
        Rule("deny", path_prefix="/admin", users=frozenset({"alice"})),
    )
    strict = app(require_mfa=True, rules=rules)
    who = signed_in_with(PASSWORD)
    assert isinstance(
        decide(strict, request("/admin"), who, CookieState.VALID, prefix=PREFIX), Deny
    )
    bypass = decide(strict, request("/public/x"), None, CookieState.ABSENT, prefix=PREFIX)
    assert isinstance(bypass, Allow) and bypass.identity is None
    unbound = app(require_mfa=True, bound_groups=frozenset({"ops"}))
    assert isinstance(decide(unbound, request(), who, CookieState.VALID, prefix=PREFIX), Deny)


def test_a_script_is_sent_to_log_in_for_the_page_that_loaded_it() -> None:
    req = request(
        "/api", accept="application/json", sec_fetch_mode="cors", referer="http://wiki.test/page"
    )
    decision = decide(MFA, req, signed_in_with(PASSWORD), CookieState.VALID, prefix=PREFIX)
    assert isinstance(decision, Challenge)
    assert decision.start_url.endswith("rd=http%3A%2F%2Fwiki.test%2Fpage")
