"""The one list of refused identity header families: what it refuses, and that the docs show
exactly it (README.md and docs/proxies.md, between the identity-headers markers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from authgate.forward.headers import (
    ALLOWED_IN_FAMILIES,
    IDENTITY_HEADERS,
    REFUSED_IDENTITY_FAMILIES,
    is_identity_header,
)
from authgate.forward.request import Headers

ROOT = Path(__file__).resolve().parents[3]
PREFIXES = [prefix for prefix, _ in REFUSED_IDENTITY_FAMILIES]


def documented(path: Path) -> tuple[list[str], set[str]]:
    """(families as prefixes, allowed names) from the marked block of a document."""
    text = path.read_text()
    block = re.search(
        r"<!-- identity-headers:start -->(.*?)<!-- identity-headers:end -->", text, re.S
    )
    assert block, f"{path} has no identity-headers block"
    names: list[str] = []
    for line in block.group(1).splitlines():
        if line.startswith("|"):  # a table row: the family is the first cell
            line = line.split("|")[1]
        names += re.findall(r"`([A-Za-z0-9-]+\*?)`", line)
    families = [n.lower().rstrip("*") for n in names if n.endswith("*")]
    allowed = {n.lower() for n in names if not n.endswith("*")}
    return families, allowed


@pytest.mark.parametrize("doc", ["README.md", "docs/proxies.md"])
def test_the_docs_show_the_code_list(doc: str) -> None:
    families, allowed = documented(ROOT / doc)
    assert families == PREFIXES
    assert allowed == ALLOWED_IN_FAMILIES


def test_every_header_authgate_emits_is_in_a_refused_family() -> None:
    for name in IDENTITY_HEADERS:
        assert is_identity_header(name.lower()), name


@pytest.mark.parametrize(
    "name",
    [
        "remote-uid",
        "remote-entitlements",
        "x-remote-user",
        "x-remote-group",
        "x-webauth-user",
        "x-user",
        "x-username",
        "x-forwarded-user",
        "x-forwarded-email",
        "x-forwarded-groups",
        "x-forwarded-preferred-username",
        "x-auth-request-access-token",
        "x_webauth_user",
        "x_forwarded_user",
        "cf-access-authenticated-user-email",
        "tailscale-user-login",
        "x-pomerium-claim-email",
        "x-vouch-user",
    ],
)
def test_identity_headers_apps_trust_are_refused(name: str) -> None:
    assert is_identity_header(name)
    assert Headers([(name.encode(), b"admin")]).forged_identity() == name


@pytest.mark.parametrize(
    "name",
    [
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-port",
        "x-forwarded-method",
        "x-forwarded-uri",
        "x-forwarded-prefix",
        "x-forwarded-server",
        "x-real-ip",
        "x-original-url",
        "x-original-method",
        "x-original-uri",
        "x-original-forwarded-for",
        "x-request-id",
        "x-sent-from",
        "x-auth-request-redirect",
        "x-user-agent",
        "user-agent",
        "authorization",
        "cookie",
    ],
)
def test_headers_proxies_send_are_not_refused(name: str) -> None:
    assert not is_identity_header(name)


def test_families_are_lower_case_and_unique() -> None:
    assert all(p == p.lower() and "_" not in p for p in PREFIXES)
    assert len(set(PREFIXES)) == len(PREFIXES)
    assert all(not is_identity_header(name) for name in ALLOWED_IN_FAMILIES)
