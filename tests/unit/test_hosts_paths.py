import pytest

from authgate.forward.hosts import canonical_host, within_domain
from authgate.forward.paths import canonical_path, split_uri


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


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/admin", "/admin"),
        ("/%61dmin", "/admin"),
        ("//admin", "/admin"),
        ("/x/../admin", "/admin"),
        ("/./admin", "/admin"),
        ("/admin;x", "/admin"),
        ("/public/../admin", "/admin"),
        ("/public/%2e%2e/admin", "/admin"),
        ("/a/b/", "/a/b/"),
        ("/../../etc", "/etc"),
        ("/admin%2Fx", "/admin/x"),
        ("/a%20b", "/a%20b"),
    ],
)
def test_canonical_path(raw: str, expected: str) -> None:
    assert canonical_path(raw) == expected


@pytest.mark.parametrize("raw", ["admin", "/a%zz", "/a%", "/a\x00b", "/a b", "/" + "a" * 9000])
def test_paths_that_cannot_be_judged(raw: str) -> None:
    assert canonical_path(raw) is None


def test_query_and_fragment_are_not_path() -> None:
    assert split_uri("/public?x=/admin") == ("/public", "x=/admin")
    assert split_uri("/admin#/public") == ("/admin", "")


def test_forged_identity_names_in_any_spelling() -> None:
    from authgate.forward.context import Headers

    names = [b"X-Authentik-Username", b"remote_user", b"X-AUTH-REQUEST-EMAIL", b"x_authentik_x"]
    for name in names:
        assert Headers([(name.lower(), b"admin")]).forged_identity() is not None
    ingress = Headers([(b"x-auth-request-redirect", b"/x"), (b"x-original-url", b"http://a/")])
    assert ingress.forged_identity() is None
