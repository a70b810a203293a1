"""The key a kept answer is found by: everything of the request but its per-request ids."""

from __future__ import annotations

from authgate.forward.reuse import KEY_LIMIT, request_key

HEADERS = [(b"host", b"authgate.test"), (b"cookie", b"s=1"), (b"x-original-url", b"http://a/")]


def key(headers: list[tuple[bytes, bytes]], path: bytes = b"/outpost/auth/nginx") -> object:
    return request_key("nginx", "GET", path, b"", "10.0.0.1", headers)


def test_requests_that_differ_only_in_their_ids_share_a_key() -> None:
    traced = [*HEADERS, (b"x-request-id", b"1" * 32), (b"traceparent", b"00-ab-cd-01")]
    assert key(traced) == key(HEADERS)


def test_any_other_difference_is_another_key() -> None:
    assert key([*HEADERS, (b"x-forwarded-user", b"admin")]) != key(HEADERS)
    assert key([(b"host", b"authgate.test"), (b"cookie", b"s=2"), HEADERS[2]]) != key(HEADERS)
    assert key(HEADERS, b"/outpost/auth/traefik") != key(HEADERS)
    # a value under another name is another request, though the bytes in a row are alike
    assert key([(b"cookie", b"host"), (b"s=1", b"")]) != key([(b"cookie", b"hosts=1")])
    assert key(list(reversed(HEADERS))) != key(HEADERS)  # order is kept: nothing assumed


def test_credentials_and_long_requests_are_not_keyed() -> None:
    assert key([*HEADERS, (b"authorization", b"Bearer x")]) is None
    assert key([*HEADERS, (b"x-pad", b"p" * KEY_LIMIT)]) is None
    assert key([*HEADERS, (b"x-pad", b"p" * (KEY_LIMIT // 2))]) is not None
