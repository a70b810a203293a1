"""A session's User-Agent in words a person recognises, for the major browsers and systems."""

from __future__ import annotations

import pytest

from authgate.accounts.user_agents import UNKNOWN, describe, describe_all

CASES = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36": "Chrome 120 on Windows 10",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0": (
        "Firefox 121 on Windows 10"
    ),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91": "Edge 120 on Windows 10",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15": "Safari 17 on Mac OS X 10.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1": "Mobile Safari 17 on iOS 17.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36": "Chrome Mobile 120 on Android 14",
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0": (
        "Firefox 115 on Linux"
    ),
    "curl/8.5.0": "curl 8",
}


@pytest.mark.parametrize("user_agent", sorted(CASES))
def test_major_browsers_and_systems_are_named(user_agent: str) -> None:
    assert describe(user_agent) == CASES[user_agent]


@pytest.mark.parametrize("user_agent", ["", "   ", "authgate-e2e (like a browser)", "\x00\x01"])
def test_what_names_nothing_is_an_unknown_browser(user_agent: str) -> None:
    assert describe(user_agent) == UNKNOWN


def test_a_system_without_a_browser_says_so() -> None:
    assert describe("Mozilla/5.0 (X11; Linux x86_64)") == f"{UNKNOWN} on Linux"


async def test_describe_all_keeps_the_order() -> None:
    agents = sorted(CASES)
    assert await describe_all(agents) == [CASES[a] for a in agents]
