"""The canonical request: what each dialect reads (``parse -> Target``), the client address
from trusted proxies only, and ``ForwardRequest.from_target`` / ``from_url``."""

from __future__ import annotations

import ipaddress

import pytest

from authgate.forward.dialects import caddy, envoy, nginx, traefik
from authgate.forward.request import (
    BadRequest,
    ForwardRequest,
    Headers,
    Target,
    client_address,
    is_browser,
)

TRUSTED = ipaddress.ip_network("10.0.0.0/8")


def is_trusted(address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in TRUSTED
    except ValueError:
        return False


def headers(trusted: bool = True, **sent: str) -> Headers:
    return Headers([(k.replace("_", "-").encode(), v.encode()) for k, v in sent.items()], trusted)


def build(target: Target, sent: Headers | None = None, ip: str = "192.0.2.1") -> ForwardRequest:
    return ForwardRequest.from_target(target, sent or headers(), ip)


# -- the dialects' parse ----------------------------------------------------------------


def test_nginx_reads_x_original_url_first() -> None:
    sent = headers(
        x_original_url="https://wiki.test/a?b=1",
        x_forwarded_host="evil.test",
        x_original_method="POST",
    )
    assert nginx.parse(sent, "/ignored", "GET") == Target("POST", "wiki.test", "/a?b=1", False)


def test_nginx_falls_back_to_x_original_uri_on_the_forwarded_host() -> None:
    sent = headers(x_original_uri="/a", x_forwarded_host="wiki.test", host="authgate")
    assert nginx.parse(sent, "/", "GET") == Target("GET", "wiki.test", "/a", False)


def test_nginx_without_the_original_url_is_a_bad_request_that_says_the_fix() -> None:
    with pytest.raises(BadRequest, match="proxy_set_header X-Original-URL"):
        nginx.parse(headers(host="wiki.test"), "/", "GET")


def test_nginx_refuses_an_original_url_that_is_not_http() -> None:
    with pytest.raises(BadRequest, match="not an http"):
        nginx.parse(headers(x_original_url="javascript:alert(1)"), "/", "GET")


@pytest.mark.parametrize("dialect", [nginx, traefik, caddy])
def test_forwarded_headers_of_an_untrusted_peer_do_not_count(dialect: object) -> None:
    sent = headers(
        False,
        host="wiki.test",
        x_original_url="http://admin.test/admin",
        x_forwarded_host="admin.test",
        x_forwarded_uri="/admin",
    )
    target = dialect.parse(sent, "/", "GET")  # type: ignore[attr-defined]
    assert (target.host, target.uri) == ("wiki.test", "/")


def test_traefik_reads_x_forwarded_headers() -> None:
    sent = headers(x_forwarded_host="wiki.test", x_forwarded_uri="/a", x_forwarded_method="PUT")
    assert traefik.parse(sent, "/", "GET") == Target("PUT", "wiki.test", "/a")
    assert traefik.parse(headers(host="wiki.test"), "/", "GET") == Target("GET", "wiki.test", "/")


def test_a_repeated_forwarded_header_is_refused() -> None:
    sent = Headers([(b"x-forwarded-host", b"a.test"), (b"x-forwarded-host", b"b.test")], True)
    with pytest.raises(BadRequest, match="x-forwarded-host sent more than once"):
        traefik.parse(sent, "/", "GET")


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("/outpost.goauthentik.io/auth/envoy/api/x", "/api/x"),
        ("/outpost.goauthentik.io/auth/envoy/api/x?a=1&b", "/api/x?a=1&b"),
        ("/outpost.goauthentik.io/auth/envoy", "/"),
        ("/outpost.goauthentik.io/auth/envoy?a=1", "/?a=1"),
        ("/outpost.goauthentik.io/auth/envoy/%2e%2e/admin", "/%2e%2e/admin"),
    ],
)
def test_envoy_reads_the_original_path_after_its_mount(path: str, uri: str) -> None:
    for trusted in (True, False):
        target = envoy.parse(headers(trusted, host="wiki.test"), path, "DELETE")
        assert target == Target("DELETE", "wiki.test", uri)


# -- the client address -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7, 10.0.0.2", "203.0.113.7"),  # right-most untrusted hop
        ("10.0.0.3, 10.0.0.2", "10.0.0.3"),  # all trusted: the first
        (" , ", "10.0.0.1"),
    ],
)
def test_the_client_is_the_right_most_untrusted_forwarded_hop(
    forwarded: str, expected: str
) -> None:
    sent = headers(x_forwarded_for=forwarded)
    assert client_address(sent, "10.0.0.1", is_trusted) == expected


def test_x_real_ip_counts_without_x_forwarded_for() -> None:
    assert client_address(headers(x_real_ip="203.0.113.9"), "10.0.0.1", is_trusted) == (
        "203.0.113.9"
    )


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    sent = headers(False, x_forwarded_for="203.0.113.7", x_real_ip="203.0.113.8")
    assert client_address(sent, "192.0.2.5", is_trusted) == "192.0.2.5"


def test_the_client_address_is_parsed_once_and_kept_as_given() -> None:
    request = build(Target("GET", "wiki.test", "/"), ip="2001:DB8::1")
    assert request.address == ipaddress.ip_address("2001:db8::1")
    assert request.client_ip == "2001:DB8::1"  # logs and audit print what was given
    assert build(Target("GET", "wiki.test", "/"), ip="unknown").address is None


# -- from_target ------------------------------------------------------------------------


