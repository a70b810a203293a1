"""An allowed request asked about again is answered with the answer kept for it
(``forward.reuse``), but never once anything that answer was made of has changed: the
session (expired, idle, revoked, signed out, the store down), the apps or the keys, or the
token in it. A request that differs in anything but its request id is judged on its own."""

from __future__ import annotations

import logging
import time

import pytest

from authgate.forward.reuse import RecentAllows
from tests.functional.conftest import PREFIX, Harness


async def signed_in(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])


def recent(harness: Harness) -> RecentAllows:
    return harness.app.forward.recent


async def test_the_same_request_gets_the_same_answer_whatever_its_request_id(
    harness: Harness,
) -> None:
    await signed_in(harness)
    answers = [
        await harness.check("app1.test", "/x", **{"x-request-id": f"{i:032x}"}) for i in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].headers == answers[1].headers == answers[2].headers
    assert answers[0].headers["x-authentik-username"] == "alice"
    assert len(recent(harness)) == 1


async def test_an_expired_session_ends_a_kept_allow(harness: Harness) -> None:
    await signed_in(harness)
    assert (await harness.check("app1.test", "/x")).status_code == 200
    assert len(recent(harness)) == 1
    for record in harness.runtime.gate.sessions._entries.values():
        record.expires_at = time.time() - 1
    assert (await harness.check("app1.test", "/x")).status_code == 302


async def test_sign_out_and_revocation_end_a_kept_allow(harness: Harness) -> None:
    await signed_in(harness)
    assert (await harness.check("app1.test", "/x")).status_code == 200
    assert (await harness.check("app1.test", "/x")).status_code == 200
    out = await harness.client.get(f"http://app1.test{PREFIX}/sign_out")
    assert out.status_code == 302
    assert (await harness.check("app1.test", "/x")).status_code == 302

    await signed_in(harness)
    assert (await harness.check("app1.test", "/x")).status_code == 200
    alice = await harness.runtime.store.get_user("alice")
    [session] = [s for s in await harness.runtime.store.browser_sessions(alice.id)]
    await harness.runtime.store.revoke_session(session.id)
    assert (await harness.check("app1.test", "/x")).status_code == 302


async def test_a_changed_group_is_judged_again(harness: Harness) -> None:
    await signed_in(harness)
    assert (await harness.check("app1.test", "/x")).status_code == 200
    await harness.runtime.store.update_user("alice", groups=["guests"])
    assert (await harness.check("app1.test", "/x")).status_code == 403


async def test_a_store_outage_is_judged_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await signed_in(harness)
    assert (await harness.check("app1.test", "/x")).status_code == 200
    outage = harness.runtime.gate.sessions.outage
    outage.failed(time.time() - outage.grace - 1)  # down, and the grace already over
    assert (await harness.check("app1.test", "/x")).status_code == 503


async def test_anything_else_that_differs_is_judged_on_its_own(harness: Harness) -> None:
    await signed_in(harness)
    assert (await harness.check("app1.test", "/x")).status_code == 200
    forged = await harness.check("app1.test", "/x", **{"x-authentik-username": "admin"})
    assert forged.status_code == 400
    other_path = await harness.check("app1.test", "/x%2F..%2Fadmin")
    assert other_path.status_code in (200, 400)
    assert (await harness.check("app1.test", "/x", cookie="")).status_code == 302
    assert (await harness.check("app1.test", "/x")).status_code == 200


async def test_a_request_with_a_credential_is_never_kept(harness: Harness) -> None:
    await signed_in(harness)
    kept = len(recent(harness))
    for _ in range(2):
        answer = await harness.check("app1.test", "/x", authorization="Bearer agt_nope_nope")
        assert answer.status_code == 401
    assert len(recent(harness)) == kept


async def test_a_kept_allow_ends_when_its_token_is_due(harness: Harness) -> None:
    await signed_in(harness)
    first = await harness.check("app1.test", "/x")
    assert first.status_code == 200
    [key] = list(recent(harness)._kept)
    assert recent(harness).answer(key, time.time()) is not None
    assert recent(harness).answer(key, time.time() + 24 * 3600) is None  # the JWT would be old
    assert len(recent(harness)) == 0


async def test_with_a_debug_log_every_check_is_judged_and_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await signed_in(harness)
    with caplog.at_level(logging.DEBUG, logger="authgate.forward"):
        for _ in range(3):
            assert (await harness.check("app1.test", "/x")).status_code == 200
    lines = [r for r in caplog.records if r.name == "authgate.forward" and "allow" in r.message]
    assert len(lines) == 3


async def test_a_request_with_very_long_headers_is_judged_every_time(harness: Harness) -> None:
    await signed_in(harness)
    kept = len(recent(harness))
    padding = {"x-padding": "p" * 5000}
    for _ in range(2):
        assert (await harness.check("app1.test", "/x", **padding)).status_code == 200
    assert len(recent(harness)) == kept


async def test_what_is_kept_stays_bounded(harness: Harness) -> None:
    await signed_in(harness)
    recent(harness).limit = 8
    for i in range(20):
        assert (await harness.check("app1.test", f"/asset/{i}.js")).status_code == 200
    assert len(recent(harness)) <= 8
    # the newest are still answered, the forgotten ones are judged again: both allowed
    assert (await harness.check("app1.test", "/asset/19.js")).status_code == 200
    assert (await harness.check("app1.test", "/asset/0.js")).status_code == 200


async def test_kept_keys_hold_one_copy_of_each_header_name(harness: Harness) -> None:
    await signed_in(harness)
    for path in ("/a.js", "/b.js"):
        assert (await harness.check("app1.test", path)).status_code == 200
    a, b = [k for k in recent(harness)._kept if b"/a.js" in k or b"/b.js" in k]
    names_a, names_b = a[5::2], b[5::2]
    assert names_a == names_b and b"cookie" in names_a
    assert all(x is y for x, y in zip(names_a, names_b, strict=True))
