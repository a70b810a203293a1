import pytest

from authgate.forward.model import AppView
from authgate.forward.redirects import judge_redirect, safe_redirect

APP = AppView(1, "app1", "App 1", "http://app1.test:8080", "http", "app1.test:8080")
DOMAIN_APP = AppView(
    2,
    "home",
    "Home",
    "https://auth.example.test",
    "https",
    "auth.example.test",
    mode="domain",
    cookie_domain="example.test",
)


@pytest.mark.parametrize(
    "rd",
    [
        "http://evil.test/",
        "//evil.test",
        "///evil.test",
        "https:evil.test",
        "\\\\evil.test",
        "/\\evil.test",
        "javascript:alert(1)",
        "http://evil.test%2F@app1.test:8080",
        "http://app1.test:8080@evil.test/",
        "http://app1.test.evil.test/",
        "http%3A%2F%2Fevil.test",
        "http://evіl.test",
        "http://evil.test%00.app1.test:8080",
        "http://app1.test:8080\t.evil.test",
        "data:text/html,hi",
        "http://app1.test:9999/",
        "ftp://app1.test:8080/",
        "",
    ],
)
def test_hostile_targets_fall_back_to_the_app(rd: str) -> None:
    assert judge_redirect(rd, APP) is None
    assert safe_redirect(rd, APP) == "http://app1.test:8080"


@pytest.mark.parametrize(
    ("rd", "expected"),
    [
        ("http://app1.test:8080/x?a=1&b=2", "http://app1.test:8080/x?a=1&b=2"),
        ("http://APP1.test:8080/x", "http://app1.test:8080/x"),
        ("https://app1.test:8080/x", "http://app1.test:8080/x"),
        ("/x?y=1", "http://app1.test:8080/x?y=1"),
    ],
)
def test_targets_on_the_app_are_kept(rd: str, expected: str) -> None:
    assert safe_redirect(rd, APP) == expected


def test_domain_mode_allows_hosts_under_the_cookie_domain() -> None:
    assert safe_redirect("https://grafana.example.test/d", DOMAIN_APP) == (
        "https://grafana.example.test/d"
    )
    assert judge_redirect("https://example.test.evil.test/", DOMAIN_APP) is None
    assert judge_redirect("https://notexample.test/", DOMAIN_APP) is None
