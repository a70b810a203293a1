"""The launcher lists exactly the apps the check would let this identity open from this
address: bindings, rules with and without identity, network rules, deny rules, step-up."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from authgate.forward.apps import AppIndex
from authgate.forward.model import TOTP, AppView, Rule
from authgate.portal.launcher import tiles
from tests.unit.forward.helpers import PREFIX, app, user

INSIDE, OUTSIDE = "10.1.2.3", "192.0.2.10"
OFFICE = (ipaddress.ip_network("10.0.0.0/8"),)


def names(apps: list[AppView], who: str = "alice", *groups: str, ip: str = OUTSIDE) -> list[str]:
    return [tile.name for tile in tiles(AppIndex(apps), user(who, *groups), ip, PREFIX)]


def test_an_app_without_bindings_or_rules_is_everyones() -> None:
    assert names([app("wiki", "wiki.test")]) == ["Wiki"]


def test_bindings_admit_their_groups_and_users_only() -> None:
    apps = [
        app("staffwiki", "staff.test", bound_groups=frozenset({"staff"})),
        app("bobs", "bobs.test", bound_users=frozenset({"bob"})),
    ]
    assert names(apps, "alice", "staff") == ["Staffwiki"]
    assert names(apps, "bob", "guests") == ["Bobs"]
    assert names(apps, "carol") == []


def test_a_deny_rule_for_the_users_group_hides_the_app() -> None:
    deny = Rule("deny", path_prefix="/", groups=frozenset({"contractors"}))
    apps = [app("wiki", "wiki.test", rules=(deny,))]
    assert names(apps, "alice", "contractors") == []
    assert names(apps, "bob", "staff") == ["Wiki"]


def test_a_deny_rule_below_the_root_does_not_hide_the_app() -> None:
    apps = [app("wiki", "wiki.test", rules=(Rule("deny", path_prefix="/admin"),))]
    assert names(apps) == ["Wiki"]


def test_network_rules_judge_the_browsers_address() -> None:
    office_only = (Rule("allow", networks=OFFICE), Rule("deny"))
    closed_outside = (Rule("deny", networks=(ipaddress.ip_network("192.0.2.0/24"),)),)
    apps = [
        app("intranet", "intra.test", rules=office_only),
        app("ops", "ops.test", rules=closed_outside),
    ]
    assert names(apps, ip=INSIDE) == ["Intranet", "Ops"]
    assert names(apps, ip=OUTSIDE) == []


def test_a_bypassed_app_is_listed() -> None:
    assert names([app("status", "status.test", rules=(Rule("bypass"),))]) == ["Status"]


def test_an_app_that_needs_a_second_factor_is_listed_as_a_step_up() -> None:
    index = AppIndex([app("vault", "vault.test", require_mfa=True)])
    password_only = user("alice")
    with_code = replace(password_only, amr=("pwd", TOTP))

    [before] = tiles(index, password_only, OUTSIDE, PREFIX)
    [after] = tiles(index, with_code, OUTSIDE, PREFIX)

    assert before.step_up and not after.step_up


def test_apps_that_conflict_over_a_host_are_not_listed() -> None:
    apps = [app("one", "same.test"), app("two", "same.test"), app("fine", "fine.test")]
    assert names(apps) == ["Fine"]


def test_apps_are_sorted_by_name_and_carry_their_launcher_fields() -> None:
    apps = [
        app("zeta", "z.test", icon="https://icons.test/z.png", description="Last"),
        app("alpha", "a.test"),
        app("Beta", "b.test"),
    ]
    listed = tiles(AppIndex(apps), user(), OUTSIDE, PREFIX)
    assert [t.name for t in listed] == ["Alpha", "Beta", "Zeta"]
    assert (listed[2].url, listed[2].icon, listed[2].description) == (
        "http://z.test",
        "https://icons.test/z.png",
        "Last",
    )
