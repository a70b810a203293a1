"""Login, cross-domain SSO, policy and sign-out through the Traefik dialect, in-process."""

from __future__ import annotations

import httpx

from tests.forms import find_form_with
from tests.functional.conftest import PREFIX, PUBLIC, Harness


async def test_anonymous_browser_is_sent_to_start_with_the_original_url(harness: Harness) -> None:
    answer = await harness.check("app1.test", "/x?a=1&b=2")
    assert answer.status_code == 302
    assert answer.headers["location"] == (
        f"http://app1.test{PREFIX}/start?rd=http%3A%2F%2Fapp1.test%2Fx%3Fa%3D1%26b%3D2"
    )


async def test_script_gets_401_json(harness: Harness) -> None:
    answer = await harness.check("app1.test", "/api", accept="application/json")
    assert answer.status_code == 401
    assert answer.json()["login_url"].startswith(f"http://app1.test{PREFIX}/start")


async def test_login_then_identity_headers_then_second_app_without_typing(
    harness: Harness,
) -> None:
    first = await harness.check("app1.test", "/x?a=1&b=2")
    landed = await harness.login(first.headers["location"])
    assert landed == "http://app1.test/x?a=1&b=2"
    allowed = await harness.check("app1.test", "/x?a=1&b=2")
    assert allowed.status_code == 200
    assert allowed.headers["x-authentik-username"] == "alice"
    assert allowed.headers["x-authentik-groups"] == "staff"
    assert allowed.headers["x-authentik-email"] == "alice@x.test"
    assert allowed.headers["remote-user"] == "alice"
    assert allowed.headers["x-authentik-meta-app"] == "app1"

    second = await harness.check("app2.test", "/")
    assert second.status_code == 302
    assert await harness.follow(second.headers["location"]) == "http://app2.test/"
    assert (await harness.check("app2.test", "/")).status_code == 200


async def test_user_outside_bound_group_sees_the_deny_page(harness: Harness) -> None:
    first = await harness.check("app1.test", "/")
    location = await harness.follow(first.headers["location"], stop_at=f"{PUBLIC}/login")
    page = await harness.client.get(location)
    from tests.functional.conftest import PASSWORD, login_fields

    form = login_fields(page.text) | {"username": "bob", "password": PASSWORD}
    posted = await harness.client.post(f"{PUBLIC}/login", data=form)
    denied = await harness.client.get(posted.headers["location"])
    assert denied.status_code == 403
    assert "bob" in denied.text and "App 1" in denied.text and "group staff" in denied.text


async def test_skip_path_is_open_and_dot_segments_do_not_escape_it(harness: Harness) -> None:
    assert (await harness.check("app1.test", "/public/x")).status_code == 200
    assert (await harness.check("app1.test", "/public/../admin")).status_code == 302
    assert (await harness.check("app1.test", "/publicity")).status_code == 200  # regex ^/public


async def test_sign_out_ends_every_app_session(harness: Harness) -> None:
    first = await harness.check("app1.test", "/")
    await harness.login(first.headers["location"])
    second = await harness.check("app2.test", "/")
    await harness.follow(second.headers["location"])
    assert (await harness.check("app2.test", "/")).status_code == 200
    out = await harness.client.get(f"http://app1.test{PREFIX}/sign_out")
    assert out.status_code == 302
    assert (await harness.check("app1.test", "/")).status_code == 302
    assert (await harness.check("app2.test", "/")).status_code == 302


async def test_tampered_and_foreign_cookies_mean_login(harness: Harness) -> None:
    first = await harness.check("app1.test", "/")
    await harness.login(first.headers["location"])
    good = harness.client.cookies.get("authgate_app1", domain="app1.test")
    assert good
    harness.client.cookies.clear()
    for cookie in [good[:-2] + "xx", "garbage", good + "." + good, ""]:
        answer = await harness.check("app1.test", "/", cookie=f"authgate_app1={cookie}")
        assert answer.status_code == 302
    foreign = await harness.check("app2.test", "/", cookie=f"authgate_app2={good}")
    assert foreign.status_code == 302


async def test_unknown_host_gets_a_clear_404(harness: Harness) -> None:
    answer = await harness.check("nope.test", "/")
    assert answer.status_code == 404
    assert "nope.test" in answer.text and "authgate app add" in answer.text
    start = await harness.client.get(f"http://nope.test{PREFIX}/start?rd=/")
    assert start.status_code == 404 and "nope.test" in start.text


