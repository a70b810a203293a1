"""The portal's pages in-process: the launcher lists what the check would admit, and every
page, signed in or not, refused or not, carries the same strict headers."""

from __future__ import annotations

import re

import httpx
import pytest

from authgate.storage.store import RuleSpec
from authgate.web.pages import security_headers
from tests.functional.conftest import PUBLIC, Browsers, Harness
from tests.functional.test_login_throttle import sign_in, signed_in

ICON = "https://icons.test/tools.svg"


async def add_launcher_apps(harness: Harness) -> None:
    """Beside app1 (bound to staff) and app2 (anyone): tools (staff, with an icon and a
    description), closed (a deny rule for everyone on /), office (open only from 10/8)."""
    store = harness.runtime.store
    await store.add_app(
        "tools",
        url="http://tools.test",
        name="Tools",
        groups=["staff"],
        icon=ICON,
        description="Build & deploy",
    )
    await store.add_app("closed", url="http://closed.test", name="Closed")
    await store.add_rule("closed", RuleSpec("deny", path_prefix="/"))
    await store.add_app("office", url="http://office.test", name="Office")
    await store.add_rule("office", RuleSpec("allow", networks=("10.0.0.0/8",)))
    await store.add_rule("office", RuleSpec("deny"))
    await harness.runtime.reload()


def listed(page: httpx.Response) -> list[str]:
    return re.findall(r'<span class="tile-name">([^<]*)</span>', page.text)


async def launcher(browsers: Browsers, username: str, ip: str = "203.0.113.7") -> httpx.Response:
    browser = browsers()
    assert signed_in(await sign_in(browser, username, "correct horse battery", ip))
    page = await browser.get(f"{PUBLIC}/", headers={"x-forwarded-for": ip})
    assert page.status_code == 200, page.text[:1500]
    return page


async def test_the_launcher_lists_exactly_what_the_policy_admits(
    harness: Harness, browsers: Browsers
) -> None:
    await add_launcher_apps(harness)

    assert listed(await launcher(browsers, "alice")) == ["App 1", "app2", "Tools"]
    assert listed(await launcher(browsers, "bob")) == ["app2"]
    assert listed(await launcher(browsers, "bob", ip="10.9.8.7")) == ["app2", "Office"]


async def test_a_launcher_tile_links_the_app_with_its_icon_and_description(
    harness: Harness, browsers: Browsers
) -> None:
    await add_launcher_apps(harness)

    page = await launcher(browsers, "alice")

    assert 'href="http://tools.test"' in page.text
    assert f'<img class="tile-icon" src="{ICON}" alt="Tools icon"' in page.text
    assert "Build &amp; deploy" in page.text
    assert f'href="{PUBLIC}/account"' in page.text
    assert "staff" in page.text  # her groups


async def test_the_launcher_needs_a_session(harness: Harness) -> None:
    answer = await harness.client.get(f"{PUBLIC}/")
    assert (answer.status_code, answer.headers["location"]) == (303, f"{PUBLIC}/login")


def assert_strict(answer: httpx.Response) -> None:
    where = f"{answer.request.method} {answer.request.url} -> {answer.status_code}"
    assert answer.headers.get("content-type", "").startswith("text/html"), where
    policy = {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in answer.headers["content-security-policy"].split(";"))
    }
    assert policy["default-src"] == "'none'", where
    assert policy["script-src"] == f"'self' {PUBLIC}", where
    assert policy["connect-src"] == f"'self' {PUBLIC}", where  # passkeys.js calls the portal
    assert policy["frame-ancestors"] == "'none'", where
    assert policy["img-src"] == "'self' data: https: http:", where  # the portal is http here
    assert "unsafe" not in answer.headers["content-security-policy"], where
    assert answer.headers["cache-control"] == "no-store", where
    assert answer.headers["x-frame-options"] == "DENY", where
    assert answer.headers["x-content-type-options"] == "nosniff", where
    assert "<script>" not in answer.text and " on" + "click=" not in answer.text, where


async def test_every_portal_page_has_the_strict_headers(
    harness: Harness, browsers: Browsers
) -> None:
    anonymous = browsers()
    pages = [
        await anonymous.get(f"{PUBLIC}/login"),
        await anonymous.get(f"{PUBLIC}/logout"),
        await anonymous.get(f"{PUBLIC}/signed-out"),
        await anonymous.get(f"{PUBLIC}/no/such/page"),
        await anonymous.get(f"{PUBLIC}/flow/authorize?state=forged"),
        await anonymous.post(f"{PUBLIC}/login", data={"username": "alice"}),
        await sign_in(anonymous, "alice", "not her password"),
    ]
    alice = browsers()
    assert signed_in(await sign_in(alice, "alice", "correct horse battery"))
    pages += [
        await alice.get(f"{PUBLIC}/"),
        await alice.get(f"{PUBLIC}/account"),
        await alice.get(f"{PUBLIC}/account/totp"),
        await alice.get(f"{PUBLIC}/account/enrol"),
        await alice.post(f"{PUBLIC}/account/password", data={"csrf_token": "forged"}),
        await alice.post(f"{PUBLIC}/account/sessions/end", data={"csrf_token": "forged"}),
    ]
    start = await harness.check("app1.test", "/")
    location = await harness.follow(start.headers["location"], stop_at=f"{PUBLIC}/login")
    bob = browsers()
    assert signed_in(await sign_in(bob, "bob", "correct horse battery"))
    pages.append(await bob.get(location.replace("/login?", "/flow/authorize?")))  # denied

    assert {p.status_code for p in pages} >= {200, 400, 401, 403, 404}
    for answer in pages:
        assert_strict(answer)


@pytest.mark.parametrize(
    ("origin", "images"),
    [
        ("https://auth.example.com", "img-src 'self' data: https:;"),
        ("http://auth.test", "img-src 'self' data: https: http:;"),
    ],
)
def test_http_images_only_on_a_portal_served_over_http(origin: str, images: str) -> None:
    assert images in security_headers(origin)["content-security-policy"]
