"""Logging in once through the real flow (the form read by tests/forms.py, as the e2e tests
read it): the portal login through nginx, then SSO into the Traefik app; a Cookie header per
app host."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import httpx
from tests.forms import find_login_form

from bench.probe import echo_user
from bench.progress import log
from bench.scenarios import (
    BROWSER_ACCEPT,
    CACHE_APP,
    NGINX_APP,
    NGINX_KEEPALIVE_APP,
    PASSWORD,
    TRAEFIK_APP,
    USER,
    Ports,
)


@contextlib.contextmanager
def test_names_on_loopback() -> Iterator[None]:
    """``*.test`` resolves to 127.0.0.1 inside this process while the block runs."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        is_test = isinstance(name, str) and name.rstrip(".").lower().endswith(".test")
        return real("127.0.0.1" if is_test else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def log_in_everywhere(ports: Ports) -> tuple[dict[str, str], dict[str, str]]:
    """One portal login (through nginx), then SSO into the Traefik app: a Cookie per app
    host, and the error for each app whose login failed (its scenarios report it)."""
    cookies: dict[str, str] = {}
    errors: dict[str, str] = {}
    apps = (
        (NGINX_APP, ports.nginx),
        (TRAEFIK_APP, ports.traefik),
        (NGINX_KEEPALIVE_APP, ports.nginx),
        (CACHE_APP, ports.nginx),
    )
    with (
        test_names_on_loopback(),
        httpx.Client(trust_env=False, timeout=15.0, headers={"Accept": BROWSER_ACCEPT}) as c,
    ):
        for host, port in apps:
            try:
                cookies[host] = log_in_sso(c, f"http://{host}:{port}/")
            except Exception as exc:
                errors[host] = f"login at {host}:{port} failed: {type(exc).__name__}: {exc}"
                log(errors[host][:300])
    return cookies, errors


def log_in_sso(client: httpx.Client, url: str) -> str:
    """Sign in at ``url``; with a portal session already there, no password is asked."""
    response = client.get(url, follow_redirects=True)
    if echo_user(response) == USER:
        return cookie_for(client, url)
    return log_in(client, url)


class LoginBusy(Exception):
    """authgate answered the login form "too many people are signing in" (503)."""


def log_in(client: httpx.Client, url: str) -> str:
    """Open ``url`` through its proxy, sign in on the portal; the Cookie header for its host.
    ``LoginBusy`` when authgate was too busy checking passwords to take this one."""
    first = client.get(url, follow_redirects=True)
    form = find_login_form(first.text)
    if form is None:
        raise RuntimeError(
            f"no login form at {first.url} ({first.status_code}): {first.text[:500]}"
        )
    target = first.url.join(form.action) if form.action else first.url
    fields = {**form.fields, "username": USER, "password": PASSWORD}
    after = client.request(form.method, target, data=fields, follow_redirects=True)
    if after.status_code == 503 and "retry-after" in after.headers:
        raise LoginBusy(f"{after.url}: 503, Retry-After {after.headers['retry-after']}")
    seen = echo_user(after)
    if after.status_code != 200 or seen != USER:
        raise RuntimeError(
            f"login did not end at the app as {USER!r}: {after.status_code} {after.url} "
            f"(user {seen!r})\n{after.text[:500]}"
        )
    return cookie_for(client, url)


def cookie_for(client: httpx.Client, url: str) -> str:
    """The Cookie header the client's jar sends to ``url``."""
    cookie = str(client.build_request("GET", url).headers.get("cookie", ""))
    if not cookie:
        raise RuntimeError(f"no cookie kept for {url} after the login")
    return cookie
