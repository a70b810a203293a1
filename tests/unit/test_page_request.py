"""web/requests.PageRequest: the flow and the portal read a request the check's way."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request

from authgate.config import Settings, load_settings
from authgate.web.requests import PageRequest


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    env = {"AUTHGATE_DATA_DIR": str(tmp_path), "AUTHGATE_PUBLIC_URL": "https://auth.example.com"}
    return load_settings(env)


def page(settings: Settings, peer: str, *headers: tuple[str, str]) -> PageRequest:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(k.encode(), v.encode()) for k, v in headers],
        "client": (peer, 1234),
    }
    return PageRequest.read(Request(scope), settings)


def test_forwarded_host_counts_only_from_a_trusted_proxy(settings: Settings) -> None:
    sent = [("host", "authgate:9000"), ("x-forwarded-host", "App.Test.")]
    assert page(settings, "10.0.0.5", *sent).host == "app.test"
    assert page(settings, "203.0.113.9", *sent).host == "authgate:9000"


def test_a_forwarded_host_sent_twice_is_no_host(settings: Settings) -> None:
    sent = [("host", "a.test"), ("x-forwarded-host", "a.test"), ("x-forwarded-host", "b.test")]
    assert page(settings, "10.0.0.5", *sent).host is None


def test_client_address_as_the_check_computes_it(settings: Settings) -> None:
    forwarded = ("x-forwarded-for", "198.51.100.7, 10.0.0.2")
    assert page(settings, "10.0.0.5", forwarded).ip == "198.51.100.7"
    assert page(settings, "203.0.113.9", forwarded).ip == "203.0.113.9"  # untrusted: the peer
    twice = [forwarded, ("x-forwarded-for", "192.0.2.1")]
    assert page(settings, "10.0.0.5", *twice).ip == "10.0.0.5"  # refused by the check: the peer


def test_browser_test_and_cookies(settings: Settings) -> None:
    assert page(settings, "127.0.0.1", ("sec-fetch-mode", "navigate")).browser
    assert not page(
        settings, "127.0.0.1", ("sec-fetch-mode", "cors"), ("accept", "text/html")
    ).browser
    assert page(settings, "127.0.0.1", ("cookie", "a=1; b=2")).cookie("b") == "2"
    assert page(settings, "127.0.0.1", ("cookie", "a=1; a=2")).cookie("a") is None  # tossed
