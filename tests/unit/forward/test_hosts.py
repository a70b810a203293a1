"""Canonical hosts: what an app is found by, and whole-label domain matching."""

import pytest

from authgate.forward.hosts import canonical_host, within_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("App.Example.TEST", "app.example.test"),
        ("app.example.test.", "app.example.test"),
        ("app.example.test:80", "app.example.test"),
        ("app.example.test:443", "app.example.test"),
        ("app.example.test:8080", "app.example.test:8080"),
        ("bücher.test", "xn--bcher-kva.test"),
        ("[::1]:9000", "[::1]:9000"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_canonical_host(raw: str, expected: str) -> None:
    assert canonical_host(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "evil.test/",
        "a@b.test",
        "a b.test",
        "x.test:99999",
        "x.test:",
        "x.test:ab",
        "a..b",
        "-a.test",
        "x.test%2f",
        "a\\b",
        "x.test:80:80",
    ],
)
def test_unusable_hosts_are_refused(raw: str) -> None:
    assert canonical_host(raw) is None


def test_within_domain_matches_whole_labels_only() -> None:
    assert within_domain("a.example.test", "example.test")
    assert within_domain("example.test", "example.test")
    assert not within_domain("badexample.test", "example.test")
    assert within_domain("a.example.test:8080", "example.test")
