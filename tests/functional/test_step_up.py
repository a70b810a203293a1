"""Per-app MFA: a session signed in with a password alone that reaches an app needing a second
factor is sent back through the portal's second-factor step (no password again) and lands
where it was going; a user without a factor enrols one first. Judged alike in every dialect."""

from __future__ import annotations

import jwt
import pytest

from authgate.forward.model import TOTP
from tests.factors import code, recovery_codes_on, secret_on
from tests.functional.conftest import PREFIX, PUBLIC, Harness
from tests.functional.dialects import DIALECTS, ask
from tests.functional.factors import enrol_in_store, portal_amr, post_form


async def require_mfa(harness: Harness, slug: str) -> None:
    await harness.runtime.store.set_app_options(slug, require_mfa=True)
    await harness.runtime.reload()


def cookies_for(harness: Harness, host: str) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in harness.client.cookies.jar if c.domain == host)


async def add_factor(harness: Harness, username: str = "alice") -> None:
    """The user's portal session proves a second factor (as a step-up records it)."""
    store = harness.runtime.store
    portal = [s for s in await store.list_sessions(username) if s.kind == "portal"]
    await store.add_session_factors(portal[-1].id, [TOTP])
    harness.runtime.sessions.clear()


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_password_only_session_is_sent_to_log_in_in_every_dialect(
    harness: Harness, dialect: str
) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    cookie = {"cookie": cookies_for(harness, "app1.test"), "accept": "text/html"}
    assert (await ask(harness.client, dialect, "GET", "app1.test", "/x", cookie)).outcome == "allow"

    await require_mfa(harness, "app1")
    asked = await ask(harness.client, dialect, "GET", "app1.test", "/x", cookie)
    assert asked.outcome == "login", asked.response.text
    if dialect != "nginx":
        assert f"{PREFIX}/start?rd=" in asked.response.headers["location"]
    public = await ask(harness.client, dialect, "GET", "app1.test", "/public/a", cookie)
    assert public.outcome == "allow"  # a bypass rule still needs no login at all

    await add_factor(harness)
    again = await ask(harness.client, dialect, "GET", "app1.test", "/x", cookie)
    assert again.outcome == "allow", again.response.text


async def test_step_up_asks_only_the_second_factor_and_comes_back(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    secret = await enrol_in_store(harness)  # set up elsewhere, after this session began
    await require_mfa(harness, "app1")

    challenge = await harness.check("app1.test", "/deep?q=1")
    assert challenge.status_code == 302
    at = await harness.follow(challenge.headers["location"], stop_at=f"{PUBLIC}/login")
    assert at.startswith(f"{PUBLIC}/login/second-factor?state="), at
    step = await harness.client.get(at)
    assert "password" not in step.text.lower() and 'id="totp-form"' in step.text
    done = await post_form(harness, step.text, "code", code=code(secret))
    assert done.status_code == 303, done.text
    back = await harness.follow(done.headers["location"])
    assert back == "http://app1.test/deep?q=1"

    allowed = await harness.check("app1.test", "/deep?q=1")
    assert allowed.status_code == 200, allowed.text
    key = jwt.PyJWK(harness.runtime.tokens.jwks["keys"][0])
    claims = jwt.decode(allowed.headers["x-authentik-jwt"], key, ["ES256"], audience="app1")
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    events = [e.event for e in await harness.runtime.store.list_audit(limit=20)]
    assert "step_up" in events


async def test_a_user_without_a_factor_enrols_first_then_goes_on(harness: Harness) -> None:
    await require_mfa(harness, "app2")
    first = await harness.check("app2.test", "/y")
    at = await harness.login(first.headers["location"], username="bob")
    assert at.startswith(f"{PUBLIC}/account/enrol?state="), at
    page = await harness.client.get(at)
    assert page.status_code == 200 and 'id="totp-qr"' in page.text
    secret = secret_on(page.text)
    shown = await post_form(harness, page.text, "code", code=code(secret))
    assert shown.status_code == 200, shown.text
    assert len(recovery_codes_on(shown.text)) == 10
    assert await portal_amr(harness, "bob") == {"pwd", "otp"}
    go_on = shown.text.split('id="continue"')[0].rsplit('href="', 1)[1].split('"')[0]
    back = await harness.follow(go_on.replace("&amp;", "&"))
    assert back == "http://app2.test/y"
    assert (await harness.check("app2.test", "/y")).status_code == 200


async def test_a_user_with_a_factor_cannot_enrol_around_it(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    await enrol_in_store(harness)
    page = await harness.client.get(f"{PUBLIC}/account/enrol?state=abc")
    assert page.headers["location"] == f"{PUBLIC}/login/second-factor?state=abc"
    forced = await harness.client.post(f"{PUBLIC}/account/enrol", data={"code": "123456"})
    assert forced.headers["location"] == f"{PUBLIC}/login/second-factor"
    assert await portal_amr(harness) == {"pwd"}


async def test_a_session_with_a_second_factor_is_not_asked_again(harness: Harness) -> None:
    first = await harness.check("app1.test", "/x")
    await harness.login(first.headers["location"])
    await enrol_in_store(harness)
    await add_factor(harness)
    page = await harness.client.get(f"{PUBLIC}/login/second-factor?state=abc")
    assert page.headers["location"] == f"{PUBLIC}/flow/authorize?state=abc"


async def test_the_global_default_requires_mfa_of_apps_that_do_not_say(harness: Harness) -> None:
    first = await harness.check("app2.test", "/y")
    await harness.login(first.headers["location"])
    settings = harness.runtime.settings
    object.__setattr__(settings, "require_mfa", True)  # as AUTHGATE_REQUIRE_MFA=true would
    await harness.runtime.reload()
    assert (await harness.check("app2.test", "/y")).status_code == 302
    await harness.runtime.store.set_app_options("app2", require_mfa=False)
    await harness.runtime.reload()
    assert (await harness.check("app2.test", "/y")).status_code == 200