def test_the_canonical_request() -> None:
    sent = headers(
        cookie="a=1",
        accept="text/html",
        referer="http://wiki.test/from",
    )
    request = build(Target(" get ", "Wiki.Test:80", "/a/../%62?x=1"), sent)
    assert (request.method, request.host, request.uri, request.path) == (
        "GET",
        "wiki.test",
        "/a/../%62?x=1",
        "/b",
    )
    assert (request.cookie, request.browser, request.referer) == ("a=1", True, sent.get("referer"))
    assert (request.preflight, request.can_redirect) == (False, True)


def test_an_empty_uri_is_the_root_and_a_relative_one_is_refused() -> None:
    assert build(Target("GET", "wiki.test", "")).uri == "/"
    with pytest.raises(BadRequest, match="not absolute"):
        build(Target("GET", "wiki.test", "x?y"))


@pytest.mark.parametrize(
    ("target", "sent", "reason"),
    [
        (Target("GET", None, "/"), headers(), "unusable host None"),
        (Target("GET", "a b", "/"), headers(), "unusable host 'a b'"),
        (Target("GET", "wiki.test", "/" + "a" * 8192), headers(), "longer than 8 KiB"),
        (Target("GET", "wiki.test", "/admin%00"), headers(), "path refused: "),
        (Target("G T", "wiki.test", "/"), headers(), "unusable method 'G T'"),
        (Target("GET", "wiki.test", "/"), headers(x_remote_user="admin"), "x-remote-user"),
        (
            Target("GET", "wiki.test", "/"),
            Headers([(b"cookie", b"a=1"), (b"cookie", b"b=2")], True),
            "header cookie sent more than once",
        ),
    ],
)
def test_what_cannot_be_judged_is_a_bad_request(target: Target, sent: Headers, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason.replace("(", r"\(")) as refused:
        build(target, sent)
    assert reason in refused.value.reason


def test_a_cors_preflight_needs_origin_and_the_request_method() -> None:
    both = headers(origin="http://o.test", access_control_request_method="POST")
    assert build(Target("OPTIONS", "wiki.test", "/"), both).preflight
    assert not build(Target("OPTIONS", "wiki.test", "/"), headers(origin="o")).preflight
    assert not build(Target("GET", "wiki.test", "/"), both).preflight


def test_the_referer_is_cut_to_2_kib() -> None:
    assert len(build(Target("GET", "wiki.test", "/"), headers(referer="x" * 5000)).referer) == 2048


@pytest.mark.parametrize(
    ("sent", "browser"),
    [
        ({"sec_fetch_mode": "navigate", "accept": "application/json"}, True),
        ({"sec_fetch_mode": "cors", "accept": "text/html"}, False),
        ({"x_requested_with": "XMLHttpRequest", "accept": "text/html"}, False),
        ({"accept": "text/html,application/xhtml+xml"}, True),
        ({"accept": "*/*"}, False),
        ({}, False),
    ],
)
def test_a_browser_is_a_top_level_navigation(sent: dict[str, str], browser: bool) -> None:
    assert is_browser(headers(**sent)) is browser


def test_forged_identity_names_in_any_spelling() -> None:
    names = [b"X-Authentik-Username", b"remote_user", b"X-AUTH-REQUEST-EMAIL", b"x_authentik_x"]
    for name in names:
        assert Headers([(name.lower(), b"admin")]).forged_identity() is not None
    ingress = Headers([(b"x-auth-request-redirect", b"/x"), (b"x-original-url", b"http://a/")])
    assert ingress.forged_identity() is None


def test_a_name_read_before_never_hides_an_identity_header_in_another_spelling() -> None:
    """Header names are remembered from request to request; an identity header is refused
    every time, whatever was read before and in whatever case or spelling it comes."""
    for _ in range(3):
        plain = Headers([(b"Accept", b"*/*"), (b"X-Original-URL", b"http://a/"), (b"x-user", b"")])
        assert plain.get("x-original-url") == "http://a/" and plain.get("accept") == "*/*"
        assert plain.forged_identity() == "x-user"
        for name in (b"Remote-User", b"remote-user", b"REMOTE_USER", b"x-Authentik-Jwt"):
            sent = Headers([(b"accept", b"*/*"), (name, b"admin"), (b"cookie", b"a=1")])
            assert sent.forged_identity() == name.decode().lower()
            assert sent.get("cookie") == "a=1"


def test_a_header_sent_twice_in_two_spellings_is_one_repeated_header() -> None:
    sent = Headers([(b"X-Original-URL", b"http://a/"), (b"x-original-url", b"http://b/")], True)
    with pytest.raises(BadRequest, match="more than once"):
        nginx.parse(sent, "/", "GET")


# -- from_url ---------------------------------------------------------------------------


def test_from_url_is_the_get_a_browser_opening_it_makes() -> None:
    request = ForwardRequest.from_url("https://Wiki.test/a/./b?x=1", "get", "10.0.0.1")
    assert (request.method, request.host, request.uri, request.path) == (
        "GET",
        "wiki.test",
        "/a/./b?x=1",
        "/a/b",
    )
    assert (request.cookie, request.browser, request.address) == (
        "",
        False,
        ipaddress.ip_address("10.0.0.1"),
    )
    assert ForwardRequest.from_url("http://wiki.test", "GET", "").uri == "/"
    assert not ForwardRequest.from_url("http://w.test/", "GET", "", can_redirect=False).can_redirect


@pytest.mark.parametrize("url", ["ftp://wiki.test/", "wiki.test/x", "javascript:alert(1)"])
def test_from_url_refuses_what_is_not_an_http_url(url: str) -> None:
    with pytest.raises(BadRequest, match="not an absolute http"):
        ForwardRequest.from_url(url, "GET", "")
