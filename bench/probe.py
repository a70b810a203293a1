"""The one request sent before measuring a scenario, and the identity an answer carries."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from bench.scenarios import Scenario


def echo_user(response: httpx.Response) -> str | None:
    """The identity the echo app received (its JSON), or authgate's own header on a 200."""
    if response.headers.get("content-type", "").startswith("application/json"):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return str(response.json()["headers"].get("x-authentik-username", "")) or None
    return response.headers.get("x-authentik-username") or None


def check(scenario: Scenario) -> dict[str, Any]:
    """One request exactly as wrk sends it; raises when it does not give what is expected."""
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        response = client.get(scenario.url, headers=scenario.headers)
    seen: dict[str, Any] = {"status": response.status_code}
    expected = scenario.check
    problems = []
    if response.status_code != expected.status:
        problems.append(f"status {response.status_code}, expected {expected.status}")
    if response.status_code == 200:
        seen["user"] = echo_user(response)
        if seen["user"] != expected.user:
            problems.append(f"identity {seen['user']!r}, expected {expected.user!r}")
    if expected.location_has is not None:
        seen["location"] = response.headers.get("location", "")
        if expected.location_has not in seen["location"]:
            problems.append(f"Location {seen['location']!r} lacks {expected.location_has!r}")
    if problems:
        raise RuntimeError(f"check request failed: {'; '.join(problems)}: {response.text[:300]}")
    return seen
