"""Cookie flags follow the configured URLs, never the request: HttpOnly and SameSite always,
Secure (and the __Host- prefix) exactly when the app's or portal's URL is https."""

from __future__ import annotations

from tests.functional.conftest import PREFIX, PUBLIC, Harness


async def test_http_app_cookies_are_not_secure_even_if_the_proxy_says_https(
    harness: Harness,
) -> None:
    start = await harness.client.get(
        f"http://app1.test{PREFIX}/start?rd=/x", headers={"x-forwarded-proto": "https"}
    )
    cookie = start.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert start.headers["location"].startswith(f"{PUBLIC}/flow/authorize")


async def test_https_app_gets_secure_host_only_cookies(harness: Harness) -> None:
    await harness.runtime.store.add_app("vault", url="https://vault.test")
    await harness.runtime.reload()
    answer = await harness.check("vault.test", "/ui")
    assert answer.headers["location"].startswith(f"https://vault.test{PREFIX}/start?rd=https")
    start = await harness.client.get(f"https://vault.test{PREFIX}/start?rd=/ui")
    assert "Secure" in start.headers["set-cookie"]
    landed = await harness.login(answer.headers["location"])
    assert landed == "https://vault.test/ui"
    app_cookie = next(
        c for c in harness.client.cookies.jar if c.domain == "vault.test" and "vault" in c.name
    )
    assert app_cookie.name == "__Host-authgate_vault" and app_cookie.secure