async def test_forged_identity_headers_are_refused(harness: Harness) -> None:
    for name in ["X-authentik-username", "remote_user", "X-AUTH-REQUEST-USER"]:
        answer = await harness.check("app1.test", "/public/x", **{name: "admin"})
        assert answer.status_code == 400, name


async def test_revoked_and_disabled_users_are_shut_out(harness: Harness) -> None:
    first = await harness.check("app1.test", "/")
    await harness.login(first.headers["location"])
    assert (await harness.check("app1.test", "/")).status_code == 200
    other = Harness  # the CLI is another process; the store call is what it runs
    del other
    await harness.runtime.store.set_disabled("alice", True)
    assert (await harness.check("app1.test", "/")).status_code == 302


async def test_jwt_header_verifies_against_the_jwks(harness: Harness) -> None:
    import jwt

    first = await harness.check("app1.test", "/")
    await harness.login(first.headers["location"])
    token = (await harness.check("app1.test", "/")).headers["x-authentik-jwt"]
    jwks = (await harness.client.get(f"{PUBLIC}/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(token, key, algorithms=["ES256"], audience="app1", issuer=PUBLIC)
    assert claims["preferred_username"] == "alice"
    assert claims["groups"] == ["staff"]


async def test_authentik_query_markers(harness: Harness) -> None:
    from tests.functional.dialects import ask

    uri = "/x?X-authentik-auth-callback=true&code=c&state=s"
    traefik = await ask(harness.client, "traefik", "GET", "app1.test", uri)
    assert traefik.response.status_code == 302
    assert traefik.response.headers["location"] == (
        f"http://app1.test{PREFIX}/callback?X-authentik-auth-callback=true&code=c&state=s"
    )
    logout = await ask(harness.client, "caddy", "GET", "app1.test", "/?X-authentik-logout=true")
    assert logout.response.headers["location"] == f"http://app1.test{PREFIX}/sign_out"
    # nginx cannot relay a redirect: the marker is judged as an ordinary URL (no loop)
    nginx = await ask(
        harness.client, "nginx", "GET", "app1.test", "/public?X-authentik-logout=true"
    )
    assert nginx.response.status_code == 200


async def test_parallel_logins_do_not_spoil_each_other(harness: Harness) -> None:
    """Two tabs open the app at once: both sign-ins complete, each back on its own page."""
    from tests.functional.conftest import PASSWORD, login_fields

    starts = [(await harness.check("app1.test", path)).headers["location"] for path in ("/a", "/b")]
    # Both start requests leave the browser before either answer is back: neither carries
    # the other's state cookie. Then the browser stores both answers' cookies.
    answers = []
    for url in starts:
        async with httpx.AsyncClient(
            transport=harness.client._transport, headers=harness.client.headers
        ) as tab:
            answers.append(await tab.get(url))
    for answer in answers:
        harness.client.cookies.extract_cookies(answer)
    authorize = [answer.headers["location"] for answer in answers]
    login = await harness.client.get(await harness.follow(authorize[0]))
    form = login_fields(login.text) | {"username": "alice", "password": PASSWORD}
    await harness.client.post(f"{PUBLIC}/login", data=form)
    landed = [await harness.follow(url) for url in authorize]
    assert landed == ["http://app1.test/a", "http://app1.test/b"]


async def test_sign_out_started_by_another_site_asks_first(harness: Harness) -> None:
    first = await harness.check("app1.test", "/")
    await harness.login(first.headers["location"])
    url = f"http://app1.test{PREFIX}/sign_out"
    asked = await harness.client.get(url, headers={"sec-fetch-site": "cross-site"})
    assert asked.status_code == 200 and "Sign out" in asked.text
    assert (await harness.check("app1.test", "/")).status_code == 200  # still signed in
    forged = await harness.client.post(url, data={"csrf_token": "forged"})
    assert forged.status_code == 200 and (await harness.check("app1.test", "/")).status_code == 200
    form = find_form_with(asked.text, "csrf_token")
    assert form is not None and form.fields["csrf_token"], asked.text
    done = await harness.client.post(url, data={"csrf_token": form.fields["csrf_token"]})
    assert done.status_code == 302
    assert (await harness.check("app1.test", "/")).status_code == 302
