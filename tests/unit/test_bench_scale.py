"""The scale run's seed: the rows make a store where every session wrk sends is live and
admitted by policy, the rest is as a long-running store holds it, and the Lua and nginx
pieces send those sessions to their apps."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from bench import scale_rows as rows
from bench.scale import lua_script, scale_nginx_conf
from bench.scale_rows import Names, Sizes
from bench.scenarios import Ports

SIZES = Sizes(sessions=4_000, apps=200)
NOW = datetime(2026, 12, 6, tzinfo=UTC)


def test_sizes_follow_sessions_and_apps_in_proportion() -> None:
    big = Sizes()
    assert (big.users, big.groups, big.portal_sessions) == (10_000, 200, 100_000)
    assert big.app_sessions == 900_000
    with pytest.raises(ValueError, match="too small"):
        Sizes(sessions=10, apps=200).check()


def test_every_table_gets_its_count_of_rows_with_unique_keys() -> None:
    names = Names("sqlite.scale.test", 8080)
    apps = list(rows.applications(SIZES, names, NOW))
    assert len(apps) == 200 and len({a["host_key"] for a in apps}) == 200
    assert apps[7]["host_key"] == "app-00007.sqlite.scale.test:8080"
    assert len(list(rows.users(SIZES, NOW))) == SIZES.users
    sessions = list(rows.sessions(SIZES, NOW))
    assert len(sessions) == 4_000 and len({s.id for s in sessions}) == 4_000
    kinds = Counter(s.kind for s in sessions)
    assert kinds == {"portal": 400, "app": 3_600}


def test_app_sessions_belong_to_a_portal_session_of_their_user_and_an_app_it_may_open() -> None:
    sessions = list(rows.sessions(SIZES, NOW))
    portal = {s.id: s for s in sessions if s.kind == "portal"}
    groups_of_user = {
        u + 1: {g + 1 for g in rows.user_groups(u, SIZES)} for u in range(SIZES.users)
    }
    bound = {b["app_id"]: b["group_id"] for b in rows.bindings(SIZES)}
    for session in sessions:
        if session.kind == "app":
            assert session.parent_id is not None and session.app_id is not None
            assert portal[session.parent_id].user_id == session.user_id
            assert bound[session.app_id] in groups_of_user[session.user_id]
            assert 1 <= session.app_id <= SIZES.apps


def test_the_store_holds_revoked_and_expired_sessions_too() -> None:
    sessions = list(rows.sessions(SIZES, NOW))
    revoked = sum(s.revoked_at is not None for s in sessions)
    expired = sum(s.expires_at <= NOW for s in sessions)
    assert 0 < revoked < len(sessions) // 10
    assert 0 < expired < len(sessions) // 5


def test_the_load_uses_live_sessions_spread_over_many_apps_and_users() -> None:
    sessions = list(rows.sessions(SIZES, NOW))
    app_sessions = sessions[SIZES.portal_sessions :]
    pairs = [rows.load_pair(app_sessions[j]) for j in rows.load_indices(SIZES, 500)]
    assert len(pairs) == 500 and len({p.session_id for p in pairs}) == 500
    assert len({p.app for p in pairs}) > 150  # of 200
    assert len({p.username for p in pairs}) > 30  # of 40
    by_id = {s.id: s for s in sessions}
    for pair in pairs:
        session = by_id[pair.session_id]
        assert session.revoked_at is None and session.expires_at > NOW
        assert by_id[str(session.parent_id)].revoked_at is None


def test_the_same_seed_gives_the_same_ids() -> None:
    first = [s.id for s in rows.sessions(SIZES, NOW)]
    assert first == [s.id for s in rows.sessions(SIZES, NOW)]
    assert first != [s.id for s in rows.sessions(SIZES, NOW, seed=14)]


def test_wrk_script_sends_each_pair_with_its_own_host_and_cookie() -> None:
    script = lua_script(["authgate_app-00001=abc.def"], ["app-00001.sqlite.scale.test:8080"])
    assert '{"app-00001.sqlite.scale.test:8080", "authgate_app-00001=abc.def"},' in script
    assert '["Host"] = pair[1]' in script and '["Cookie"] = pair[2]' in script


def test_nginx_serves_every_seeded_host_with_keepalive_to_the_backends_authgate() -> None:
    ports = Ports(auth=1, nginx=2, traefik=3, floor=4, second_nginx=5, scale_sqlite=6)
    conf = scale_nginx_conf(ports, echo_port=9)
    assert "server_name *.sqlite.scale.test;" in conf
    assert "server_name *.postgres.scale.test;" in conf
    assert "server 127.0.0.1:6;" in conf and "keepalive 64;" in conf
    assert "X-Original-URL          $scheme://$http_host$request_uri" in conf
    assert "scale-placeholder" not in conf
